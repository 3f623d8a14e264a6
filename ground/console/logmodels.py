"""The event log's and the command history's models: what the node said, and what we told it.

Both keep every text whole: a view may elide a long message or failure reason to fit its
column, but the tooltip of every cell and `details(row)` (the views' details pane, and what
Copy puts on the clipboard) hold all of it.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from PySide6.QtCore import QModelIndex
from PySide6.QtGui import QColor

from gridfree.ground.console.models import (BACKGROUND, COLOURS, DISPLAY, FOREGROUND, GREY_TEXT, TOOLTIP,
                                            ColumnsModel)
from gridfree.ground.link.commands import (ACK_OF_STAGE, COMPLETED, FAILED, QUEUED, SENT, TIMEOUT)
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
        self._rows: list[tuple[str, str, str, str, Severity | None, str]] = []
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
                               e.event.name if e.event is not None else f"#{e.event_id}", e.text, sev,
                               _event_details(e)))
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
        if role == TOOLTIP:
            return row[5]
        return None

    def severity(self, row: int) -> Severity | None:
        return self._rows[row][4]

    def details(self, row: int) -> str:
        """Everything about one event, in full, for the details pane and the clipboard."""
        return self._rows[row][5]


def _event_details(e) -> str:
    name = e.event.name if e.event is not None else f"unknown event #{e.event_id}"
    sev = e.severity.name if e.severity is not None else "?"
    lines = [f"{stamp(e.time_s)}  {sev}  {name} (id {e.event_id})", e.text]
    lines += [f"  {k} = {v!r}" for k, v in e.args.items()]
    return "\n".join(lines)


# ---- command history ----------------------------------------------------------------------------

TONE = {COMPLETED: "green", FAILED: "red", TIMEOUT: "yellow"}


def lifecycle_text(h: Any) -> str:
    """The command's life in one line: each state with its time after the command was sent."""
    steps = h.lifecycle()
    t0 = h.time_of(SENT) or steps[0].time_s
    parts = []
    for t in steps:
        if t.state == QUEUED:
            continue
        when = "" if t.state == SENT else f" +{t.time_s - t0:.3f} s"
        parts.append(f"{t.state}{' (' + t.stage + ')' if t.state in (FAILED, TIMEOUT) else ''}{when}")
    return " → ".join(parts) if parts else "QUEUED: not yet on the link"


def detail_text(h: Any) -> str:
    """What the Detail column says: a failure's code and whole reason first, else the life so far."""
    if h.failed:
        return h.failure_text()
    s = h.state
    return s.detail if s.state == TIMEOUT else lifecycle_text(h)


def full_text(h: Any, args_text: str) -> str:
    """Everything about one command, whole: for the tooltip, the details pane and the clipboard."""
    req = h.request
    lines = [f"{h.name}({args_text})  —  {h.state_label()}"]
    if req is not None:
        lines.append(f"request APID {req.apid}, sequence count {req.seq_count}; reports asked for: "
                     + (", ".join(n for n, f in ACK_OF_STAGE if h.ack & f) or "none") + " (failures always)")
    for t in h.lifecycle():
        what = t.state + (f" ({t.stage})" if t.state in (FAILED, TIMEOUT) else "")
        lines.append(f"  {stamp(t.time_s)}  {what}" + (f": {t.detail}" if t.detail else ""))
    return "\n".join(lines)


@dataclass
class _Sent:
    handle: Any
    args_text: str
    cells: tuple = ()
    tooltip: str = ""
    steps: int = -1  # transitions seen when the cells were made
    changed_mono: float = 0.0  # ground monotonic time of the last transition seen
    tone: str | None = None  # colour key
    external: bool = False  # sent by someone else through the same client


