"""The alarm table's Qt model: a view of the ground's `AlarmBoard` (gridfree.ground.alarms).

The rules (ISA-18.2 states, shelving, latching, out-of-service, INVALID data, the EEMUA 191
flood count) live in the board, without Qt; this model turns them into rows. Every state is
written in its cell, with a symbol, and bold (needs the operator) or italics (shelved, out of
service, invalid data): colour is never the only cue, for colour-blind operators, grey-scale
screenshots and a glance from across the room.
"""
from __future__ import annotations

import time
from typing import Callable, Iterable

from PySide6.QtCore import QModelIndex, Signal
from PySide6.QtGui import QColor, QFont

from gridfree.ground.alarms.board import AlarmBoard
from gridfree.ground.alarms.condition import Condition
from gridfree.ground.alarms.machine import AlarmState, ChannelAlarm
from gridfree.ground.console.models import (BACKGROUND, COLOURS, DISPLAY, FONT, FOREGROUND, GREY_TEXT, NAME_ROLE,
                                            TOOLTIP, ColumnsModel, describe_limits, format_value)
from gridfree.ground.link.utc import stamp
from gridfree.protocols.dictionary import Dictionary

#: INVALID's own colour, the telemetry table's: neither a limit colour nor the grey of old data.
INVALID_COLOUR = COLOURS["invalid"]
OUT_OF_SERVICE_COLOUR = QColor("#e8e8e8")

STATUS_TEXT = {
    AlarmState.NORMAL: "",
    AlarmState.UNACK: "● UNACK",
    AlarmState.ACKED: "✓ ACK",
    AlarmState.RTN_UNACK: "● RTN UNACK",
    AlarmState.LATCHED_UNACK: "◆ LATCHED · UNACK",
    AlarmState.LATCHED_ACKED: "◆ LATCHED · RESET",
}


def utc(t: float) -> str:
    """A time as UTC; an onboard time too far off for a date (a node's clock is untrusted) as a number."""
    try:
        return stamp(t)
    except (OverflowError, ValueError, OSError):
        return f"t={t:g} s"


