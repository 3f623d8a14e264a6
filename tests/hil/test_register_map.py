"""The register map is the one table node and rig agree on: every sensor in it is answered by the
emulated board from its truth, read by the node's rig driver over a real serial line, and published
as an EPS channel, with nothing declared a second time."""
import json
import subprocess
import sys

import pytest

from gridfree.flight.hardware.drivers import UnknownDriver, open_board
from gridfree.flight.hardware.eps import EpsComponent
from gridfree.flight.hardware.interfaces import AbsentBoard, Quantity
from gridfree.flight.hardware.sensors import CHANNEL, FAST, SLOW
from gridfree.ground.hil.board import BoardServer, EmulatedBoard
from gridfree.ground.hil.orbit import preset
from gridfree.ground.hil.sensors import SENSORS
from gridfree.ground.hil.truth import Truth
from gridfree.protocols.links import open_link
from gridfree.protocols.links.ptypair import PtyPair
from gridfree.protocols.registers import (
    NODE_SENSORS, REGISTERS, Rate, Reg, Register, Telemetry, check, node_sensors, register_enum,
)

EPOCH = 1_774_018_000.0


def test_every_sensor_of_the_map_has_its_truth_on_the_rig_and_nothing_else_does():
    assert set(SENSORS) == {Reg(r.number) for r in REGISTERS if r.is_sensor}


def test_every_node_sensor_is_read_through_the_rig_driver_and_published_as_an_eps_channel():
    truth = Truth.from_elements(preset("iss500", EPOCH), EPOCH)
    truth.step(1.0)
    with PtyPair() as pair:
        server = BoardServer(EmulatedBoard(truth, seed=7), open_link(pair.paths[0])).start()
        driver = open_board("rig", pair.paths[1])
        try:
            swept = driver.read_many(FAST + SLOW)
            one_by_one = {q: driver.read(q) for q in Quantity}
        finally:
            driver.close()
            server.stop()
            server.link.close()
    channels = {c.name: c for c in EpsComponent.channels}
    assert len(NODE_SENSORS) == len(Quantity) and set(FAST) | set(SLOW) == set(Quantity)
    for r in NODE_SENSORS:
        q = Quantity[r.key]
        model = SENSORS[Reg(r.number)]
        for value in (swept[q], one_by_one[q]):
            assert value is not None and abs(value - model.truth(truth)) <= 5 * model.sigma + model.lsb, r.name
        assert (q in FAST) == (r.rate is Rate.FAST) and (q in SLOW) == (r.rate is Rate.SLOW)
        c = channels[CHANNEL[q]]
        assert (c.id, c.name, c.unit, c.description, c.limits) == (
            r.channel.id, r.channel.name, r.unit, r.channel.description, r.channel.limits)


def test_today_the_node_reads_battery_voltage_and_current_fast_and_the_rest_slow():
    assert FAST == (Quantity.BATTERY_VOLTAGE_V, Quantity.BATTERY_CURRENT_A)
    assert [c.id for c in EpsComponent.channels[:9]] == list(range(1, 10))


def test_a_new_sensor_is_one_entry_and_every_table_follows_it():
    extra = Register(0x0024, "payload_current_A", "A", rate=Rate.SLOW,
                     channel=Telemetry(13, "PayloadCurrent", "Compute payload current"))
    registers = check(REGISTERS + (extra,))
    assert register_enum(registers).PAYLOAD_CURRENT_A == 0x0024
    assert node_sensors(registers)[-1] is extra and len(node_sensors(registers)) == len(NODE_SENSORS) + 1


