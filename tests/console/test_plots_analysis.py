"""Plots for analysis: several channels per plot with their units, spacecraft or ground receipt
time, dictionary limits drawn, no empty plots by default, legends off the data, CSV export of
exactly what is drawn."""
from __future__ import annotations

import csv
import os
from datetime import datetime, timezone

import numpy as np
import pytest
from PySide6.QtCore import Qt

from gridfree.ground.console.plotexport import time_header
from gridfree.ground.console.plots import DEFAULT_PLOT, PlotPanel
from gridfree.ground.console.plotstore import GROUND, SPACECRAFT
from gridfree.ground.console.stripchart import LEFT, RIGHT
from gridfree.ground.link.records import Sample
from gridfree.ground.console.telemetrymodel import TelemetryModel
from tests.console.conftest import T0
from tests.console.test_plots import drop

# The offscreen platform says so whenever a shown top-level's minimum size changes (a plot added).
pytestmark = pytest.mark.qt_log_ignore("This plugin does not support propagateSizeHints")

LATENCY_S = 2.5  # how long after its onboard stamp the ground receives each batch, in these tests


class ReceiptClock:
    """The ground's wall clock as the test sets it, in unix seconds."""

    def __init__(self, t: float = T0):
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def receipt():
    return ReceiptClock()


@pytest.fixture
def panel(qtbot, dictionary, receipt):
    p = PlotPanel(dictionary, receipt_clock=receipt)
    qtbot.addWidget(p)
    p.resize(1200, 700)
    p.show()
    qtbot.waitExposed(p)
    return p


def feed(panel, receipt, samples_by_time: dict[float, list[Sample]]) -> None:
    """One batch per onboard time, each received LATENCY_S after it was stamped."""
    for t, batch in sorted(samples_by_time.items()):
        receipt.t = t + LATENCY_S
        panel.apply_samples(batch)


def test_two_channels_share_a_plot_each_drawn_with_its_own_data_and_style(panel, receipt):
    chart = panel.add_channels(["power.Soc", "power.SocSigma"], None)
    feed(panel, receipt, {T0 + i: [Sample("power.Soc", 50.0 + i, T0 + i)] + ([Sample("power.SocSigma", 0.5 * i, T0 + i)]
                                                                         if i % 2 else []) for i in range(20)})
    assert panel.redraw() == 2
    x, y = chart.curves["power.Soc"].xData, chart.curves["power.Soc"].yData
    assert np.array_equal(x, T0 + np.arange(20)) and np.array_equal(y, 50.0 + np.arange(20))
    x, y = chart.curves["power.SocSigma"].xData, chart.curves["power.SocSigma"].yData
    assert np.array_equal(x, T0 + np.arange(1, 20, 2)) and np.array_equal(y, 0.5 * np.arange(1, 20, 2))
    # Colour is not the only cue: line style and marker differ too.
    a, b = (chart.curves[n].opts["pen"] for n in ("power.Soc", "power.SocSigma"))
    assert a.color() != b.color() and a.style() != b.style()
    assert chart.markers["power.Soc"].opts["symbol"] != chart.markers["power.SocSigma"].opts["symbol"]
    assert chart.getAxis(LEFT).labelText == "power.Soc, power.SocSigma (%)"

    # Another unit goes on a right axis of its own; a third unit is refused, saying why.
    panel.add_channels(["eps.ArrayPower"], 0)
    assert chart.side["eps.ArrayPower"] == RIGHT and chart.getAxis(RIGHT).labelText == "eps.ArrayPower (W)"
    assert chart.curves["eps.ArrayPower"].getViewBox() is chart.right_view
    panel.add_channels(["eps.BatteryTemp"], 0)
    assert "eps.BatteryTemp" not in chart.curves
    assert panel.message.text() == ("eps.BatteryTemp (C) not added: Plot 1 already has axes for % and W; "
                                    "put it on another plot")

    chart.remove_channel("power.SocSigma")
    assert list(chart.curves) == ["power.Soc", "eps.ArrayPower"]
    assert [label.text for _, label in chart.legend.items] == ["power.Soc (%)", "eps.ArrayPower (W, right axis)"]
    assert chart.getAxis(LEFT).labelText == "power.Soc (%)"
    chart.remove_channel("eps.ArrayPower")  # the right axis is free again, for any unit
    panel.add_channels(["eps.BatteryTemp"], 0)
    assert chart.side["eps.BatteryTemp"] == RIGHT


