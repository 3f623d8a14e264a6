"""The alarm table as the operator works it: acknowledge, shelve, reset a latch, take a channel out
of service, give an alarm an owner and notes, and see at a glance whether alarms come in a flood.

Every action is on the buttons above the table and on the rows' context menu, and applies to the
selected rows. An action that does not apply (resetting an alarm still out of limits, shelving a
channel out of service) changes nothing and says why in one line under the table; it never
raises a dialog the operator has to dismiss in a hurry.
"""
from __future__ import annotations

from typing import Callable

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QAbstractItemView, QHBoxLayout, QInputDialog, QLabel, QMenu, QPushButton,
                               QToolButton, QVBoxLayout, QWidget)

from gridfree.ground.alarms.machine import AlarmState
from gridfree.ground.alarms.shelving import AlarmActionError
from gridfree.ground.console.alarms import AlarmModel
from gridfree.ground.console.models import NAME_ROLE, names_for_menu
from gridfree.ground.console.style import BADGE
from gridfree.ground.console.tables import _table

#: (title, label, initial text) -> the text entered, or None if cancelled.
AskText = Callable[[str, str, str], "str | None"]
#: (title, label, choices) -> the choice, or None if cancelled.
AskChoice = Callable[[str, str, list], "str | None"]

SHELVE_S = {"15 min": 900.0, "1 h": 3600.0, "8 h": 8 * 3600.0}
FLOOD_BG = "#b3261e"


