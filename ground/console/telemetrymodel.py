"""The telemetry table's model: one row per dictionary channel, and its search and grouping.

The table marks the rows a batch touched and tells its views once per refresh, with one
`dataChanged` over the span of dirty rows; texts are made when a row is first shown. Each row
shows its value in the channel's dictionary format, the onboard time of its report, and its age
against the period it is expected at (see staleness.py for the clock and the rule).
"""
from __future__ import annotations

import time
from operator import attrgetter
from typing import Callable, Iterable

import numpy as np
from PySide6.QtCore import QMimeData, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QFont

from gridfree.ground.console.models import (BACKGROUND, COLOURS, DISPLAY, FONT, FOREGROUND, GREY_TEXT, NAME_ROLE,
                                            SEVERITY_ORDER, SORT_ROLE, TOOLTIP, ColumnsModel, describe_limits,
                                            format_value, limit_state)
from gridfree.ground.console.staleness import (STALE_PERIODS, OnboardClock, age_text, expected_periods,
                                               period_text, stale_cue)
from gridfree.ground.link.utc import stamp
from gridfree.protocols.dictionary import Channel, Dictionary

_CHANNEL, _TIME = attrgetter("channel"), attrgetter("time_s")

#: Mime type of a drag of channel names (one per line) from a table to a plot.
CHANNEL_MIME = "application/x-gridfree-channels"

class TelemetryModel(ColumnsModel):
    """One row per dictionary channel, in dictionary order; what the operator reads first.

    A row is stale when its value is older than STALE_PERIODS of its housekeeping period, by
    the onboard clock (`onboard`, which the views showing values share): greyed, italic, and
    "STALE 12 s" in the State column. `clock` is the ground's monotonic clock the onboard clock
    runs on between reports on a live link; None for a replay (see staleness.py).
    """

    COLUMNS = ("Channel", "Value", "Raw", "Onboard time (UTC)", "Age / period", "State")
    NAME, VALUE, RAW, TIME, AGE, STATE = range(6)

    refreshed = Signal(int, int)  # the first and last row of a dataChanged, for whoever counts

    def __init__(self, dictionary: Dictionary, clock: Callable[[], float] | None = time.monotonic, parent=None):
        super().__init__(parent)
        self.dictionary = dictionary
        self.onboard = OnboardClock(clock)
        self.channels: list[Channel] = list(dictionary.channels)
        self.row_of = {c.name: i for i, c in enumerate(self.channels)}
        n = len(self.channels)
        period = expected_periods(dictionary)
        self.period_s = np.array([period.get(c.name, np.inf) for c in self.channels])
        self.stale_after_s = STALE_PERIODS * self.period_s
        self._value = [""] * n
        self._raw = [""] * n
        self._time = [""] * n
        self._raw_value = np.full(n, None, dtype=object)  # the values as they came (numbers, bools)
        self._time_s = np.full(n, np.nan)  # onboard time of each value's report; NaN: never received
        self._state: list[str | None] = [None] * n
        self._age = np.full(n, np.nan)  # onboard seconds since the report, at the last refresh
        self._age_key = np.full(n, -1.0)  # the whole seconds of `_age` shown, to repaint only changes
        self._stale = np.zeros(n, dtype=bool)
        self._italic = QFont()
        self._italic.setItalic(True)
        self._tooltip = [f"{c.name}\n{c.description}\n{c.type}{' in ' + c.unit if c.unit else ''}; "
                         f"{describe_limits(c)}\n" + (f"reported every {period_text(p)}, stale after "
                                                     f"{period_text(STALE_PERIODS * p)}" if np.isfinite(p)
                                                     else "not in any housekeeping packet: never stale")
                         for c, p in zip(self.channels, self.period_s)]
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
        times = list(map(_TIME, samples))
        self._time_s[at] = times
        self.onboard.observe(max(times))
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
        refresh (new values, ages that reached another whole second, rows gone stale or fresh);
        returns the span (None if nothing changed)."""
        now = self.onboard.now()
        if now is not None:
            self._age = np.maximum(now - self._time_s, 0.0)  # NaN stays NaN: never received
        heard = np.isfinite(self._age)
        stale = heard & (self._age > self.stale_after_s)  # never heard is "no data", not stale
        key = np.where(heard, np.floor(self._age), -1.0)
        flipped = np.flatnonzero((stale != self._stale) | (key != self._age_key))
        self._stale, self._age_key = stale, key
        lo, hi = self._dirty_lo, self._dirty_hi
        if len(flipped):
            lo, hi = min(lo, int(flipped[0])), max(hi, int(flipped[-1]))
        self._dirty_lo, self._dirty_hi = len(self.channels), -1
        if hi < lo:
            return None
        self.dataChanged.emit(self.index(lo, 0), self.index(hi, len(self.COLUMNS) - 1),
                              [DISPLAY, BACKGROUND, FOREGROUND, FONT, SORT_ROLE])
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

    def age(self, name: str) -> float | None:
        """Onboard seconds since the channel's last report, at the last refresh (None: never)."""
        a = self._age[self.row_of[name]]
        return None if np.isnan(a) else float(a)

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
            if col == self.AGE:
                age, period = self._age[row], self.period_s[row]
                if np.isnan(age):
                    return ""
                return age_text(age) + (f" / {period_text(period)}" if np.isfinite(period) else "")
            if col == self.STATE:
                if self._stale[row]:
                    return stale_cue(self._age[row])
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
        if role == FONT:
            return self._italic if self._stale[row] else None
        if role == NAME_ROLE:
            return self.channels[row].name
        if role == SORT_ROLE:
            if col == self.NAME:
                return self.channels[row].name
            if col in (self.VALUE, self.RAW):
                v = self._raw_value[row]
                return float(v) if isinstance(v, (int, float)) else (v or "")
            if col in (self.TIME, self.AGE):  # never received sorts as the oldest
                t = self._time_s[row] if col == self.TIME else self._age[row]
                return float(t) if np.isfinite(t) else (-np.inf if col == self.TIME else np.inf)
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
