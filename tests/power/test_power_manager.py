"""The power manager on the lockstep node, against the rig's truth model (wired in-process through
a test board that reads the truth with the rig's own sensor model)."""
import math

import pytest

from gridfree.flight.app.config import NodeConfig
from gridfree.flight.app.node import Node
from gridfree.flight.core.modes import Mode, TransitionRefused
from gridfree.flight.hardware.interfaces import DriverHealth, PowerBoard, Quantity, Switch
from gridfree.ground.hil.board import EmulatedBoard
from gridfree.ground.hil.orbit import preset
from gridfree.ground.hil.power import Battery, Loads
from gridfree.ground.hil.truth import Truth
from gridfree.protocols.hwbus import Op, Reg, Request, Status
from tests.compute import rigboard

EPOCH = 1_774_018_000.0
REGS = {q: Reg[q.name] for q in Quantity}  # both named from the register map


class TruthBoard(PowerBoard):
    """The rig's emulated board, called directly instead of over a serial line (same noise)."""

    def __init__(self, board: EmulatedBoard):
        self.board, self.health = board, DriverHealth()

    def read(self, q):
        return self.board.measure(REGS[q])

    def _write(self, reg, value):
        resp = self.board.handle(Request(Op.WRITE, 0, reg, value))  # the board's own write logic
        return resp is not None and resp.status is Status.OK

    def set_switch(self, s, on):
        reg = {Switch.PAYLOAD: Reg.PAYLOAD_SWITCH, Switch.HEATER: Reg.HEATER_SWITCH, Switch.RADIO_TX: Reg.RADIO_TX_SWITCH}[s]
        return self._write(reg, 1 if on else 0)

    def set_utilisation(self, fraction):
        return self._write(Reg.PAYLOAD_UTILISATION, fraction)


def bench(tmp_path, soc=0.8, utilisation=0.5, orbit="iss500", board=None):
    """The rig's truth and a lockstep node on it; `board` (a TruthBoard) when the test needs its handle."""
    truth = Truth.from_elements(preset(orbit, EPOCH), EPOCH, battery=Battery(soc=soc),
                                loads=Loads(compute_utilisation=utilisation))
    board = board or TruthBoard(None)
    board.board = EmulatedBoard(truth, seed=5)
    node = Node(NodeConfig(state_dir=tmp_path / "state", clock="lockstep"), board=board, insecure=True)
    node.clock.set(EPOCH)
    node.start(open_radio=False)
    node.step_to(EPOCH)  # the first reading: the battery is known before anyone asks for NOMINAL
    return truth, node


def upload_orbit(node, orbit="iss500"):
    """What the ground does after orbit determination: power.SetOrbit with mean elements."""
    from gridfree.ground.hil.orbit import orbit_determination
    from gridfree.protocols.pus import PusTc

    m = orbit_determination(preset(orbit, EPOCH), EPOCH)
    cmd = node.dictionary.command_by_name["power.SetOrbit"]
    node.submit(PusTc(apid=100, service=8, subtype=1, app_data=cmd.encode_args(
        epoch_unix_s=EPOCH, a_km=m.a_km, e=m.e, i_deg=m.i_deg, raan_deg=m.raan_deg, argp_deg=m.argp_deg,
        mean_anomaly_deg=m.mean_anomaly_deg, nodal_period_s=m.nodal_period_s)).pack())
    return m


def run(truth, node, seconds, step_s=1.0, each=None):
    for _ in range(int(seconds / step_s)):
        truth.step(step_s)
        node.step_to(truth.time_s)
        if each:
            each()


def test_soc_estimate_tracks_truth_through_eclipses(tmp_path):
    truth, node = bench(tmp_path, soc=0.7)
    errors = []
    run(truth, node, 5700.0, each=lambda: errors.append(node.telemetry.read("power.Soc") / 100 - truth.battery.soc))
    rmse_pct = 100 * math.sqrt(sum(e * e for e in errors[600:]) / len(errors[600:]))
    assert rmse_pct <= 2.0, rmse_pct
    assert 0 < node.telemetry.read("power.SocSigma") / 100 < 0.05


def test_under_voltage_puts_the_node_in_safe_within_half_a_second(tmp_path):
    truth, node = bench(tmp_path, soc=0.6, utilisation=0.0, orbit="leo550")
    node.modes.request(Mode.NOMINAL, "test")  # with margin, as SAFE can only be left
    truth.battery.soc = 0.06  # then the battery is nearly flat (a cell string lost)...
    truth.loads.bus_W = 3500.0  # ...a short on the unswitched bus: shedding compute cannot save it
    truth.array.strings_lost = truth.array.strings  # and no sun to help
    threshold = node.params.get("power.UnderVoltageV")
    crossed = None
    for _ in range(20000):
        truth.step(0.1)
        node.step_to(truth.time_s)
        if crossed is None and truth.bus_V < threshold:
            crossed = truth.time_s
        if node.modes.mode is Mode.SAFE:
            break
    assert node.modes.mode is Mode.SAFE and node.modes.last_reason.startswith("under-voltage")
    # SAFE within 0.5 s of the true crossing, and never far above it (sensor noise is 0.02 V).
    assert truth.time_s - (crossed if crossed is not None else truth.time_s) <= 0.5
    assert truth.bus_V < threshold + 0.1
    node.step_to(truth.time_s + 1.0)  # the counter goes down with the next 1 Hz housekeeping
    assert truth.loads.compute_on is False and node.telemetry.read("power.UnderVoltageTrips") == 1
    with pytest.raises(TransitionRefused, match="power: SOC"):
        node.modes.request(Mode.NOMINAL, "operator too early")


