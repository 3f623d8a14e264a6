"""The power budget per load, and the plan that turns it into a grant per orbit segment.

Loads are served in priority order: the unswitched bus (flight computer, EPS, radio receiver)
always, then the survival heater, then the transmitter, and compute gets what is left. Each load's
demand is its draw averaged over the last orbit, so a heater that runs only in eclipse is budgeted
at its duty cycle, not at its nameplate. What is "available" is what the arrays will give over the
coming orbit plus the battery energy above its floor, so a budget that balances is one the battery
can sustain orbit after orbit.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass

PAYLOAD = "Payload"


@dataclass(frozen=True)
class Load:
    name: str
    priority: int  # served in ascending order; 0 is never shed


LOADS = (Load("Avionics", 0), Load("Heater", 1), Load("RadioTx", 2), Load(PAYLOAD, 3))


class LoadBudget:
    """Orbit-averaged draw per load and the allocation of the available power among them."""

    def __init__(self, loads=LOADS):
        self.loads = sorted(loads, key=lambda load: load.priority)
        self.used_W = {load.name: 0.0 for load in self.loads}
        self._window: dict[str, deque] = {load.name: deque() for load in self.loads}
        self._sum = {load.name: 0.0 for load in self.loads}

    def observe(self, used_W: dict[str, float], t: float, period_s: float) -> None:
        """One sample of each load's draw, kept for one orbit: a true orbit average, because a
        shorter filter would still swing with the eclipse the heater follows."""
        for name, w in used_W.items():
            self.used_W[name] = w
            window = self._window[name]
            window.append((t, w))
            self._sum[name] += w
            while window[0][0] <= t - period_s:
                self._sum[name] -= window.popleft()[1]

    @property
    def average_W(self) -> dict[str, float | None]:
        return {name: self._sum[name] / len(w) if w else None for name, w in self._window.items()}

    @property
    def essentials_W(self) -> float:
        """The orbit-average draw of everything but the payload."""
        avg = self.average_W
        return sum(avg[load.name] or 0.0 for load in self.loads if load.name != PAYLOAD)

    def allocate(self, available_W: float, payload_max_W: float) -> dict[str, float]:
        """Each load's share of `available_W`, by priority; priority 0 is covered even past it."""
        out, left, avg = {}, available_W, self.average_W
        for load in self.loads:
            want = payload_max_W if load.name == PAYLOAD else (avg[load.name] or 0.0)
            give = want if load.priority == 0 else max(0.0, min(want, left))
            out[load.name] = give
            left -= give
        return out


@dataclass(frozen=True)
class GrantSegment:
    """A stretch of sunlight or shadow, and what compute may draw in it."""

    start_s: float
    end_s: float
    sunlit: bool
    power_W: float
    energy_Wh: float


def plan_segments(t: float, period_s: float, orbits: int, eclipses: list[tuple[float, float]], *,
                  array_sun_W: float, essentials_W: float, drawdown_Wh: float, cycle_Wh: float,
                  payload_max_W: float) -> list[GrantSegment]:
    """Split the next orbits into sunlit and shadow segments and give compute its share of each.

    Each orbit, compute may use what the arrays give beyond the essentials (plus, in the first
    orbit, the battery energy above its floor, `drawdown_Wh`). It is spent in sunlight first,
    where it costs the battery nothing, and what is left in shadow, as far as the battery may cycle
    in one orbit (`cycle_Wh`, the DoD limit as energy) after the essentials' own shadow draw. So
    the battery ends each orbit where it started, less the drawdown, or higher when compute is at
    its maximum. Charge-rate limits are the EPS's business and are not modelled here."""
    end = t + orbits * period_s
    edges = sorted({t, end, *(x for a, b in eclipses for x in (a, b) if t < x < end)})
    pieces = [(a, b, not any(ea <= (a + b) / 2 < eb for ea, eb in eclipses)) for a, b in zip(edges, edges[1:])]
    out = []
    for k in range(orbits):
        o0, o1 = t + k * period_s, t + (k + 1) * period_s
        mine = [(max(a, o0), min(b, o1), sun) for a, b, sun in pieces if a < o1 and b > o0 and min(b, o1) > max(a, o0)]
        sun_s = sum(b - a for a, b, sun in mine if sun)
        shade_s = sum(b - a for a, b, sun in mine if not sun)
        budget_Wh = max(0.0, (array_sun_W * sun_s - essentials_W * period_s) / 3600.0) + (drawdown_Wh if k == 0 else 0.0)
        sun_Wh = min(budget_Wh, payload_max_W * sun_s / 3600.0)
        shade_Wh = max(0.0, min(budget_Wh - sun_Wh, payload_max_W * shade_s / 3600.0,
                                cycle_Wh - essentials_W * shade_s / 3600.0))
        watts = {True: sun_Wh * 3600.0 / sun_s if sun_s else 0.0,
                 False: shade_Wh * 3600.0 / shade_s if shade_s else 0.0}
        out.extend(GrantSegment(a, b, sun, watts[sun], watts[sun] * (b - a) / 3600.0) for a, b, sun in mine)
    return out