class CommandHistoryModel(ColumnsModel):
    """Every command sent from this console and its life, each step timed: QUEUED, SENT (or
    FAILED not sent, when the link dropped it), ACCEPTED, STARTED, COMPLETED, or FAILED at the
    stage the node names with its failure code and whole reason. A report the command's ack
    flags asked for that is `timeout_s` overdue makes it TIMEOUT (the uplink or the downlink may
    be lost); a late report still moves it on."""

    COLUMNS = ("Sent (UTC)", "Command", "Arguments", "State", "Detail")
    STATE, DETAIL = 3, 4
    STATUS = STATE  # the name older callers use

    def __init__(self, timeout_s: float = 10.0, clock: Callable[[], float] = time.monotonic, parent=None):
        super().__init__(parent)
        self.timeout_s, self.clock = timeout_s, clock
        self._rows: list[_Sent] = []
        self._row_of: dict[int, int] = {}
        self._open: set[int] = set()  # rows not yet completed or failed: the ones a timeout can hit

    def add(self, handle: Any, args_text: str = "", sent_s: float | None = None) -> int:
        """A new row for a command just handed to the link; returns its row. (`sent_s` is kept
        for older callers: the handle's own transitions carry the times now.)"""
        entry = _Sent(handle, args_text)
        self._make(entry)
        row = len(self._rows)
        self.beginInsertRows(QModelIndex(), row, row)
        self._rows.append(entry)
        self._row_of[id(handle)] = row
        if not handle.final:
            self._open.add(row)
        self.endInsertRows()
        return row

    def update(self, handles: Iterable) -> None:
        """Re-read the handles that reported; one dataChanged over their span."""
        rows = []
        for h in handles:
            row = self._row_of.get(id(h))
            if row is None:  # sent by someone else through the same client: still worth seeing
                row = self.add(h, "(not from this console)")
                self._rows[row].external = True
                continue
            self._make(self._rows[row])
            rows.append(row)
        self._changed(rows)

    def refresh(self) -> None:
        """Time out commands whose next report is overdue; pick up states set outside a report."""
        now, rows = self.clock(), []
        for row in sorted(self._open):
            e = self._rows[row]
            h = e.handle
            if len(h.lifecycle()) != e.steps:
                self._make(e)
                rows.append(row)
            stage = h.expected_stage()
            s = h.state
            if stage is None or (s.state == TIMEOUT and s.stage == stage):
                continue
            if now - e.changed_mono > self.timeout_s:
                h.mark_timeout(stage, self.timeout_s)
                self._make(e)
                rows.append(row)
        self._changed(rows)

    def _changed(self, rows: list[int]) -> None:
        for row in rows:
            if self._rows[row].handle.final:
                self._open.discard(row)
        if rows:
            self.dataChanged.emit(self.index(min(rows), 0), self.index(max(rows), len(self.COLUMNS) - 1))

    def _make(self, e: _Sent) -> None:
        """The row's texts, made once per change rather than on every paint."""
        h = e.handle
        steps = h.lifecycle()
        if len(steps) != e.steps:
            e.changed_mono, e.steps = self.clock(), len(steps)
        sent = h.time_of(SENT)
        e.cells = (stamp(steps[0].time_s if sent is None else sent), h.name, e.args_text, h.state_label(),
                   detail_text(h))
        e.tooltip = full_text(h, e.args_text)
        e.tone = TONE.get(steps[-1].state)

    def handle(self, row: int) -> Any:
        return self._rows[row].handle

    def status(self, row: int) -> str:
        """The State column: QUEUED, SENT, ACCEPTED, ..., FAILED (stage), TIMEOUT (stage)."""
        return self._rows[row].cells[self.STATE]

    def details(self, row: int) -> str:
        """Everything about one command, whole, with the time of each state."""
        return self._rows[row].tooltip

    def _row_count(self) -> int:
        return len(self._rows)

    def data(self, index, role=DISPLAY):
        if not index.isValid():
            return None
        e = self._rows[index.row()]
        col = index.column()
        if role == DISPLAY:
            return e.cells[col]
        if role == TOOLTIP:
            return e.tooltip
        if role == BACKGROUND and col == self.STATE and e.tone:
            return COLOURS[e.tone]
        return None
