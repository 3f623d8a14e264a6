"""An unmodified node process wired to the emulated board over a real pty pair, as a flight
board is wired to a test bench: readings within the declared noise, switches that act, and a
silent line reported and survived."""
import pytest

from gridfree.ground.hil.board import SENSORS, BoardServer, EmulatedBoard
from gridfree.ground.hil.orbit import preset
from gridfree.ground.hil.truth import Truth
from gridfree.ground.link.client import GroundClient
from gridfree.protocols.hwbus import Reg
from gridfree.protocols.links import open_link
from gridfree.protocols.links.ptypair import PtyPair
from tests.integration.conftest import NodeProcess
from tests.keys import operator

EPOCH = 1_774_018_000.0


@pytest.fixture
def bench(tmp_path):
    truth = Truth.from_elements(preset("iss500", EPOCH), EPOCH)
    truth.step(1.0)
    pair = PtyPair().start()
    board = EmulatedBoard(truth, seed=3)
    server = BoardServer(board, open_link(pair.paths[0])).start()
    node = NodeProcess(tmp_path, extra=f'[hardware]\ndriver = "rig"\nurl = "{pair.paths[1]}"\n')
    yield truth, board, node
    node.stop()
    server.stop()
    server.link.close()
    pair.stop()


def test_node_reads_the_rig_within_the_declared_noise(bench, dictionary):
    truth, board, node = bench
    with GroundClient(node.url, dictionary, security=operator(node.keys)) as g:
        # Channels start at a typed zero: wait for the first report made after the board answered.
        assert g.wait_until(lambda: g.value("eps.DriverOk") is True and g.value("eps.PayloadTemp") != 0.0
                            and g.value("eps.BatteryVoltage") != 0.0, 15)
        v = SENSORS[Reg.BATTERY_VOLTAGE_V]
        assert abs(g.value("eps.BatteryVoltage") - truth.bus_V) <= 5 * v.sigma + v.lsb
        t = SENSORS[Reg.PAYLOAD_TEMP_C]
        assert abs(g.value("eps.PayloadTemp") - truth.thermal.nodes["payload"].temp_C) <= 5 * t.sigma + t.lsb
        assert g.value("eps.DriverOk") is True
        assert g.send("eps.SetHeater", arm=True, on=True).wait(10).completed  # hazardous: with its arm
        assert truth.loads.heaters_on


def test_a_silent_line_is_reported_and_survived(bench, dictionary):
    truth, board, node = bench
    with GroundClient(node.url, dictionary, security=operator(node.keys)) as g:
        assert g.wait_until(lambda: g.value("eps.DriverOk") is True, 15)
        board.faults.silent = True
        assert g.wait_until(lambda: g.value("eps.DriverOk") is False, 20)
        assert g.send("test.Ping").wait(10).completed  # the node keeps flying
        board.faults.silent = False
        assert g.wait_until(lambda: g.value("eps.DriverOk") is True, 20)
        names = lambda: [e.event.name for e in g.events if e.event]  # noqa: E731
        assert g.wait_until(lambda: "eps.DriverRecovered" in names(), 10)
        assert names().index("eps.DriverFault") < names().index("eps.DriverRecovered")


def test_the_driver_times_out_on_a_board_slower_than_its_timeout():
    """Latency is modelled: a board that answers in 0.5 s is a timeout for a 0.2 s driver."""
    from gridfree.flight.hardware.interfaces import Quantity
    from gridfree.flight.hardware.rig import RigSerialBoard

    truth = Truth.from_elements(preset("iss500", EPOCH), EPOCH)
    with PtyPair() as pair:
        slow = BoardServer(EmulatedBoard(truth), open_link(pair.paths[0]), latency_s=0.5).start()
        driver = RigSerialBoard(pair.paths[1], timeout_s=0.2, retries=0)
        try:
            assert driver.read(Quantity.BATTERY_VOLTAGE_V) is None and driver.health.timeouts == 1
            slow.latency_s = 0.0
            # The late answer to the first request is ignored (wrong sequence number); once the
            # board has caught up, readings come back.
            readings = [driver.read(Quantity.BATTERY_VOLTAGE_V) for _ in range(4)]
            assert readings[-1] == pytest.approx(truth.bus_V, abs=0.2)
        finally:
            driver.close()
            slow.stop()
            slow.link.close()


def test_rig_serve_answers_a_driver_on_a_serial_url():
    """`gridfree rig serve` as its own process on one end of a pty pair, the driver on the other."""
    import subprocess
    import sys

    from gridfree.flight.hardware.interfaces import Quantity, Switch
    from gridfree.flight.hardware.rig import RigSerialBoard

    with PtyPair() as pair:
        rig = subprocess.Popen([sys.executable, "-m", "gridfree.ground.hil", "serve", "--url", pair.paths[0],
                                "--seconds", "20"], stdout=subprocess.PIPE, text=True)
        try:
            assert "serving the emulated board" in rig.stdout.readline()
            driver = RigSerialBoard(pair.paths[1], timeout_s=1.0)
            volts = driver.read(Quantity.BATTERY_VOLTAGE_V)
            assert volts is not None and 24.0 <= volts <= 33.7  # an 8s Li-ion pack
            assert driver.set_switch(Switch.HEATER, True)
            driver.close()
        finally:
            rig.terminate()
            rig.wait(10)
            rig.stdout.close()


def test_linux_host_driver_reads_what_sysfs_has_and_nothing_else(tmp_path):
    from gridfree.flight.hardware.interfaces import Quantity, Switch
    from gridfree.flight.hardware.linuxhost import LinuxHostBoard

    zone = tmp_path / "class/thermal/thermal_zone0"
    zone.mkdir(parents=True)
    (zone / "type").write_text("x86_pkg_temp\n")
    (zone / "temp").write_text("61500\n")
    bat = tmp_path / "class/power_supply/BAT0"
    bat.mkdir(parents=True)
    (bat / "voltage_now").write_text("12400000\n")
    (bat / "current_now").write_text("1500000\n")
    (bat / "status").write_text("Discharging\n")
    host = LinuxHostBoard(sysfs=tmp_path)
    assert host.read(Quantity.PAYLOAD_TEMP_C) == 61.5
    assert host.read(Quantity.BATTERY_VOLTAGE_V) == 12.4 and host.read(Quantity.BATTERY_CURRENT_A) == -1.5
    assert host.read(Quantity.ARRAY_POWER_W) is None and host.read(Quantity.PAYLOAD_POWER_W) is None
    assert host.set_switch(Switch.HEATER, True) is False
    # And on this machine's real /sys: whatever it has, never an exception.
    real = LinuxHostBoard()
    for q in Quantity:
        value = real.read(q)
        assert value is None or isinstance(value, float)
