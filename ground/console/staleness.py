"""How old each value is, on the clock the values carry, and when it counts as stale.

Every value came in a housekeeping packet that the dictionary says is sent every `period_s`
onboard seconds (a channel in two packets is expected at the shorter period). A value's age is
onboard time now minus the onboard time of its report, so ages are in the same time base as the
values, live and in replay, and a node whose clock differs from the ground's by months still ages
its values correctly. A value is stale when its age exceeds STALE_PERIODS of its periods: one
missed report is jitter, two missed reports and half a period more is a silence. Stale values
read greyed and italic and carry the words "STALE 12 s", so the cue is not a colour alone.

"Onboard time now" is the newest onboard time received. On a live link it runs on between
reports: after DELIVERY_GRACE_S of the ground's clock without anything newer, it advances at the
rate onboard time has been advancing against the ground's clock (1 s a second for a real node,
60 for a node in a 60x lockstep run), so a node that falls entirely silent goes stale too. In a
replay it does not run on: it is the newest onboard time replayed, which holds still while the
replay is paused or at its end, and a seek rebuilds the display with a fresh clock. (A silence in
a recorded log shows when the replay passes it, in the values that were not in the next frames.)
"""
from __future__ import annotations

import math
from collections import deque
from typing import Callable

from gridfree.protocols.dictionary import Dictionary

#: A value is stale when older than this many of its housekeeping periods (documented above).
STALE_PERIODS = 2.5
#: Ground seconds after the newest report before a live clock runs on without reports: the
#: display's batching (0.1 s) and the link's latency, with room to spare.
DELIVERY_GRACE_S = 1.0
#: Ground seconds of (ground, onboard) pairs over which the onboard rate is measured.
RATE_WINDOW_S = 5.0
#: An onboard time this far behind the newest is a node whose clock was reset: start again.
JUMP_BACK_S = 300.0


def expected_periods(dictionary: Dictionary) -> dict[str, float]:
    """Channel name -> the shortest period of the housekeeping packets it is reported in."""
    out: dict[str, float] = {}
    for hk in dictionary.housekeeping:
        for name in hk.channels:
            out[name] = min(out.get(name, math.inf), hk.period_s)
    return out


def age_text(age_s: float) -> str:
    """An age for a person: whole seconds up to two minutes, then minutes, then hours."""
    age_s = max(0.0, age_s)
    if age_s < 120:
        return f"{int(age_s)} s"
    if age_s < 7200:
        return f"{int(age_s // 60)} min"
    return f"{age_s / 3600:.1f} h"


def stale_cue(age_s: float) -> str:
    return f"STALE {age_text(age_s)}"


def period_text(period_s: float) -> str:
    return f"{period_s:g} s"


class OnboardClock:
    """Onboard time now, from the onboard times received (see the module's note).

    `reference` is the ground's monotonic clock on a live link (injected, so tests move it by
    hand), or None for a replay, where the clock is the newest onboard time replayed."""

    def __init__(self, reference: Callable[[], float] | None):
        self.reference = reference
        self.latest: float | None = None  # the newest onboard time received
        self.rate = 1.0  # onboard seconds per ground second, measured
        self._latest_at = 0.0  # ground time at which `latest` arrived
        self._pairs: deque[tuple[float, float]] = deque()

    def observe(self, onboard_s: float) -> None:
        """A report stamped `onboard_s` has arrived (older ones than the newest change nothing)."""
        if not math.isfinite(onboard_s):
            return
        if self.latest is not None and onboard_s <= self.latest:
            if onboard_s >= self.latest - JUMP_BACK_S:
                return
            self._pairs.clear()  # the node's clock went back: a reboot, a new time correlation
        self.latest = onboard_s
        if self.reference is None:
            return
        ground = self.reference()
        self._latest_at = ground
        pairs = self._pairs
        pairs.append((ground, onboard_s))
        while len(pairs) > 2 and ground - pairs[0][0] > RATE_WINDOW_S:
            pairs.popleft()
        (g0, o0), (g1, o1) = pairs[0], pairs[-1]
        if g1 - g0 >= 1.0:  # measured over at least a second of the ground's clock
            self.rate = min(max((o1 - o0) / (g1 - g0), 0.0), 1e4)

    def now(self) -> float | None:
        """Onboard time now; None before the first report."""
        if self.latest is None or self.reference is None:
            return self.latest
        idle = self.reference() - self._latest_at - DELIVERY_GRACE_S
        return self.latest + self.rate * max(0.0, idle)
