"""One strip chart: several channels against spacecraft or ground receipt time, with their limits.

Samples only go into the store; the curves are redrawn on the display timer, and only those
whose buffer changed, so a burst of telemetry costs one redraw, not one per sample. The time
axis follows the newest time received in the chart's time base, not the wall clock, so a
replayed log scrolls as it did live.

Units: the left axis carries the first channel's unit; a channel in another unit goes on a
second axis, on the right, with its own y scale; a channel in a third unit is refused with a
message saying why (two scales are what an eye can still pair with their curves). The legend
sits in its own row above the data, so it never covers a curve; each entry names the channel,
its unit and, for the right axis, says so. A chart with nothing to draw shows a sentence saying
what to do instead of empty axes.
"""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel

from gridfree.ground.console.plotaxes import CurveStyle, TimeAxis, axis_title, light_grid, limit_lines, unit_text
from gridfree.ground.console.plotstore import SPACECRAFT, SeriesStore
from gridfree.ground.console.telemetrymodel import CHANNEL_MIME, channels_from_mime

LEFT, RIGHT = "left", "right"
NO_CHANNELS_HINT = "Drop channels here from the Telemetry tab, or pick one under “Add channel”."
HINT_STYLE = "QLabel { color: #5f6368; background: transparent; font-size: 11pt; }"


def drawable(t: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray, object]:
    """(t, v, connect) for pyqtgraph: a missing reading (NaN, a sensor that is not there) or a
    point without a receipt time is left out and the line broken there, not bridged; pyqtgraph
    is never handed a NaN (with skipFiniteCheck it would, and over all-NaN data it fails)."""
    ok = np.isfinite(v) & np.isfinite(t)
    if ok.all():
        return t, v, "all"
    kept = np.flatnonzero(ok)
    if not len(kept):
        return t[:0], v[:0], "all"
    connect = np.append(np.diff(kept) == 1, False)  # joined only to the point right after it
    return t[kept], v[kept], connect


class RowLegend(pg.LegendItem):
    """A legend that lives in a layout cell (pyqtgraph's places itself at (0, 0) over the view)."""

    def __init__(self, on_resize):
        super().__init__(offset=None, colCount=3, labelTextColor="#222", verSpacing=-4)
        self._on_resize = on_resize

    def updateSize(self):
        height = 0.0
        for row in range(self.layout.rowCount()):
            height += max((item.height() for col in range(self.layout.columnCount())
                           if (item := self.layout.itemAt(row, col))), default=0.0)
        self.setMinimumHeight(height)
        self.setMaximumHeight(height)
        self.updateGeometry()
        self._on_resize(height)


