"""Battery aging from a state-of-charge history: rainflow cycle counting (ASTM E1049-85, section
5.4.4) against a cycle-life curve, summed by Miner's rule.

A LEO battery sees one discharge per orbit (about 15 a day) plus whatever smaller wiggles the loads
add. Equivalent full cycles (charge throughput / capacity) cannot tell one 30 % discharge from three
of 10 %, yet a Li-ion cell survives the three far better; counting each closed charge/discharge loop
with its own depth and weighting it by the cycles the cell survives at that depth can. The node's
scheduling study and the rig's scenario report both use `life_used`, so the two agree on what
"battery life used" means.

    >>> [tuple(c) for c in rainflow([-2, 1, -3, 5, -1, 3, -4, 4, -2])][:2]
    [(3.0, -0.5, 0.5), (4.0, -1.0, 0.5)]
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple, Sequence

import numpy as np

SOC_SLACK = 1e-6  # SOC a simulator's rounding put just outside 0..1 is still a fraction, not an error


class Cycle(NamedTuple):
    """One counted cycle: its range (peak to valley, in the series' units), its mean, and `count`
    1.0 for a closed cycle or 0.5 for a half cycle (a range counted once, by step 5 or step 6)."""

    range: float
    mean: float
    count: float


def reversals(series: Sequence[float] | np.ndarray) -> np.ndarray:
    """The series' peaks and valleys in order, its first and last points included (ASTM E1049
    counts from the first point and to the last). Repeated values (a flat stretch) and points on a
    monotone stretch are dropped: they close no cycle. Raises ValueError for a series that is not
    one-dimensional or holds a NaN or an infinity."""
    x = np.asarray(series, dtype=float)
    if x.ndim != 1:
        raise ValueError(f"rainflow: expected a one-dimensional series, got shape {x.shape}")
    if not np.isfinite(x).all():
        bad = int(np.flatnonzero(~np.isfinite(x))[0])
        raise ValueError(f"rainflow: sample {bad} is {float(x[bad])}, not a finite number")
    if x.size < 2:
        return x.copy()
    moved = np.diff(x) != 0.0
    x = x[np.concatenate(([True], moved))]  # flat stretches collapse to their first point
    if x.size < 3:
        return x
    rising = np.diff(x) > 0.0
    turns = np.flatnonzero(rising[1:] != rising[:-1]) + 1
    return x[np.concatenate(([0], turns, [x.size - 1]))]


def _count(rev: np.ndarray) -> tuple[list[float], list[float], list[float]]:
    """The three-point rule of E1049-85 5.4.4 over the reversals: ranges, means and counts.

    The stack holds the points not yet discarded; the starting point S is always its first point,
    so "range Y contains S" is "the stack holds exactly three points". Steps (numbers as in the
    standard): 1 read the next reversal; 2 form X (the newest range) and Y (the one before it);
    3 if X < Y read on; 4 otherwise, if Y does not contain S count Y as one cycle and discard its
    two points; 5 if it does, count Y as half a cycle and discard its first point (S moves on);
    6 at the end count every range still on the stack as half a cycle."""
    ranges: list[float] = []
    means: list[float] = []
    counts: list[float] = []
    stack: list[float] = []
    for v in rev.tolist():
        stack.append(v)
        while len(stack) >= 3:
            a, b, c = stack[-3], stack[-2], stack[-1]
            y = abs(b - a)
            if abs(c - b) < y:
                break
            ranges.append(y)
            means.append((a + b) / 2.0)
            if len(stack) == 3:
                counts.append(0.5)
                del stack[0]
            else:
                counts.append(1.0)
                del stack[-3:-1]
    for a, b in zip(stack, stack[1:]):
        ranges.append(abs(b - a))
        means.append((a + b) / 2.0)
        counts.append(0.5)
    return ranges, means, counts


def rainflow(series: Sequence[float] | np.ndarray) -> list[Cycle]:
    """Every cycle of `series` by ASTM E1049-85 5.4.4 rainflow counting, in the order counted
    (closed and step-5 half cycles as found, then the residue's half cycles, oldest first)."""
    return [Cycle(r, m, n) for r, m, n in zip(*_count(reversals(series)))]


@dataclass(frozen=True)
class CycleLife:
    """Cycles to end of life of a Li-ion cell cycled in LEO, as a function of depth of discharge:
    N(DoD) = n_ref * (DoD / dod_ref) ** -k (a Woehler-type power law; DoD as a fraction 0..1).

    Defaults, and where they come from:
    - n_ref = 30 000 cycles at dod_ref = 0.20: JAXA's simulated-LEO cycling of 10-100 Ah-class
      Li-ion cells ("Cycle-life testing of large-capacity lithium-ion cells in simulated satellite
      operation") reports life "exceeding 30,000 cycles in a simulated LEO mode" for some cells:
      five years in LEO are ~27 000 orbits at 550 km. It is conservative for the best space cells: GS
      Yuasa's large LEO cells passed 40 000 cycles at 25 % DoD still meeting their requirement
      (Imamura et al., 27th Space Energy Symposium, JAXA/ISAS, 2008), where this curve says 19 200.
    - k = 2: an assumption, not a fit to one cell's data. The power law in DoD is the usual Woehler
      form for rainflow-based battery aging; with k = 2, halving the DoD quadruples the cycles.
    A ratio of the life two histories used (the scheduling study's planner against a baseline)
    depends on k only, not on n_ref or dod_ref. A mission puts its qualified cell's numbers here.
    End of life is whatever criterion those numbers were measured to (typically 80 % of initial
    capacity); temperature, C-rate, mean SOC and calendar aging are not modelled.
    """

    n_ref: float = 30_000.0
    dod_ref: float = 0.20
    k: float = 2.0

    def __post_init__(self):
        for name, lo, hi in (("n_ref", 0.0, math.inf), ("dod_ref", 0.0, 1.0), ("k", 0.0, math.inf)):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or not (
                    lo < v <= hi):
                raise ValueError(f"CycleLife.{name} must be a finite number in ({lo}, {hi}], got {v!r}")

    def cycles_to_failure(self, dod: float | np.ndarray) -> float | np.ndarray:
        """Cycles of this depth (fraction 0..1) the cell survives; infinite at zero depth."""
        with np.errstate(divide="ignore"):
            n = self.n_ref * (np.asarray(dod, dtype=float) / self.dod_ref) ** -self.k
        return float(n) if np.ndim(n) == 0 else n

    def damage(self, dod: np.ndarray, count: np.ndarray) -> float:
        """Miner's sum: each cycle uses count / N(dod) of the life (written so a zero-depth cycle
        costs exactly nothing, no division by an infinite N)."""
        return float(np.sum(count * (np.asarray(dod, dtype=float) / self.dod_ref) ** self.k) / self.n_ref)

    def life_used(self, soc: Sequence[float] | np.ndarray) -> float:
        return life_used(soc, self)


def life_used(soc: Sequence[float] | np.ndarray, curve: CycleLife = CycleLife()) -> float:
    """The fraction of the battery's cycle life a state-of-charge history used (0.0001 = 0.01 %):
    the history's rainflow cycles, each a depth of discharge equal to its range, summed by Miner's
    rule against `curve`. `soc` is a fraction 0..1 sampled often enough to catch every discharge's
    bottom (a sample a minute is plenty for LEO orbits). Raises ValueError for samples outside
    0..1 (a percentage passed by mistake) or not finite."""
    rev = reversals(soc)
    if rev.size and (rev.min() < -SOC_SLACK or rev.max() > 1.0 + SOC_SLACK):
        raise ValueError(f"life_used: SOC must be a fraction 0..1, got samples from {rev.min():g} to "
                         f"{rev.max():g}" + (" (a percentage?)" if rev.max() > 1.0 else ""))
    ranges, _, counts = _count(rev)
    return curve.damage(np.asarray(ranges), np.asarray(counts))
