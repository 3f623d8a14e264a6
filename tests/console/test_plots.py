"""Strip charts: channels arrive by drag and drop, history is kept in ring buffers, and curves
are redrawn on the timer, not per sample."""
from __future__ import annotations

import warnings

import numpy as np
from PySide6.QtCore import QMimeData, QPointF, Qt
from PySide6.QtGui import QDragEnterEvent, QDropEvent

from gridfree.ground.console.telemetrymodel import ChannelFilterProxy, TelemetryModel
from gridfree.ground.console.plots import PlotPanel
from gridfree.ground.console.plotstore import MIN_POINTS_PER_CHANNEL, POINTS_PER_CHANNEL, SeriesStore, default_capacity
from gridfree.ground.link.records import Sample
from tests.console.conftest import T0


def test_the_store_keeps_the_newest_points_of_each_channel_in_order(dictionary):
    store = SeriesStore(dictionary, capacity=100)
    assert store.buffers.get("power.Soc") is None  # nothing before the first sample
    for k in range(0, 1000, 7):  # batches of 7, two channels interleaved as they arrive
        store.apply_samples([s for i in range(k, min(k + 7, 1000)) for s in
                             (Sample("power.Soc", float(-i), float(i)), Sample("eps.BusVoltage", 28.0, float(i)))])
    buf = store.buffers["power.Soc"]
    t, v = buf.arrays()
    assert len(buf) == 100 and buf.first == 900.0 and store.latest_time == 999.0
    assert np.array_equal(t, np.arange(900.0, 1000.0)) and np.array_equal(v, -t)
    t, _ = buf.arrays(t_from=990.0)
    assert np.array_equal(t, np.arange(990.0, 1000.0))
    version = buf.version
    store.apply_samples([Sample("power.Soc", 1.0, 1000.0 + i) for i in range(250)])  # more than it keeps
    t, v = buf.arrays()
    assert buf.version == version + 1 and np.array_equal(t, np.arange(1150.0, 1250.0)) and (v == 1.0).all()
    assert len(store.buffers["eps.BusVoltage"]) == 100
    assert "eps.BusVoltage" in store.buffers and "node.Mode" not in store.buffers


def test_history_is_bounded_however_many_channels(dictionary):
    assert default_capacity(92) == POINTS_PER_CHANNEL
    assert default_capacity(1000) == 8192 and default_capacity(8000) == 1024
    assert default_capacity(10 ** 7) == MIN_POINTS_PER_CHANNEL


def drop(widget, mime: QMimeData) -> bool:
    pos = QPointF(widget.width() / 2, widget.height() / 2)
    with warnings.catch_warnings():  # Qt offers only a QPoint constructor, and deprecates it
        warnings.simplefilter("ignore", DeprecationWarning)
        enter = QDragEnterEvent(pos.toPoint(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                                Qt.KeyboardModifier.NoModifier)
    widget.dragEnterEvent(enter)
    if not enter.isAccepted():
        return False
    event = QDropEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    widget.dropEvent(event)
    return event.isAccepted()


def test_channels_dragged_from_the_table_are_plotted(qtbot, dictionary):
    model = TelemetryModel(dictionary)
    proxy = ChannelFilterProxy()
    proxy.setSourceModel(model)
    proxy.set_text("eps.Battery")
    panel = PlotPanel(dictionary, plots=2)
    qtbot.addWidget(panel)
    rows = [proxy.index(r, 0) for r in range(proxy.rowCount())]
    mime = proxy.mimeData(rows)  # what a drag out of the (filtered, sorted) table carries
    chart = panel.charts[1]
    assert drop(chart, mime)
    # Volts on the left axis, amperes on the right; a third unit is refused, and the bar says why.
    assert set(chart.curves) == {"eps.BatteryVoltage", "eps.BatteryCurrent"}
    assert panel.message.text().startswith("eps.BatteryTemp (C) not added: Plot 2 already has axes for V and A")
    assert panel.charts[0].curves == {}

    other = QMimeData()
    other.setText("eps.BatteryVoltage")  # plain text from elsewhere is not a channel drag
    assert not drop(panel.charts[0], other)

    panel.apply_samples([Sample("eps.BatteryVoltage", 28.0 + i / 10, T0 + i) for i in range(30)])
    x, y = chart.curves["eps.BatteryVoltage"].getData()
    assert x is None or len(x) == 0  # samples alone draw nothing...
    assert panel.redraw() == 1  # ...the timer's redraw does, once per changed curve
    x, y = chart.curves["eps.BatteryVoltage"].getData()
    assert np.allclose(y, 28.0 + np.arange(30) / 10) and x[-1] == T0 + 29
    assert panel.redraw() == 0


def test_the_time_window_follows_the_newest_onboard_time(qtbot, dictionary):
    panel = PlotPanel(dictionary, plots=1)
    qtbot.addWidget(panel)
    panel.add_channels(["power.Soc"], 0)
    panel.apply_samples([Sample("power.Soc", 50.0, T0 + i) for i in range(600)])
    panel.time_window.setCurrentText("1 min")
    panel.redraw()
    x, _ = panel.charts[0].curves["power.Soc"].getData()
    assert x[0] >= T0 + 599 - 60 and x[-1] == T0 + 599
    panel.time_window.setCurrentText("all")
    panel.redraw()
    x, _ = panel.charts[0].curves["power.Soc"].getData()
    assert len(x) == 600


def test_plot_layout_survives_a_save_and_restore(qtbot, dictionary):
    a = PlotPanel(dictionary, plots=1)
    qtbot.addWidget(a)
    a.add_channels(["power.Soc", "power.SocSigma"], 0)
    a.add_channels(["eps.PayloadTemp"], None)
    a.time_window.setCurrentText("15 min")
    b = PlotPanel(dictionary, plots=1)
    qtbot.addWidget(b)
    b.restore(a.state())
    assert [list(c.curves) for c in b.charts] == [["power.Soc", "power.SocSigma"], ["eps.PayloadTemp"]]
    assert b.time_window.currentText() == "15 min"


def test_busy_charts_are_redrawn_in_turn_one_a_tick(qtbot, dictionary):
    panel = PlotPanel(dictionary, plots=3)
    qtbot.addWidget(panel)
    names = ("power.Soc", "eps.BusVoltage", "eps.BatteryTemp")
    for i, name in enumerate(names):
        panel.add_channels([name], i)
    panel.apply_samples([Sample(n, 1.0, T0) for n in names])
    drawn = []
    for _ in range(4):
        panel.redraw()
        xs = [c.curves[n].getData()[0] for c, n in zip(panel.charts, names)]
        drawn.append([0 if x is None else len(x) for x in xs])
    assert drawn == [[1, 0, 0], [1, 1, 0], [1, 1, 1], [1, 1, 1]]  # one chart a tick, then nothing new
    assert panel.redraw() == 0
