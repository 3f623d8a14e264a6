"""Onboard time behind one interface, so a day of flight can run in seconds.

`RealClock` follows the host clock. `LockstepClock` stands still until whoever drives the node
(the HIL rig, a test) moves it; the scheduler then runs every rate-group tick that became due, in
the caller's thread, each at its exact tick time. That makes lockstep runs deterministic and as
fast as the work itself, which is what a test engineer wants from a 24-hour scenario.
"""
from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod

#: 2000-01-01T12:00:00 UTC, a sane default start for simulated missions (Unix seconds).
J2000_UNIX_S = 946_728_000.0


class Clock(ABC):
    """Onboard time in seconds on the Unix scale (PUS 9 correlates it with ground time)."""

    lockstep: bool = False

    @abstractmethod
    def now(self) -> float:
        """Current onboard time, seconds."""

    @abstractmethod
    def wait_until(self, t: float, stop: threading.Event) -> bool:
        """Block until onboard time reaches `t` or `stop` is set; True if `t` was reached."""


class RealClock(Clock):
    """Host time, optionally offset (time correlation adjusts the offset, never the host)."""

    def __init__(self, offset_s: float = 0.0):
        self.offset_s = offset_s

    def now(self) -> float:
        return time.time() + self.offset_s

    def wait_until(self, t: float, stop: threading.Event) -> bool:
        # Sleep on the monotonic clock so a host time step cannot stall or rush the schedule.
        remaining = t - self.now()
        deadline = time.monotonic() + remaining
        while remaining > 0:
            if stop.wait(min(remaining, 0.5)):
                return False
            remaining = deadline - time.monotonic()
        return not stop.is_set()


class LockstepClock(Clock):
    """Time that only moves when `set` is called; waiting threads wake when it passes them."""

    lockstep = True

    def __init__(self, start_s: float = J2000_UNIX_S):
        self._t = float(start_s)
        self._moved = threading.Condition()

    def now(self) -> float:
        return self._t

    def set(self, t: float) -> None:
        if t < self._t:
            raise ValueError(f"lockstep time cannot go backwards: {t} < {self._t}")
        with self._moved:
            self._t = float(t)
            self._moved.notify_all()

    def wait_until(self, t: float, stop: threading.Event) -> bool:
        with self._moved:
            while self._t < t and not stop.is_set():
                self._moved.wait(0.1)
        return self._t >= t
