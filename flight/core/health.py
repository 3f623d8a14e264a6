"""Health pings for components and a software watchdog for the node (PUS 17 spirit, F Prime Health).

Each monitored component answers a ping with the same key from its own thread of execution. An
active component whose thread is stuck cannot answer, so a missed deadline is the symptom of a
hang: the monitor reports it and calls the component's restart hook. Deadlines use the host's
monotonic clock even in lockstep runs, because a hang is a wall-clock fact.

`SoftwareWatchdog` covers what a component ping cannot: the rate-group thread itself stalling. The
1 Hz group kicks it; if the kicks stop, the watchdog fires from its own thread, and the node's
handler exits the process so its supervisor restarts it, as a hardware watchdog would reset the
board.
"""
from __future__ import annotations

import itertools
import threading
import time
from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class WatchRequest:
    """An active part asking to be watched: how to ping its thread and how to restart it."""

    name: str
    ping: Callable[[int], None]  # deliver a ping key to the part's own thread
    restart: Callable[[], None]
    timeout_s: float = 3.0


@dataclass(frozen=True)
class Pong:
    """A part's answer to ping `key`, from its own thread."""

    name: str
    key: int


@dataclass
class Watched:
    name: str
    ping: Callable[[int], None]  # deliver a ping key to the component's own thread
    restart: Callable[[], None]
    timeout_s: float
    outstanding: dict[int, float] = field(default_factory=dict)  # key -> deadline
    pings: int = 0
    pongs: int = 0
    hangs: int = 0
    restarts: int = 0


class HealthMonitor:
    def __init__(self, on_hung: Callable[[Watched, float], None], now=time.monotonic):
        self._watched: dict[str, Watched] = {}
        self._keys = itertools.count(1)
        self._lock = threading.Lock()
        self._now = now
        self.on_hung = on_hung

    def watch(self, name, ping, restart, timeout_s: float = 3.0) -> Watched:
        if name in self._watched:
            raise ValueError(f"component {name!r} is already watched")
        w = Watched(name, ping, restart, timeout_s)
        self._watched[name] = w
        return w

    def __getitem__(self, name: str) -> Watched:
        return self._watched[name]

    def watched(self) -> list[Watched]:
        return list(self._watched.values())

    def pong(self, name: str, key: int) -> None:
        with self._lock:
            w = self._watched.get(name)
            if w is not None and w.outstanding.pop(key, None) is not None:
                w.pongs += 1

    def check(self, _tick_time=None) -> list[str]:
        """Send one ping to each component and act on overdue ones; returns the names that hung."""
        now = self._now()
        hung = []
        for w in self._watched.values():
            with self._lock:
                overdue = [k for k, deadline in w.outstanding.items() if deadline <= now]
                for k in overdue:
                    del w.outstanding[k]
            if overdue:
                w.hangs += 1
                hung.append(w.name)
                self.on_hung(w, now)
                w.outstanding.clear()
                w.restarts += 1
                w.restart()
            # One ping in flight at a time: a stuck component does not pile up pings.
            if not w.outstanding:
                key = next(self._keys)
                with self._lock:
                    w.outstanding[key] = now + w.timeout_s
                w.pings += 1
                w.ping(key)
        return hung


class SoftwareWatchdog:
    def __init__(self, timeout_s: float, on_expire: Callable[[float], None]):
        if timeout_s <= 0:
            raise ValueError(f"watchdog timeout must be > 0 s, got {timeout_s}")
        self.timeout_s = timeout_s
        self.on_expire = on_expire
        self.kicks = 0
        self.expired = False
        self._last = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="watchdog", daemon=True)

    def start(self) -> None:
        self._last = time.monotonic()
        self._thread.start()

    def kick(self, _tick_time=None) -> None:
        self._last = time.monotonic()
        self.kicks += 1

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2)

    def _run(self) -> None:
        while not self._stop.wait(self.timeout_s / 4):
            starved_s = time.monotonic() - self._last
            if starved_s > self.timeout_s:
                self.expired = True
                self.on_expire(starved_s)
                return
