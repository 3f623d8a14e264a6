"""The tables an operator reads: right values, right colours, greyed when old, found by search,
and cheap to keep current."""
from __future__ import annotations

import math

import pytest
from PySide6.QtCore import Qt

from gridfree.ground.console.alarms import AlarmModel
from gridfree.ground.console.logmodels import CommandHistoryModel, EventModel
from gridfree.ground.console.models import BACKGROUND, COLOURS, FOREGROUND, GREY_TEXT
from gridfree.ground.console.telemetrymodel import ChannelFilterProxy, TelemetryModel
from gridfree.ground.link.commands import CommandHandle
from gridfree.ground.link.records import EventRecord, Sample
from gridfree.protocols.services.verification import Subtype, VerificationReport
from tests.console.conftest import T0

DISPLAY = Qt.ItemDataRole.DisplayRole


def cell(model, name, column, role=DISPLAY):
    return model.index(model.row_of[name], column).data(role)


def test_models_stay_consistent_while_rows_change(qtmodeltester, dictionary, clock):
    """Qt's own model tester watches every signal while the models insert, drop and update rows."""
    telemetry = TelemetryModel(dictionary, clock=clock)
    proxy = ChannelFilterProxy()
    proxy.setSourceModel(telemetry)
    events = EventModel(capacity=5)
    history = CommandHistoryModel(clock=clock)
    alarms = AlarmModel(dictionary, clock=clock)
    for model in (telemetry, proxy, events, history, alarms):
        qtmodeltester.check(model)

    telemetry.apply_samples([Sample("eps.BatteryVoltage", 28.0, T0), Sample("node.Mode", 2, T0)])
    telemetry.refresh()
    proxy.set_text("eps.")
    proxy.sort(1, Qt.SortOrder.DescendingOrder)
    telemetry.apply_samples([Sample("eps.BatteryTemp", 30.0, T0)])
    telemetry.refresh()
    proxy.set_text("")

    ev = dictionary.event_by_name["node.ModeChanged"]
    for n in range(4):  # 12 events into a log of 5: the oldest go, in batches
        events.append([EventRecord(ev, ev.id, ev.severity, {}, f"event {3 * n + i}", T0 + n) for i in range(3)])
    assert events.rowCount() == 5
    assert events.index(4, 3).data() == "event 11"

    handles = [CommandHandle("test.Ping", None), CommandHandle("node.SetMode", None)]
    for h in handles:
        history.add(h)
    handles[0].stages.append(("acceptance", True))
    history.update(handles[:1])
    history.update([CommandHandle("cmdDisp.Noop", None)])  # reported, but not sent from here
    assert history.rowCount() == 3

    alarms.apply_samples([Sample("eps.BatteryTemp", 50.0, T0), Sample("power.Soc", 10.0, T0)])
    alarms.acknowledge("power.Soc")
    alarms.apply_samples([Sample("power.Soc", 60.0, T0 + 1)])  # acknowledged and back: gone
    alarms.acknowledge_all()
    alarms.apply_samples([Sample("eps.BatteryTemp", 20.0, T0 + 1)])
    assert alarms.rowCount() == 0


@pytest.mark.parametrize("value, state", [(28.0, "green"), (25.0, "yellow"), (33.9, "yellow"), (23.5, "red"),
                                          (34.5, "red")])
def test_values_out_of_limits_get_the_limit_colour(dictionary, clock, value, state):
    m = TelemetryModel(dictionary, clock=clock)
    m.apply_samples([Sample("eps.BatteryVoltage", value, T0)])
    m.refresh()
    assert cell(m, "eps.BatteryVoltage", m.VALUE) == f"{value:.2f} V"
    assert cell(m, "eps.BatteryVoltage", m.VALUE, BACKGROUND) == COLOURS[state]
    assert cell(m, "eps.BatteryVoltage", m.STATE) == state.upper()


