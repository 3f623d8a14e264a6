"""Power, thermal, compute and link views: each shows the node's own numbers, coloured by the
dictionary's limits, and says so when it has nothing to show."""
from __future__ import annotations

import pytest

from gridfree.ground.console.linkstatus import LinkStatusPanel
from gridfree.ground.console.plots import SeriesStore
from gridfree.ground.console.power import PowerView, eclipse_plan
from gridfree.ground.console.thermal import ThermalView
from gridfree.ground.link.records import Sample
from tests.console.conftest import T0


def test_eclipse_plan_repeats_the_predicted_shadow_once_per_orbit():
    now = T0
    plan = eclipse_plan(now, now + 600, now + 600 + 2100, 35.0)  # 35 min of a 100 min orbit
    assert plan.period_s == pytest.approx(6000)
    assert plan.eclipses == [(now + 600 + k * 6000, now + 2700 + k * 6000) for k in range(3)]
    inside = eclipse_plan(now, now - 100, now + 2000, 35.0)  # in shadow now
    assert inside.eclipses[0] == (now - 100, now + 2000)
    stale = eclipse_plan(now, now - 9000, now - 6900, 35.0)  # an old prediction still tells the phase
    assert stale.eclipses[0][0] == pytest.approx(now + 3000)
    assert eclipse_plan(now, 0.0, 0.0, 0.0) is None  # no orbit uploaded: no prediction, not a guess


def feed(view, **values):
    view.apply_samples([Sample(name.replace("_", "."), v, T0) for name, v in values.items()])
    view.refresh()


def test_power_view_shows_charge_with_its_uncertainty_and_the_next_shadow(qtbot, dictionary):
    store = SeriesStore(dictionary)
    view = PowerView(dictionary, store)
    qtbot.addWidget(view)
    batch = [Sample("power.Soc", 25.0, T0), Sample("power.SocSigma", 1.5, T0), Sample("node.Mode", 1, T0),
             Sample("power.GrantPowerW", 120.0, T0), Sample("eps.ArrayPower", 310.0, T0),
             Sample("power.NextEclipseEntry", T0 + 600, T0), Sample("power.NextEclipseExit", T0 + 2700, T0),
             Sample("power.EclipseFraction", 35.0, T0), Sample("power.ForecastNetWh1", -12.5, T0),
             Sample("power.PayloadShed", True, T0)]
    store.apply_samples(batch)
    view.apply_samples(batch)
    view.refresh()
    soc = view.readouts["power.Soc"]
    assert soc.text() == "25.0 ± 1.5 %" and soc.state == "yellow"  # below the 30 % yellow limit
    assert view.readouts["node.Mode"].text() == "SAFE"
    assert view.readouts["power.GrantPowerW"].text() == "120.0 W"
    assert view.shed.text() == "PAYLOAD SHED"
    assert view.timeline.caption() == "Next shadow in 10 min, for 35 min. Orbit period 100 min."
    assert view.timeline.forecasts[0] == -12.5
    x, y = view._soc.getData()
    assert list(y) == [25.0] and list(view._hi.getData()[1]) == [26.5]


def test_power_view_without_a_prediction_says_so(qtbot, dictionary):
    view = PowerView(dictionary, SeriesStore(dictionary))
    qtbot.addWidget(view)
    view.apply_samples([Sample("power.NextEclipseEntry", 0.0, T0), Sample("power.NextEclipseExit", 0.0, T0),
                        Sample("power.EclipseFraction", 0.0, T0)])
    view.refresh()
    assert view.timeline.plan is None and "No eclipse prediction" in view.timeline_caption.text()


def test_thermal_view_marks_temperatures_against_limits_and_shows_throttle_and_heater(qtbot, dictionary):
    view = ThermalView(dictionary, SeriesStore(dictionary))
    qtbot.addWidget(view)
    view.apply_samples([Sample("eps.BatteryTemp", 46.0, T0), Sample("eps.PayloadTemp", 55.0, T0),
                        Sample("thermal.Throttled", True, T0), Sample("thermal.HeaterOn", False, T0),
                        Sample("thermal.HeadroomC", 3.5, T0)])
    view.refresh()
    assert view.gauges["eps.BatteryTemp"].state() == "red"
    assert view.gauges["eps.PayloadTemp"].state() == "green"
    assert view.labels["eps.BatteryTemp"].text() == "46.0 C"
    assert "b3261e" in view.labels["eps.BatteryTemp"].styleSheet()
    bands = view.gauges["eps.BatteryTemp"].bands()
    assert [c for _, _, c in bands] == ["red", "yellow", "green", "yellow", "red"]
    assert (bands[2][0], bands[2][1]) == (0.0, 40.0)
    assert view.throttled.text() == "PAYLOAD THROTTLED" and view.heater.text() == "heater off"
    assert view.headroom.text() == "3.5 C"
    assert view.gauges["eps.RadiatorTemp"].bands() == []  # declared without limits


def test_link_status_counts_trouble_and_raises_the_dictionary_banner(qtbot, fake):
    panel = LinkStatusPanel(fake)
    qtbot.addWidget(panel)
    panel.refresh()
    assert panel.labels["dictionary"].text().endswith("the node's not reported yet")
    stats = fake.stats
    stats.frames_ok, stats.frames_bad, stats.frames_lost, stats.resyncs = 120, 3, 4, 2
    fake.decode_errors, fake.packets = 7, 900
    fake.hash_mismatch = True
    panel.refresh()
    assert [panel.labels[k].text() for k in ("frames_ok", "frames_bad", "frames_lost", "resyncs", "packets",
                                             "decode_errors")] == ["120", "3", "4", "2", "900", "7"]
    assert "b3261e" in panel.labels["frames_bad"].styleSheet()
    assert panel.banner.isVisibleTo(panel) and "MISMATCH" in panel.banner.text()
    fake.hash_mismatch = False
    panel.refresh()
    assert not panel.banner.isVisibleTo(panel) and panel.labels["dictionary"].text().startswith("matches the node")
