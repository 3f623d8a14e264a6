"""The Plots tab: strip charts of any channels, against spacecraft or ground receipt time.

The tab opens with no plot and a sentence saying how to make one; the first time battery state
of charge or power arrives (and the operator has no plot yet) it puts them on a default plot,
so a new operator sees the satellite's energy at once and never a pair of empty axes. Each plot
has its own bar: add a channel by name, remove one, export what it draws as CSV, close it.
One time window and one time base (spacecraft or ground receipt) hold for every plot.

Charts are redrawn on the display timer, one chart per tick in turn and only those whose data
changed (stripchart.py); the history behind them is kept in plotstore.py, the CSV written by
plotexport.py, so that a test (or a script) can write the same file without a dialog.
"""
from __future__ import annotations

import os
import time
from typing import Callable, Iterable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QComboBox, QCompleter, QFileDialog, QHBoxLayout, QLabel, QMenu, QPushButton,
                               QSplitter, QStackedWidget, QToolButton, QVBoxLayout, QWidget)

from gridfree.ground.console.plotaxes import light_grid  # the power view takes it from here
from gridfree.ground.console.plotexport import write_plot_csv
from gridfree.ground.console.plotstore import GROUND, SPACECRAFT, SeriesStore
from gridfree.ground.console.stripchart import StripChart
from gridfree.ground.console.telemetrymodel import CHANNEL_MIME, channels_from_mime
from gridfree.protocols.dictionary import Dictionary

__all__ = ["ChartFrame", "PlotPanel", "SeriesStore", "StripChart", "light_grid", "write_plot_csv"]

#: Charts redrawn per display tick, in turn: a chart's repaint costs milliseconds in software
#: rendering, so five charts redrawn in one go would hold the GUI thread for tens of them.
CHARTS_PER_TICK = 1
WINDOWS_S = {"1 min": 60.0, "5 min": 300.0, "15 min": 900.0, "1 h": 3600.0, "all": float("inf")}
TIME_BASE_NAMES = {SPACECRAFT: "Spacecraft time (onboard)", GROUND: "Ground receipt time"}
#: The plot a new operator gets once any of these arrives: charge against power in and out.
DEFAULT_PLOT = ("power.Soc", "eps.ArrayPower", "power.LoadW")
EMPTY_TEXT = ("No plots yet.\n\nDrag channels from the Telemetry tab and drop them here, or right-click them "
              "there and choose a plot. Battery state of charge and power are plotted here by themselves "
              "as soon as they arrive.")

ChooseSavePath = Callable[[QWidget, str, str], "str | None"]


def ask_save_path(parent: QWidget, caption: str, suggested: str) -> str | None:
    path, _ = QFileDialog.getSaveFileName(parent, caption, suggested, "CSV files (*.csv)")
    return path or None


class ChartFrame(QWidget):
    """A chart under its own bar: the plot's name, add a channel, remove one, export, close."""

    def __init__(self, chart: StripChart, panel: "PlotPanel"):
        super().__init__()
        self.chart, self.panel = chart, panel
        self.name = QLabel(f"<b>{chart.title}</b>")
        self.add = QComboBox()
        self.add.setEditable(True)
        self.add.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.add.addItems(sorted(chart.store.numeric))
        self.add.setCurrentIndex(-1)
        self.add.lineEdit().setPlaceholderText("Add channel…")
        self.add.setMinimumContentsLength(24)
        self.add.completer().setFilterMode(Qt.MatchFlag.MatchContains)
        self.add.completer().setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.add.setToolTip("Type part of a channel's name and pick it to add it to this plot")
        self.add.activated.connect(lambda _: self._add(self.add.currentText()))
        self.remove = QToolButton()
        self.remove.setText("Remove channel")
        self.remove.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.remove.setMenu(QMenu(self.remove))
        self.remove.menu().aboutToShow.connect(self._fill_remove_menu)
        self.export = QPushButton("Export CSV…")
        self.export.setToolTip("Write exactly what this plot draws (its window, its time base) to a CSV file")
        self.export.clicked.connect(lambda: panel.export_dialog(chart))
        close = QPushButton("Close plot")
        close.clicked.connect(lambda: panel.remove_plot(chart))
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        for w in (self.name, self.add, self.remove, self.export):
            bar.addWidget(w)
        bar.addStretch(1)
        bar.addWidget(close)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 2, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(bar)
        layout.addWidget(chart, 1)
        chart.channelsChanged.connect(self._sync)
        self._sync()

    def _add(self, name: str) -> None:
        name = name.strip()
        if name:
            self.panel.add_channels([name], self.panel.charts.index(self.chart))
        self.add.setCurrentIndex(-1)
        self.add.clearEditText()

    def _fill_remove_menu(self) -> None:
        menu = self.remove.menu()
        menu.clear()
        for name in self.chart.curves:
            menu.addAction(name, lambda n=name: self.chart.remove_channel(n))

    def _sync(self) -> None:
        has = bool(self.chart.curves)
        self.remove.setEnabled(has)
        self.export.setEnabled(has)


