"""From the client's reader thread to the GUI thread, in batches.

The client calls its subscribers on its reader thread, where no Qt model may be touched. The
bridge only appends what arrives to bounded queues under a lock; a QTimer in the GUI thread
swaps the queues out and emits each as one batch, so models and plots update a few times a
second however fast telemetry arrives, and a flood costs memory only up to the queue bound
(what falls off is counted, never silent).

Pausing the display (F5) stops the emissions, not the collection: what arrives meanwhile is
held, within the same bound, and delivered on resume.
"""
from __future__ import annotations

import threading
from collections import deque
from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

#: Items held per kind between two flushes (or while paused) before the oldest are dropped.
QUEUE_ITEMS = 200_000
REFRESH_MS = 100


class ClientBridge(QObject):
    samples = Signal(list)  # [Sample]
    events = Signal(list)  # [EventRecord]
    verifications = Signal(list)  # [CommandHandle], each the handle whose stages changed
    tick = Signal()  # after every flush, data or not: the beat views refresh and age things on

    KINDS = ("sample", "event", "verification")

    def __init__(self, client: Any, interval_ms: int = REFRESH_MS, max_items: int = QUEUE_ITEMS,
                 parent: QObject | None = None):
        super().__init__(parent)
        self.client = client
        self._lock = threading.Lock()
        self._queues: dict[str, deque] = {k: deque(maxlen=max_items) for k in self.KINDS}
        self.dropped = 0  # items that fell off a full queue
        self.received = 0
        self.flushes = 0
        self.paused = False
        self._stopped = False  # the client keeps its subscribers; a closed console ignores them
        client.subscribe(self._on_item)
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.flush)
        self.timer.start()

    def _on_item(self, kind: str, item: Any) -> None:
        """Runs on the reader thread: no Qt here, only a locked append."""
        q = self._queues.get(kind)
        if q is None or self._stopped:
            return
        with self._lock:
            if len(q) == q.maxlen:
                self.dropped += 1
            q.append(item)
            self.received += 1

    def set_paused(self, paused: bool) -> None:
        self.paused = paused
        if not paused:
            self.flush()

    def pending(self) -> int:
        with self._lock:
            return sum(len(q) for q in self._queues.values())

    def flush(self) -> None:
        if not self.paused:
            with self._lock:
                taken = {}
                for kind, q in self._queues.items():
                    taken[kind] = list(q)
                    q.clear()
            if taken["sample"]:
                self.samples.emit(taken["sample"])
            if taken["event"]:
                self.events.emit(taken["event"])
            if taken["verification"]:
                self.verifications.emit(taken["verification"])
        self.flushes += 1
        self.tick.emit()

    def stop(self) -> None:
        self._stopped = True
        self.timer.stop()
