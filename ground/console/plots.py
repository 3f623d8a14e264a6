"""Strip charts: any channel against onboard time, in several stacked plots.

Every numeric channel is buffered from the moment the console starts (a numpy ring per channel,
a bounded number of points each, filled a batch at a time), so a channel dragged onto a plot
shows its recent past at once. Samples only go into the buffers; the curves are redrawn on the
display timer, one chart per tick in turn and only those whose buffer changed, so a burst of
telemetry costs one redraw, not one per sample. The time axis follows the newest onboard time
received, not the wall clock, so a replayed log scrolls as it did live.
"""
from __future__ import annotations

from operator import attrgetter
from typing import Iterable

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QComboBox, QHBoxLayout, QLabel, QPushButton, QSplitter, QVBoxLayout,
                               QWidget)

from gridfree.ground.console.telemetrymodel import CHANNEL_MIME, channels_from_mime
from gridfree.protocols.dictionary import Dictionary

#: Points kept per channel: an hour at 4 Hz, or the last 4.5 h of a 1 Hz housekeeping packet...
POINTS_PER_CHANNEL = 16384
#: ...unless the dictionary has so many channels that their history would take more than this
#: (time and value, float64, in twice the storage: 32 bytes a point). 1000 channels keep 8192
#: points each (13 min at 10 Hz), 8000 channels 1024.
HISTORY_BYTES = 256 << 20
BYTES_PER_POINT = 32
MIN_POINTS_PER_CHANNEL = 256
INITIAL_WIDTH = 256
#: Charts redrawn per display tick, in turn: a chart's repaint costs milliseconds in software
#: rendering, so five charts redrawn in one go would hold the GUI thread for tens of them.
CHARTS_PER_TICK = 1
#: Grid lines are drawn opaque in this light grey: the raster engine blends translucent lines
#: slowly (measured offscreen: five charts repainted in 171 ms with pyqtgraph's translucent grid,
#: 61 ms with this one).
GRID_COLOUR = "#e6e6e6"
GRID_LEVEL = 1  # pyqtgraph's maxTickLevel: lines at the major and minor ticks, not the finer ones
PALETTE = ["#1565c0", "#c62828", "#2e7d32", "#ef6c00", "#6a1b9a", "#00838f", "#ad1457", "#4e342e"]
WINDOWS_S = {"1 min": 60.0, "5 min": 300.0, "15 min": 900.0, "1 h": 3600.0, "all": float("inf")}
_CHANNEL, _TIME, _VALUE = attrgetter("channel"), attrgetter("time_s"), attrgetter("value")


def default_capacity(channels: int) -> int:
    """Points per channel: POINTS_PER_CHANNEL, or fewer (a power of two) when that many
    channels would not fit in HISTORY_BYTES."""
    fit = HISTORY_BYTES // (max(channels, 1) * BYTES_PER_POINT)
    if fit >= POINTS_PER_CHANNEL:
        return POINTS_PER_CHANNEL
    return max(MIN_POINTS_PER_CHANNEL, 1 << (int(fit).bit_length() - 1) if fit >= 1 else 0)


def light_grid(plot: pg.PlotWidget) -> None:
    """Grid lines in GRID_COLOUR, opaque, at the labelled ticks only, behind the curves."""
    plot.showGrid(x=True, y=True)
    for side in ("left", "bottom"):
        axis = plot.getAxis(side)
        axis.setStyle(tickAlpha=255, maxTickLevel=GRID_LEVEL)
        axis.setTickPen(pg.mkPen(GRID_COLOUR))
        axis.setZValue(-1)  # opaque lines over a curve would cut it into dashes


class Series:
    """One channel's history in the store: (time, value) arrays, oldest first, without a copy."""

    __slots__ = ("store", "row")

    def __init__(self, store: "SeriesStore", row: int):
        self.store, self.row = store, row

    def __len__(self) -> int:
        return int(self.store._end[self.row] - self.store._start[self.row])

    @property
    def version(self) -> int:
        """Bumped by every batch with a sample of the channel: whether a curve must be redrawn."""
        return int(self.store._version[self.row])

    @property
    def first(self) -> float:
        return float(self.store._t[self.row, self.store._start[self.row]])

    def arrays(self, t_from: float = -np.inf) -> tuple[np.ndarray, np.ndarray]:
        st, row = self.store, self.row
        a, b = int(st._start[row]), int(st._end[row])
        t = st._t[row, a:b]
        i = int(np.searchsorted(t, t_from)) if np.isfinite(t_from) else 0
        return t[i:], st._v[row, a + i:b]


