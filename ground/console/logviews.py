"""The event log and the command history as the operator reads them: whole texts, every row seen.

A failure reason or an event message is often longer than its column. The column elides it in
the middle (the start says what, the end says the number that matters), the cell's tooltip holds
all of it, and a details pane under the table shows the selected row in full, selectable, with
Copy (Ctrl+C or the context menu) putting it on the clipboard. With nothing selected the history's
pane follows the newest row, so the result of a send, or the last event, is in sight without a click.

Rows are as tall as the font needs and the views scroll by whole rows, so the first visible row
is never half hidden under the header when a log follows its newest entry.
"""
from __future__ import annotations

from PySide6.QtCore import QModelIndex, QSize, Qt
from PySide6.QtGui import QAction, QFontDatabase, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QHBoxLayout, QHeaderView, QLabel, QMenu,
                               QPlainTextEdit, QSplitter, QTableView, QVBoxLayout, QWidget)

from gridfree.ground.console.logmodels import CommandHistoryModel, EventModel
from gridfree.ground.console.tables import SeverityFilter
from gridfree.ground.link.commands import FAILED, NOT_SENT, TIMEOUT
from gridfree.protocols.dictionary import Severity

WIDEST_TIME = "2026-12-31T23:59:59.999Z"
#: Every label the State column can show that is wider than a bare state.
STATE_LABELS = tuple(f"{state} ({stage})" for state in (FAILED, TIMEOUT)
                     for stage in ("acceptance", "start", "progress", "completion", NOT_SENT))
CELL_PADDING_PX = 16
MIN_ROW_PX = 22
#: Lines of the details pane shown at first (the splitter gives it more).
DETAIL_LINES = 3


class WholeRowsTable(QTableView):
    """A table whose rows area is always a whole number of rows tall.

    Scrolled to the bottom, Qt puts the last row flush with the bottom edge (in either scroll
    mode), so unless the viewport happens to be a multiple of the row height the top row is cut
    by the header: the half-hidden first row of a log that follows its newest entry. The spare
    pixels go below the rows instead, as a bottom margin, so every row shown is shown whole.
    """

    def updateGeometries(self) -> None:
        super().updateGeometries()  # sets the header margins; the bottom one is ours
        m = self.viewportMargins()
        rows_px = self.height() - 2 * self.frameWidth() - m.top()
        bar = self.horizontalScrollBar()
        if bar.isVisible():
            rows_px -= bar.height()
        row_px = self.verticalHeader().defaultSectionSize()
        spare = rows_px % row_px if rows_px > row_px else 0
        if m.bottom() != spare:
            self.setViewportMargins(m.left(), m.top(), m.right(), spare)


def log_table(model, texts: list[str], others_px: list[int]) -> QTableView:
    """A log's table: columns wide enough for `texts` (measured in the view's font), then
    `others_px`, the last stretched; rows tall enough for the font, shown whole, scrolled by
    whole rows; long texts elided in the middle; read-only, selected by rows."""
    view = WholeRowsTable()
    view.setModel(model)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setWordWrap(False)
    view.setTextElideMode(Qt.TextElideMode.ElideMiddle)
    view.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerItem)
    fm = view.fontMetrics()
    vh = view.verticalHeader()
    vh.setVisible(False)
    vh.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
    vh.setDefaultSectionSize(max(MIN_ROW_PX, fm.height() + 8))
    hh = view.horizontalHeader()
    hh.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    hh.setStretchLastSection(True)
    hh.setHighlightSections(False)
    for col, width in enumerate([fm.horizontalAdvance(t) + CELL_PADDING_PX for t in texts] + others_px):
        view.setColumnWidth(col, width)
    return view


def follow_newest(view: QTableView, model) -> None:
    """Scroll to new rows only if the view was at the bottom when they arrived, so reading back
    through a log is not yanked away by what comes in."""
    bar = view.verticalScrollBar()
    at_bottom = [True]

    def before(*_):
        at_bottom[0] = bar.value() >= bar.maximum() - 1

    def after(*_):
        if at_bottom[0]:
            view.scrollToBottom()

    model.rowsAboutToBeInserted.connect(before)
    model.rowsInserted.connect(after)