def test_a_missing_reading_is_invalid_not_a_limit_violation(dictionary, clock):
    """NaN is the node saying it could not measure: its own state and colour, never RED."""
    m = TelemetryModel(dictionary, clock=clock)
    m.apply_samples([Sample("eps.BatteryVoltage", math.nan, T0)])
    m.refresh()
    assert cell(m, "eps.BatteryVoltage", m.VALUE) == "no value"
    assert cell(m, "eps.BatteryVoltage", m.STATE) == "INVALID"
    assert cell(m, "eps.BatteryVoltage", m.VALUE, BACKGROUND) == COLOURS["invalid"] != COLOURS["red"]


def test_channels_without_limits_enums_and_times_read_as_an_operator_expects(dictionary, clock):
    m = TelemetryModel(dictionary, clock=clock)
    m.apply_samples([Sample("node.Mode", 2, T0), Sample("eps.ArrayPower", 1234.5678, T0),
                     Sample("power.NextEclipseEntry", 1_795_000_600.25, T0), Sample("thermal.HeaterOn", True, T0)])
    m.refresh()
    assert (cell(m, "node.Mode", m.VALUE), cell(m, "node.Mode", m.RAW)) == ("NOMINAL", "2")
    assert cell(m, "eps.ArrayPower", m.VALUE) == "1234.6 W"
    assert cell(m, "eps.ArrayPower", m.VALUE, BACKGROUND) is None  # no limits, no colour
    assert cell(m, "power.NextEclipseEntry", m.VALUE) == "2026-11-18T11:16:40.250Z"
    assert cell(m, "thermal.HeaterOn", m.VALUE) == "true"
    assert cell(m, "node.Mode", m.TIME) == "2026-11-18T11:06:40.000Z"
    assert cell(m, "power.Soc", m.STATE) == "no data"


def test_a_time_is_shown_as_a_date_by_its_declaration_not_its_description(dictionary):
    from gridfree.ground.console.models import format_value
    from gridfree.protocols.dictionary import Channel

    assert format_value(dictionary.channel_by_name["power.NextEclipseExit"], 1_795_000_600.25)[0] == \
        "2026-11-18T11:16:40.250Z"
    instant = Channel(900, "x.Instant", "f64", "s", "no word about time scales here", time_scale="UTC")
    duration = Channel(901, "x.Duration", "f64", "s", "how long, until the next pass in UTC")
    assert format_value(instant, 1_795_000_600.25)[0] == "2026-11-18T11:16:40.250Z"
    assert format_value(duration, 600.5)[0] == "600.5 s"  # f64 seconds, the same type: a duration all the same
    assert [c.name for c in dictionary.channels if format_value(c, 1.8e9)[0].endswith("Z")] == [
        "power.NextEclipseEntry", "power.NextEclipseExit"]  # and no other channel of the node


def test_a_silent_channel_greys_out_and_recovers_on_the_next_sample(dictionary, clock):
    m = TelemetryModel(dictionary, clock=clock)
    m.apply_samples([Sample("eps.BatteryVoltage", 23.0, T0), Sample("power.EclipseFraction", 35.0, T0)])
    m.refresh()
    assert not m.is_stale("eps.BatteryVoltage")
    clock.advance(6.0)
    assert m.refresh() is not None  # going stale is a change the views must repaint
    assert m.is_stale("eps.BatteryVoltage")
    assert cell(m, "eps.BatteryVoltage", m.STATE) == "STALE 5 s"  # onboard seconds, after the delivery grace
    assert cell(m, "eps.BatteryVoltage", m.VALUE, BACKGROUND) == COLOURS["stale"]  # grey beats red
    assert cell(m, "eps.BatteryVoltage", m.NAME, FOREGROUND) == GREY_TEXT
    # A channel of a 10 s housekeeping packet is not stale after 6 s.
    assert not m.is_stale("power.EclipseFraction")
    clock.advance(25.0)
    m.refresh()
    assert m.is_stale("power.EclipseFraction")
    m.apply_samples([Sample("eps.BatteryVoltage", 28.0, T0 + 31)])
    m.refresh()
    assert not m.is_stale("eps.BatteryVoltage")
    assert cell(m, "eps.BatteryVoltage", m.VALUE, BACKGROUND) == COLOURS["green"]


