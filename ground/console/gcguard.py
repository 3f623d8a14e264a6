"""Garbage collection on the GUI thread only, while a console is open.

Python's cyclic collector runs on whichever thread happens to allocate when its threshold is
reached. In a console that is often the link's reader thread, and a cycle it collects may hold Qt
objects (a closed window's menus, a plot's items): their destructors then run off the GUI thread,
take Qt's connection lock and wait for the GIL, while the GUI thread holds the GIL and waits for
that lock. `gridfree bench console` hung exactly so: `~QMenu` under `gc_collect_main` on the feeder
thread, the GUI thread in `QMetaObject::disconnect` from a pyqtgraph axis update.

The remedy pyqtgraph documents (its `GarbageCollector`): automatic collection off, the GUI thread
collecting on a timer, generation by generation as the thresholds would. Here it is counted per
user, so automatic collection comes back when the last console stops (a test process goes on with
its other tests).
"""
from __future__ import annotations

import gc
import threading

from PySide6.QtCore import QObject, QTimer

INTERVAL_MS = 500

_lock = threading.Lock()
_users = 0
_was_enabled = True


class GuiThreadCollector(QObject):
    def __init__(self, parent: QObject | None = None, interval_ms: int = INTERVAL_MS):
        super().__init__(parent)
        global _users, _was_enabled
        with _lock:
            if _users == 0:
                _was_enabled = gc.isenabled()
                gc.disable()
            _users += 1
        self._active = True
        self.collections = 0
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.collect)
        self.timer.start()

    def collect(self) -> None:
        """What the automatic collector would have done by now, on this (the GUI) thread."""
        thresholds, counts = gc.get_threshold(), gc.get_count()
        for generation in (2, 1, 0):  # the oldest generation due takes the younger ones with it
            if counts[generation] > thresholds[generation]:
                gc.collect(generation)
                self.collections += 1
                return

    def release(self) -> None:
        """Stop collecting here; the last user gives automatic collection back."""
        global _users
        if not self._active:
            return
        self._active = False
        self.timer.stop()
        with _lock:
            _users -= 1
            if _users == 0 and _was_enabled:
                gc.enable()
