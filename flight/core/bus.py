"""The software bus: typed messages between components, never direct calls.

Components publish frozen dataclass messages; subscribers register for a message *type* (and get
its subclasses too). A subscriber chooses how it receives: a callback run in the publisher's
thread (for cheap, non-blocking reactions) or a `Pipe`, a bounded queue it drains in its own rate
group (cFS style), so a slow consumer can never stall a fast producer. A full pipe drops the
newest message and counts it; the publisher is never blocked.
"""
from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Callable, Iterator


class Pipe:
    """A bounded per-subscriber queue; overflow is counted, never blocking."""

    def __init__(self, name: str, depth: int = 64):
        if depth < 1:
            raise ValueError(f"pipe {name!r}: depth must be >= 1, got {depth}")
        self.name = name
        self.depth = depth
        self._items: deque = deque()
        self._lock = threading.Lock()
        self.received = 0
        self.dropped = 0

    def put(self, msg) -> bool:
        with self._lock:
            if len(self._items) >= self.depth:
                self.dropped += 1
                return False
            self._items.append(msg)
            self.received += 1
            return True

    def drain(self) -> Iterator:
        """Yield queued messages in order until the pipe is empty."""
        while True:
            with self._lock:
                if not self._items:
                    return
                msg = self._items.popleft()
            yield msg

    def __len__(self) -> int:
        return len(self._items)


@dataclass
class BusStats:
    published: int = 0
    delivered: int = 0
    handler_errors: int = 0


class SoftwareBus:
    def __init__(self, on_handler_error: Callable | None = None):
        self._subs: list[tuple[type, Callable]] = []
        self._by_type: dict[type, list[Callable]] = {}
        self._lock = threading.Lock()
        self.stats = BusStats()
        self.on_handler_error = on_handler_error or (lambda msg, handler, exc: None)

    def subscribe(self, msg_type: type, handler: Callable) -> None:
        with self._lock:
            self._subs.append((msg_type, handler))
            self._by_type.clear()  # recomputed lazily per concrete type

    def pipe(self, name: str, *msg_types: type, depth: int = 64) -> Pipe:
        pipe = Pipe(name, depth)
        for msg_type in msg_types:
            self.subscribe(msg_type, pipe.put)
        return pipe

    def _handlers(self, cls: type) -> list[Callable]:
        handlers = self._by_type.get(cls)
        if handlers is None:
            with self._lock:
                handlers = [h for t, h in self._subs if issubclass(cls, t)]
                self._by_type[cls] = handlers
        return handlers

    def publish(self, msg) -> None:
        self.stats.published += 1
        for handler in self._handlers(type(msg)):
            try:
                handler(msg)
                self.stats.delivered += 1
            except Exception as exc:  # noqa: BLE001 - a subscriber's bug is reported, not spread
                self.stats.handler_errors += 1
                self.on_handler_error(msg, handler, exc)
