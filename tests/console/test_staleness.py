"""Every value carries its age, on the onboard clock of the values, against the period of the
housekeeping packet it comes in; past STALE_PERIODS of them it reads stale (grey, italic and
"STALE n s", not a colour alone) in the table and in the panels, and never-received reads "—"."""
from __future__ import annotations

from gridfree.ground.console.compute import ComputeView
from gridfree.ground.console.models import BACKGROUND, COLOURS, FONT
from gridfree.ground.console.plots import SeriesStore
from gridfree.ground.console.power import PowerView
from gridfree.ground.console.staleness import DELIVERY_GRACE_S, STALE_PERIODS
from gridfree.ground.console.telemetrymodel import TelemetryModel
from gridfree.ground.console.thermal import ThermalView
from gridfree.ground.link.records import Sample
from tests.console.conftest import T0


def cell(model, name, column, role=None):
    index = model.index(model.row_of[name], column)
    return index.data() if role is None else index.data(role)


def views(qtbot, dictionary, clock):
    """The table and the panels as the main window joins them: one onboard clock."""
    table = TelemetryModel(dictionary, clock=clock)
    store = SeriesStore(dictionary)
    power = PowerView(dictionary, store, table.onboard)
    thermal = ThermalView(dictionary, store, table.onboard)
    compute = ComputeView(dictionary, table.onboard)
    for v in (power, thermal, compute):
        qtbot.addWidget(v)

    def feed(batch):
        table.apply_samples(batch)
        for v in (power, thermal, compute):
            v.apply_samples(batch)

    def refresh():
        table.refresh()
        for v in (power, thermal, compute):
            v.refresh()
    return table, power, thermal, compute, feed, refresh


def test_a_value_goes_from_fresh_to_stale_after_its_period_multiple_with_the_words(qtbot, dictionary, clock):
    table, power, thermal, compute, feed, refresh = views(qtbot, dictionary, clock)
    feed([Sample("eps.ArrayPower", 300.0, T0), Sample("thermal.HeaterOn", True, T0),
          Sample("eps.BatteryTemp", 20.0, T0), Sample("compute.PlannedPowerW", 100.0, T0)])
    refresh()
    assert cell(table, "eps.ArrayPower", table.AGE) == "0 s / 1 s" and not table.is_stale("eps.ArrayPower")
    assert power.readouts["eps.ArrayPower"].age.text() == "0 s old (every 1 s)"
    # eps.ArrayPower comes every second: stale past 2.5 s of onboard time without a newer report.
    clock.advance(DELIVERY_GRACE_S + 2.0)
    refresh()
    assert not table.is_stale("eps.ArrayPower") and cell(table, "eps.ArrayPower", table.AGE) == "2 s / 1 s"
    clock.advance(1.0)
    refresh()
    assert table.age("eps.ArrayPower") == 3.0 > STALE_PERIODS * 1.0
    assert table.is_stale("eps.ArrayPower")
    assert cell(table, "eps.ArrayPower", table.STATE) == "STALE 3 s"
    assert cell(table, "eps.ArrayPower", table.VALUE, BACKGROUND) == COLOURS["stale"]
    assert cell(table, "eps.ArrayPower", table.VALUE, FONT).italic()
    readout = power.readouts["eps.ArrayPower"]
    assert readout.stale and readout.age.text() == "STALE 3 s" and readout.value.font().italic()
    assert readout.text() == "300.0 W"  # the last value stays readable, marked, not blanked
    assert thermal.heater.text() == "HEATER ON · STALE 3 s"
    assert thermal.labels["eps.BatteryTemp"].text() == "20.0 C · STALE 3 s"
    assert "italic" in thermal.labels["eps.BatteryTemp"].styleSheet() and thermal.gauges["eps.BatteryTemp"].stale
    assert compute.readouts["compute.PlannedPowerW"].age.text() == "3 s old (every 10 s)"  # a 10 s packet: fine

    feed([Sample("eps.ArrayPower", 310.0, T0 + 4)])
    refresh()
    assert not table.is_stale("eps.ArrayPower") and cell(table, "eps.ArrayPower", table.VALUE, FONT) is None
    assert not power.readouts["eps.ArrayPower"].stale and power.readouts["eps.ArrayPower"].text() == "310.0 W"
    assert table.is_stale("eps.BatteryTemp")  # the others were not in that report: still 4 s old


def test_never_received_reads_a_dash_not_zero_and_is_not_stale(qtbot, dictionary, clock):
    table, power, thermal, compute, feed, refresh = views(qtbot, dictionary, clock)
    feed([Sample("node.Mode", 1, T0)])
    clock.advance(600.0)
    refresh()
    assert cell(table, "power.Soc", table.VALUE) == "—" and cell(table, "power.Soc", table.AGE) == ""
    assert not table.is_stale("power.Soc") and cell(table, "power.Soc", table.STATE) == "no data"
    assert power.readouts["eps.ArrayPower"].text() == "—" and not power.readouts["eps.ArrayPower"].stale
    assert thermal.labels["eps.PayloadTemp"].text() == "—" and compute.running.text() == "—"
    assert power.deepest_readout.text() == "—"


def test_ages_are_onboard_seconds_whatever_the_ground_clock_says(qtbot, dictionary, clock):
    # One report stamped 10 onboard seconds after another, both arriving at the same ground
    # instant (a store dump, a burst after an outage): the older is 10 s old, and stale.
    table, _, _, _, feed, refresh = views(qtbot, dictionary, clock)
    feed([Sample("eps.BusVoltage", 28.0, T0), Sample("power.Soc", 60.0, T0 + 10)])
    refresh()
    assert table.age("eps.BusVoltage") == 10.0 and cell(table, "eps.BusVoltage", table.STATE) == "STALE 10 s"
    assert table.age("power.Soc") == 0.0 and not table.is_stale("power.Soc")


def test_a_node_running_sixty_times_real_time_is_fresh_while_it_talks_and_stale_soon_after(qtbot, dictionary, clock):
    table, _, _, _, feed, refresh = views(qtbot, dictionary, clock)
    for k in range(40):  # 4 s of ground time, 6 onboard seconds per 0.1 s display tick
        feed([Sample("eps.ArrayPower", 300.0, T0 + 6.0 * k)])
        refresh()
        assert not table.is_stale("eps.ArrayPower")
        clock.advance(0.1)
    assert 55 < table.onboard.rate < 65
    clock.advance(DELIVERY_GRACE_S + 0.1)  # silent: a tenth of a ground second is 6 onboard seconds
    refresh()
    assert table.is_stale("eps.ArrayPower") and cell(table, "eps.ArrayPower", table.STATE).startswith("STALE")


def test_a_replay_ages_only_as_the_log_plays(qtbot, dictionary, clock):
    # A replay has no ground clock to run on: paused (no new frames), nothing ages however long.
    table = TelemetryModel(dictionary, clock=None)
    table.apply_samples([Sample("eps.ArrayPower", 300.0, T0), Sample("power.Soc", 60.0, T0)])
    for _ in range(5):
        clock.advance(100.0)
        table.refresh()
    assert not table.is_stale("eps.ArrayPower") and table.age("eps.ArrayPower") == 0.0
    # Played on: a frame 30 onboard seconds later without these channels makes them old.
    table.apply_samples([Sample("node.Mode", 1, T0 + 30)])
    table.refresh()
    assert table.age("power.Soc") == 30.0 and cell(table, "power.Soc", table.STATE) == "STALE 30 s"
