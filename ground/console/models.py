"""Qt item models for the console's tables: telemetry, events, command history and alarms.

Views call `data()` far more often than telemetry changes, so every model keeps the strings it
shows ready-made per row and `data()` is a lookup. Updates arrive in batches from the bridge;
the telemetry table marks the rows a batch touched and tells its views once per refresh, with
one `dataChanged` over the span of dirty rows, never with a model reset (which would lose the
operator's selection and scroll position at every tick).
"""
from __future__ import annotations

import math
import time
from operator import attrgetter
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import numpy as np
from PySide6.QtCore import QAbstractTableModel, QMimeData, QModelIndex, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QColor, QFont

from gridfree.ground.link.cli import stamp
from gridfree.protocols.dictionary import Channel, Dictionary, Severity

_CHANNEL, _TIME = attrgetter("channel"), attrgetter("time_s")

DISPLAY = Qt.ItemDataRole.DisplayRole
BACKGROUND = Qt.ItemDataRole.BackgroundRole
FOREGROUND = Qt.ItemDataRole.ForegroundRole
TOOLTIP = Qt.ItemDataRole.ToolTipRole
FONT = Qt.ItemDataRole.FontRole
#: The channel name (telemetry, alarms) behind a row, for drags, context menus and tests.
NAME_ROLE = Qt.ItemDataRole.UserRole
#: What a column sorts by: numbers as numbers, times as times, not as the text shown.
SORT_ROLE = Qt.ItemDataRole.UserRole + 1

#: Mime type of a drag of channel names (one per line) from a table to a plot.
CHANNEL_MIME = "application/x-gridfree-channels"

COLOURS = {
    "green": QColor("#b7e1b0"),
    "yellow": QColor("#fde68a"),
    "red": QColor("#f28b82"),
    "stale": QColor("#d9d9d9"),
}
GREY_TEXT = QColor("#7a7a7a")
SEVERITY_ORDER = {"green": 0, "yellow": 1, "red": 2}


# ---- formatting ---------------------------------------------------------------------------------

def _number(v: float) -> str:
    if not math.isfinite(v):
        return str(v)
    return f"{v:.6g}"


def is_utc_channel(ch: Channel) -> bool:
    """Absolute times (eclipse entry and exit) are f64 seconds declared as UTC: shown as dates."""
    return ch.type == "f64" and ch.unit == "s" and ch.description.rstrip().endswith("UTC")


def format_value(ch: Channel, value: Any) -> tuple[str, str]:
    """(engineering text with unit, raw text) for one channel value."""
    if ch.enum is not None:
        label = next((k for k, v in ch.enum.items() if v == value), None)
        return (label if label is not None else f"? {value}"), str(value)
    if isinstance(value, bool):
        return ("true" if value else "false"), str(int(value))
    if isinstance(value, float):
        raw = f"{value:.9g}" if ch.type == "f32" else repr(value)
        if is_utc_channel(ch) and value > 0:
            return stamp(value), raw
        text = _number(value)
    else:
        raw = text = str(value)
    return (f"{text} {ch.unit}" if ch.unit else text), raw


def limit_state(ch: Channel, value: Any) -> str | None:
    """'green', 'yellow' or 'red' for a channel with limits, None for one without."""
    if ch.limits is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    if isinstance(value, float) and math.isnan(value):
        return "red"  # a limit-checked reading that is not a number is never nominal
    return ch.limits.state(value)


def _green_band(lim) -> tuple[float, float]:
    """The closed interval of values that are green under `lim` (limits are ordered)."""
    lo = next((v for v in (lim.yellow_low, lim.red_low) if v is not None), -math.inf)
    hi = next((v for v in (lim.yellow_high, lim.red_high) if v is not None), math.inf)
    return lo, hi


