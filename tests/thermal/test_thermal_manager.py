"""The thermal manager alone on the component tester: EPS readings in, heater switching, throttling
and the ThermalState it offers compute out, each threshold with its hysteresis."""
import math

import pytest

from gridfree.flight.core.tester import ComponentTester
from gridfree.flight.hardware.interfaces import Quantity, Switch
from gridfree.flight.hardware.ports import EpsReadings, SwitchCommand
from gridfree.flight.thermal.manager import ThermalManager


@pytest.fixture
def thermal():
    return ComponentTester(ThermalManager("thermal", 0x0300))


def tick(tester, t, **temps_C):
    names = {"battery": Quantity.BATTERY_TEMP_C, "payload": Quantity.PAYLOAD_TEMP_C,
             "radiator": Quantity.RADIATOR_TEMP_C}
    tester.send("readingsIn", EpsReadings.of(t, {names[k]: v for k, v in temps_C.items()}, {}))
    tester.run("slow", t)
    return tester.sent("stateOut")[-1]


def test_the_heater_switches_on_below_5_and_off_only_above_10_celsius(thermal):
    tick(thermal, 1.0, battery=3.0)
    assert thermal.sent("switchOut") == [SwitchCommand(Switch.HEATER, True)]
    assert thermal.events("HeaterSwitched") == [{"state": "on", "temp_C": 3.0}]
    tick(thermal, 2.0, battery=8.0)  # between the thresholds: no change
    assert len(thermal.sent("switchOut")) == 1 and thermal.tlm("HeaterOn") is True
    state = tick(thermal, 3.0, battery=11.0)
    assert thermal.sent("switchOut")[-1] == SwitchCommand(Switch.HEATER, False)
    assert state.heater_on is False and thermal.tlm("HeaterOn") is False


def test_a_heater_switch_the_board_does_not_confirm_is_tried_again(thermal):
    thermal.answer("switchOut", False)
    tick(thermal, 1.0, battery=2.0)
    assert thermal.tlm("HeaterOn") is False and thermal.events("HeaterSwitched") == []
    thermal.answer("switchOut", True)
    tick(thermal, 2.0, battery=2.0)
    assert thermal.tlm("HeaterOn") is True and len(thermal.sent("switchOut")) == 2


def test_throttling_caps_compute_above_75_and_releases_only_below_65_celsius(thermal):
    state = tick(thermal, 1.0, payload=80.0)
    assert (state.throttled, state.utilisation_cap, state.throttle_C, state.payload_C) == (True, pytest.approx(0.3),
                                                                                          75.0, 80.0)
    assert thermal.tlm("HeadroomC") == pytest.approx(-5.0)
    assert tick(thermal, 2.0, payload=70.0).throttled  # between the thresholds: still capped
    released = tick(thermal, 3.0, payload=60.0)
    assert not released.throttled and released.utilisation_cap == 1.0
    assert [e["state"] for e in thermal.events("ThrottleChanged")] == ["on", "off"]


def test_the_cap_and_thresholds_follow_their_parameters(thermal):
    thermal.set_parameter("ThrottleC", 50.0)
    thermal.set_parameter("ThrottleCap", 0.5)
    state = tick(thermal, 1.0, payload=55.0)
    assert state.throttled and state.utilisation_cap == 0.5 and state.throttle_C == 50.0


def test_radiator_capacity_is_epsilon_sigma_a_t4(thermal):
    tick(thermal, 1.0, radiator=20.0)
    by_hand_W = 0.88 * 5.670374419e-8 * 8.0 * 293.15 ** 4  # the default emissivity and area
    assert thermal.tlm("RadiatorCapacityW") == pytest.approx(by_hand_W, rel=1e-6)


def test_missing_readings_change_nothing_and_are_reported_as_unknown(thermal):
    state = tick(thermal, 1.0)
    assert thermal.sent("switchOut") == [] and not state.throttled and state.utilisation_cap == 1.0
    assert math.isnan(state.payload_C) and math.isnan(state.radiator_C)