class DetailsPane(QPlainTextEdit):
    """The selected row of a log, whole and selectable."""

    def __init__(self, placeholder: str, parent=None):
        super().__init__(parent)
        self.setObjectName("detailsPane")
        self.setReadOnly(True)
        self.setPlaceholderText(placeholder)
        self.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
        self.setMinimumHeight(self.fontMetrics().lineSpacing() + 12)

    def sizeHint(self) -> QSize:
        """A few lines to start with, so the table keeps most of a short dock; drag for more."""
        hint = super().sizeHint()
        return QSize(hint.width(), self.fontMetrics().lineSpacing() * DETAIL_LINES + 12)

    def show_text(self, text: str) -> None:
        if text != self.toPlainText():
            self.setPlainText(text)


class _LogView(QWidget):
    """A table over a log model with a details pane and Copy; subclasses say how a view row maps
    to the model's row."""

    def _build(self, view: QTableView, placeholder: str, bar: QHBoxLayout | None = None) -> None:
        self.view = view
        self.details = DetailsPane(placeholder)
        copy = QAction("Copy details", view)
        copy.setShortcut(QKeySequence.StandardKey.Copy)
        copy.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        copy.triggered.connect(self.copy)
        view.addAction(copy)
        self.copy_action = copy
        view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        view.customContextMenuRequested.connect(self._menu)
        view.selectionModel().selectionChanged.connect(lambda *_: self.show_details())
        view.model().dataChanged.connect(lambda *_: self.show_details())
        view.model().rowsInserted.connect(lambda *_: self.show_details())
        view.model().modelReset.connect(self.show_details)
        split = QSplitter(Qt.Orientation.Vertical)
        split.addWidget(view)
        split.addWidget(self.details)
        split.setStretchFactor(0, 1)
        split.setStretchFactor(1, 0)
        split.setCollapsible(0, False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        if bar is not None:
            layout.addLayout(bar)
        layout.addWidget(split, 1)

    def _model_row(self, index: QModelIndex) -> int:
        return index.row()

    def selected_rows(self) -> list[int]:
        """Model rows of the selection, in order."""
        return sorted(self._model_row(i) for i in self.view.selectionModel().selectedRows())

    def text_of(self, rows: list[int]) -> str:
        return "\n\n".join(self.model.details(r) for r in rows)

    def show_details(self) -> None:
        rows = self.selected_rows()
        if not rows and self.view.model().rowCount():  # nothing selected: the newest
            rows = [self._model_row(self.view.model().index(self.view.model().rowCount() - 1, 0))]
        self.details.show_text(self.text_of(rows) if rows else "")

    def copy(self) -> str:
        """Put the selected rows (or the one shown) on the clipboard, whole; returns the text."""
        rows = self.selected_rows()
        text = self.text_of(rows) if rows else self.details.toPlainText()
        if text:
            QGuiApplication.clipboard().setText(text)
        return text

    def _menu(self, pos) -> None:
        index = self.view.indexAt(pos)
        if index.isValid() and not self.view.selectionModel().isRowSelected(index.row(), QModelIndex()):
            self.view.selectRow(index.row())
        menu = QMenu(self)
        menu.addAction(self.copy_action)
        menu.exec(self.view.viewport().mapToGlobal(pos))


class EventLog(_LogView):
    """The node's events, newest at the bottom, filtered by severity; messages whole in the
    tooltip and the details pane."""

    def __init__(self, model: EventModel, parent=None):
        super().__init__(parent)
        self.model = model
        self.proxy = SeverityFilter(self)
        self.proxy.setSourceModel(model)
        self.minimum = QComboBox()
        for sev in Severity:
            self.minimum.addItem(f"{sev.name} and above", sev)
        self.minimum.currentIndexChanged.connect(lambda _: self.proxy.set_minimum(self.minimum.currentData()))
        view = log_table(self.proxy, [WIDEST_TIME, "WARNING_HI"], [200])
        follow_newest(view, self.proxy)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Show"))
        bar.addWidget(self.minimum)
        bar.addStretch(1)
        self._build(view, "The event you select (or the newest) shows here whole; Ctrl+C copies it.", bar)

    def _model_row(self, index: QModelIndex) -> int:
        return self.proxy.mapToSource(index).row()


class HistoryTable(_LogView):
    """Every command sent and its life, state by state; the selected (or newest) one in full
    below, failure reason and all."""

    def __init__(self, model: CommandHistoryModel, parent=None):
        super().__init__(parent)
        self.model = model
        view = log_table(model, [WIDEST_TIME], [160, 150, 0])
        fm = view.fontMetrics()
        view.setColumnWidth(model.STATE, max(fm.horizontalAdvance(t) for t in STATE_LABELS) + CELL_PADDING_PX)
        follow_newest(view, model)
        self._build(view, "The command you select (or the newest) shows here in full: each state with its "
                          "time, and a failure's code and whole reason.")