def describe_limits(ch: Channel) -> str:
    lim = ch.limits
    if lim is None:
        return "no limits"
    parts = [f"{name} {v:g}" for name, v in (("red low", lim.red_low), ("yellow low", lim.yellow_low),
                                             ("yellow high", lim.yellow_high), ("red high", lim.red_high))
             if v is not None]
    return ", ".join(parts) + (f" {ch.unit}" if ch.unit else "")


# ---- the shape every table here shares -----------------------------------------------------------

class ColumnsModel(QAbstractTableModel):
    """A flat table whose columns are the class's COLUMNS and whose rows a subclass counts."""

    COLUMNS: tuple[str, ...] = ()

    def _row_count(self) -> int:
        raise NotImplementedError

    def rowCount(self, parent=QModelIndex()):
        return 0 if parent.isValid() else self._row_count()

    def columnCount(self, parent=QModelIndex()):
        return 0 if parent.isValid() else len(self.COLUMNS)

    def headerData(self, section, orientation, role=DISPLAY):
        if orientation == Qt.Orientation.Horizontal and role == DISPLAY and 0 <= section < len(self.COLUMNS):
            return self.COLUMNS[section]
        return None


# ---- telemetry ----------------------------------------------------------------------------------

class TelemetryModel(ColumnsModel):
    """One row per dictionary channel, in dictionary order; what the operator reads first.

    A row greys out when its channel has not been heard from for `stale_s` seconds, or three of
    its housekeeping periods if that is longer (a 10 s packet is not stale after 5 s). Ages are
    kept on the ground's monotonic clock, not the onboard time, so a node whose clock is wrong
    still goes stale when it falls silent.
    """

    COLUMNS = ("Channel", "Value", "Raw", "Time (UTC)", "State")
    NAME, VALUE, RAW, TIME, STATE = range(5)

    refreshed = Signal(int, int)  # the first and last row of a dataChanged, for whoever counts

    def __init__(self, dictionary: Dictionary, stale_s: float = 5.0,
                 clock: Callable[[], float] = time.monotonic, parent=None):
        super().__init__(parent)
        self.dictionary = dictionary
        self.clock = clock
        self.channels: list[Channel] = list(dictionary.channels)
        self.row_of = {c.name: i for i, c in enumerate(self.channels)}
        n = len(self.channels)
        period = {name: h.period_s for h in dictionary.housekeeping for name in h.channels}
        self.stale_after_s = np.array([max(stale_s, 3.0 * period.get(c.name, 0.0)) for c in self.channels])
        self._value = [""] * n
        self._raw = [""] * n
        self._time = [""] * n
        self._raw_value = np.full(n, None, dtype=object)  # the values as they came (numbers, bools)
        self._time_s = np.zeros(n)
        self._state: list[str | None] = [None] * n
        self._received = np.full(n, -np.inf)  # ground monotonic time of the last sample
        self._stale = np.zeros(n, dtype=bool)
        self._tooltip = [f"{c.name}\n{c.description}\n{c.type}{' in ' + c.unit if c.unit else ''}; "
                         f"{describe_limits(c)}" for c in self.channels]
        self._dirty_lo, self._dirty_hi = n, -1
        self._unformatted: set[int] = set()  # rows whose texts are older than their value

    # -- updates ------------------------------------------------------------------------------
    def apply_samples(self, batch: Iterable) -> None:
        """Store the newest value of each channel in the batch and mark its row; no signals.

        The texts are made when a view (or a query) first asks for the row: a thousand channels
        at 10 Hz change far more rows than a screen shows, and formatting is most of the cost."""
        latest = dict(zip(map(_CHANNEL, batch), batch))  # a table shows only the last of a burst
        rows = list(map(self.row_of.get, latest))
        samples = list(latest.values())
        if None in rows:
            samples = [s for s, row in zip(samples, rows) if row is not None]
            rows = [row for row in rows if row is not None]
        if not rows:
            return
        at = np.array(rows)
        self._raw_value[at] = np.array([s.value for s in samples], dtype=object)
        self._time_s[at] = list(map(_TIME, samples))
        self._received[at] = self.clock()
        self._unformatted.update(rows)
        self._dirty_lo, self._dirty_hi = min(self._dirty_lo, int(at.min())), max(self._dirty_hi, int(at.max()))

    def _format(self, row: int) -> None:
        self._unformatted.discard(row)
        ch, value = self.channels[row], self._raw_value[row]
        self._value[row], self._raw[row] = format_value(ch, value)
        self._time[row] = stamp(float(self._time_s[row]))
        self._state[row] = limit_state(ch, value)

    def refresh(self) -> tuple[int, int] | None:
        """Age the rows and emit one dataChanged over everything that changed since the last
        refresh; returns the span (None if nothing changed)."""
        stale = (self.clock() - self._received) > self.stale_after_s
        stale &= np.isfinite(self._received)  # never heard is "no data", not stale
        flipped = np.flatnonzero(stale != self._stale)
        self._stale = stale
        lo, hi = self._dirty_lo, self._dirty_hi
        if len(flipped):
            lo, hi = min(lo, int(flipped[0])), max(hi, int(flipped[-1]))
        self._dirty_lo, self._dirty_hi = len(self.channels), -1
        if hi < lo:
            return None
        self.dataChanged.emit(self.index(lo, 0), self.index(hi, len(self.COLUMNS) - 1),
                              [DISPLAY, BACKGROUND, FOREGROUND, SORT_ROLE])
        self.refreshed.emit(lo, hi)
        return lo, hi

    # -- queries for views and tests -------------------------------------------------------------
    def state(self, name: str) -> str | None:
        row = self.row_of[name]
        if row in self._unformatted:
            self._format(row)
        return self._state[row]

    def is_stale(self, name: str) -> bool:
        return bool(self._stale[self.row_of[name]])

    def value_text(self, name: str) -> str:
        row = self.row_of[name]
        if row in self._unformatted:
            self._format(row)
        return self._value[row]

    def components(self) -> list[str]:
        return list(dict.fromkeys(c.component for c in self.channels))

    # -- QAbstractTableModel -------------------------------------------------------------------------
    def _row_count(self) -> int:
        return len(self.channels)



    def flags(self, index):
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled

    def data(self, index, role=DISPLAY):
        if not index.isValid():
            return None
        row, col = index.row(), index.column()
        if row in self._unformatted:
            self._format(row)
        if role == DISPLAY:
            if col == self.NAME:
                return self.channels[row].name
            if col == self.VALUE:
                return self._value[row] or "—"
            if col == self.RAW:
                return self._raw[row]
            if col == self.TIME:
                return self._time[row]
            if col == self.STATE:
                if self._stale[row]:
                    return "STALE"
                state = self._state[row]
                return state.upper() if state else ("" if self._value[row] else "no data")
            return None
        if role == BACKGROUND:
            if col in (self.VALUE, self.STATE):
                if self._stale[row]:
                    return COLOURS["stale"]
                state = self._state[row]
                return COLOURS[state] if state else None
            return None
        if role == FOREGROUND:
            return GREY_TEXT if self._stale[row] or not self._value[row] else None
        if role == NAME_ROLE:
            return self.channels[row].name
        if role == SORT_ROLE:
            if col == self.NAME:
                return self.channels[row].name
            if col in (self.VALUE, self.RAW):
                v = self._raw_value[row]
                return float(v) if isinstance(v, (int, float)) else (v or "")
            if col == self.TIME:
                return float(self._time_s[row])
            if col == self.STATE:
                return -1 if self._stale[row] else SEVERITY_ORDER.get(self._state[row] or "", -2)
            return None
        if role == TOOLTIP:
            return self._tooltip[row]
        return None

    def mimeTypes(self):
        return [CHANNEL_MIME, "text/plain"]

    def mimeData(self, indexes):
        names = list(dict.fromkeys(self.channels[i.row()].name for i in indexes if i.isValid()))
        mime = QMimeData()
        text = "\n".join(names)
        mime.setData(CHANNEL_MIME, text.encode())
        mime.setText(text)
        return mime

    def supportedDragActions(self):
        return Qt.DropAction.CopyAction


