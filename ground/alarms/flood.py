"""Alarm flood detection as EEMUA 191 defines it for one operator: more than 10 alarms annunciated
in 10 minutes.

In a flood an operator can no longer read each alarm; the console says so plainly instead of
letting the table scroll. The window slides: each annunciation counts for exactly ten minutes
of ground monotonic time after it, so a flood ends by itself once the rate drops.
"""
from __future__ import annotations

from collections import deque

FLOOD_WINDOW_S = 600.0
FLOOD_THRESHOLD = 10  # more than this many in the window is a flood


class FloodCounter:
    def __init__(self, window_s: float = FLOOD_WINDOW_S, threshold: int = FLOOD_THRESHOLD):
        self.window_s, self.threshold = window_s, threshold
        self._times: deque[float] = deque()
        self.total = 0  # annunciations since the console started

    def annunciated(self, now_s: float) -> None:
        self._times.append(now_s)
        self.total += 1

    def count(self, now_s: float) -> int:
        """Annunciations in the window (now - window, now]."""
        times, start = self._times, now_s - self.window_s
        while times and times[0] <= start:
            times.popleft()
        return len(times)

    def in_flood(self, now_s: float) -> bool:
        return self.count(now_s) > self.threshold