class SeriesStore:
    """The recent history of every numeric channel, from the moment the console starts.

    Two 2-D arrays (time, value) with a row per channel, so that a batch of samples goes in with
    a few numpy operations rather than a Python call per sample: a thousand channels at 10 Hz
    are ten thousand samples a second. Each row keeps the newest `capacity` points in twice that
    storage; when a row is full its newest points move to the front, so appending is amortised
    O(1) and reading never copies. The storage starts small and doubles as history accumulates,
    up to what `capacity` needs.
    """

    def __init__(self, dictionary: Dictionary, capacity: int | None = None):
        names = [c.name for c in dictionary.channels if c.wire.kind in ("uint", "int", "float", "bool")]
        self.numeric = set(names)
        self.row_of = {name: i for i, name in enumerate(names)}
        self.capacity = capacity if capacity is not None else default_capacity(len(names))
        n, width = len(names), min(2 * self.capacity, INITIAL_WIDTH)
        self._t = np.empty((n, width))
        self._v = np.empty((n, width))
        self._start = np.zeros(n, dtype=np.int64)
        self._end = np.zeros(n, dtype=np.int64)
        self._version = np.zeros(n, dtype=np.int64)
        self.latest_time: float | None = None
        self.buffers = _Buffers(self)

    def apply_samples(self, batch: Iterable) -> None:
        batch = batch if isinstance(batch, list) else list(batch)
        if not batch:
            return
        # Columns at C speed (map over attrgetter); a channel not in the store has row NaN.
        rows = np.array(list(map(self.row_of.get, map(_CHANNEL, batch))), dtype=float)
        known = ~np.isnan(rows)
        if not known.any():
            return
        try:
            vs = np.array(list(map(_VALUE, batch)), dtype=float)
        except (TypeError, ValueError):  # text among the values: take only the numeric channels'
            vs = np.array([s.value if k else 0.0 for s, k in zip(batch, known.tolist())], dtype=float)
        ts = np.array(list(map(_TIME, batch)), dtype=float)
        if not known.all():
            rows, ts, vs = rows[known], ts[known], vs[known]
        rows = rows.astype(np.int64)
        if np.bincount(rows).max() == 1:  # the usual batch: one sample per channel
            channels, counts, rank = rows, np.ones(len(rows), dtype=np.int64), 0
        else:
            order = np.argsort(rows, kind="stable")  # each channel's samples together, in arrival order
            rows, ts, vs = rows[order], ts[order], vs[order]
            channels, first, counts = np.unique(rows, return_index=True, return_counts=True)
            rank = np.arange(len(rows)) - np.repeat(first, counts)  # a sample's place among its channel's
        if counts.max() > self.capacity:  # more in one batch than a row keeps: only the newest count
            keep = rank >= np.repeat(counts, counts) - self.capacity
            rows, ts, vs = rows[keep], ts[keep], vs[keep]
            rank = rank[keep] - np.repeat(np.maximum(counts - self.capacity, 0), counts)[keep]
            counts = np.minimum(counts, self.capacity)
        self._make_room(channels, counts)
        self._t[rows, self._end[rows] + rank] = ts
        self._v[rows, self._end[rows] + rank] = vs
        end = self._end[channels] + counts
        self._end[channels] = end
        self._start[channels] = np.maximum(self._start[channels], end - self.capacity)
        self._version[channels] += 1
        newest = float(ts.max())
        if self.latest_time is None or newest > self.latest_time:
            self.latest_time = newest

    def _make_room(self, channels: np.ndarray, counts: np.ndarray) -> None:
        need = self._end[channels] + counts
        width = self._t.shape[1]
        if need.max() <= width:
            return
        if width < 2 * self.capacity:  # grow every row: channels at one rate fill together
            new = min(2 * self.capacity, max(2 * width, int(need.max())))
            for name in ("_t", "_v"):
                grown = np.empty((self._t.shape[0], new))
                grown[:, :width] = getattr(self, name)
                setattr(self, name, grown)
            width = new
        for row, count in zip(channels[need > width].tolist(), counts[need > width].tolist()):
            keep = min(self.capacity - count, int(self._end[row] - self._start[row]))
            end = int(self._end[row])
            self._t[row, :keep] = self._t[row, end - keep:end]
            self._v[row, :keep] = self._v[row, end - keep:end]
            self._start[row], self._end[row] = 0, keep


class _Buffers:
    """`store.buffers.get(name)`: a channel's `Series`, or None before its first sample."""

    def __init__(self, store: SeriesStore):
        self.store = store

    def get(self, name: str, default=None) -> Series | None:
        row = self.store.row_of.get(name)
        if row is None or self.store._end[row] == 0:
            return default
        return Series(self.store, row)

    def __contains__(self, name: str) -> bool:
        return self.get(name) is not None

    def __getitem__(self, name: str) -> Series:
        series = self.get(name)
        if series is None:
            raise KeyError(name)
        return series


class StripChart(pg.PlotWidget):
    """One plot; channels arrive by drag and drop from the telemetry table or by `add_channel`."""

    channelsChanged = Signal()

    def __init__(self, store: SeriesStore, title: str = "", parent=None):
        super().__init__(parent, background="w",
                         axisItems={"bottom": pg.DateAxisItem(orientation="bottom", utcOffset=0)})
        self.store = store
        self.setAcceptDrops(True)
        self.setTitle(title, color="#333")
        light_grid(self)
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
        # One pixel wide: pyqtgraph draws wider pens segment by segment, about six times the cost.
        pen = pg.mkPen(PALETTE[len(self.curves) % len(PALETTE)], width=1)
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
            # pyqtgraph brings the view's transform (and auto range) up to date when it paints, and
            # that marks the chart dirty again: a second repaint. Done now, one repaint is enough.
            self.plotItem.vb.prepareForPaint()
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
        self._next = 0  # the chart whose turn it is to be redrawn
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
        """Redraw the next CHARTS_PER_TICK charts (in turn) that have something new; returns
        how many curves were redrawn. With five busy charts each is redrawn every fifth tick."""
        curves = charts = 0
        n = len(self.charts)
        for k in range(n):
            i = (self._next + k) % n
            drawn = self.charts[i].redraw(self.window_s)
            if drawn:
                curves += drawn
                charts += 1
                if charts >= CHARTS_PER_TICK:
                    self._next = (i + 1) % n
                    break
        return curves

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