def test_a_new_plot_for_channels_in_three_units_spills_onto_a_second_plot(panel):
    panel.add_channels(["power.Soc", "eps.ArrayPower", "eps.BatteryTemp"], None)
    assert [list(c.curves) for c in panel.charts] == [["power.Soc", "eps.ArrayPower"], ["eps.BatteryTemp"]]


def test_the_time_base_switches_to_ground_receipt_time(qtbot, panel, receipt, dictionary):
    chart = panel.add_channels(["eps.BusVoltage"], None)
    feed(panel, receipt, {T0 + i: [Sample("eps.BusVoltage", 28.0 + i / 10, T0 + i)] for i in range(30)})
    panel.redraw()
    assert np.array_equal(chart.curves["eps.BusVoltage"].xData, T0 + np.arange(30))
    assert chart.getAxis("bottom").labelText == "Spacecraft (onboard) time, UTC 2026-11-18"

    panel.set_time_base(GROUND)
    x, y = chart.curves["eps.BusVoltage"].xData, chart.curves["eps.BusVoltage"].yData
    assert np.array_equal(x, T0 + np.arange(30) + LATENCY_S) and np.allclose(y, 28.0 + np.arange(30) / 10)
    assert chart.getAxis("bottom").labelText == "Ground receipt time, UTC 2026-11-18"
    lo, hi = chart.plotItem.vb.viewRange()[0]
    assert hi == T0 + 29 + LATENCY_S  # the window ends at the newest receipt time
    # Readable UTC ticks over the data, never fractions of a second of 1970.
    axis = chart.getAxis("bottom")
    chart.grab()  # a paint: pyqtgraph picks the tick spacing for the range shown
    spacing, values = axis.tickValues(lo, hi, axis.width())[0]
    assert len(values) >= 2 and all(lo <= v <= hi for v in values)
    assert axis.tickStrings(values, 1.0, spacing) == [datetime.fromtimestamp(v, timezone.utc).strftime("%H:%M:%S")
                                                     for v in values]
    assert panel.state()["time_base"] == GROUND

    other = PlotPanel(dictionary)  # the choice is kept with the layout
    qtbot.addWidget(other)
    other.restore(panel.state())
    assert other.base == GROUND and other.charts[0].base == GROUND


def test_dictionary_limits_are_drawn_at_their_values(panel, dictionary):
    chart = panel.add_channels(["power.Soc", "eps.BusVoltage"], None)
    drawn = {line.limit[1:3]: line.value() for line in chart.limits["eps.BusVoltage"]}
    lim = dictionary.channel_by_name["eps.BusVoltage"].limits
    assert drawn == {("red", "low"): lim.red_low, ("yellow", "low"): lim.yellow_low,
                     ("yellow", "high"): lim.yellow_high, ("red", "high"): lim.red_high}
    soc = dictionary.channel_by_name["power.Soc"].limits
    assert {line.limit[1:3]: line.value() for line in chart.limits["power.Soc"]} == {
        ("red", "low"): soc.red_low, ("yellow", "low"): soc.yellow_low}  # only the limits it has
    for line in chart.limits["eps.BusVoltage"]:
        assert line.getViewBox() is chart.right_view  # against the axis of the channel's unit
        assert line.pen.color().name() == {"red": "#d32f2f", "yellow": "#e0a800"}[line.limit[1]]
    assert line.pen.style() == Qt.PenStyle.SolidLine  # red solid, yellow dashed: not by colour alone
    assert chart.limits["eps.BusVoltage"][1].pen.style() == Qt.PenStyle.DashLine
    assert chart.limits["power.Soc"][0].label.toPlainText() == "power.Soc red low 15 %"
    assert panel.add_channels(["power.SocSigma"], 0) and chart.limits["power.SocSigma"] == []  # no limits, no lines
    lines = list(chart.limits["power.Soc"])
    chart.remove_channel("power.Soc")
    assert all(line.getViewBox() is None for line in lines)


