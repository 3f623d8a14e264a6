"""`gridfree sched-compare`: the compute scheduling policies flown in one simulator, side by side."""
from __future__ import annotations

import argparse

from gridfree.flight.compute.schedsim import POLICIES, Case, fly
from gridfree.flight.power.eclipse import OrbitElements

# The node's view of the rig's presets: mean elements as orbit determination would upload them.
ISS = OrbitElements(1_774_008_000.0, 6871.5, 0.0, 51.6, 0.0, 0.0, 0.0, 5642.0)
DAWN_DUSK_SEASON = OrbitElements(1_782_000_000.0, 7021.0, 0.0, 97.99, 180.0, 0.0, 0.0, 5855.0)
CASES = [Case("nominal", ISS), Case("eclipse-season", DAWN_DUSK_SEASON),
         Case("degraded-array", ISS, array_sun_W=2150.0), Case("hot", ISS, sink_C=25.0, conductance_W_K=40.0)]


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="gridfree sched-compare", description=__doc__)
    parser.add_argument("--hours", type=float, default=24.0)
    a = parser.parse_args(argv)
    print(f"{'case':16} {'policy':10} {'PFLOP/orbit':>11} {'TFLOP/Wh':>9} {'jobs':>5} {'missed':>6} "
          f"{'max DoD':>8} {'UV':>3} {'trips':>5}")
    for case in CASES:
        case.hours = a.hours
        for policy in POLICIES:
            r = fly(case, policy)
            print(f"{case.name:16} {r.policy:10} {r.work_per_orbit / 1e9:11.2f} {r.work_per_Wh / 1e6:9.2f} "
                  f"{r.jobs_done:5d} {r.deadline_misses:6d} {100 * r.max_dod:7.1f}% {r.uv_events:3d} "
                  f"{r.thermal_trips:5d}")
    return 0


command = {"help": "compare compute scheduling policies (greedy, sun-only, planned) in one simulator", "run": run}
