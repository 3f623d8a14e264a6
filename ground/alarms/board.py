"""Every limit-checked channel's alarm, the operator's actions on them by name, and the flood count.

The board is what a console shows: it takes samples as they come (most are in limits and cost
one comparison), answers which alarms to show and how many need the operator, and carries out
acknowledge, shelve, reset, out-of-service, owner and notes. It has no Qt and no threads; its
two clocks are parameters (ground monotonic for shelves and the flood window, wall time for
notes), so tests move time by hand.

Which channels latch is the console's choice, passed in as a set of names; `DEFAULT_LATCHING`
are the battery's under-voltage and over-temperature, whose excursions cost battery life however
short they were.
"""
from __future__ import annotations

import time
from typing import Callable, Iterable

from gridfree.ground.alarms import shelving
from gridfree.ground.alarms.condition import Condition, evaluate, normal_band
from gridfree.ground.alarms.flood import FloodCounter
from gridfree.ground.alarms.machine import ChannelAlarm, Note
from gridfree.ground.alarms.shelving import AlarmActionError

DEFAULT_LATCHING = frozenset({"eps.BatteryVoltage", "eps.BatteryTemp"})


class AlarmBoard:
    def __init__(self, channels: Iterable, latching: Iterable[str] = frozenset(),
                 clock: Callable[[], float] = time.monotonic, wall_clock: Callable[[], float] = time.time,
                 flood: FloodCounter | None = None):
        """`channels`: dictionary channels (those with limits are checked); `latching`: names of
        channels whose alarms latch (names the dictionary lacks are listed in `ignored_latching`,
        so an older dictionary in a replay still opens)."""
        self.limits = {c.name: c.limits for c in channels if c.limits is not None}
        wanted = set(latching)
        self.latching = frozenset(wanted & self.limits.keys())
        self.ignored_latching = sorted(wanted - self.limits.keys())
        self.clock, self.wall_clock = clock, wall_clock
        self.flood = flood or FloodCounter()
        self._band = {name: normal_band(lim) for name, lim in self.limits.items()}
        self._alarms: dict[str, ChannelAlarm] = {}

    # ---- samples ---------------------------------------------------------------------------------------
    def observe(self, name: str, value, time_s: float) -> bool:
        """One value of one channel; True if it touched a row of the table (one shown before or now)."""
        band = self._band.get(name)
        if band is None:
            return False
        alarm = self._alarms.get(name)
        if alarm is None:
            if type(value) in (float, int) and band[0] <= value <= band[1]:
                return False  # in limits and never alarmed: the common case, one comparison
            alarm = self._alarms[name] = ChannelAlarm(name, latching=name in self.latching)
        was_shown = alarm.shown
        if alarm.observe(evaluate(self.limits[name], value), value, time_s):
            self.flood.annunciated(self.clock())
        return was_shown or alarm.shown

    def observe_many(self, samples: Iterable) -> set[str]:
        """Samples with `channel`, `value` and `time_s`; the names whose alarms changed."""
        return {s.channel for s in samples if self.observe(s.channel, s.value, s.time_s)}

    def expire_shelves(self) -> set[str]:
        """End the timed shelves whose time is over; the names that came off the shelf."""
        now, done = self.clock(), set()
        for a in self._alarms.values():
            if a.shelf is not None and a.shelf.expired(now):
                if a.unshelve():
                    self.flood.annunciated(now)
                done.add(a.name)
        return done

    # ---- what to show ----------------------------------------------------------------------------------
    def alarm(self, name: str) -> ChannelAlarm | None:
        return self._alarms.get(name)

    def shown(self) -> list[ChannelAlarm]:
        return [a for a in self._alarms.values() if a.shown]

    def needs_operator_count(self) -> int:
        return sum(a.needs_operator for a in self._alarms.values())

    def invalid_count(self) -> int:
        return sum(a.condition is Condition.INVALID for a in self._alarms.values())

    def flood_count(self) -> int:
        """Alarms annunciated in the flood window up to now."""
        return self.flood.count(self.clock())

    def in_flood(self) -> bool:
        return self.flood.in_flood(self.clock())

    # ---- the operator ------------------------------------------------------------------------------------
    def _get(self, name: str) -> ChannelAlarm:
        if name not in self.limits:
            raise AlarmActionError(f"no limit-checked channel {name!r}")
        alarm = self._alarms.get(name)
        if alarm is None:  # never out of limits yet: an operator may still take it out of service
            alarm = self._alarms[name] = ChannelAlarm(name, latching=name in self.latching)
        return alarm

    def acknowledge(self, name: str) -> bool:
        return self._get(name).acknowledge()

    def acknowledge_all(self) -> list[str]:
        """Acknowledge every unacknowledged alarm that is in sight (not shelved, not out of service)."""
        return [a.name for a in self._alarms.values() if a.needs_operator and a.acknowledge()]

    def shelve(self, name: str, duration_s: float) -> None:
        self._get(name).shelve(shelving.timed(self.clock(), duration_s))

    def shelve_one_shot(self, name: str) -> None:
        self._get(name).shelve(shelving.one_shot(self.clock()))

    def unshelve(self, name: str) -> None:
        if self._get(name).unshelve():
            self.flood.annunciated(self.clock())

    def remove_from_service(self, name: str) -> None:
        self._get(name).remove_from_service()

    def return_to_service(self, name: str) -> None:
        if self._get(name).return_to_service():
            self.flood.annunciated(self.clock())

    def reset(self, name: str) -> None:
        self._get(name).reset()

    def set_owner(self, name: str, owner: str) -> None:
        self._get(name).set_owner(owner)

    def add_note(self, name: str, text: str) -> Note:
        return self._get(name).add_note(text, self.wall_clock())
