"""The alarm table's model: channels outside their dictionary limits, latched for the operator."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Iterable

from PySide6.QtCore import QModelIndex, Signal
from PySide6.QtGui import QFont

from gridfree.ground.console.models import (BACKGROUND, COLOURS, DISPLAY, FONT, FOREGROUND, GREY_TEXT, NAME_ROLE,
                                            SEVERITY_ORDER, TOOLTIP, ColumnsModel, describe_limits, format_value,
                                            green_band, limit_state)
from gridfree.ground.link.utc import stamp
from gridfree.protocols.dictionary import Channel, Dictionary

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
        self._green = {c.name: green_band(c.limits) for c in self.limited.values()}
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