class AlarmPanel(QWidget):
    def __init__(self, model: AlarmModel, ask_text: AskText | None = None, ask_choice: AskChoice | None = None,
                 parent=None):
        super().__init__(parent)
        self.model = model
        self.ask_text = ask_text or self._ask_text
        self.ask_choice = ask_choice or self._ask_choice
        self.view = _table(model, [190, 95, 75, 110, 200, 215, 90, 200])
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.view.customContextMenuRequested.connect(self._menu)

        ack = QPushButton("Acknowledge")
        ack.setToolTip("Acknowledge the selected alarms: seen")
        ack.clicked.connect(lambda: self.run("acknowledge"))
        ack_all = QPushButton("Acknowledge all (Ctrl+Shift+A)")
        ack_all.clicked.connect(model.acknowledge_all)
        shelve = QToolButton()
        shelve.setText("Shelve")
        shelve.setToolTip("Silence the selected alarms for a while, or until they clear (one-shot)")
        shelve.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        shelve.setMenu(self._shelve_menu(QMenu(shelve), None))
        reset = QPushButton("Reset latch")
        reset.setToolTip("Release latched alarms that are acknowledged and back in limits")
        reset.clicked.connect(lambda: self.run("reset"))
        more = QToolButton()
        more.setText("More")
        more.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        more.setMenu(self._more_menu(QMenu(more), None))
        self.summary = QLabel()
        self.summary.setObjectName("alarmSummary")
        self.flood = QLabel()
        self.flood.setObjectName("alarmFlood")
        self.message = QLabel()
        self.message.setObjectName("alarmMessage")
        self.message.setStyleSheet("QLabel { color: #b3261e; }")

        bar = QHBoxLayout()
        for w in (ack, ack_all, shelve, reset, more):
            bar.addWidget(w)
        bar.addStretch(1)
        bar.addWidget(self.summary)
        bar.addSpacing(16)
        bar.addWidget(self.flood)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(bar)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.message)
        model.summaryChanged.connect(self.update_summary)
        self.update_summary()

    # ---- menus ------------------------------------------------------------------------------------------
    def _shelve_menu(self, menu: QMenu, names: list[str] | None) -> QMenu:
        for label, seconds in SHELVE_S.items():
            menu.addAction(f"Shelve {label}").triggered.connect(
                lambda _=False, s=seconds: self.run("shelve", names, s))
        menu.addAction("Shelve until it clears (one-shot)").triggered.connect(
            lambda _=False: self.run("shelve_one_shot", names))
        menu.addAction("Unshelve").triggered.connect(lambda _=False: self.run("unshelve", names))
        return menu

    def _more_menu(self, menu: QMenu, names: list[str] | None) -> QMenu:
        menu.addAction("Out of service").triggered.connect(lambda _=False: self.run("remove_from_service", names))
        menu.addAction("Return to service").triggered.connect(lambda _=False: self.run("return_to_service", names))
        menu.addSeparator()
        menu.addAction("Set owner…").triggered.connect(lambda _=False: self.set_owner(names))
        menu.addAction("Add note…").triggered.connect(lambda _=False: self.add_note(names))
        if names is None:
            menu.addSeparator()
            menu.addAction("Take a channel out of service…").triggered.connect(self.take_out_of_service)
        return menu

    def context_menu(self, names: list[str]) -> QMenu:
        """The menu for a right-click on `names`; actions that cannot apply to any of them are off."""
        alarms = [self.model.board.alarm(n) for n in names]
        menu = QMenu(self)
        ack = menu.addAction("Acknowledge")
        ack.setEnabled(any(a.state.unacknowledged for a in alarms))
        ack.triggered.connect(lambda _=False: self.run("acknowledge", names))
        reset = menu.addAction("Reset latch")
        reset.setEnabled(any(a.state is AlarmState.LATCHED_ACKED for a in alarms))
        reset.triggered.connect(lambda _=False: self.run("reset", names))
        self._shelve_menu(menu.addMenu("Shelve"), names)
        menu.addSeparator()
        self._more_menu(menu, names)
        return menu

    def _menu(self, pos) -> None:
        names = names_for_menu(self.view, pos, self.selected())
        if names:
            self.context_menu(names).exec(self.view.viewport().mapToGlobal(pos))

    # ---- actions --------------------------------------------------------------------------------------
    def selected(self) -> list[str]:
        return [i.data(NAME_ROLE) for i in sorted(self.view.selectionModel().selectedRows(), key=lambda i: i.row())]

    def run(self, action: str, names: list[str] | None = None, *args) -> list[str]:
        """Apply a model action to `names` (default: the selection); the refusals, also shown."""
        names = self.selected() if names is None else names
        if not names:
            self.message.setText("Select one or more alarms first")
            return []
        refused = []
        for name in names:
            try:
                getattr(self.model, action)(name, *args)
            except AlarmActionError as e:
                refused.append(str(e))
        more = f" (and {len(refused) - 1} more)" if len(refused) > 1 else ""
        self.message.setText(f"Not done: {refused[0]}{more}" if refused else "")
        self.message.setToolTip("\n".join(refused))
        return refused

    def set_owner(self, names: list[str] | None = None) -> None:
        names = self.selected() if names is None else names
        current = self.model.board.alarm(names[0]).owner if names else ""
        owner = self.ask_text("Alarm owner", "Who is handling it (empty: nobody):", current)
        if owner is not None:
            self.run("set_owner", names, owner)

    def add_note(self, names: list[str] | None = None) -> None:
        note = self.ask_text("Alarm note", "Note (kept with the alarm, shown in its tooltip):", "")
        if note is not None:
            self.run("add_note", names, note)

    def take_out_of_service(self) -> None:
        """Any limit-checked channel, in the table or not: a sensor known to be broken before it alarms."""
        name = self.ask_choice("Out of service", "Channel to take out of service:", sorted(self.model.channels))
        if name is not None:
            self.run("remove_from_service", [name])

    def update_summary(self, *_) -> None:
        self.summary.setText(self.model.summary())
        self.flood.setText(self.model.flood_text())
        flooding = self.model.board.in_flood()
        self.flood.setStyleSheet(BADGE.format(bg=FLOOD_BG) if flooding else "")
        self.flood.setToolTip("EEMUA 191: more than 10 alarms annunciated in 10 minutes is a flood; "
                              "an operator cannot read each one. Shelve or take out of service what is understood.")

    def _ask_text(self, title: str, label: str, text: str) -> str | None:
        value, ok = QInputDialog.getText(self, title, label, text=text)
        return value if ok else None

    def _ask_choice(self, title: str, label: str, items: list) -> str | None:
        value, ok = QInputDialog.getItem(self, title, label, items, 0, False)
        return value if ok else None
