"""Pacing the demo's rig for an operator, and telling the operator how it is going.

The rig's `Session` steps a lockstep node as fast as node and physics allow; the demo slows it to
`speed` simulated seconds per wall second so a person can watch. Whether it keeps up is a fact an
operator needs (a demo asked for 60x that runs at 9x shows a day in two hours and three hours of
eclipse as twenty minutes of nothing), so the pacer measures the speed it achieves over the last
few wall seconds, and `Progress` snapshots it with the simulated time and the criteria so far for
the terminal (`TerminalProgress`, a tqdm bar) and the console's status bar.
"""
from __future__ import annotations

import math
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass

#: Wall seconds over which the achieved speed is measured (long enough to smooth a slow step).
SPEED_WINDOW_S = 5.0
#: Wall seconds between two progress snapshots.
PROGRESS_EVERY_S = 0.5
#: Below this fraction of the speed asked, the demo counts as not keeping up.
KEEPING_UP = 0.8


@dataclass(frozen=True)
class Progress:
    sim_s: float  # simulated seconds done
    total_s: float  # simulated seconds asked for
    wall_s: float  # wall seconds since the first step
    speed: float  # simulated seconds per wall second, over the last SPEED_WINDOW_S
    speed_asked: float  # math.inf: as fast as it goes
    passed: int  # criteria passing so far
    failed: tuple[str, ...]  # names of the criteria failing so far

    @property
    def mean_speed(self) -> float:
        return self.sim_s / self.wall_s if self.wall_s > 0 else 0.0

    @property
    def keeping_up(self) -> bool:
        return math.isinf(self.speed_asked) or self.speed >= KEEPING_UP * self.speed_asked

    def speed_text(self) -> str:
        asked = "as fast as it goes" if math.isinf(self.speed_asked) else f"{self.speed_asked:g}x asked"
        return f"{self.speed:.0f}x achieved ({asked})"

    def criteria_text(self) -> str:
        if not self.failed:
            return f"criteria so far: {self.passed} pass"
        return f"criteria so far: {self.passed} pass, {len(self.failed)} FAIL ({', '.join(self.failed[:2])})"


class Pacer(threading.Thread):
    """Steps the rig session at `speed` simulated seconds per wall second (math.inf: flat out),
    taking a `Progress` snapshot every PROGRESS_EVERY_S (in `latest`, and to `on_progress`)."""

    def __init__(self, session, speed: float, on_progress=None):
        super().__init__(name="rig", daemon=True)
        self.session, self.speed, self.on_progress = session, speed, on_progress
        self.stop = threading.Event()
        self.error: BaseException | None = None
        self.wall_s = 0.0
        self.latest: Progress | None = None
        self._window: deque[tuple[float, float]] = deque()

    def run(self) -> None:
        s = self.session
        t0 = next_report = time.monotonic()
        try:
            while not s.done and not self.stop.is_set():
                s.step()
                now = time.monotonic()
                if now >= next_report:
                    self._report(now - t0)
                    next_report = now + PROGRESS_EVERY_S
                if not math.isinf(self.speed):
                    ahead = s.k * s.scenario.step_s / self.speed - (now - t0)
                    if ahead > 0:
                        self.stop.wait(ahead)
            self._report(time.monotonic() - t0)
        except BaseException as exc:  # the caller reports it; the process still shuts down cleanly
            self.error = exc
        self.wall_s = time.monotonic() - t0

    def _report(self, wall_s: float) -> None:
        s = self.session
        sim_s = s.k * s.scenario.step_s
        self._window.append((wall_s, sim_s))
        while self._window[0][0] < wall_s - SPEED_WINDOW_S:
            self._window.popleft()
        w0, s0 = self._window[0]
        speed = (sim_s - s0) / (wall_s - w0) if wall_s > w0 else (sim_s / wall_s if wall_s > 0 else 0.0)
        checks = s.checks_so_far()
        self.latest = Progress(sim_s, s.scenario.duration_s, wall_s, speed, self.speed,
                               sum(1 for _, ok, _ in checks if ok), tuple(n for n, ok, _ in checks if not ok))
        if self.on_progress is not None:
            self.on_progress(self.latest)


class TerminalProgress:
    """Progress on stderr: simulated hours done, the speed achieved against the speed asked, and
    the criteria so far. On a terminal a tqdm bar redrawn in place; in a log, a line every
    LOG_EVERY_S (a bar's carriage returns would run together there)."""

    LOG_EVERY_S = 10.0

    def __init__(self, total_s: float, file=None):
        self.file = file or sys.stderr
        self.total_h = total_s / 3600
        self._lock = threading.Lock()
        self._logged_at = -math.inf
        self._last: Progress | None = None
        self.bar = None
        if hasattr(self.file, "isatty") and self.file.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=round(self.total_h, 3), file=self.file, mininterval=0.5, dynamic_ncols=True,
                            bar_format="simulated {n:.2f}/{total:.2f} h |{bar:20}| {desc}")

    def _text(self, p: Progress) -> str:
        return f"{p.speed_text()}; {p.criteria_text()}"

    def __call__(self, p: Progress) -> None:
        with self._lock:
            self._last = p
            if self.bar is not None:
                self.bar.set_description_str(self._text(p), refresh=False)
                self.bar.update(round(p.sim_s / 3600, 3) - self.bar.n)
            elif p.wall_s - self._logged_at >= self.LOG_EVERY_S:
                self._logged_at = p.wall_s
                self._log(p)

    def _log(self, p: Progress) -> None:
        print(f"simulated {p.sim_s / 3600:.2f}/{self.total_h:.2f} h: {self._text(p)}", file=self.file, flush=True)

    def close(self) -> None:
        with self._lock:
            if self.bar is not None:
                self.bar.close()
                self.bar = None
            elif self._last is not None and self._last.wall_s != self._logged_at:
                self._log(self._last)
                self._logged_at = self._last.wall_s
