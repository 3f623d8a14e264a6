"""The event log's and the command history's models: what the node said, and what we told it."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from PySide6.QtCore import QModelIndex
from PySide6.QtGui import QColor

from gridfree.ground.console.models import (BACKGROUND, COLOURS, DISPLAY, FOREGROUND, GREY_TEXT, TOOLTIP,
                                            ColumnsModel)
from gridfree.ground.link.utc import stamp
from gridfree.protocols.dictionary import Severity

# ---- events -------------------------------------------------------------------------------------

SEVERITY_STYLE = {  # background, foreground
    Severity.FATAL: (QColor("#b3261e"), QColor("white")),
    Severity.WARNING_HI: (QColor("#f28b82"), None),
    Severity.WARNING_LO: (QColor("#fde68a"), None),
    Severity.ACTIVITY_HI: (QColor("#d2e3fc"), None),
    Severity.ACTIVITY_LO: (None, None),
    Severity.DIAGNOSTIC: (None, GREY_TEXT),
}


class EventModel(ColumnsModel):
    """The event log: newest at the bottom, capped at `capacity` rows (oldest dropped first)."""

    COLUMNS = ("Time (UTC)", "Severity", "Event", "Message")

    def __init__(self, capacity: int = 10_000, parent=None):
        super().__init__(parent)
        self.capacity = capacity
        self._rows: list[tuple[str, str, str, str, Severity | None]] = []
        self.dropped = 0

    def append(self, batch: list) -> None:
        if not batch:
            return
        if len(batch) > self.capacity:
            self.dropped += len(batch) - self.capacity
            batch = batch[-self.capacity:]
        overflow = len(self._rows) + len(batch) - self.capacity
        if overflow > 0:
            self.beginRemoveRows(QModelIndex(), 0, overflow - 1)
            del self._rows[:overflow]
            self.endRemoveRows()
            self.dropped += overflow
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(batch) - 1)
        for e in batch:
            sev = e.severity
            self._rows.append((stamp(e.time_s), sev.name if sev is not None else "?",
                               e.event.name if e.event is not None else f"#{e.event_id}", e.text, sev))
        self.endInsertRows()

    def _row_count(self) -> int:
        return len(self._rows)

    def data(self, index, role=DISPLAY):
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        if role == DISPLAY:
            return row[index.column()]
        if role in (BACKGROUND, FOREGROUND):
            style = SEVERITY_STYLE.get(row[4], (None, GREY_TEXT))
            return style[0] if role == BACKGROUND else style[1]
        if role == TOOLTIP and index.column() == 3:
            return row[3]
        return None

    def severity(self, row: int) -> Severity | None:
        return self._rows[row][4]


# ---- command history ----------------------------------------------------------------------------

@dataclass
class _Sent:
    handle: Any
    sent_text: str
    args_text: str
    sent_mono: float
    status: str = "SENT"
    detail: str = ""
    tone: str | None = None  # colour key


class CommandHistoryModel(ColumnsModel):
    """Every command sent from this console, its verification following the node's PUS 1
    reports live: accepted, started, completed, or failed with the node's reason. A command
    with no report at all after `timeout_s` is flagged: the uplink may not have reached the node."""

    COLUMNS = ("Sent (UTC)", "Command", "Arguments", "Status", "Verification")
    STATUS = 3

    def __init__(self, timeout_s: float = 10.0, clock: Callable[[], float] = time.monotonic, parent=None):
        super().__init__(parent)
        self.timeout_s, self.clock = timeout_s, clock
        self._rows: list[_Sent] = []
        self._row_of: dict[int, int] = {}

    def add(self, handle: Any, args_text: str = "", sent_s: float | None = None) -> int:
        """A new row for a command just sent; returns its row."""
        entry = _Sent(handle, stamp(time.time() if sent_s is None else sent_s), args_text, self.clock())
        self._status(entry)
        row = len(self._rows)
        self.beginInsertRows(QModelIndex(), row, row)
        self._rows.append(entry)
        self._row_of[id(handle)] = row
        self.endInsertRows()
        return row

    def update(self, handles: Iterable) -> None:
        """Re-read the stages of handles that reported; one dataChanged over their span."""
        rows = []
        for h in handles:
            row = self._row_of.get(id(h))
            if row is None:  # sent by someone else through the same client: still worth seeing
                row = self.add(h)
                self._rows[row].sent_text = "(not from this console)"
            self._status(self._rows[row])
            rows.append(row)
        if rows:
            self.dataChanged.emit(self.index(min(rows), 0), self.index(max(rows), len(self.COLUMNS) - 1))

    def refresh(self) -> None:
        """Flag commands that have waited too long for their first report."""
        now, rows = self.clock(), []
        for row, e in enumerate(self._rows):
            if e.status == "SENT" and now - e.sent_mono > self.timeout_s:
                e.status, e.tone = "NO REPORT", "yellow"
                e.detail = f"no acceptance report after {self.timeout_s:g} s"
                rows.append(row)
        if rows:
            self.dataChanged.emit(self.index(min(rows), 0), self.index(max(rows), len(self.COLUMNS) - 1))

    @staticmethod
    def _status(e: _Sent) -> None:
        h = e.handle
        stages = list(h.stages)
        if h.failure is not None:
            stage = next((s for s, ok in stages if not ok), "?")
            e.status, e.tone = f"FAILED ({stage})", "red"
        elif h.completed:
            e.status, e.tone = "COMPLETED", "green"
        elif stages:
            e.status, e.tone = {"acceptance": "ACCEPTED", "start": "STARTED"}.get(stages[-1][0],
                                                                                  stages[-1][0].upper()), None
        else:
            e.status, e.tone = ("NO REPORT", "yellow") if e.status == "NO REPORT" else ("SENT", None)
            return
        e.detail = h.describe().split(": ", 1)[-1]

    def handle(self, row: int) -> Any:
        return self._rows[row].handle

    def status(self, row: int) -> str:
        return self._rows[row].status

    def _row_count(self) -> int:
        return len(self._rows)

    def data(self, index, role=DISPLAY):
        if not index.isValid():
            return None
        e = self._rows[index.row()]
        col = index.column()
        if role in (DISPLAY, TOOLTIP):
            return (e.sent_text, e.handle.name, e.args_text, e.status, e.detail)[col]
        if role == BACKGROUND and col == self.STATUS and e.tone:
            return COLOURS[e.tone]
        return None