class StripChart(pg.PlotWidget):
    """One plot; channels arrive by drag and drop from the telemetry table or by `add_channel`."""

    channelsChanged = Signal()
    refused = Signal(str)  # why a dropped channel was not added

    def __init__(self, store: SeriesStore, title: str = "", parent=None, base: str = SPACECRAFT,
                 show_title: bool = True):
        self.time_axis = TimeAxis(base)
        super().__init__(parent, background="w", axisItems={"bottom": self.time_axis})
        self.store = store
        self.base = base
        self.setAcceptDrops(True)
        light_grid(self)
        pi = self.plotItem
        pi.setClipToView(True)
        pi.setDownsampling(auto=True, mode="peak")
        for side in (LEFT, RIGHT):
            pi.getAxis(side).enableAutoSIPrefix(False)  # never "m%" or a kW that the CSV does not have
        # The title row becomes a header: the title, then the legend beside it, above the data.
        header = pg.GraphicsLayout()
        pi.layout.removeItem(pi.titleLabel)
        header.addItem(pi.titleLabel, 0, 0)
        pi.titleLabel.setText(title, color="#333")
        pi.titleLabel.setVisible(bool(title) and show_title)  # the Plots tab names it in its bar
        self.legend = RowLegend(self._header_height)
        header.addItem(self.legend, 0, 1)
        pi.layout.addItem(header, 0, 1)
        self._header_height(0.0)
        self.title = title
        self.curves: dict[str, pg.PlotDataItem] = {}
        self.side: dict[str, str] = {}  # channel -> the axis it is drawn against
        self.markers: dict[str, pg.PlotDataItem] = {}  # the newest point, in the curve's marker
        self.limits: dict[str, list[pg.InfiniteLine]] = {}
        self.entries: dict[str, pg.PlotDataItem] = {}  # what the legend shows for each channel
        self.refusal = ""  # why the last add_channel said no
        self._styles_used = 0
        self._drawn: dict[str, int] = {}
        self._window: float | None = None
        self.right_view: pg.ViewBox | None = None
        self.hint = QLabel(self)
        self.hint.setStyleSheet(HINT_STYLE)
        self.hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.hint.setWordWrap(True)
        self.setToolTip("Drop channels here from the telemetry table")
        self._show_empty(True)

    # -- channels ---------------------------------------------------------------------------------
    def unit_of(self, name: str) -> str:
        return self.store.channel[name].unit

    def units(self) -> dict[str, str]:
        """The unit each axis in use carries."""
        return {side: self.unit_of(next(n for n, s in self.side.items() if s == side))
                for side in (LEFT, RIGHT) if side in self.side.values()}

    def check_channel(self, name: str) -> str | None:
        """Why `name` cannot go on this chart (None: it can)."""
        if name not in self.store.numeric:
            return f"{name} is not a numeric channel of the dictionary, so it cannot be plotted"
        if name in self.curves:
            return f"{name} is already on {self.title or 'this plot'}"
        units = self.units()
        unit = self.unit_of(name)
        if unit not in units.values() and len(units) == 2:
            return (f"{name} ({unit_text(unit)}) not added: {self.title or 'this plot'} already has axes for "
                    f"{unit_text(units[LEFT])} and {unit_text(units[RIGHT])}; put it on another plot")
        return None

    def add_channel(self, name: str) -> bool:
        self.refusal = self.check_channel(name) or ""
        if self.refusal:
            return False
        units = self.units()
        unit = self.unit_of(name)
        side = next((s for s, u in units.items() if u == unit), LEFT if LEFT not in units else RIGHT)
        style = CurveStyle.nth(self._styles_used)
        self._styles_used += 1
        curve = pg.PlotDataItem([], [], pen=style.pen(), skipFiniteCheck=True, clipToView=True,
                                autoDownsample=True, downsampleMethod="peak")
        marker = pg.PlotDataItem([], [], pen=None, symbol=style.symbol, symbolSize=8,
                                 symbolPen=pg.mkPen(style.colour), symbolBrush=pg.mkBrush(style.colour))
        sample = pg.PlotDataItem([], [], pen=style.pen(), symbol=style.symbol, symbolSize=8,
                                 symbolPen=pg.mkPen(style.colour), symbolBrush=pg.mkBrush(style.colour))
        view = self.plotItem.vb if side == LEFT else self._right_view()
        # Each channel's limit labels at their own place along the line, so two never print over one another.
        self.limits[name] = limit_lines(self.store.channel[name], 0.02 + 0.3 * (len(self.curves) % 3))
        for item in (curve, marker, *self.limits[name]):
            view.addItem(item)
        self.entries[name] = sample
        self.legend.addItem(sample, f"{name} ({unit_text(unit)}{', right axis' if side == RIGHT else ''})")
        self.curves[name], self.markers[name], self.side[name] = curve, marker, side
        self._drawn[name] = -1
        self._window = None  # the next redraw looks at the chart afresh (hint, x range)
        self._label_axes()
        self.channelsChanged.emit()
        return True

    def remove_channel(self, name: str) -> None:
        curve = self.curves.pop(name, None)
        if curve is None:
            return
        side = self.side.pop(name)
        view = self.plotItem.vb if side == LEFT else self.right_view
        for item in (curve, self.markers.pop(name), *self.limits.pop(name)):
            view.removeItem(item)
        self.legend.removeItem(self.entries.pop(name))
        self._drawn.pop(name, None)
        if not self.curves:
            self._styles_used = 0
        self._label_axes()
        self._window = None  # the x range is recomputed from what is left
        self.channelsChanged.emit()

    def clear_channels(self) -> None:
        for name in list(self.curves):
            self.remove_channel(name)

    def _right_view(self) -> pg.ViewBox:
        """The second y scale, sharing the time axis (made at the first channel that needs it)."""
        if self.right_view is None:
            pi = self.plotItem
            self.right_view = pg.ViewBox()
            pi.scene().addItem(self.right_view)
            pi.getAxis(RIGHT).linkToView(self.right_view)
            self.right_view.setXLink(pi.vb)
            pi.vb.sigResized.connect(self._sync_right)
            self._sync_right()
        return self.right_view

    def _sync_right(self) -> None:
        self.right_view.setGeometry(self.plotItem.vb.sceneBoundingRect())
        self.right_view.linkedViewChanged(self.plotItem.vb, self.right_view.XAxis)

    def _label_axes(self) -> None:
        for side, unit in self.units().items():
            self.getAxis(side).setLabel(axis_title([n for n, s in self.side.items() if s == side], unit))
        if RIGHT not in self.side.values():
            self.getAxis(RIGHT).setLabel("")

    def _header_height(self, legend_px: float) -> None:
        title_px = 24.0 if self.plotItem.titleLabel.isVisible() else 0.0
        self.plotItem.layout.setRowFixedHeight(0, max(title_px, legend_px + 4.0))

    # -- drawing ----------------------------------------------------------------------------------
    def set_time_base(self, base: str) -> None:
        """Draw against spacecraft time or ground receipt time from the next redraw on."""
        if base != self.base:
            self.base = base
            self.time_axis.set_base(base)
            self._drawn = dict.fromkeys(self._drawn, -1)
            self._window = None

    def _show_empty(self, empty: bool) -> None:
        """No data: a sentence instead of axes (a date axis over nothing labels 1970's seconds)."""
        if empty:
            waiting = ", ".join(self.curves)
            self.hint.setText(f"Waiting for the first samples of {waiting}." if waiting else NO_CHANNELS_HINT)
        self.hint.setVisible(empty)
        for line in (line for lines in self.limits.values() for line in lines):
            line.setVisible(not empty)  # limits of nothing yet would read as data
        pi = self.plotItem
        for side in (LEFT, "bottom"):
            pi.showAxis(side, not empty)
        pi.showAxis(RIGHT, not empty and RIGHT in self.side.values())
        if empty:
            self.time_axis.show_range(None, None)

    def resizeEvent(self, event):
        super().resizeEvent(event)
        if "hint" in self.__dict__:  # pyqtgraph resizes once inside its own __init__
            self.hint.setGeometry(16, 0, max(self.width() - 32, 10), self.height())

    def redraw(self, window_s: float) -> int:
        """Redraw the curves whose data changed (all of them if the window did); returns how many."""
        t_end = self.store.latest(self.base)
        if t_end is None or not self.curves:
            self._show_empty(True)
            return 0
        t_from = t_end - window_s
        window_changed = window_s != self._window
        self._window = window_s
        drawn = 0
        for name, curve in self.curves.items():
            buf = self.store.buffers.get(name)
            if buf is None or (buf.version == self._drawn[name] and not window_changed):
                continue
            t, v, connect = drawable(*buf.arrays(t_from, self.base))
            curve.setData(t, v, connect=connect)
            self.markers[name].setData(t[-1:], v[-1:])
            self._drawn[name] = buf.version
            drawn += 1
        if drawn or window_changed:
            # Up to a full window, but never blank time before the first point: a chart opened a
            # minute ago shows that minute across its width.
            firsts = [len(c.xData) and c.xData[0] for c in self.curves.values() if c.xData is not None and len(c.xData)]
            self._show_empty(not firsts)
            if firsts:
                lo = max(t_from, min(firsts))
                lo = lo if lo < t_end else t_end - 1.0
                self.setXRange(lo, t_end, padding=0)
                self.time_axis.show_range(lo, t_end)
            # pyqtgraph brings the view's transform (and auto range) up to date when it paints, and
            # that marks the chart dirty again: a second repaint. Done now, one repaint is enough.
            self.plotItem.vb.prepareForPaint()
        return drawn

    def plotted(self) -> dict[str, tuple[np.ndarray, np.ndarray]]:
        """What each curve was last given to draw (times in the chart's base, values), copied:
        the data before pyqtgraph thins it for the screen."""
        out = {}
        for name, curve in self.curves.items():
            x, y = curve.xData, curve.yData
            out[name] = (np.array([] if x is None else x, dtype=float), np.array([] if y is None else y, dtype=float))
        return out

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
            if not self.add_channel(name) and name not in self.curves:
                self.refused.emit(self.refusal)
        event.acceptProposedAction()
