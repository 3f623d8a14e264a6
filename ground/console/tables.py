"""The table widgets around the models: what the operator filters, sorts, drags and clicks.

Column widths are set once, never resized to contents on a tick (that would relayout the whole
table ten times a second). The event log and command history views are in logviews.py.
"""
from __future__ import annotations

from PySide6.QtCore import QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QAction, QGuiApplication
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QHBoxLayout, QHeaderView, QLabel, QLineEdit,
                               QMenu, QTableView, QVBoxLayout, QWidget)

from gridfree.ground.console.models import NAME_ROLE, names_for_menu
from gridfree.ground.console.telemetrymodel import ChannelFilterProxy, TelemetryModel
from gridfree.protocols.dictionary import Severity

ROW_HEIGHT = 22


def _table(model, widths: list[int]) -> QTableView:
    view = QTableView()
    view.setModel(model)
    view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    view.setWordWrap(False)
    vh = view.verticalHeader()
    vh.setVisible(False)
    vh.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
    vh.setDefaultSectionSize(ROW_HEIGHT)
    hh = view.horizontalHeader()
    hh.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
    hh.setStretchLastSection(True)
    hh.setHighlightSections(False)
    for col, width in enumerate(widths):
        view.setColumnWidth(col, width)
    return view


class TelemetryTable(QWidget):
    """Every channel, searchable, sortable, groupable; rows drag onto plots."""

    plotRequested = Signal(list, object)  # channel names, plot number (None: a new plot)

    def __init__(self, model: TelemetryModel, plot_count=lambda: 0, parent=None):
        super().__init__(parent)
        self.model = model
        self.plot_count = plot_count
        self.proxy = ChannelFilterProxy(self)
        self.proxy.setSourceModel(model)
        self.filter = QLineEdit()
        self.filter.setObjectName("telemetryFilter")
        self.filter.setPlaceholderText("Filter channels by name or description (Ctrl+F)")
        self.filter.setClearButtonEnabled(True)
        self.filter.textChanged.connect(self.proxy.set_text)
        self.group = QComboBox()
        self.group.setObjectName("telemetryGroup")
        self.group.setToolTip("Show one component's channels, or one housekeeping packet's")
        self.group.addItem("All channels", None)
        for comp in model.components():
            self.group.addItem(f"Component: {comp}", [c.name for c in model.channels if c.component == comp])
        for hk in model.dictionary.housekeeping:
            self.group.addItem(f"Packet: {hk.name} (SID {hk.sid})", list(hk.channels))
        self.group.currentIndexChanged.connect(lambda _: self.proxy.set_group(self.group.currentData()))
        self.count = QLabel()
        self.proxy.rowsInserted.connect(self._count)
        self.proxy.rowsRemoved.connect(self._count)
        self.proxy.modelReset.connect(self._count)
        self.proxy.layoutChanged.connect(self._count)

        self.view = _table(self.proxy, [230, 150, 130, 200, 90, 110])
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setDragEnabled(True)
        self.view.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.view.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.view.setSortingEnabled(True)  # no indicator: dictionary order until a header is clicked
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._menu)

        bar = QHBoxLayout()
        bar.addWidget(self.filter, 2)
        bar.addWidget(self.group, 1)
        bar.addWidget(self.count)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.view, 1)
        self._count()

    def _count(self, *_):
        self.count.setText(f"{self.proxy.rowCount()} of {self.model.rowCount()}")

    def selected_channels(self) -> list[str]:
        rows = self.view.selectionModel().selectedRows()
        return [i.data(NAME_ROLE) for i in sorted(rows, key=lambda i: i.row())]

    def context_menu(self, names: list[str]) -> QMenu:
        """The menu for a right-click on `names`: plot them, or copy their names."""
        menu = QMenu(self)
        for i in range(self.plot_count()):
            act = menu.addAction(f"Plot on plot {i + 1}")
            act.triggered.connect(lambda _=False, i=i: self.plotRequested.emit(names, i))
        act = menu.addAction("Plot on a new plot")
        act.triggered.connect(lambda _=False: self.plotRequested.emit(names, None))
        menu.addSeparator()
        copy = QAction("Copy names", menu)
        copy.triggered.connect(lambda _=False: QGuiApplication.clipboard().setText("\n".join(names)))
        menu.addAction(copy)
        return menu

    def _menu(self, pos):
        names = names_for_menu(self.view, pos, self.selected_channels())
        if names:
            self.context_menu(names).exec(self.view.viewport().mapToGlobal(pos))


class SeverityFilter(QSortFilterProxyModel):
    def __init__(self, parent=None):
        super().__init__(parent)
        self.minimum = Severity.DIAGNOSTIC

    def set_minimum(self, severity: Severity) -> None:
        self.beginFilterChange()
        self.minimum = severity
        self.endFilterChange()

    def filterAcceptsRow(self, source_row, source_parent):
        sev = self.sourceModel().severity(source_row)
        return sev is None or sev >= self.minimum
