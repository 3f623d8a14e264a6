"""Scheduling study benchmarks: what the onboard planner makes of a day of eclipse-season energy
against the baselines and the clairvoyant bound, flown in the study's simulator."""
from __future__ import annotations

from gridfree.flight.study.cli import CASES, compare
from gridfree.native.benchkit import Figure


def sched_figures():
    """Verified work over a simulated day of the eclipse-season case (schedsim): the same world for
    every policy, so the ratios are exact, not timings. The clairvoyant ratio of greedy shows
    how much any plan could gain over greedy there."""
    case = next(c for c in CASES if c.name == "eclipse-season")
    outcomes, bound = compare(case)
    by = {r.policy: r for r in outcomes}
    ours, greedy = by["planned"], by["greedy"]
    yield Figure("sched_vs_greedy", ours.verified_mflop / greedy.verified_mflop, "x greedy",
                 f">= 1.2 (the clairvoyant bound is {bound / greedy.verified_mflop:.2f}x greedy here)")
    yield Figure("sched_vs_optimal", ours.verified_mflop / bound, "x clairvoyant", ">= 0.95")
    yield Figure("sched_uv_events", ours.uv_events, "events", "0")
    yield Figure("sched_max_dod_pct", 100 * ours.max_dod, "%", "<= 30")


BENCHMARKS = [sched_figures]
