"""What the demo adds to the console: the speed it achieves in the status bar, and screenshots
that show one moment.

A screenshot taken while telemetry still arrives mixes moments: the tab on screen was refreshed at
the last beat, the next tab at the beat after its switch, and the link counters in between. So the
demo takes them once the downlink has gone quiet (the rig stopped stepping, so a lockstep node
sends nothing new), with every tab refreshed on the same data, and takes them again if anything
arrived meanwhile.
"""
from __future__ import annotations

import threading
import time

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication, QLabel

from gridfree.ground.demopace import Pacer

WARN_STYLE = "QLabel { background: #f0b400; color: black; padding: 0 6px; border-radius: 3px; }"
#: The downlink counts as quiet after this long without anything new.
QUIET_S = 1.0
#: The longest the demo waits for the downlink to go quiet before taking the shots anyway.
QUIET_TIMEOUT_S = 15.0


class SpeedLabel(QLabel):
    """"sim 1.25 h · 58x achieved (60x asked)" in the status bar; amber when it does not keep up."""

    def __init__(self, pacer: Pacer, parent=None):
        super().__init__("sim —", parent)
        self.setObjectName("demoSpeed")
        self.pacer = pacer
        self.timer = QTimer(self)
        self.timer.timeout.connect(self.refresh)
        self.timer.start(500)

    def refresh(self) -> None:
        p = self.pacer.latest
        if p is None:
            return
        self.setText(f"sim {p.sim_s / 3600:.2f} h · {p.speed_text()}")
        self.setStyleSheet("" if p.keeping_up else WARN_STYLE)
        self.setToolTip("" if p.keeping_up else
                        "The rig cannot step the node this fast on this machine: simulated time runs slower "
                        "than asked. Ask for less with gridfree demo --speed.")


class Arrivals:
    """Counts what the client delivers (on its reader thread), to tell when the downlink is quiet."""

    def __init__(self, client):
        self.count, self.at = 0, time.monotonic()
        self._lock = threading.Lock()
        client.subscribe(self._seen)

    def _seen(self, kind, item) -> None:
        with self._lock:
            self.count += 1
            self.at = time.monotonic()

    def quiet_for(self) -> float:
        with self._lock:
            return time.monotonic() - self.at


def _settle(app: QApplication, window, ticks: int = 2) -> None:
    """Process events until the console's beat has fired `ticks` times: what the bridge holds is
    applied and the visible tab redrawn."""
    seen = []

    def beat() -> None:
        seen.append(1)

    window.bridge.tick.connect(beat)
    deadline = time.monotonic() + 5.0
    while len(seen) < ticks and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.01)
    window.bridge.tick.disconnect(beat)
    app.processEvents()


def still_screenshots(app: QApplication, window, arrivals: Arrivals, shots: list) -> None:
    """Save `shots` [(tab widget, path)] showing one moment: after the downlink has gone quiet,
    each tab refreshed on the same data; retaken (up to three times) if anything arrived meanwhile."""
    deadline = time.monotonic() + QUIET_TIMEOUT_S
    while arrivals.quiet_for() < QUIET_S and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.05)
    for _ in range(3):
        before = arrivals.count
        for tab, path in shots:
            window.tabs.setCurrentWidget(tab)
            _settle(app, window)
            window.screenshot(path)
        if arrivals.count == before:
            return