def test_the_plots_tab_shows_no_empty_plot_before_data_and_a_default_plot_after(panel, receipt):
    assert panel.charts == [] and panel.pages.currentWidget() is panel.empty
    assert "No plots yet" in panel.empty.text()
    feed(panel, receipt, {T0: [Sample("node.Mode", 1, T0), Sample("eps.BatteryTemp", 20.0, T0)]})
    assert panel.charts == []  # other channels do not make the default plot
    feed(panel, receipt, {T0 + 1: [Sample("power.Soc", 61.0, T0 + 1), Sample("power.LoadW", 240.0, T0 + 1)]})
    assert [list(c.curves) for c in panel.charts] == [list(DEFAULT_PLOT)]
    assert panel.pages.currentWidget() is panel.splitter
    panel.redraw()
    chart = panel.charts[0]
    assert not chart.hint.isVisible() and chart.getAxis("bottom").isVisible()
    assert chart.curves["power.Soc"].yData.tolist() == [61.0]
    panel.remove_plot(chart)  # the operator closed it: it does not come back
    feed(panel, receipt, {T0 + 2: [Sample("power.Soc", 62.0, T0 + 2)]})
    assert panel.charts == [] and panel.pages.currentWidget() is panel.empty


def test_a_plot_without_data_shows_a_sentence_not_axes(panel):
    chart = panel.add_plot()
    panel.redraw()
    assert chart.hint.isVisible() and "Drop channels here" in chart.hint.text()
    assert not chart.getAxis("bottom").isVisible() and not chart.getAxis(LEFT).isVisible()
    assert chart.getAxis("bottom").tickValues(0.0, 1.0, 800) == []  # no 06.100 … 06.899
    chart.add_channel("power.Soc")
    panel.redraw()
    assert chart.hint.isVisible() and chart.hint.text() == "Waiting for the first samples of power.Soc."
    assert not any(line.isVisible() for line in chart.limits["power.Soc"])
    panel.apply_samples([Sample("power.Soc", 40.0, T0)])
    panel.redraw()
    assert not chart.hint.isVisible() and all(line.isVisible() for line in chart.limits["power.Soc"])


def test_channels_dropped_on_the_empty_tab_make_a_plot(panel, dictionary):
    model = TelemetryModel(dictionary)
    mime = model.mimeData([model.index(model.row_of["eps.BusVoltage"], 0)])
    assert drop(panel, mime)
    assert [list(c.curves) for c in panel.charts] == [["eps.BusVoltage"]]


def test_an_old_layout_with_empty_plots_restores_none(qtbot, dictionary):
    p = PlotPanel(dictionary)
    qtbot.addWidget(p)
    p.restore({"window": "5 min", "plots": [[], []]})  # what the console saved before
    assert p.charts == []


def test_the_legend_sits_above_the_data(panel, receipt, tmp_path):
    chart = panel.add_channels(["power.Soc", "power.SocSigma", "eps.ArrayPower", "power.LoadW"], None)
    feed(panel, receipt, {T0 + i: [Sample("power.Soc", 50.0 + i % 7, T0 + i), Sample("power.SocSigma", 1.0, T0 + i),
                                   Sample("eps.ArrayPower", 300.0 + i, T0 + i), Sample("power.LoadW", 250.0, T0 + i)]
                          for i in range(120)})
    panel.redraw()
    panel.grab().save(str(tmp_path / "plots.png"))  # looked at while writing this test
    legend = chart.legend.sceneBoundingRect()
    data = chart.plotItem.vb.sceneBoundingRect()
    assert legend.height() > 0 and legend.bottom() <= data.top()
    assert not legend.intersects(data)


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def test_the_exported_csv_is_exactly_what_is_plotted(panel, receipt, tmp_path):
    chart = panel.add_channels(["eps.BatteryVoltage", "eps.BatteryCurrent"], None)
    batches = {T0 + i: [Sample("eps.BatteryVoltage", 28.0 + i / 3, T0 + i)] for i in range(0, 400)}
    for i in range(0, 400, 3):  # the current at every third second, and twice at 30 s (two packets)
        batches[T0 + i].append(Sample("eps.BatteryCurrent", -1.5 + i / 7, T0 + i))
    batches[T0 + 30].append(Sample("eps.BatteryCurrent", 9.25, T0 + 30))
    feed(panel, receipt, batches)
    panel.time_window.setCurrentText("5 min")  # the file holds the window drawn, not the whole history

    for base in (SPACECRAFT, GROUND):
        panel.set_time_base(base)
        path = tmp_path / f"{base}.csv"
        rows = panel.export_csv(chart, path)
        plotted = chart.plotted()
        header, body = read_csv(path)
        assert header == time_header(base) + ["eps.BatteryVoltage [V]", "eps.BatteryCurrent [A]"]
        assert rows == len(body)
        t = np.array([float(r[1]) for r in body])
        assert np.all(np.diff(t) >= 0)
        for col, name in ((2, "eps.BatteryVoltage"), (3, "eps.BatteryCurrent")):
            x, y = plotted[name]
            filled = [(float(r[1]), float(r[col])) for r in body if r[col] != ""]
            assert np.array_equal([a for a, _ in filled], x)
            # float32 channels are written as their shortest float32 digits: equal as float32
            assert np.array_equal(np.float32([b for _, b in filled]), np.float32(y))
        assert len(plotted["eps.BatteryVoltage"][0]) == 301 and plotted["eps.BatteryVoltage"][0][0] == (
            T0 + 99 + (LATENCY_S if base == GROUND else 0.0))
        assert body[0][0].endswith("Z") and body[0][0].startswith("2026-11-18T")
    assert np.any(np.array(plotted["eps.BatteryCurrent"][0]) == T0 + 399 + LATENCY_S)


