"""The alarm rules an operator relies on, without Qt: ISA-18.2 states, shelving, latching,
out-of-service, owner and notes, and INVALID data that never raises a limit alarm."""
from __future__ import annotations

import math

import pytest

from gridfree.ground.alarms.board import DEFAULT_LATCHING, AlarmBoard
from gridfree.ground.alarms.condition import Condition, evaluate
from gridfree.ground.alarms.machine import AlarmState
from gridfree.ground.alarms.shelving import MAX_SHELVE_S, AlarmActionError
from gridfree.protocols.dictionary import Channel, Limits

BATTERY_V = Channel(1, "eps.BatteryVoltage", "f32", "V", limits=Limits(24.0, 25.6, 33.8, 34.0))
SOC = Channel(2, "power.Soc", "f32", "%", limits=Limits(15.0, 30.0, None, None))
FADE = Channel(3, "power.CapacityFadePct", "f32", "%", limits=Limits(None, None, 20.0, 35.0))
MODE = Channel(4, "node.Mode", "u8")  # no limits: never an alarm
T0 = 1_795_000_000.0  # onboard time


class Clock:
    def __init__(self, t: float = 100.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def board(clock):
    return AlarmBoard([BATTERY_V, SOC, FADE, MODE], latching=DEFAULT_LATCHING, clock=clock,
                      wall_clock=lambda: T0 + 5)


def state(board, name):
    return board.alarm(name).state


@pytest.mark.parametrize("value, expected", [
    (28.0, Condition.NORMAL), (25.0, Condition.LO), (23.0, Condition.LOLO), (33.9, Condition.HI),
    (34.5, Condition.HIHI), (math.nan, Condition.INVALID), (math.inf, Condition.INVALID),
    (None, Condition.INVALID), (True, Condition.INVALID), ("28", Condition.INVALID)])
def test_a_value_is_a_limit_condition_or_invalid(value, expected):
    assert evaluate(BATTERY_V.limits, value) is expected


def test_missing_data_is_invalid_never_a_red_or_yellow_alarm(board):
    """A node without a power board sends NaN for every reading: shown as INVALID, nothing to
    acknowledge, nothing counted toward a flood."""
    for name in ("eps.BatteryVoltage", "power.Soc", "power.CapacityFadePct"):
        assert board.observe(name, math.nan, T0)
    assert [a.condition for a in board.shown()] == [Condition.INVALID] * 3
    assert all(a.state is AlarmState.NORMAL and a.worst is None for a in board.shown())
    assert board.needs_operator_count() == 0 and board.invalid_count() == 3 and board.flood_count() == 0
    board.observe("power.Soc", 55.0, T0 + 1)  # the sensor came back, in limits: the row goes
    assert [a.name for a in board.shown()] == ["eps.BatteryVoltage", "power.CapacityFadePct"]
    assert not board.observe("node.Mode", math.nan, T0)  # no limits: not the alarm board's business


def test_invalid_data_neither_raises_nor_clears_an_alarm(board):
    board.observe("power.Soc", 10.0, T0)
    board.observe("power.Soc", math.nan, T0 + 1)
    a = board.alarm("power.Soc")
    assert a.state is AlarmState.UNACK and a.condition is Condition.INVALID and a.worst == "red"
    board.acknowledge("power.Soc")
    board.observe("power.Soc", math.nan, T0 + 2)
    assert a.state is AlarmState.ACKED  # still needs the value back in limits to clear
    board.observe("power.Soc", 60.0, T0 + 3)
    assert a.state is AlarmState.NORMAL and not a.shown


def test_unack_ack_and_return_to_normal(board):
    board.observe("power.Soc", 25.0, T0)
    a = board.alarm("power.Soc")
    assert (a.state, a.condition, a.worst, a.raised_s) == (AlarmState.UNACK, Condition.LO, "yellow", T0)
    assert board.needs_operator_count() == 1
    board.observe("power.Soc", 12.0, T0 + 1)  # worse while unacknowledged: worst follows
    assert a.worst == "red" and a.condition is Condition.LOLO
    assert board.acknowledge("power.Soc") and a.state is AlarmState.ACKED
    assert board.needs_operator_count() == 0
    board.observe("power.Soc", 20.0, T0 + 2)  # better than acknowledged: stays acknowledged
    assert a.state is AlarmState.ACKED
    board.observe("power.Soc", 50.0, T0 + 3)
    assert a.state is AlarmState.NORMAL and board.shown() == []


def test_return_to_normal_unacknowledged_waits_for_the_operator(board):
    board.observe("power.Soc", 25.0, T0)
    board.observe("power.Soc", 50.0, T0 + 1)
    a = board.alarm("power.Soc")
    assert a.state is AlarmState.RTN_UNACK and a.condition is Condition.NORMAL and a.shown
    assert board.needs_operator_count() == 1
    board.observe("power.Soc", 25.0, T0 + 2)  # out again before anyone looked: unacknowledged again
    assert a.state is AlarmState.UNACK and a.raised_s == T0 + 2
    board.observe("power.Soc", 50.0, T0 + 3)
    assert board.acknowledge("power.Soc") and a.state is AlarmState.NORMAL and not a.shown


def test_worse_than_acknowledged_is_raised_again(board):
    board.observe("power.CapacityFadePct", 25.0, T0)
    board.acknowledge("power.CapacityFadePct")
    board.observe("power.CapacityFadePct", 40.0, T0 + 1)
    a = board.alarm("power.CapacityFadePct")
    assert a.state is AlarmState.UNACK and a.worst == "red" and a.condition is Condition.HIHI
    assert board.flood_count() == 2


def test_a_latched_alarm_stays_until_acknowledged_and_reset(board):
    assert board.latching == {"eps.BatteryVoltage"} and board.ignored_latching == ["eps.BatteryTemp"]
    board.observe("eps.BatteryVoltage", 23.0, T0)  # one low reading
    board.observe("eps.BatteryVoltage", 28.0, T0 + 1)  # and back
    a = board.alarm("eps.BatteryVoltage")
    assert a.state is AlarmState.LATCHED_UNACK and a.shown and board.needs_operator_count() == 1
    with pytest.raises(AlarmActionError, match="acknowledge it before resetting"):
        board.reset("eps.BatteryVoltage")
    board.acknowledge("eps.BatteryVoltage")
    assert a.state is AlarmState.LATCHED_ACKED and a.shown and board.needs_operator_count() == 0
    board.observe("eps.BatteryVoltage", 28.1, T0 + 2)  # in limits for ever: still latched
    assert a.state is AlarmState.LATCHED_ACKED
    board.reset("eps.BatteryVoltage")
    assert a.state is AlarmState.NORMAL and not a.shown


def test_a_latched_alarm_cannot_be_reset_while_out_of_limits(board):
    board.observe("eps.BatteryVoltage", 23.0, T0)
    board.acknowledge("eps.BatteryVoltage")
    with pytest.raises(AlarmActionError, match="still LOLO"):
        board.reset("eps.BatteryVoltage")
    board.observe("eps.BatteryVoltage", 28.0, T0 + 1)
    assert state(board, "eps.BatteryVoltage") is AlarmState.LATCHED_ACKED  # acknowledged, so reset next
    with pytest.raises(AlarmActionError, match="does not latch"):
        board.reset("power.Soc")


def test_a_timed_shelf_silences_the_alarm_and_brings_it_back_when_over(board, clock):
    board.observe("power.Soc", 10.0, T0)
    board.shelve("power.Soc", 900.0)
    a = board.alarm("power.Soc")
    assert a.shelf is not None and a.shown and board.needs_operator_count() == 0
    board.observe("power.Soc", 12.0, T0 + 1)
    clock.t += 899.0
    assert board.expire_shelves() == set() and a.shelf is not None
    clock.t += 1.0
    assert board.expire_shelves() == {"power.Soc"}
    assert a.shelf is None and a.state is AlarmState.UNACK and board.needs_operator_count() == 1
    assert a.raised_s == T0 + 1  # when the value still out of limits was measured


def test_a_timed_shelf_that_ends_after_the_value_cleared_leaves_nothing(board, clock):
    board.observe("power.Soc", 10.0, T0)
    board.shelve("power.Soc", 60.0)
    board.observe("power.Soc", 50.0, T0 + 1)  # cleared on the shelf: still shelved (timed)
    assert board.alarm("power.Soc").shelf is not None and board.alarm("power.Soc").shown
    clock.t += 60.0
    board.expire_shelves()
    assert board.shown() == [] and board.flood_count() == 1


def test_a_one_shot_shelf_ends_when_the_alarm_returns_to_normal(board):
    board.observe("power.Soc", 25.0, T0)
    board.shelve_one_shot("power.Soc")
    a = board.alarm("power.Soc")
    board.observe("power.Soc", 10.0, T0 + 1)  # worse, but shelved: silent
    assert a.shelf is not None and board.needs_operator_count() == 0 and board.flood_count() == 1
    board.observe("power.Soc", 50.0, T0 + 2)
    assert a.shelf is None and a.state is AlarmState.NORMAL and not a.shown
    board.observe("power.Soc", 25.0, T0 + 3)  # the next excursion is raised as usual
    assert a.state is AlarmState.UNACK and board.needs_operator_count() == 1


@pytest.mark.parametrize("duration_s", [0.0, -5.0, MAX_SHELVE_S + 1, math.nan, "15"])
def test_a_shelf_needs_a_sensible_duration(board, duration_s):
    board.observe("power.Soc", 25.0, T0)
    with pytest.raises(AlarmActionError, match="shelve for more than 0 s"):
        board.shelve("power.Soc", duration_s)
    assert board.alarm("power.Soc").shelf is None


def test_only_an_alarm_can_be_shelved(board):
    with pytest.raises(AlarmActionError, match="no alarm to shelve"):
        board.shelve_one_shot("power.Soc")
    with pytest.raises(AlarmActionError, match="no limit-checked channel 'power.SOC'"):
        board.acknowledge("power.SOC")


def test_out_of_service_has_no_alarms_until_returned(board):
    board.observe("power.Soc", 10.0, T0)
    board.remove_from_service("power.Soc")
    a = board.alarm("power.Soc")
    assert a.out_of_service and a.state is AlarmState.NORMAL and a.shown and board.needs_operator_count() == 0
    for k, v in enumerate((5.0, 50.0, 8.0)):
        board.observe("power.Soc", v, T0 + 1 + k)
    assert a.state is AlarmState.NORMAL and board.flood_count() == 1
    with pytest.raises(AlarmActionError, match="out of service"):
        board.shelve("power.Soc", 60.0)
    board.return_to_service("power.Soc")  # still out of limits: a new alarm
    assert a.state is AlarmState.UNACK and a.raised_s == T0 + 3 and board.flood_count() == 2


def test_a_quiet_channel_can_be_taken_out_of_service_before_it_alarms(board):
    board.remove_from_service("power.CapacityFadePct")
    board.observe("power.CapacityFadePct", 50.0, T0)
    assert board.needs_operator_count() == 0
    board.return_to_service("power.CapacityFadePct")
    assert state(board, "power.CapacityFadePct") is AlarmState.UNACK


def test_owner_and_notes_are_kept_with_the_alarm(board):
    board.observe("power.Soc", 25.0, T0)
    board.set_owner("power.Soc", "  Ana\n(power)  ")
    note = board.add_note("power.Soc", "eclipse longer than planned;\tsee pass 412")
    a = board.alarm("power.Soc")
    assert a.owner == "Ana (power)"
    assert a.notes == [note] and note.text == "eclipse longer than planned; see pass 412" and note.wall_time_s == T0 + 5
    with pytest.raises(AlarmActionError, match="a note needs some text"):
        board.add_note("power.Soc", " \n ")
    with pytest.raises(AlarmActionError, match="at most 40"):
        board.set_owner("power.Soc", "x" * 41)
    board.acknowledge("power.Soc")
    board.observe("power.Soc", 50.0, T0 + 1)
    board.observe("power.Soc", 25.0, T0 + 2)  # raised again: owner and notes are still there
    assert a.owner == "Ana (power)" and len(a.notes) == 1


def test_acknowledge_all_leaves_shelved_and_out_of_service_alone(board):
    board.observe("power.Soc", 10.0, T0)
    board.observe("power.CapacityFadePct", 40.0, T0)
    board.observe("eps.BatteryVoltage", 23.0, T0)
    board.shelve_one_shot("power.CapacityFadePct")
    assert sorted(board.acknowledge_all()) == ["eps.BatteryVoltage", "power.Soc"]
    assert state(board, "power.CapacityFadePct") is AlarmState.UNACK  # still to see when the shelf ends


def test_unknown_latching_names_are_reported_not_fatal(clock):
    board = AlarmBoard([SOC], latching={"power.Soc", "eps.Nope"}, clock=clock)
    assert board.latching == {"power.Soc"} and board.ignored_latching == ["eps.Nope"]