def test_the_filter_finds_channels_by_name_description_and_group(dictionary, clock):
    m = TelemetryModel(dictionary, clock=clock)
    proxy = ChannelFilterProxy()
    proxy.setSourceModel(m)
    proxy.set_text("batterytemp")
    assert proxy.channel_names() == ["eps.BatteryTemp"]
    proxy.set_text("shadow")  # in the descriptions of the eclipse channels, not their names
    assert set(proxy.channel_names()) >= {"power.NextEclipseS", "power.NextEclipseEntry", "power.NextEclipseExit"}
    proxy.set_text("")
    proxy.set_group(dictionary.hk_by_name["thermal.Status"].channels)
    assert proxy.channel_names() == list(dictionary.hk_by_name["thermal.Status"].channels)
    proxy.set_text("heater")
    assert proxy.channel_names() == ["thermal.HeaterOn"]


def test_a_thousand_samples_over_a_hundred_channels_cost_one_repaint(qtbot, dictionary, clock):
    m = TelemetryModel(dictionary, clock=clock)
    names = [c.name for c in dictionary.channels if c.wire.kind == "float"]
    names = (names * 100)[:100] if len(names) < 100 else names[:100]
    changes = []
    m.dataChanged.connect(lambda tl, br, roles: changes.append((tl.row(), br.row())))
    m.apply_samples([Sample(names[i % len(names)], float(i), T0 + i / 1000) for i in range(1000)])
    assert changes == []  # storing values signals nothing
    m.refresh()
    rows = sorted(m.row_of[n] for n in set(names))
    assert changes == [(rows[0], rows[-1])]
    assert m.refresh() is None and len(changes) == 1  # nothing new: no repaint
    last = names[999 % len(names)]
    assert m.value_text(last).startswith("999")  # the last of a burst is what shows


def test_event_log_keeps_the_newest_and_colours_by_severity(dictionary):
    m = EventModel(capacity=3)
    fatal_like = dictionary.event_by_name["power.UnderVoltage"]  # WARNING_HI
    info = dictionary.event_by_name["params.Loaded"]  # ACTIVITY_LO
    m.append([EventRecord(info, info.id, info.severity, {"count": i}, info.text({"count": i}), T0 + i)
              for i in range(2)])
    m.append([EventRecord(fatal_like, fatal_like.id, fatal_like.severity, {}, "battery low", T0 + 5),
              EventRecord(None, 999, None, {}, "unknown event 999", T0 + 6)])
    assert m.rowCount() == 3 and m.dropped == 1
    assert [m.index(r, 1).data() for r in range(3)] == ["ACTIVITY_LO", "WARNING_HI", "?"]
    assert m.index(1, 0).data(BACKGROUND) == COLOURS["red"]
    assert m.index(2, 2).data() == "#999"


def test_command_history_follows_verification_to_completion_or_failure(clock):
    m = CommandHistoryModel(timeout_s=10.0, clock=clock)
    ok, bad, silent = (CommandHandle(n, None) for n in ("test.Ping", "node.SetMode", "cmdDisp.Noop"))
    for h in (ok, bad, silent):
        h.mark_sent()
        m.add(h, "")
    assert [m.status(r) for r in range(3)] == ["SENT"] * 3
    ok.record(VerificationReport(Subtype.ACCEPTANCE_OK, None))
    m.update([ok])
    assert m.status(0) == "ACCEPTED"
    for h, sub in ((ok, Subtype.START_OK), (ok, Subtype.COMPLETION_OK), (bad, Subtype.ACCEPTANCE_OK)):
        h.record(VerificationReport(sub, None))
    bad.record(VerificationReport(Subtype.START_FAILED, None, failure=10, failure_data=b"guard: battery too low"))
    m.update([ok, bad])
    assert m.status(0) == "COMPLETED"
    assert m.status(1) == "FAILED (start)"
    assert m.index(1, 4).data() == "WRONG_MODE: guard: battery too low"
    clock.advance(11.0)
    m.refresh()
    assert m.status(2) == "TIMEOUT (acceptance)"


