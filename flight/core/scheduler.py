"""Rate groups: periodic work at fixed rates (e.g. 10 Hz, 1 Hz, 0.1 Hz), with overrun detection.

Every group ticks at ``epoch + k * period``. On the real-time clock the scheduler thread sleeps
until the next due tick; on the lockstep clock `advance_to` runs every due tick in the caller's
thread, in time order, with the clock set to each tick's time. A member that raises is counted and
reported, and the group carries on: one bad handler must not stop the node (F Prime's rule: assert
only on our own invariants, report everything else).
"""
from __future__ import annotations

import heapq
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

from gridfree.flight.core.clock import Clock, LockstepClock

Tick = Callable[[float], None]


@dataclass
class RateGroupStats:
    ticks: int = 0
    overruns: int = 0  # ticks that ran longer than the period, or were skipped because late
    skipped: int = 0
    errors: int = 0
    max_exec_s: float = 0.0
    # Start lateness of recent ticks (real-time clock only), for jitter figures.
    lateness_s: deque = field(default_factory=lambda: deque(maxlen=4096))

    def jitter_p99_s(self) -> float:
        if not self.lateness_s:
            return 0.0
        ordered = sorted(self.lateness_s)
        return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


@dataclass
class RateGroup:
    name: str
    period_s: float
    members: list[Tick] = field(default_factory=list)
    stats: RateGroupStats = field(default_factory=RateGroupStats)

    def __post_init__(self):
        if not self.period_s > 0:
            raise ValueError(f"rate group {self.name!r}: period must be > 0 s, got {self.period_s}")

    @property
    def rate_hz(self) -> float:
        return 1.0 / self.period_s


class Scheduler:
    """Runs rate groups on a `Clock`. `on_error(group, member, exc)` hears about failed members."""

    def __init__(self, clock: Clock, groups: list[RateGroup] = (), on_error=None, on_overrun=None):
        self.clock = clock
        self.groups: list[RateGroup] = []
        self.on_error = on_error or (lambda group, member, exc: None)
        self.on_overrun = on_overrun or (lambda group, late_s: None)
        # (due time, group order, tick index, group); due = epoch + index * period, computed from
        # the index each time so that a day of 10 Hz ticks does not accumulate rounding error.
        self._queue: list[tuple[float, int, int, RateGroup]] = []
        self._epoch: float | None = None
        self._lock = threading.RLock()
        for group in groups:
            self.add(group)

    def add(self, group: RateGroup) -> RateGroup:
        if any(g.name == group.name for g in self.groups):
            raise ValueError(f"duplicate rate group {group.name!r}")
        with self._lock:
            self.groups.append(group)
            if self._epoch is not None:
                self._push(len(self.groups) - 1, group, self.clock.now(), 0)
        return group

    def group(self, name: str) -> RateGroup:
        for g in self.groups:
            if g.name == name:
                return g
        raise KeyError(f"no rate group {name!r}; have {[g.name for g in self.groups]}")

    def start(self, epoch: float | None = None) -> None:
        """Anchor every group's first tick at `epoch` (default: now)."""
        with self._lock:
            self._epoch = self.clock.now() if epoch is None else epoch
            self._queue = []
            # At the same instant the slower groups run first, so what a fast group samples at t
            # (housekeeping, monitoring) already includes what the slow groups computed for t.
            for i, g in enumerate(sorted(self.groups, key=lambda g: -g.period_s)):
                self._push(i, g, self._epoch, 0)

    def _push(self, order: int, group: RateGroup, anchor: float, index: int) -> None:
        heapq.heappush(self._queue, (anchor + index * group.period_s, order, index, group, anchor))

    def next_due(self) -> float:
        return self._queue[0][0] if self._queue else float("inf")

    def _run_tick(self, entry, late_s: float) -> None:
        due, order, index, group, anchor = entry
        t0 = time.perf_counter()
        for member in group.members:
            try:
                member(due)
            except Exception as exc:  # noqa: BLE001 - reported, never fatal to the group
                group.stats.errors += 1
                self.on_error(group, member, exc)
        exec_s = time.perf_counter() - t0
        stats = group.stats
        stats.ticks += 1
        stats.max_exec_s = max(stats.max_exec_s, exec_s)
        if not self.clock.lockstep:
            stats.lateness_s.append(late_s)
            if exec_s > group.period_s:
                stats.overruns += 1
                self.on_overrun(group, exec_s - group.period_s)
        index += 1
        if not self.clock.lockstep:
            # Late by whole periods (a stall, an overrun): skip the missed ticks rather than
            # bursting through them, and count them, as a flight scheduler must.
            behind = self.clock.now() - (anchor + index * group.period_s)
            if behind >= group.period_s:
                missed = int(behind // group.period_s)
                stats.skipped += missed
                stats.overruns += 1
                self.on_overrun(group, behind)
                index += missed
        self._push(order, group, anchor, index)

    def advance_to(self, t: float) -> int:
        """Lockstep: run every tick due at or before `t`, then leave the clock at `t`."""
        clock = self.clock
        if not isinstance(clock, LockstepClock):
            raise TypeError("advance_to drives a LockstepClock; the real-time clock runs itself")
        if self._epoch is None:
            self.start()
        ran = 0
        with self._lock:
            while self._queue and self._queue[0][0] <= t:
                entry = heapq.heappop(self._queue)
                clock.set(max(entry[0], clock.now()))
                self._run_tick(entry, 0.0)
                ran += 1
            clock.set(max(t, clock.now()))
        return ran

    def run(self, stop: threading.Event) -> None:
        """Real time: run ticks as they fall due until `stop` is set."""
        if self._epoch is None:
            self.start()
        while not stop.is_set():
            due = self.next_due()
            if not self.clock.wait_until(due, stop):
                break
            with self._lock:
                if not self._queue or self._queue[0][0] > self.clock.now():
                    continue
                entry = heapq.heappop(self._queue)
                self._run_tick(entry, self.clock.now() - entry[0])
