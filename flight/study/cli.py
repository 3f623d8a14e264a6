"""`gridfree sched-compare`: the compute scheduling policies flown in one simulator, side by side,
against the clairvoyant bound; a table on stdout and one plot per case (SOC, payload power and
temperature over the day) as SVG. A policy whose worst depth of discharge in any orbit exceeds the
power manager's DoD limit (30 %) is marked OVER in the table, named in a line after it and in its
plot's title, and flagged `dod_over_limit` in --json: more work bought with battery wear the node
would not allow is not a better policy."""
from __future__ import annotations

import argparse
import json
from dataclasses import replace
from pathlib import Path

import numpy as np

from gridfree.flight.study import svgplot
from gridfree.flight.study.schedsim import DOD_LIMIT, POLICIES, STEP_S, Case, Outcome, clairvoyant, fly
from gridfree.flight.power.eclipse import OrbitElements
from gridfree.protocols.cliargs import positive_float

# The node's view of the rig's presets: mean elements as orbit determination would upload them.
ISS_BETA_40 = OrbitElements(1_774_008_000.0, 6871.5, 0.0, 51.6, 55.0, 0.0, 0.0, 5642.0)  # equinox, beta ~40 deg
DAWN_DUSK_SEASON = OrbitElements(1_782_000_000.0, 7021.0, 0.0, 97.99, 180.0, 0.0, 0.0, 5855.0)
CASES = [Case("nominal", ISS_BETA_40), Case("eclipse-season", DAWN_DUSK_SEASON),
         Case("degraded-array", ISS_BETA_40, array_sun_W=2150.0),
         Case("hot", ISS_BETA_40, sink_C=25.0, conductance_W_K=40.0)]
HEAD = (f"{'case':15} {'policy':11} {'PFLOP/orbit':>11} {'TFLOP/Wh':>8} {'jobs':>5} {'missed':>6} "
        f"{'max DoD':>7} {'':4} {'end SOC':>7} {'UV':>3} {'trips':>5}")


def compare(case: Case) -> tuple[list[Outcome], float]:
    """Every policy flown through the case, and the clairvoyant bound's work (MFLOP)."""
    return [fly(case, p) for p in POLICIES], clairvoyant(case).total_work_mflop


def over_dod_limit(r: Outcome) -> bool:
    """True when the policy's worst one-orbit depth of discharge broke the node's DoD limit."""
    return r.max_dod > DOD_LIMIT


def row(case: Case, r: Outcome) -> str:
    flag = "OVER" if over_dod_limit(r) else ""
    return (f"{case.name:15} {r.policy:11} {r.work_per_orbit / 1e9:11.1f} {r.work_per_Wh / 1e6:8.1f} "
            f"{r.jobs_done:5d} {r.deadline_misses:6d} {100 * r.max_dod:6.1f}% {flag:4} {100 * r.soc[-1]:6.0f}% "
            f"{r.uv_events:3d} {r.thermal_trips:5d}")


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
    title = f"{case.name}: compute scheduling policies"
    if over:
        title += f" (over the {100 * DOD_LIMIT:.0f} % DoD limit: {', '.join(over)})"
    return svgplot.render(title, "hours", panels)


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="gridfree sched-compare", description=__doc__)
    parser.add_argument("--hours", type=positive_float, default=24.0, help="simulated time per case (default 24)")
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
    figures, over = {}, []
    if not a.json:
        print(HEAD)
    for case in CASES:
        case = replace(case, hours=a.hours)
        outcomes, bound = compare(case)
        ours = {r.policy: r for r in outcomes}
        orbits = outcomes[0].orbits
        figures[case.name] = {r.policy: {"verified_PFLOP_per_orbit": r.work_per_orbit / 1e9,
                                         "verified_TFLOP_per_Wh": r.work_per_Wh / 1e6, "jobs_done": r.jobs_done,
                                         "deadline_misses": r.deadline_misses, "max_dod": r.max_dod,
                                         "end_soc": r.soc[-1], "uv_events": r.uv_events,
                                         "thermal_trips": r.thermal_trips, "dod_limit": DOD_LIMIT,
                                         "dod_over_limit": over_dod_limit(r)} for r in outcomes}
        over += [(case.name, r) for r in outcomes if over_dod_limit(r)]
        figures[case.name]["clairvoyant_PFLOP_per_orbit"] = bound / orbits / 1e9
        figures[case.name]["planned_vs_greedy"] = ours["planned"].verified_mflop / ours["greedy"].verified_mflop
        figures[case.name]["planned_vs_clairvoyant"] = ours["planned"].verified_mflop / bound
        (a.plots / f"{case.name}.svg").write_text(plot(case, outcomes))
        if not a.json:
            for r in outcomes:
                print(row(case, r))
            print(f"{case.name:15} {'clairvoyant':11} {bound / orbits / 1e9:11.1f}   (upper bound; planned is "
                  f"{figures[case.name]['planned_vs_clairvoyant']:.2f} of it, "
                  f"{figures[case.name]['planned_vs_greedy']:.2f}x greedy)")
    if a.json:
        print(json.dumps(figures, indent=2))
    else:
        print(dod_verdict(over))
        print(f"plots: {a.plots}/<case>.svg")
    return 0


command = {"help": "compare compute scheduling policies (greedy, sun-only, planned, clairvoyant bound)", "run": run}
