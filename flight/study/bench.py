"""Scheduling study benchmarks (issue 19): the planner against the best of the strong baselines and
the clairvoyant bound, a simulated day of every case (flight/study/cases.py) with forecast errors
on. Exact ratios of simulated work, not timings: the world is seeded, so a rerun gives the same
figures."""
from __future__ import annotations

from gridfree.flight.study.cases import cases
from gridfree.flight.study.cli import OURS, compare
from gridfree.native.benchkit import Figure


def _worst(compared, attr: str, highest: bool = False):
    pick = max if highest else min
    c = pick(compared, key=lambda c: getattr(c, attr))
    return getattr(c, attr), c.case.name


def sched_figures():
    everything = [compare(case) for case in cases()]
    deadlines = [c for c in everything if not c.case.name.endswith("/energy")]
    energy = [c for c in everything if c.case.name.endswith("/energy")]
    value, name = _worst(deadlines, "ours_vs_best")
    yield Figure("sched_vs_best_baseline", value, "x best baseline",
                 f">= 1.05 (worst of {len(deadlines)} cases with deadlines, overloaded or not, {name}; "
                 "verified work at equal end SOC)")
    value, name = _worst(energy, "ours_vs_best")
    yield Figure("sched_vs_best_baseline_energy", value, "x best baseline",
                 f">= 0.98 (worst of {len(energy)} plain energy cases, {name})")
    value, name = _worst(everything, "ours_vs_bound")
    yield Figure("sched_vs_optimal", value, "x clairvoyant", f">= 0.95 (worst of {len(everything)} cases, {name}; "
                 "forecast errors on, the bound knows the truth)")
    ours = [c.by[OURS] for c in everything]
    yield Figure("sched_limit_violations", sum(r.violation_count for r in ours), "minutes",
                 f"0 (SOC, DoD, current and thermal, counted each minute in the truth, {len(everything)} days)")
    value, name = _worst(everything, "aging_vs_best", highest=True)
    yield Figure("sched_aging_vs_best_baseline", value, "x best baseline",
                 f"<= 1.0 (battery life used, worst of {len(everything)} cases, {name}; rainflow, Miner's rule)")


BENCHMARKS = [sched_figures]