def channels_from_mime(mime: QMimeData) -> list[str]:
    if not mime.hasFormat(CHANNEL_MIME):
        return []
    return [n for n in bytes(mime.data(CHANNEL_MIME).data()).decode().splitlines() if n]


class ChannelFilterProxy(QSortFilterProxyModel):
    """Search and grouping over the telemetry table: a case-insensitive text over names and
    descriptions, and a group (one component, or the channels of one housekeeping packet)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._text = ""
        self._group: set[str] | None = None
        self.setSortRole(SORT_ROLE)
        self.setDynamicSortFilter(True)

    def set_text(self, text: str) -> None:
        self.beginFilterChange()
        self._text = text.strip().lower()
        self.endFilterChange()

    def set_group(self, names: Iterable[str] | None) -> None:
        self.beginFilterChange()
        self._group = set(names) if names is not None else None
        self.endFilterChange()

    def sort(self, column, order=Qt.SortOrder.AscendingOrder):
        # Rows move with their data only when sorted by a data column. Unsorted or by name, a new
        # value cannot change which rows show or where, so the proxy need not look again at each
        # row a refresh touches (with a thousand channels, a thousand Python calls a tick).
        self.setDynamicSortFilter(column > TelemetryModel.NAME)
        super().sort(column, order)

    def filterAcceptsRow(self, source_row, source_parent):
        ch = self.sourceModel().channels[source_row]
        if self._group is not None and ch.name not in self._group:
            return False
        return not self._text or self._text in ch.name.lower() or self._text in ch.description.lower()

    def channel_names(self) -> list[str]:
        return [self.index(r, 0).data(NAME_ROLE) for r in range(self.rowCount())]


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


# ---- alarms -------------------------------------------------------------------------------------

@dataclass
class Alarm:
    channel: Channel
    state: str  # now: green, yellow or red
    worst: str  # worst since raised or last acknowledged
    value_text: str
    raised_s: float  # onboard time
    acknowledged: bool = False
    shelved_until: float | None = None  # ground monotonic time

    @property
    def active(self) -> bool:
        """Needs the operator: unacknowledged and not shelved."""
        return not self.acknowledged and self.shelved_until is None


class AlarmModel(ColumnsModel):
    """Channels outside their dictionary limits, latched until the operator has seen them.

    An alarm is raised when a limit-checked value leaves green. Acknowledging it says "seen";
    it then leaves the table once the value is back in limits, and is raised again if the value
    gets worse than what was acknowledged. An alarm that returns to green unacknowledged stays
    (the operator must still see it happened). Shelving silences an alarm for a while; when
    the shelf expires it comes back unacknowledged if the channel is still out of limits.
    """

    COLUMNS = ("Channel", "State", "Worst", "Value", "Raised (UTC)", "Status")
    STATE, WORST, STATUS = 1, 2, 5

    activeChanged = Signal(int)  # alarms needing the operator

    def __init__(self, dictionary: Dictionary, clock: Callable[[], float] = time.monotonic, parent=None):
        super().__init__(parent)
        self.clock = clock
        self.limited = {c.name: c for c in dictionary.channels if c.limits is not None}
        self._bold = QFont()
        self._bold.setBold(True)
        self._alarms: list[Alarm] = []
        self._by_name: dict[str, Alarm] = {}
        self._green = {c.name: _green_band(c.limits) for c in self.limited.values()}
        self._active = 0

    def apply_samples(self, batch: Iterable) -> None:
        changed: set[str] = set()
        limited, green, raised = self.limited, self._green, self._by_name
        for s in [s for s in batch if s.channel in limited]:
            v = s.value
            if s.channel not in raised and type(v) in (float, int):
                lo, hi = green[s.channel]
                if lo <= v <= hi:  # in limits, no alarm: nothing to do (NaN fails and goes on)
                    continue
            ch = limited[s.channel]
            state = limit_state(ch, s.value)
            if state is None:
                continue
            alarm = self.alarm(ch.name)
            if alarm is None:
                if state == "green":
                    continue
                alarm = Alarm(ch, state, state, format_value(ch, s.value)[0], s.time_s)
                row = len(self._alarms)
                self.beginInsertRows(QModelIndex(), row, row)
                self._alarms.append(alarm)
                self._by_name[ch.name] = alarm
                self.endInsertRows()
                continue
            alarm.state, alarm.value_text = state, format_value(ch, s.value)[0]
            if SEVERITY_ORDER[state] > SEVERITY_ORDER[alarm.worst]:
                alarm.worst, alarm.acknowledged = state, False
            changed.add(ch.name)
        self._settle(changed)

    def refresh(self) -> None:
        """Bring back alarms whose shelf time is over."""
        now, changed = self.clock(), set()
        for a in self._alarms:
            if a.shelved_until is not None and now >= a.shelved_until:
                a.shelved_until, a.acknowledged = None, False
                a.worst = a.state if a.state != "green" else a.worst
                changed.add(a.channel.name)
        self._settle(changed)

    def acknowledge(self, name: str) -> None:
        a = self.alarm(name)
        if a is not None:
            a.acknowledged, a.worst = True, a.state if a.state != "green" else a.worst
            self._settle({name})

    def acknowledge_all(self) -> int:
        names = [a.channel.name for a in self._alarms if not a.acknowledged]
        for a in self._alarms:
            a.acknowledged = True
        self._settle(set(names))
        return len(names)

    def shelve(self, name: str, duration_s: float) -> None:
        a = self.alarm(name)
        if a is not None:
            a.shelved_until = self.clock() + duration_s
            self._settle({name})

    def alarm(self, name: str) -> Alarm | None:
        return self._by_name.get(name)

    def active_count(self) -> int:
        return sum(a.active for a in self._alarms)

    def names(self) -> list[str]:
        return [a.channel.name for a in self._alarms]

    def _settle(self, changed: set[str]) -> None:
        """Drop alarms that are acknowledged and back in limits; repaint the changed rows."""
        for row in range(len(self._alarms) - 1, -1, -1):
            a = self._alarms[row]
            if a.acknowledged and a.state == "green" and a.shelved_until is None:
                self.beginRemoveRows(QModelIndex(), row, row)
                del self._alarms[row]
                del self._by_name[a.channel.name]
                self.endRemoveRows()
        rows = [i for i, a in enumerate(self._alarms) if a.channel.name in changed]
        if rows:
            self.dataChanged.emit(self.index(min(rows), 0), self.index(max(rows), len(self.COLUMNS) - 1))
        active = self.active_count()
        if active != self._active:
            self._active = active
            self.activeChanged.emit(active)

    def _row_count(self) -> int:
        return len(self._alarms)



    def data(self, index, role=DISPLAY):
        if not index.isValid():
            return None
        a = self._alarms[index.row()]
        col = index.column()
        if role == DISPLAY:
            if col == self.STATUS:
                if a.shelved_until is not None:
                    left = max(0.0, a.shelved_until - self.clock())
                    return f"SHELVED ({left / 60:.0f} min left)"
                return "acknowledged" if a.acknowledged else "UNACKNOWLEDGED"
            return (a.channel.name, a.state.upper(), a.worst.upper(), a.value_text, stamp(a.raised_s))[col]
        if role == BACKGROUND:
            if col == self.STATE:
                return COLOURS[a.state]
            if col == self.WORST:
                return COLOURS[a.worst]
            return None
        if role == FOREGROUND:
            return GREY_TEXT if a.shelved_until is not None else None
        if role == FONT:
            return self._bold if a.active else None
        if role == NAME_ROLE:
            return a.channel.name
        if role == TOOLTIP:
            return f"{a.channel.name}: {a.channel.description}\n{describe_limits(a.channel)}"
        return None
