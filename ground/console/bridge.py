"""From the client's reader thread to the GUI thread, in batches.

The client calls its subscribers on its reader thread, where no Qt model may be touched. The
bridge only appends what arrives to bounded queues under a lock; a QTimer in the GUI thread
swaps the queues out and emits each as one batch, so models and plots update a few times a
second however fast telemetry arrives, and a flood costs memory only up to the queue bound
(what falls off is counted, never silent).

Pausing the display (F5) stops the emissions, not the collection: what arrives meanwhile is
held, within the same bound, and delivered on resume.

A reader decoding a flood holds the GIL nearly all the time and lets go of it only for
microseconds at a time (around each native call), too briefly for the GUI thread, waiting on
it, to wake and take it; so the 5 ms forced switch never comes. The GUI thread needs the GIL for
every call from Qt into Python, and a full repaint makes thousands (row counts, `data()`,
`boundingRect()`): under a hostile stream a first paint took 0.44 s (1.4 s at worst), 56 % of
it asleep in take_gil over 11 600 waits of ~20 us each. So when a flush is overdue by LATE_S, the
GUI thread is starved, and the reader, in `_on_item`, sleeps YIELD_S out of every 2 x YIELD_S
until the next flush: the GUI thread gets the GIL, and the link never more than halves.
"""
from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any, Callable

from PySide6.QtCore import QObject, QTimer, Signal

from gridfree.ground.console.gcguard import GuiThreadCollector

#: Items held per kind between two flushes (or while paused) before the oldest are dropped.
QUEUE_ITEMS = 200_000
REFRESH_MS = 100
#: How overdue a flush is when the GUI thread counts as starved of the GIL by the reader.
LATE_S = 0.1
#: While it is, the reader thread sleeps this long, then runs at least as long, and so on.
YIELD_S = 0.01


class ClientBridge(QObject):
    samples = Signal(list)  # [Sample]
    events = Signal(list)  # [EventRecord]
    verifications = Signal(list)  # [CommandHandle], each the handle whose stages changed
    tick = Signal()  # after every flush, data or not: the beat views refresh and age things on

    KINDS = ("sample", "event", "verification")

    def __init__(self, client: Any, interval_ms: int = REFRESH_MS, max_items: int = QUEUE_ITEMS,
                 parent: QObject | None = None, clock: Callable[[], float] = time.monotonic):
        super().__init__(parent)
        self.client = client
        self._lock = threading.Lock()
        self._queues: dict[str, deque] = {k: deque(maxlen=max_items) for k in self.KINDS}
        self.dropped = 0  # items that fell off a full queue
        self.received = 0
        self.flushes = 0
        self.paused = False
        self._stopped = False  # the client keeps its subscribers; a closed console ignores them
        self.reader_pauses = 0  # times the reader thread slept to let a starved GUI thread run
        self._gui_thread = threading.get_ident()
        self._late_after_s = interval_ms / 1000 + LATE_S
        self._clock = clock  # monotonic seconds; a test moves it instead of sleeping
        self._flushed_at = self._paused_at = clock()
        self.collector = GuiThreadCollector(self)  # no Qt object freed on the reader thread (gcguard.py)
        client.subscribe(self._on_item)
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.flush)
        self.timer.start()

    def _on_item(self, kind: str, item: Any) -> None:
        """Runs on the reader thread: no Qt here, only a locked append (after a pause, while the
        GUI thread is starved: see the module's note)."""
        if self._stopped:
            return
        now = self._clock()
        if (now - self._flushed_at > self._late_after_s and now - self._paused_at > YIELD_S
                and threading.get_ident() != self._gui_thread):
            time.sleep(YIELD_S)
            self._paused_at = self._clock()
            self.reader_pauses += 1
        q = self._queues.get(kind)
        if q is None:
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
        self._flushed_at = self._clock()
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
        self.collector.release()
