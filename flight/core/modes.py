"""The node's operating mode: BOOT -> SAFE -> NOMINAL, with guarded transitions.

SAFE is where the node goes whenever survival is in question (under-voltage, over-temperature, a
watchdog reset): compute off, loads shed, radio listening. Leaving SAFE needs an explicit request
*and* the guards to hold (e.g. battery above the recovery margin), so a flapping sensor cannot
bounce the node in and out of SAFE. Every transition, and every refused one, carries a reason
that goes down in an event, so an operator never has to guess why the mode changed.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from enum import IntEnum
from typing import Callable


class Mode(IntEnum):
    BOOT = 0
    SAFE = 1
    NOMINAL = 2


# Transitions a request may make; anything may fall to SAFE.
ALLOWED: dict[Mode, frozenset[Mode]] = {
    Mode.BOOT: frozenset({Mode.SAFE}),
    Mode.SAFE: frozenset({Mode.NOMINAL}),
    Mode.NOMINAL: frozenset({Mode.SAFE}),
}

Guard = Callable[[Mode, Mode], "str | None"]  # returns a refusal reason, or None to allow


@dataclass(frozen=True)
class ModeChange:
    """Published on the software bus after every transition."""

    old: Mode
    new: Mode
    reason: str
    time_s: float


class TransitionRefused(Exception):
    def __init__(self, old: Mode, new: Mode, reason: str):
        super().__init__(f"{old.name} -> {new.name} refused: {reason}")
        self.old, self.new, self.reason = old, new, reason


class ModeMachine:
    def __init__(self, clock_now: Callable[[], float], on_change: Callable[[ModeChange], None]):
        self.mode = Mode.BOOT
        self.since_s = clock_now()
        self.last_reason = "power on"
        self.transitions = 0
        self.refusals = 0
        self._guards: list[tuple[str, Guard]] = []
        self._now = clock_now
        self._on_change = on_change
        self._lock = threading.RLock()

    def add_guard(self, name: str, guard: Guard) -> None:
        """Guards veto *requested* transitions; a fall to SAFE is never vetoed."""
        self._guards.append((name, guard))

    def request(self, new: Mode, reason: str) -> ModeChange:
        with self._lock:
            old = self.mode
            if new == old:
                return ModeChange(old, new, f"already {old.name}", self._now())
            if new is not Mode.SAFE:
                if new not in ALLOWED[old]:
                    self.refusals += 1
                    raise TransitionRefused(old, new, f"not a legal transition from {old.name}")
                for name, guard in self._guards:
                    refusal = guard(old, new)
                    if refusal:
                        self.refusals += 1
                        raise TransitionRefused(old, new, f"{name}: {refusal}")
            return self._enter(new, reason)

    def fall_to_safe(self, reason: str) -> ModeChange | None:
        """Protective transition: always allowed, idempotent (None if already SAFE)."""
        with self._lock:
            if self.mode is Mode.SAFE:
                return None
            return self._enter(Mode.SAFE, reason)

    def _enter(self, new: Mode, reason: str) -> ModeChange:
        change = ModeChange(self.mode, new, reason, self._now())
        self.mode, self.since_s, self.last_reason = new, change.time_s, reason
        self.transitions += 1
        self._on_change(change)
        return change