def test_alarms_latch_until_acknowledged_and_come_back_from_the_shelf(dictionary, clock):
    m = AlarmModel(dictionary, clock=clock)
    counts = []
    m.activeChanged.connect(counts.append)
    m.apply_samples([Sample("power.Soc", 25.0, T0)])  # yellow
    assert m.names() == ["power.Soc"] and m.active_count() == 1
    m.apply_samples([Sample("power.Soc", 50.0, T0 + 1)])  # back in limits, but nobody saw it
    assert m.names() == ["power.Soc"] and m.alarm("power.Soc").worst == "yellow"
    m.acknowledge("power.Soc")
    assert m.names() == []
    m.apply_samples([Sample("eps.BatteryTemp", 41.0, T0 + 2)])  # yellow
    m.acknowledge("eps.BatteryTemp")
    assert m.active_count() == 0
    m.apply_samples([Sample("eps.BatteryTemp", 46.0, T0 + 3)])  # worse than acknowledged: raised again
    assert m.active_count() == 1 and m.alarm("eps.BatteryTemp").worst == "red"
    m.shelve("eps.BatteryTemp", 600.0)
    assert m.active_count() == 0
    clock.advance(601.0)
    m.refresh()
    assert m.active_count() == 1  # still out of limits when the shelf expired
    assert counts == [1, 0, 1, 0, 1, 0, 1]


def test_a_table_sorted_by_value_follows_new_values_and_unsorted_rows_stay_put(dictionary, clock):
    telemetry = TelemetryModel(dictionary, clock=clock)
    proxy = ChannelFilterProxy()
    proxy.setSourceModel(telemetry)
    proxy.set_text("eps.battery")
    names = ["eps.BatteryVoltage", "eps.BatteryCurrent", "eps.BatteryTemp"]
    telemetry.apply_samples([Sample(n, float(i), T0) for i, n in enumerate(names)])
    telemetry.refresh()
    proxy.sort(1, Qt.SortOrder.DescendingOrder)  # by value: the proxy watches the values
    assert proxy.dynamicSortFilter() and proxy.channel_names() == names[::-1]
    telemetry.apply_samples([Sample("eps.BatteryVoltage", 99.0, T0 + 1)])
    telemetry.refresh()
    assert proxy.channel_names()[0] == "eps.BatteryVoltage"
    proxy.sort(-1)  # dictionary order: a value cannot move a row, so changes are not re-filtered
    assert not proxy.dynamicSortFilter()
    telemetry.apply_samples([Sample("eps.BatteryTemp", 500.0, T0 + 2)])
    telemetry.refresh()
    assert sorted(proxy.channel_names()) == sorted(names)  # the filter still holds
    assert telemetry.value_text("eps.BatteryTemp") == "500.0 C"  # formatted when asked for


def test_rows_are_formatted_when_shown_not_when_a_sample_arrives(dictionary, clock):
    telemetry = TelemetryModel(dictionary, clock=clock)
    telemetry.apply_samples([Sample(c.name, 1, T0) for c in dictionary.channels if c.type.startswith("u")])
    assert telemetry._unformatted and not any(telemetry._value)  # nothing formatted yet
    row = telemetry.row_of["node.BootCount"]
    assert telemetry.index(row, TelemetryModel.VALUE).data() == "1"
    assert row not in telemetry._unformatted and telemetry._value[row] == "1"
