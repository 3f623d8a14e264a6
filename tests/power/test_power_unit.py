"""The power manager alone on the component tester: a battery's readings in (a small pack model in
the test: OCV curve from the cell datasheet plus I R), switching and the PowerOutlook out."""
import pytest

from gridfree.flight.core.modes import Mode, TransitionRefused
from gridfree.flight.core.tester import ComponentTester
from gridfree.flight.hardware.interfaces import Quantity, Switch
from gridfree.flight.hardware.ports import EpsReadings, SwitchCommand
from gridfree.flight.power.manager import PowerManager
from gridfree.flight.power.outlook import PowerOutlook
from gridfree.flight.power.soc import cell_ocv_V

SERIES, R_OHM, CAPACITY_AH = 8, 0.0053, 180.0


class Pack:
    """What the EPS would read from a pack at `soc` carrying `amps` (positive charging)."""

    def __init__(self, soc: float):
        self.soc = soc

    def readings(self, t: float, amps: float, switched=None, array_W: float = 0.0) -> EpsReadings:
        volts = cell_ocv_V(self.soc) * SERIES + amps * R_OHM
        return EpsReadings.of(t, {Quantity.BATTERY_VOLTAGE_V: volts, Quantity.BATTERY_CURRENT_A: amps,
                                  Quantity.ARRAY_POWER_W: array_W, Quantity.PAYLOAD_POWER_W: 0.0},
                              switched or {})

    def fly(self, power: ComponentTester, t0: float, seconds: int, amps: float, each=None) -> float:
        """One reading and one fast and slow tick a second; the pack charges by what flows."""
        for k in range(seconds):
            t = t0 + k
            self.soc = min(1.0, max(0.0, self.soc + amps / 3600.0 / CAPACITY_AH))
            power.send("readingsIn", self.readings(t, amps))
            power.run("fast", t)
            power.run("slow", t)
            if each:
                each(t)
        return t0 + seconds


@pytest.fixture
def power():
    return ComponentTester(PowerManager("power", 0x0200), t0=1000.0)


def test_two_readings_below_the_threshold_put_the_node_in_safe_and_shed_the_payload(power):
    low_V = power.parameters.get("power.UnderVoltageV") - 0.2
    ok = EpsReadings.of(1001.0, {Quantity.BATTERY_VOLTAGE_V: 29.0, Quantity.BATTERY_CURRENT_A: -50.0}, {})
    power.send("readingsIn", EpsReadings.of(1000.9, {Quantity.BATTERY_VOLTAGE_V: 31.5, Quantity.BATTERY_CURRENT_A: 0.0}, {}))
    power.run("fast", 1000.9)  # a charged battery, read before leaving SAFE
    power.enter_mode(Mode.NOMINAL)
    low = EpsReadings.of(1001.1, {Quantity.BATTERY_VOLTAGE_V: low_V, Quantity.BATTERY_CURRENT_A: -50.0}, {})
    for t, r in ((1001.0, ok), (1001.1, low), (1001.2, ok), (1001.3, low)):  # one noisy sample at a time: no trip
        power.send("readingsIn", r)
        power.run("fast", t)
    assert power.modes.mode is Mode.NOMINAL and power.sent("switchOut") == []
    for t in (1001.4, 1001.5):
        power.send("readingsIn", low)
        power.run("fast", t)
    assert power.modes.mode is Mode.SAFE and power.modes.last_reason.startswith("under-voltage")
    assert power.sent("switchOut") == [SwitchCommand(Switch.PAYLOAD, False)]
    assert power.events("UnderVoltage")[0]["threshold_V"] == pytest.approx(25.6)


def test_the_payload_is_shed_below_30_and_restored_above_40_percent(power):
    pack = Pack(0.36)
    soc_at = {}

    def watch(t):
        for cmd in power.sent("switchOut")[len(soc_at):]:
            soc_at[len(soc_at)] = (cmd.on, power.tlm("Soc"))

    t = pack.fly(power, 1000.0, 1200, amps=-60.0, each=watch)  # discharging through 30 %
    assert soc_at and soc_at[0][0] is False and 28.0 < soc_at[0][1] < 30.0
    assert power.sent("outlookOut")[-1].shed is True and power.sent("outlookOut")[-1].grant_W == 0.0
    pack.fly(power, t, 2200, amps=+60.0, each=watch)  # charging back through 40 %
    assert soc_at[1][0] is True and 40.0 < soc_at[1][1] < 42.0 and len(soc_at) == 2
    assert power.events("LoadRestored") and power.sent("outlookOut")[-1].shed is False


def test_leaving_safe_needs_the_soc_margin(power):
    Pack(0.35).fly(power, 1000.0, 5, amps=0.0)
    power.enter_mode(Mode.SAFE)
    with pytest.raises(TransitionRefused, match="power: SOC"):
        power.modes.request(Mode.NOMINAL, "operator too early")


def test_the_outlook_carries_the_estimate_the_limits_and_no_grant_in_safe(power):
    power.set_parameter("DodLimitPct", 25.0)
    Pack(0.8).fly(power, 1000.0, 30, amps=0.0)
    power.enter_mode(Mode.SAFE)
    power.run("slow", 1030.0)
    o = power.sent("outlookOut")[-1]
    assert isinstance(o, PowerOutlook) and o.initialised and o.t == 1030.0
    assert o.soc == pytest.approx(0.8, abs=0.01) and o.soc == pytest.approx(power.tlm("Soc") / 100)
    assert o.limits.dod_limit == 0.25 and o.limits.shed_soc == 0.30 and o.limits.orbit_period_s == 5677.0
    assert o.capacity_Wh == pytest.approx(180.0 * 29.6)
    assert o.grant_W == 0.0 and o.grant_energy_Wh > 0.0  # SAFE: nothing now, though energy is there
    assert len(o.soc_history) == 31 and o.eclipses == () and not o.has_orbit_picture


def test_loads_the_board_confirms_on_are_counted_at_their_nominal_draw(power):
    pack = Pack(0.7)
    on = {Switch.HEATER: True, Switch.PAYLOAD: False}
    for k in range(3):
        power.send("readingsIn", pack.readings(1000.0 + k, -10.0, on))
        power.run("fast", 1000.0 + k)
        power.run("slow", 1000.0 + k)
    assert power.tlm("HeaterW") == 80.0 and power.tlm("PayloadW") == 0.0 and power.tlm("RadioTxW") == 0.0
    # in shadow everything the battery gives is load: 10 A at the pack's voltage, less the heater
    assert power.tlm("AvionicsW") == pytest.approx(10.0 * pack.readings(0, -10.0).get(Quantity.BATTERY_VOLTAGE_V)
                                                   - 80.0, rel=1e-6)