# A process with one more sensor in the map (what a developer adds to protocols/registers.py) and
# its truth on the rig (what they add to ground/hil/sensors.py), and no other edit.
ONE_MORE_SENSOR = """
import json
import gridfree.protocols.registers as registers
extra = registers.Register(0x0024, "payload_current_A", "A", rate=registers.Rate.SLOW,
                           channel=registers.Telemetry(13, "PayloadCurrent", "Compute payload current"))
vars(registers).update(registers.derive(registers.REGISTERS + (extra,)))

from gridfree.ground.hil.sensors import SENSORS, SensorModel
from gridfree.protocols.registers import Reg
SENSORS[Reg.PAYLOAD_CURRENT_A] = SensorModel(lambda t: t.loads.compute_W / t.bus_V, 0.1, 0.05)

from gridfree.flight.hardware.drivers import open_board
from gridfree.flight.hardware.eps import EpsComponent
from gridfree.flight.hardware.interfaces import Quantity
from gridfree.flight.hardware.sensors import CHANNEL, SLOW
from gridfree.ground.hil.board import BoardServer, EmulatedBoard
from gridfree.ground.hil.orbit import preset
from gridfree.ground.hil.truth import Truth
from gridfree.protocols.links import open_link
from gridfree.protocols.links.ptypair import PtyPair

truth = Truth.from_elements(preset("iss500", 1_774_018_000.0), 1_774_018_000.0)
truth.step(1.0)
with PtyPair() as pair:
    server = BoardServer(EmulatedBoard(truth, seed=7), open_link(pair.paths[0])).start()
    driver = open_board("rig", pair.paths[1])
    swept = driver.read_many(SLOW)
    driver.close(); server.stop(); server.link.close()
q = Quantity.PAYLOAD_CURRENT_A
channel = next(c for c in EpsComponent.channels if c.name == CHANNEL[q])
print(json.dumps({"read_A": swept[q], "true_A": truth.loads.compute_W / truth.bus_V, "channel": [channel.id, channel.unit],
                  "swept": len(swept)}))
"""


def test_one_more_sensor_is_one_map_entry_and_its_truth():
    proc = subprocess.run([sys.executable, "-c", ONE_MORE_SENSOR], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    got = json.loads(proc.stdout)
    assert got["read_A"] == pytest.approx(got["true_A"], abs=5 * 0.1 + 0.05)
    assert got["channel"] == [13, "A"] and got["swept"] == len(SLOW) + 1


@pytest.mark.parametrize("bad, problem", [
    (Register(0x0011, "other_V", "V"), "number"),
    (Register(0x0050, "other_V", "A"), "unit"),
    (Register(0x0050, "other_V", "V", rate=Rate.SLOW), "rate and a channel"),
    (Register(0x0050, "other_V", "V", rate=Rate.SLOW, channel=Telemetry(2, "Other", "")), "channel id"),
    (Register(0x0050, "other_V", "V", writable=True, rate=Rate.SLOW, channel=Telemetry(14, "Other", "")),
     "only read-only"),
])
def test_a_map_that_breaks_a_rule_is_refused_naming_the_entry(bad, problem):
    with pytest.raises(ValueError, match=problem):
        check(REGISTERS + (bad,))


def test_drivers_are_opened_by_name_and_an_unknown_one_lists_the_known():
    assert isinstance(open_board("none"), AbsentBoard)
    with pytest.raises(UnknownDriver, match="known: linux, none, rig"):
        open_board("can")


def test_a_sensor_that_stops_answering_reads_nan_not_its_last_value():
    """Housekeeping keeps flowing while a sensor is silent: the channel must not carry its last
    good value with a fresh time stamp, or the ground would show a dead sensor as alive."""
    import math

    from gridfree.flight.core.tester import ComponentTester
    from gridfree.flight.hardware.interfaces import AbsentBoard

    class Flaky(AbsentBoard):
        answering = True

        def read(self, q):
            return 3.5 if self.answering else None

    board = Flaky()
    eps = ComponentTester(EpsComponent("eps", 0x0300, board=board), t0=1000.0)
    eps.run("slow", 1000.0)
    assert eps.tlm("BatteryTemp") == 3.5
    board.answering = False
    eps.run("slow", 1001.0)
    assert math.isnan(eps.tlm("BatteryTemp")) and eps.tlm("Absent") == len(SLOW)
    assert eps.sent("readingsOut")[-1].get(Quantity.BATTERY_TEMP_C) is None
