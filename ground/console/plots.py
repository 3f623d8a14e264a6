"""Strip charts: any channel against onboard time, in several stacked plots.

Every numeric channel is buffered from the moment the console starts (numpy ring buffers, a
fixed number of points per channel), so a channel dragged onto a plot shows its recent past at
once. Samples only go into the buffers; the curves are redrawn on the display timer, and only
those whose buffer changed, so a burst of telemetry costs one redraw, not one per sample. The
time axis follows the newest onboard time received, not the wall clock, so a replayed log
scrolls as it did live.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QPushButton, QSplitter, QVBoxLayout,
                               QWidget)

from gridfree.ground.console.models import CHANNEL_MIME, channels_from_mime
from gridfree.protocols.dictionary import Dictionary

#: Points kept per channel: an hour at 4 Hz, or the last 4.5 h of a 1 Hz housekeeping packet.
POINTS_PER_CHANNEL = 16384
PALETTE = ["#1565c0", "#c62828", "#2e7d32", "#ef6c00", "#6a1b9a", "#00838f", "#ad1457", "#4e342e"]
WINDOWS_S = {"1 min": 60.0, "5 min": 300.0, "15 min": 900.0, "1 h": 3600.0, "all": float("inf")}


class RingBuffer:
    """(time, value) pairs, the newest `capacity` kept, readable as contiguous arrays.

    Storage is twice the capacity; when it fills, the newest half moves to the front, so
    appending is amortised O(1) and reading never copies."""

    def __init__(self, capacity: int = POINTS_PER_CHANNEL):
        self.capacity = capacity
        self._t = np.empty(2 * capacity)
        self._v = np.empty(2 * capacity)
        self._start = self._end = 0
        self.version = 0  # bumped on every append: whether a curve must be redrawn

    def append(self, t: float, v: float) -> None:
        if self._end == len(self._t):
            keep = self.capacity - 1
            self._t[:keep] = self._t[self._end - keep:self._end]
            self._v[:keep] = self._v[self._end - keep:self._end]
            self._start, self._end = 0, keep
        self._t[self._end] = t
        self._v[self._end] = v
        self._end += 1
        if self._end - self._start > self.capacity:
            self._start += 1
        self.version += 1

    def __len__(self) -> int:
        return self._end - self._start

    @property
    def first(self) -> float:
        return float(self._t[self._start])

    def arrays(self, t_from: float = -np.inf) -> tuple[np.ndarray, np.ndarray]:
        t = self._t[self._start:self._end]
        i = int(np.searchsorted(t, t_from)) if np.isfinite(t_from) else 0
        return t[i:], self._v[self._start + i:self._end]


class SeriesStore:
    """A ring buffer per numeric channel, made on its first sample."""

    def __init__(self, dictionary: Dictionary, capacity: int = POINTS_PER_CHANNEL):
        self.capacity = capacity
        self.numeric = {c.name for c in dictionary.channels if c.wire.kind in ("uint", "int", "float", "bool")}
        self.buffers: dict[str, RingBuffer] = {}
        self.latest_time = None

    def apply_samples(self, batch: Iterable) -> None:
        latest = self.latest_time
        for s in batch:
            if s.channel not in self.numeric:
                continue
            buf = self.buffers.get(s.channel)
            if buf is None:
                buf = self.buffers[s.channel] = RingBuffer(self.capacity)
            buf.append(s.time_s, float(s.value))
            if latest is None or s.time_s > latest:
                latest = s.time_s
        self.latest_time = latest


class StripChart(pg.PlotWidget):
    """One plot; channels arrive by drag and drop from the telemetry table or by `add_channel`."""

    channelsChanged = Signal()

    def __init__(self, store: SeriesStore, title: str = "", parent=None):
        super().__init__(parent, background="w",
                         axisItems={"bottom": pg.DateAxisItem(orientation="bottom", utcOffset=0)})
        self.store = store
        self.setAcceptDrops(True)
        self.setTitle(title, color="#333")
        self.showGrid(x=True, y=True, alpha=0.25)
        self.plotItem.setClipToView(True)
        self.plotItem.setDownsampling(auto=True, mode="peak")
        self.legend = self.addLegend(offset=(8, 8), labelTextColor="#222", brush=pg.mkBrush(255, 255, 255, 200))
        self.curves: dict[str, pg.PlotDataItem] = {}
        self._drawn: dict[str, int] = {}
        self._window: float | None = None
        self.setToolTip("Drop channels here from the telemetry table")

    def add_channel(self, name: str) -> bool:
        if name in self.curves or name not in self.store.numeric:
            return False
        pen = pg.mkPen(PALETTE[len(self.curves) % len(PALETTE)], width=2)
        self.curves[name] = self.plot([], [], name=name, pen=pen, skipFiniteCheck=True)
        self._drawn[name] = -1
        self.channelsChanged.emit()
        return True

    def remove_channel(self, name: str) -> None:
        curve = self.curves.pop(name, None)
        if curve is not None:
            self.removeItem(curve)
            self.legend.removeItem(curve)
            self._drawn.pop(name, None)
            self.channelsChanged.emit()

    def clear_channels(self) -> None:
        for name in list(self.curves):
            self.remove_channel(name)

    def redraw(self, window_s: float) -> int:
        """Redraw the curves whose data changed (all of them if the window did); returns how many."""
        t_end = self.store.latest_time
        if t_end is None:
            return 0
        t_from = t_end - window_s
        window_changed = window_s != self._window
        self._window = window_s
        drawn = 0
        for name, curve in self.curves.items():
            buf = self.store.buffers.get(name)
            if buf is None or (buf.version == self._drawn[name] and not window_changed):
                continue
            t, v = buf.arrays(t_from)
            curve.setData(t, v)
            self._drawn[name] = buf.version
            drawn += 1
        if drawn or window_changed:
            # Up to a full window, but never blank time before the first point: a chart opened a
            # minute ago shows that minute across its width.
            first = min((b.first for n in self.curves if (b := self.store.buffers.get(n)) is not None and len(b)),
                        default=t_end)
            lo = max(t_from, first)
            self.setXRange(lo if lo < t_end else t_end - 1.0, t_end, padding=0)
        return drawn

    # -- drag and drop ---------------------------------------------------------------------------
    def dragEnterEvent(self, event):
        if event.mimeData().hasFormat(CHANNEL_MIME):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dragMoveEvent(self, event):
        self.dragEnterEvent(event)

    def dropEvent(self, event):
        names = channels_from_mime(event.mimeData())
        if not names:
            event.ignore()
            return
        for name in names:
            self.add_channel(name)
        event.acceptProposedAction()


class PlotPanel(QWidget):
    """Several strip charts stacked in a splitter, with one time window for all of them."""

    def __init__(self, dictionary: Dictionary, plots: int = 2, parent=None):
        super().__init__(parent)
        self.store = SeriesStore(dictionary)
        self.charts: list[StripChart] = []
        self.time_window = QComboBox()
        self.time_window.addItems(list(WINDOWS_S))
        self.time_window.setCurrentText("5 min")
        self.time_window.setToolTip("Time span shown, up to the newest onboard time received")
        add = QPushButton("Add plot")
        add.clicked.connect(lambda: self.add_plot())
        remove = QPushButton("Remove last plot")
        remove.clicked.connect(self.remove_plot)
        clear = QPushButton("Clear channels")
        clear.clicked.connect(self.clear)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Window"))
        bar.addWidget(self.time_window)
        bar.addWidget(add)
        bar.addWidget(remove)
        bar.addWidget(clear)
        bar.addStretch(1)
        bar.addWidget(QLabel("Drag channels from the telemetry table onto a plot, or right-click them there."))
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.splitter, 1)
        for _ in range(plots):
            self.add_plot()

    @property
    def window_s(self) -> float:
        return WINDOWS_S[self.time_window.currentText()]

    def add_plot(self) -> StripChart:
        chart = StripChart(self.store, f"Plot {len(self.charts) + 1}")
        self.charts.append(chart)
        self.splitter.addWidget(chart)
        return chart

    def remove_plot(self) -> None:
        if len(self.charts) > 1:
            chart = self.charts.pop()
            chart.setParent(None)
            chart.deleteLater()

    def clear(self) -> None:
        for chart in self.charts:
            chart.clear_channels()

    def add_channels(self, names: Iterable[str], plot: int | None = None) -> StripChart:
        """Plot channels on plot number `plot` (0-based), or on a new plot when None."""
        chart = self.add_plot() if plot is None or plot >= len(self.charts) else self.charts[plot]
        for name in names:
            chart.add_channel(name)
        return chart

    def apply_samples(self, batch) -> None:
        self.store.apply_samples(batch)

    def redraw(self) -> int:
        return sum(chart.redraw(self.window_s) for chart in self.charts)

    # -- layout persistence ----------------------------------------------------------------------
    def state(self) -> dict:
        return {"window": self.time_window.currentText(), "plots": [list(c.curves) for c in self.charts]}

    def restore(self, state: dict) -> None:
        if state.get("window") in WINDOWS_S:
            self.time_window.setCurrentText(state["window"])
        plots = [p for p in state.get("plots", []) if isinstance(p, list)]
        while len(self.charts) < len(plots):
            self.add_plot()
        for chart, names in zip(self.charts, plots):
            chart.clear_channels()
            for name in names:
                chart.add_channel(str(name))
