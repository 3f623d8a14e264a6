"""`gridfree sched-compare`: the payload power policies (flight/compute/policies.py, the code the
node flies) flown side by side in one simulated world with forecast errors on (schedsim.py), against
the clairvoyant bound; a table on stdout and one plot per case (SOC, payload power and temperature
over the day) as SVG.

Work is verified work at equal end SOC (the charge a policy leaves beyond its start credited at the
board's best work per Wh), so no policy wins by ending the day emptier. Each case names the best of
the strong baselines (every policy but the planner and the naive greedy) and the planner's ratio
to it. Limit violations are counted minute by minute in the truth; a policy whose worst depth of
discharge in any orbit exceeds the power manager's DoD limit (30 %) is marked OVER in the table,
named in a line after it and in its plot's title, and flagged `dod_over_limit` in --json.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from gridfree.flight.compute.policies import POLICIES
from gridfree.flight.study import svgplot
from gridfree.flight.study.cases import WORKLOADS, cases, orbit_of_scenario, parse_orbit, with_workload
from gridfree.flight.study.schedsim import DOD_LIMIT, STEP_S, Case, Outcome, clairvoyant, fly
from gridfree.flight.study.world import FORECAST_ERRORS, Errors
from gridfree.protocols.cliargs import positive_float

OURS = "planned"
HEAD = (f"{'case':26} {'policy':17} {'PFLOP/orbit':>11} {'TFLOP/Wh':>8} {'jobs':>5} {'missed':>6} "
        f"{'max DoD':>7} {'':4} {'end SOC':>7} {'life/day':>8} {'viol':>4}")


def strong_baseline(name: str) -> bool:
    return name != OURS and POLICIES[name].respects_limits


@dataclass
class Compared:
    case: Case
    outcomes: list[Outcome]
    bound_mflop: float

    @property
    def by(self) -> dict[str, Outcome]:
        return {r.policy: r for r in self.outcomes}

    @property
    def best_baseline(self) -> Outcome:
        return max((r for r in self.outcomes if strong_baseline(r.policy)), key=lambda r: r.credited_mflop)

    @property
    def ours_vs_best(self) -> float:
        return self.by[OURS].credited_mflop / self.best_baseline.credited_mflop

    @property
    def ours_vs_bound(self) -> float:
        return self.by[OURS].credited_mflop / self.bound_mflop

    @property
    def aging_vs_best(self) -> float:
        best = self.best_baseline.life_used
        return self.by[OURS].life_used / best if best else float("inf")


def compare(case: Case, errors: Errors = FORECAST_ERRORS, names=None) -> Compared:
    """Every policy (or those named) flown through the case, and the clairvoyant bound."""
    return Compared(case, [fly(case, POLICIES[n](), errors) for n in (names or POLICIES)], clairvoyant(case, errors))


def over_dod_limit(r: Outcome) -> bool:
    """True when the policy's worst one-orbit depth of discharge broke the node's DoD limit."""
    return r.max_dod > DOD_LIMIT


def row(case: Case, r: Outcome) -> str:
    flag = "OVER" if over_dod_limit(r) else ""
    return (f"{case.name:26} {r.policy:17} {r.work_per_orbit / 1e9:11.1f} {r.work_per_Wh / 1e6:8.1f} "
            f"{r.jobs_done:5d} {r.deadline_misses:6d} {100 * r.max_dod:6.1f}% {flag:4} {100 * r.soc[-1]:6.0f}% "
            f"{100 * r.life_per_day:7.3f}% {r.violation_count:4d}")


def verdict(c: Compared) -> str:
    best = c.best_baseline
    return (f"{c.case.name:26} {'clairvoyant':17} {c.bound_mflop / c.outcomes[0].orbits / 1e9:11.1f}   (upper bound; "
            f"planned is {c.ours_vs_bound:.3f} of it and {c.ours_vs_best:.3f}x the best baseline, {best.policy})")


def dod_verdict(over: list[tuple[str, Outcome]]) -> str:
    """One line after the table: which policies broke the DoD limit in which cases, or none."""
    limit = f"{100 * DOD_LIMIT:.0f} % DoD limit"
    if not over:
        return f"every policy kept within the {limit}"
    return f"OVER the {limit}: " + ", ".join(f"{r.policy} in {name} ({100 * r.max_dod:.1f} %)" for name, r in over)


def plot(case: Case, outcomes: list[Outcome]) -> str:
    hours = STEP_S * np.arange(len(outcomes[0].soc)) / 3600.0
    panels = [svgplot.Panel("SOC %"), svgplot.Panel("payload W"), svgplot.Panel("payload °C")]
    for r in outcomes:
        panels[0].add(r.policy, hours, 100 * np.asarray(r.soc))
        panels[1].add(r.policy, hours, r.payload_W)
        panels[2].add(r.policy, hours, r.temp_C)
    over = [f"{r.policy} {100 * r.max_dod:.1f} %" for r in outcomes if over_dod_limit(r)]
    title = f"{case.name}: payload power policies"
    if over:
        title += f" (over the {100 * DOD_LIMIT:.0f} % DoD limit: {', '.join(over)})"
    return svgplot.render(title, "hours", panels)


def figures(c: Compared) -> dict:
    out = {r.policy: {"verified_PFLOP_per_orbit": r.work_per_orbit / 1e9, "verified_TFLOP_per_Wh": r.work_per_Wh / 1e6,
                      "jobs_done": r.jobs_done, "deadline_misses": r.deadline_misses, "max_dod": r.max_dod,
                      "end_soc": r.soc[-1], "life_used_per_day": r.life_per_day, "violations": dict(r.violations),
                      "dod_limit": DOD_LIMIT, "dod_over_limit": bool(over_dod_limit(r))} for r in c.outcomes}
    out.update(clairvoyant_PFLOP_per_orbit=c.bound_mflop / c.outcomes[0].orbits / 1e9,
               best_baseline=c.best_baseline.policy, planned_vs_best_baseline=c.ours_vs_best,
               planned_vs_clairvoyant=c.ours_vs_bound, planned_aging_vs_best_baseline=c.aging_vs_best)
    return out


def chosen_cases(a, parser) -> list[Case]:
    workloads = WORKLOADS if a.workload == "all" else (a.workload,)
    named = []
    try:
        named += [(f"orbit {text}", parse_orbit(text)) for text in a.orbit]
        named += [(f"{path.stem} ({orbit})", el) for path in a.scenario for orbit, el in [orbit_of_scenario(path)]]
    except ValueError as exc:
        parser.error(str(exc))
    if not named:
        return [c for c in cases(a.hours) if c.name.split("/")[1] in workloads]
    return [with_workload(Case(f"{name}/{w}", el, hours=a.hours), w) for name, el in named for w in workloads]


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="gridfree sched-compare", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hours", type=positive_float, default=24.0, help="simulated time per case (default 24)")
    parser.add_argument("--orbit", action="append", default=[], metavar="ALT_KM,INC_DEG,LTAN_H",
                        help="a circular orbit instead of the built-in cases (INC_DEG 'sso': sun-synchronous); "
                             "repeatable, e.g. --orbit 800,sso,10.5 --orbit 1200,53,12")
    parser.add_argument("--scenario", action="append", default=[], type=Path, metavar="FILE",
                        help="the orbit a rig scenario file flies (repeatable)")
    parser.add_argument("--workload", choices=(*WORKLOADS, "all"), default="all",
                        help="energy (a standing batch job), deadlines (a job every 30 min due in 3 h), or all")
    parser.add_argument("--perfect", action="store_true",
                        help="no forecast errors: the node knows its world exactly (default: errors on)")
    parser.add_argument("--plots", type=Path, default=Path("sched-compare"),
                        help="directory for the SVG plots (default ./sched-compare)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON instead of a table")
    a = parser.parse_args(argv)
    if a.plots.exists() and not a.plots.is_dir():
        parser.error(f"--plots {a.plots}: is a file, not a directory; give a directory for the plots")
    try:
        a.plots.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        parser.error(f"--plots {a.plots}: cannot make this directory: {exc.strerror}")
    errors = Errors() if a.perfect else FORECAST_ERRORS
    out, over = {}, []
    if not a.json:
        print(HEAD)
    for case in chosen_cases(a, parser):
        c = compare(case, errors)
        out[case.name] = figures(c)
        over += [(case.name, r) for r in c.outcomes if over_dod_limit(r)]
        (a.plots / f"{case.name.replace('/', '-').replace(' ', '_')}.svg").write_text(plot(case, c.outcomes))
        if not a.json:
            for r in c.outcomes:
                print(row(case, r))
            print(verdict(c))
    if a.json:
        print(json.dumps(out, indent=2))
    else:
        print(dod_verdict(over))
        print(f"forecast errors {'off' if a.perfect else 'on'}; plots: {a.plots}/<case>.svg")
    return 0


command = {"help": "compare payload power policies (strong baselines, the planner, the clairvoyant bound)", "run": run}