class AlarmModel(ColumnsModel):
    """One row per channel the operator must see: an alarm, INVALID data, a shelf or an
    out-of-service channel. Rows keep their place while they stay; a row goes when its alarm is
    over (acknowledged and back in limits, or reset when latched)."""

    COLUMNS = ("Channel", "Condition", "Worst", "Value", "Raised (UTC)", "Status", "Owner", "Note")
    CHANNEL, CONDITION, WORST, VALUE, RAISED, STATUS, OWNER, NOTE = range(8)

    activeChanged = Signal(int)  # alarms needing the operator
    floodChanged = Signal(bool)  # EEMUA 191: more than 10 alarms in 10 minutes
    summaryChanged = Signal()  # `summary()` or `flood_text()` reads differently

    def __init__(self, dictionary: Dictionary, clock: Callable[[], float] = time.monotonic, parent=None, *,
                 latching: Iterable[str] = frozenset(), wall_clock: Callable[[], float] = time.time):
        super().__init__(parent)
        self.clock = clock
        self.channels = {c.name: c for c in dictionary.channels if c.limits is not None}
        self.board = AlarmBoard(self.channels.values(), latching, clock, wall_clock)
        self._rows: list[str] = []
        self._bold, self._italic = QFont(), QFont()
        self._bold.setBold(True)
        self._italic.setItalic(True)
        self._active = 0
        self._flood = False
        self._said = ("", "")

    # ---- feeding -------------------------------------------------------------------------------------
    def apply_samples(self, batch: Iterable) -> None:
        self._settle(self.board.observe_many(batch))

    def refresh(self) -> None:
        """Each tick: end shelves whose time is over, count down the others, slide the flood window."""
        changed = self.board.expire_shelves()
        changed.update(n for n in self._rows if self.board.alarm(n).shelf is not None)
        self._settle(changed)

    # ---- the operator's actions (AlarmActionError says why one does not apply) --------------------------
    def acknowledge(self, name: str) -> None:
        self._act(name, self.board.acknowledge)

    def acknowledge_all(self) -> int:
        names = self.board.acknowledge_all()
        self._settle(set(names))
        return len(names)

    def shelve(self, name: str, duration_s: float) -> None:
        self._act(name, self.board.shelve, duration_s)

    def shelve_one_shot(self, name: str) -> None:
        self._act(name, self.board.shelve_one_shot)

    def unshelve(self, name: str) -> None:
        self._act(name, self.board.unshelve)

    def reset(self, name: str) -> None:
        self._act(name, self.board.reset)

    def remove_from_service(self, name: str) -> None:
        self._act(name, self.board.remove_from_service)

    def return_to_service(self, name: str) -> None:
        self._act(name, self.board.return_to_service)

    def set_owner(self, name: str, owner: str) -> None:
        self._act(name, self.board.set_owner, owner)

    def add_note(self, name: str, text: str) -> None:
        self._act(name, self.board.add_note, text)

    def _act(self, name: str, action, *args) -> None:
        try:
            action(name, *args)
        finally:
            self._settle({name})

    # ---- what the rest of the console asks ------------------------------------------------------------
    def alarm(self, name: str) -> ChannelAlarm | None:
        a = self.board.alarm(name)
        return a if a is not None and a.shown else None

    def active_count(self) -> int:
        return self.board.needs_operator_count()

    def names(self) -> list[str]:
        return list(self._rows)

    def summary(self) -> str:
        """One line for the panel: what needs the operator and what is set aside."""
        shown = [self.board.alarm(n) for n in self._rows]
        parts = [f"{self.active_count()} to acknowledge",
                 f"{sum(a.state is AlarmState.LATCHED_ACKED for a in shown)} to reset",
                 f"{sum(a.condition is Condition.INVALID for a in shown)} invalid",
                 f"{sum(a.shelf is not None for a in shown)} shelved",
                 f"{sum(a.out_of_service for a in shown)} out of service"]
        return " · ".join(p for i, p in enumerate(parts) if i == 0 or not p.startswith("0 "))

    def flood_text(self) -> str:
        n = self.board.flood_count()
        if self.board.in_flood():
            return f"⚠ ALARM FLOOD: {n} alarms in 10 min (EEMUA 191: more than 10)"
        return f"{n} alarm{'s' if n != 1 else ''} raised in the last 10 min"

    # ---- rows ------------------------------------------------------------------------------------------
    def _settle(self, changed: set[str]) -> None:
        """Drop rows no longer shown, add new ones at the end, repaint the changed rows."""
        board = self.board
        for row in range(len(self._rows) - 1, -1, -1):
            if not board.alarm(self._rows[row]).shown:
                self.beginRemoveRows(QModelIndex(), row, row)
                del self._rows[row]
                self.endRemoveRows()
        present = set(self._rows)
        new = [a.name for a in board.shown() if a.name not in present]
        if new:
            self.beginInsertRows(QModelIndex(), len(self._rows), len(self._rows) + len(new) - 1)
            self._rows.extend(new)
            self.endInsertRows()
        rows = [i for i, n in enumerate(self._rows) if n in changed]
        if rows:
            self.dataChanged.emit(self.index(min(rows), 0), self.index(max(rows), len(self.COLUMNS) - 1))
        active, flood = board.needs_operator_count(), board.in_flood()
        if active != self._active:
            self._active = active
            self.activeChanged.emit(active)
        if flood != self._flood:
            self._flood = flood
            self.floodChanged.emit(flood)
        said = (self.summary(), self.flood_text())
        if said != self._said:
            self._said = said
            self.summaryChanged.emit()

    def _row_count(self) -> int:
        return len(self._rows)

    def _value_text(self, a: ChannelAlarm) -> str:
        if a.value_time_s is None:
            return "—"
        if a.condition is Condition.INVALID:
            return "no reading"  # NaN: the node could not measure it
        return format_value(self.channels[a.name], a.value)[0]

    def status_text(self, a: ChannelAlarm) -> str:
        if a.out_of_service:
            return "⊘ OUT OF SERVICE"
        if a.shelf is not None:
            return a.shelf.describe(self.clock()) + (" · UNACK" if a.state.unacknowledged else "")
        if a.state is AlarmState.NORMAL:
            return "no alarm"  # shown for its INVALID data only
        return STATUS_TEXT[a.state]

    def data(self, index, role=DISPLAY):
        if not index.isValid():
            return None
        a = self.board.alarm(self._rows[index.row()])
        col = index.column()
        if role == DISPLAY:
            if col == self.CHANNEL:
                return a.name
            if col == self.CONDITION:
                return a.condition.label
            if col == self.WORST:
                return (a.worst or "").upper()
            if col == self.VALUE:
                return self._value_text(a)
            if col == self.RAISED:
                return utc(a.raised_s) if a.raised_s is not None and a.state is not AlarmState.NORMAL else ""
            if col == self.STATUS:
                return self.status_text(a)
            if col == self.OWNER:
                return a.owner
            if col == self.NOTE:
                return (a.notes[-1].text + (f"  (+{len(a.notes) - 1})" if len(a.notes) > 1 else "")) if a.notes else ""
            return None
        if role == BACKGROUND:
            if col == self.CONDITION:
                if a.condition is Condition.INVALID:
                    return INVALID_COLOUR
                return None if a.out_of_service else COLOURS[a.condition.severity]  # no alarm: no alarm colour
            if col == self.WORST and a.worst and not a.out_of_service:
                return COLOURS[a.worst]
            if col == self.STATUS and a.out_of_service:
                return OUT_OF_SERVICE_COLOUR
            return None
        if role == FOREGROUND:
            return GREY_TEXT if a.shelf is not None or a.out_of_service else None
        if role == FONT:
            if a.needs_operator:
                return self._bold
            if a.shelf is not None or a.out_of_service or a.condition is Condition.INVALID:
                return self._italic
            return None
        if role == NAME_ROLE:
            return a.name
        if role == TOOLTIP:
            return self._tooltip(a)
        return None

    def _tooltip(self, a: ChannelAlarm) -> str:
        ch = self.channels[a.name]
        lines = [f"{a.name}: {ch.description}", describe_limits(ch)]
        if a.condition is Condition.INVALID:
            lines.append("INVALID: the node sent no measurement (NaN); not a limit alarm")
        if a.latching:
            lines.append("Latching: stays until acknowledged and reset")
        if a.owner:
            lines.append(f"Owner: {a.owner}")
        lines += [f"{utc(n.wall_time_s)}  {n.text}" for n in a.notes]
        return "\n".join(lines)