def test_payload_is_shed_below_30_and_restored_above_40_percent(tmp_path):
    truth, node = rigboard.bench(tmp_path, rigboard.BUSY_WORK_SCALE, soc=0.6)
    node.modes.request(Mode.NOMINAL, "test")
    rigboard.keep_busy(node)  # the payload draws because the board runs the node's items
    truth.battery.soc = 0.33
    shed_at, drew = [], []
    board = truth.payload
    board.clear = lambda: 0  # a hung board: no queue_clear reaches it

    def runaway():  # the board hangs flat out on the node's item whatever it is told: only its switch stops it
        truth.loads.compute_utilisation = 1.0
        if board.queue:
            board.queue[0].remaining_units = math.inf
        drew.append(truth.loads.compute_W)
        if node.telemetry.read("power.PayloadShed") and not shed_at:
            shed_at.append(node.telemetry.read("power.Soc") / 100)

    run(truth, node, 4000.0, each=runaway)
    assert max(drew) > 0.9 * truth.loads.board.power_W(1.0)  # the node's items ran it at full power
    assert shed_at and shed_at[0] < 0.30 + 0.02
    assert truth.loads.compute_on is False or node.telemetry.read("power.Soc") / 100 > 0.40


def test_survival_heater_switches_with_hysteresis_and_its_power_is_counted(tmp_path):
    truth, node = bench(tmp_path, soc=0.9, utilisation=0.0)
    battery = truth.thermal.nodes["battery"]
    base_W = truth.loads.total_W
    battery.temp_K = 273.15 + 3.0  # cold after a long eclipse: below HeaterOnC
    run(truth, node, 3.0)
    assert truth.loads.heaters_on and node.telemetry.read("thermal.HeaterOn")
    assert truth.loads.total_W == pytest.approx(base_W + truth.loads.heater_W)
    battery.temp_K = 273.15 + 8.0  # between the thresholds: stays on
    run(truth, node, 3.0)
    assert truth.loads.heaters_on
    battery.temp_K = 273.15 + 11.0  # above HeaterOffC: off
    run(truth, node, 3.0)
    assert not truth.loads.heaters_on and not node.telemetry.read("thermal.HeaterOn")


def test_payload_throttles_when_hot_and_releases_below_the_lower_threshold(tmp_path):
    truth, node = bench(tmp_path, soc=0.9, utilisation=1.0)
    truth.thermal.nodes["payload"].temp_K = 273.15 + 80.0
    run(truth, node, 3.0)
    assert node.telemetry.read("thermal.Throttled")
    truth.thermal.nodes["payload"].temp_K = 273.15 + 70.0  # between the thresholds: still throttled
    run(truth, node, 3.0)
    assert node.telemetry.read("thermal.Throttled")
    truth.thermal.nodes["payload"].temp_K = 273.15 + 60.0
    run(truth, node, 3.0)
    assert not node.telemetry.read("thermal.Throttled")


def test_energy_forecast_for_the_next_orbit_matches_the_truth(tmp_path):
    truth, node = bench(tmp_path, soc=0.7, utilisation=0.4)
    upload_orbit(node)
    period = node.params.get("power.OrbitPeriodS")
    run(truth, node, period)  # one orbit to learn the arrays and the loads
    run(truth, node, 10.0)  # lands on a background tick: a fresh forecast from here
    forecast_Wh = node.telemetry.read("power.ForecastNetWh1")
    solar0, load0 = truth.ledger.solar_Wh, truth.ledger.load_Wh
    run(truth, node, period)
    truth_Wh = (truth.ledger.solar_Wh - solar0) - (truth.ledger.load_Wh - load0)
    assert abs(forecast_Wh - truth_Wh) <= 0.1 * (truth.ledger.solar_Wh - solar0)
    assert 0 <= node.telemetry.read("power.ForecastMinSocPct") <= 100


def test_a_silent_eps_line_widens_the_soc_uncertainty_and_the_estimate_recovers(tmp_path):
    board = TruthBoard(None)
    truth, node = bench(tmp_path, soc=0.6, utilisation=0.5, board=board)
    run(truth, node, 600.0)
    before = node.telemetry.read("power.SocSigma") / 100
    real_read = board.read
    board.read = lambda q: None  # the line goes silent for a minute
    run(truth, node, 60.0)
    during = node.telemetry.read("power.SocSigma") / 100
    board.read = real_read
    assert during > 1.5 * before  # the filter knows it has been flying blind
    run(truth, node, 600.0)
    assert abs(node.telemetry.read("power.Soc") / 100 - truth.battery.soc) < 0.02


def test_capacity_fade_is_measured_over_eclipses(tmp_path):
    truth, node = bench(tmp_path, soc=0.8, utilisation=0.0)
    truth.loads.bus_W = 1600.0  # eclipses deep enough for the voltage to tell the charge they cost
    truth.battery.cells_lost = 15  # a quarter of the parallel cells open: 135 of 180 Ah left
    run(truth, node, 2 * 5677.0)
    assert node.telemetry.read("power.CapacityAh") == pytest.approx(truth.battery.capacity_Ah, rel=0.05)
    assert node.telemetry.read("power.CapacityFadePct") == pytest.approx(25.0, abs=4.0)
    errors = []  # and the SOC estimate counts charge against the capacity the cells have now
    run(truth, node, 5677.0, each=lambda: errors.append(abs(node.telemetry.read("power.Soc") / 100 - truth.battery.soc)))
    assert max(errors) < 0.03