class PlotPanel(QWidget):
    """Strip charts stacked in a splitter, with one time window and one time base for all."""

    def __init__(self, dictionary: Dictionary, plots: int = 0, parent=None,
                 receipt_clock: Callable[[], float] = time.time, choose_path: ChooseSavePath | None = None):
        super().__init__(parent)
        self.store = SeriesStore(dictionary)
        self.receipt_clock = receipt_clock  # unix seconds a batch is received (a replay's recorded times)
        self.choose_path = choose_path or ask_save_path
        self.charts: list[StripChart] = []
        self.frames: dict[StripChart, ChartFrame] = {}
        self._next = 0  # the chart whose turn it is to be redrawn
        self._offer_default = True  # until the operator has plotted something, or the default is up
        self._plot_numbers = 0
        self.time_window = QComboBox()
        self.time_window.addItems(list(WINDOWS_S))
        self.time_window.setCurrentText("5 min")
        self.time_window.setToolTip("Time span shown, up to the newest time received")
        self.time_base = QComboBox()
        for base, text in TIME_BASE_NAMES.items():
            self.time_base.addItem(text, base)
        self.time_base.setToolTip("Draw against the time the spacecraft stamped in each report, "
                                  "or the time the ground received it")
        self.time_base.currentIndexChanged.connect(lambda _: self._set_base())
        add = QPushButton("New plot")
        add.clicked.connect(lambda: self.add_plot())
        clear = QPushButton("Clear channels")
        clear.clicked.connect(self.clear)
        self.message = QLabel("")  # why a channel was refused, where an export went
        self.message.setWordWrap(True)
        self.message.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        bar = QHBoxLayout()
        for w in (QLabel("Window"), self.time_window, QLabel("Time"), self.time_base, add, clear):
            bar.addWidget(w)
        bar.addWidget(self.message, 1)
        self.splitter = QSplitter(Qt.Orientation.Vertical)
        self.empty = QLabel(EMPTY_TEXT)
        self.empty.setObjectName("plotsEmpty")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.empty.setWordWrap(True)
        self.empty.setStyleSheet("QLabel { color: #5f6368; font-size: 12pt; padding: 40px; }")
        self.pages = QStackedWidget()
        self.pages.addWidget(self.empty)
        self.pages.addWidget(self.splitter)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.pages, 1)
        self.setAcceptDrops(True)  # a drop outside any plot (the empty page) makes a new one
        for _ in range(plots):
            self.add_plot()
        self._sync_pages()

    @property
    def window_s(self) -> float:
        return WINDOWS_S[self.time_window.currentText()]

    @property
    def base(self) -> str:
        return self.time_base.currentData()

    def set_time_base(self, base: str) -> None:
        self.time_base.setCurrentIndex(self.time_base.findData(base))

    def _set_base(self) -> None:
        for chart in self.charts:
            chart.set_time_base(self.base)
            chart.redraw(self.window_s)

    def _sync_pages(self) -> None:
        self.pages.setCurrentWidget(self.splitter if self.charts else self.empty)

    def say(self, text: str) -> None:
        self.message.setText(text)

    # -- plots and channels -----------------------------------------------------------------------
    def add_plot(self) -> StripChart:
        self._offer_default = False
        self._plot_numbers += 1
        chart = StripChart(self.store, f"Plot {self._plot_numbers}", base=self.base, show_title=False)
        chart.refused.connect(self.say)
        frame = ChartFrame(chart, self)
        self.charts.append(chart)
        self.frames[chart] = frame
        self.splitter.addWidget(frame)
        self._sync_pages()
        return chart

    def remove_plot(self, chart: StripChart | None = None) -> None:
        """Close `chart` (the last one when None)."""
        if chart is None and self.charts:
            chart = self.charts[-1]
        if chart not in self.frames:
            return
        self.charts.remove(chart)
        frame = self.frames.pop(chart)
        frame.setParent(None)
        frame.deleteLater()
        self._next = 0
        if not self.charts:
            self._plot_numbers = 0
        self._sync_pages()

    def clear(self) -> None:
        for chart in self.charts:
            chart.clear_channels()

    def add_channels(self, names: Iterable[str], plot: int | None = None) -> StripChart:
        """Plot channels on plot number `plot` (0-based), or on a new plot when None (and on as
        many more as their units need: a plot has at most two y axes). What cannot be plotted is
        said in the bar, one line."""
        new = plot is None or plot >= len(self.charts)
        chart = self.add_plot() if new else self.charts[plot]
        first, refused = chart, []
        for name in names:
            if chart.add_channel(name):
                continue
            if new and name in self.store.numeric and chart.curves and name not in chart.curves:
                chart = self.add_plot()  # a third unit: on to another new plot
                if chart.add_channel(name):
                    continue
            refused.append(chart.refusal)
        self.say("; ".join(r for r in refused if r))
        return first

    def dragEnterEvent(self, event):
        if event.mimeData().hasFormat(CHANNEL_MIME):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event):
        names = channels_from_mime(event.mimeData())
        if not names:
            event.ignore()
            return
        self.add_channels(names, None)
        event.acceptProposedAction()

    # -- data ------------------------------------------------------------------------------------
    def apply_samples(self, batch) -> None:
        batch = batch if isinstance(batch, list) else list(batch)
        self.store.apply_samples(batch, self.receipt_clock())
        if self._offer_default and not self.charts:
            present = [n for n in DEFAULT_PLOT if n in self.store.numeric]
            if any(n in self.store.buffers for n in present):
                self.add_channels(present, None)
                self._offer_default = False

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

    # -- export ----------------------------------------------------------------------------------
    def export_csv(self, chart: StripChart, path: str | os.PathLike) -> int:
        """Write what `chart` draws to `path` as CSV (brought up to date first); returns rows.
        Raises OSError when the file cannot be written."""
        chart.redraw(self.window_s)
        return write_plot_csv(path, chart.base, chart.plotted(), self.store.channel)

    def export_dialog(self, chart: StripChart) -> None:
        base = "spacecraft-time" if chart.base == SPACECRAFT else "ground-receipt-time"
        suggested = f"{chart.title.lower().replace(' ', '')}-{base}.csv"
        path = self.choose_path(self, f"Export {chart.title} as CSV", suggested)
        if not path:
            return
        try:
            rows = self.export_csv(chart, path)
        except OSError as e:
            self.say(f"Export failed: cannot write {path}: {e.strerror or e}. Choose a folder you can write to.")
            return
        self.say(f"Exported {rows} rows of {chart.title} ({TIME_BASE_NAMES[chart.base].lower()}) to {path}")

    # -- layout persistence ----------------------------------------------------------------------
    def state(self) -> dict:
        return {"window": self.time_window.currentText(), "time_base": self.base,
                "plots": [list(c.curves) for c in self.charts]}

    def restore(self, state: dict) -> None:
        if state.get("window") in WINDOWS_S:
            self.time_window.setCurrentText(state["window"])
        if state.get("time_base") in TIME_BASE_NAMES:
            self.set_time_base(state["time_base"])
        plots = [p for p in state.get("plots", []) if isinstance(p, list) and p]  # never an empty plot
        if plots:
            self._offer_default = False
        while len(self.charts) < len(plots):
            self.add_plot()
        for chart, names in zip(self.charts, plots):
            chart.clear_channels()
            for name in names:
                chart.add_channel(str(name))
