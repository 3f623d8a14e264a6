"""The compute view: jobs, tenants and the compute tokens they used.

This is the reason the satellite flies, but the node does not report jobs yet: the compute
manager will fill this table from its own telemetry. Until it does, the table stays empty and
says so; it never shows invented jobs.
"""
from __future__ import annotations

from PySide6.QtGui import QStandardItemModel
from PySide6.QtWidgets import QHeaderView, QLabel, QTableView, QVBoxLayout, QWidget

from gridfree.protocols.dictionary import Dictionary

COLUMNS = ("Job", "Tenant", "State", "Tokens")


class ComputeView(QWidget):
    def __init__(self, dictionary: Dictionary, parent=None):
        super().__init__(parent)
        self.model = QStandardItemModel(0, len(COLUMNS), self)
        self.model.setHorizontalHeaderLabels(list(COLUMNS))
        self.table = QTableView()
        self.table.setModel(self.model)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        reported = sorted({c.component for c in dictionary.channels if c.component.startswith("compute")})
        self.note = QLabel(
            "The compute manager fills this table with the jobs it runs, their tenants and the compute "
            "tokens each has used. " + (
                f"The node reports compute telemetry ({', '.join(reported)}), but jobs are not decoded "
                "from it yet, so the table is empty." if reported else
                "The node's dictionary has no compute telemetry yet, so the table is empty."))
        self.note.setWordWrap(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.note)
        layout.addWidget(self.table, 1)