def test_export_through_the_button_and_a_folder_that_cannot_be_written(qtbot, dictionary, tmp_path):
    chosen = []
    p = PlotPanel(dictionary, choose_path=lambda parent, caption, suggested: chosen.pop(0))
    qtbot.addWidget(p)
    p.apply_samples([Sample("power.Soc", 55.5, T0)])
    chart = p.charts[0]
    chosen.append(str(tmp_path / "soc.csv"))
    p.frames[chart].export.click()
    assert p.message.text().startswith(f"Exported 1 rows of Plot 1 (spacecraft time (onboard)) to {tmp_path}")
    header, body = read_csv(tmp_path / "soc.csv")
    assert body[0][1:3] == [repr(T0), "55.5"]
    chosen.append(os.path.join(str(tmp_path), "no", "such", "dir", "x.csv"))
    p.frames[chart].export.click()
    assert p.message.text().startswith("Export failed: cannot write ") and "\n" not in p.message.text()


def test_the_console_opens_on_no_plot_and_plots_charge_and_power_once_they_arrive(qtbot, window, fake):
    window.tabs.setCurrentWidget(window.plots)
    assert window.plots.charts == [] and window.plots.pages.currentWidget() is window.plots.empty
    fake.sample("power.Soc", float("nan"), T0)  # a node without a battery sensor: nothing to draw, no error
    for i in range(1, 30):
        fake.sample("power.Soc", float("nan"), T0 + i)
        fake.sample("eps.ArrayPower", 300.0 + i, T0 + i)
    qtbot.waitUntil(lambda: len(window.plots.charts) == 1 and window.plots.charts[0].curves["eps.ArrayPower"].xData
                    is not None and len(window.plots.charts[0].curves["eps.ArrayPower"].xData) == 29)
    chart = window.plots.charts[0]
    chart.grab()  # a paint with a curve of NaN only: no warning, no exception
    assert chart.getAxis("bottom").isVisible() and not chart.hint.isVisible()
    assert chart.curves["eps.ArrayPower"].xData[-1] == T0 + 29


def test_a_missing_reading_breaks_the_line_and_is_not_exported(panel, receipt, tmp_path):
    chart = panel.add_channels(["power.Soc"], None)
    values = [50.0, 51.0, float("nan"), float("nan"), 54.0, 55.0]
    feed(panel, receipt, {T0 + i: [Sample("power.Soc", v, T0 + i)] for i, v in enumerate(values)})
    panel.redraw()
    curve = chart.curves["power.Soc"]
    assert curve.xData.tolist() == [T0, T0 + 1, T0 + 4, T0 + 5] and curve.yData.tolist() == [50.0, 51.0, 54.0, 55.0]
    assert curve.opts["connect"].tolist() == [True, False, True, False]  # no line across the gap
    panel.export_csv(chart, tmp_path / "soc.csv")
    _, body = read_csv(tmp_path / "soc.csv")
    assert [(float(r[1]), float(r[2])) for r in body] == list(zip(curve.xData.tolist(), curve.yData.tolist()))
