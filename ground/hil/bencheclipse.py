"""Eclipse prediction benchmark: the node's predictor, fed what orbit determination uploads once
at the start, against the rig's integrated truth over 24 h, at low and high beta.

High beta is where a predictor is weakest: the Sun sits far off the orbit plane, the orbit crosses
the shadow at a slant, and a kilometre of radial or cross-track error moves a shadow edge by
seconds (at 1200 km and beta 55 deg the orbit only grazes the shadow). The cases put the Sun at a
chosen beta by choosing the node: at the June solstice the Sun's declination lets a 53 deg orbit
reach beta 60.

The predictor runs as the node's own program (`python -m gridfree.flight.power.eclipse`, with
power.SetOrbit's arguments as the runner uploads them): the ground imports no flight code, and the
truth (orbit.Orbit, RK4 with J2) shares nothing with the predictor.
"""
from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import dataclass

from gridfree.ground.hil.orbit import (R_EARTH_KM, Elements, Orbit, orbit_determination, preset,
                                       sun_position_km, sun_synchronous_inclination_deg)
from gridfree.native.benchkit import Figure

EQUINOX = 1_774_018_000.0  # 2026-03-20, the rig's presets at beta ~0
SOLSTICE = 1_782_000_000.0  # 2026-06-21: the Sun 23.4 deg north, so a 53 deg orbit reaches beta 60+
DAY_S = 86_400.0
TRUTH_STEP_S = 10.0  # the rig's own RK4 step; edges are then bisected to a millisecond


@dataclass(frozen=True)
class Case:
    name: str
    elements: Elements  # the truth's osculating state at the epoch
    epoch_unix_s: float

    @property
    def beta_deg(self) -> float:
        return Orbit(self.elements, self.epoch_unix_s).beta_deg()


def _beta_deg(alt_km: float, inc_deg: float, raan_deg: float, t: float) -> float:
    return Orbit(Elements(R_EARTH_KM + alt_km, 0.0, inc_deg, raan_deg, 0.0, 0.0), t).beta_deg()


def at_beta(name: str, alt_km: float, inc_deg: float, beta_deg: float, epoch: float) -> Case:
    """A circular orbit whose node puts the Sun `beta_deg` off its plane at the epoch (the node
    found by a 0.5 deg scan for the largest beta, then bisection on the half where beta rises)."""
    grid = [k * 0.5 for k in range(720)]
    betas = [_beta_deg(alt_km, inc_deg, r, epoch) for r in grid]
    k = max(range(720), key=lambda j: betas[j])
    if betas[k] < beta_deg:
        raise ValueError(f"{name}: beta {beta_deg} deg is out of reach (at most {betas[k]:.1f})")
    lo, hi = grid[k] - 180.0, grid[k]  # beta rises from its minimum to its maximum over this half
    for _ in range(40):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if _beta_deg(alt_km, inc_deg, mid % 360.0, epoch) < beta_deg else (lo, mid)
    return Case(name, Elements(R_EARTH_KM + alt_km, 0.0, inc_deg, lo % 360.0, 0.0, 0.0), epoch)


def high_beta_cases() -> list[Case]:
    """beta >= 50 deg: the presets' orbits and the 1200 km 53 deg orbit (which stops entering the
    shadow above beta 57.3 deg)."""
    return [at_beta("leo550 beta 50", 550.0, 53.0, 50.0, SOLSTICE),
            at_beta("leo550 beta 55", 550.0, 53.0, 55.0, SOLSTICE),
            at_beta("leo550 beta 60", 550.0, 53.0, 60.0, SOLSTICE),
            at_beta("iss500 beta 60", 500.0, 51.6, 60.0, SOLSTICE),
            at_beta("1200 km 53 deg beta 52", 1200.0, 53.0, 52.0, SOLSTICE),
            at_beta("1200 km 53 deg beta 55", 1200.0, 53.0, 55.0, SOLSTICE)]


def low_beta_cases() -> list[Case]:
    """beta 0..45 deg: the presets as the rig flies them, and the issue's other orbits."""
    return [Case("leo550", preset("leo550", EQUINOX), EQUINOX),
            Case("iss500", preset("iss500", EQUINOX), EQUINOX),
            at_beta("leo550 beta 15", 550.0, 53.0, 15.0, EQUINOX),
            at_beta("leo550 beta 30", 550.0, 53.0, 30.0, EQUINOX),
            at_beta("leo550 beta 45", 550.0, 53.0, 45.0, EQUINOX),
            at_beta("400 km 51.6 deg beta 30", 400.0, 51.6, 30.0, EQUINOX),
            at_beta("800 km sso beta 25", 800.0, sun_synchronous_inclination_deg(800.0), 25.0, EQUINOX)]


def _copy(orbit: Orbit) -> Orbit:
    twin = Orbit.__new__(Orbit)
    twin.__dict__.update(orbit.__dict__)
    return twin


def truth_edges(case: Case, horizon_s: float = DAY_S) -> list[tuple[float, bool]]:
    """(t, entering) where the integrated truth's sunlit fraction crosses 1/2, as the rig's runner
    marks them, but bisected to 1 ms by integrating again from the step before the crossing."""
    orbit, edges = Orbit(case.elements, case.epoch_unix_s), []
    was_in = orbit.sunlit_fraction() < 0.5
    for _ in range(int(horizon_s / TRUTH_STEP_S)):
        before = _copy(orbit)
        orbit.advance(TRUTH_STEP_S)
        now_in = orbit.sunlit_fraction() < 0.5
        if now_in != was_in:
            lo, hi = 0.0, TRUTH_STEP_S
            while hi - lo > 1e-3:
                mid, probe = (lo + hi) / 2, _copy(before)
                probe.advance((lo + hi) / 2)
                lo, hi = (mid, hi) if (probe.sunlit_fraction() < 0.5) == was_in else (lo, mid)
            edges.append((before.t_unix_s + (lo + hi) / 2, now_in))
        was_in = now_in
    return edges


def uplink(case: Case) -> dict:
    """power.SetOrbit's arguments as the ground uploads them: orbit determination's mean elements."""
    m = orbit_determination(case.elements, case.epoch_unix_s)
    return {"epoch_unix_s": m.epoch_unix_s, "a_km": m.a_km, "e": m.e, "i_deg": m.i_deg, "raan_deg": m.raan_deg,
            "argp_deg": m.argp_deg, "mean_anomaly_deg": m.mean_anomaly_deg, "nodal_period_s": m.nodal_period_s}


def node_predictions(requests: list[dict]) -> list[list[tuple[float, float]]]:
    """The node's predictor, run as its own program, one answer per request."""
    text = "".join(json.dumps(r) + "\n" for r in requests)
    done = subprocess.run([sys.executable, "-m", "gridfree.flight.power.eclipse"], input=text,
                          capture_output=True, text=True, timeout=300)
    answers = [json.loads(line) for line in done.stdout.splitlines() if line.strip()]
    if len(answers) != len(requests) or any("error" in a for a in answers):
        raise RuntimeError(f"the node's eclipse predictor failed: {done.stderr.strip()[-200:] or answers}")
    return [[tuple(e) for e in a["eclipses"]] for a in answers]


def worst_edge_error_s(edges: list[tuple[float, bool]], predicted: list[tuple[float, float]],
                       start: float, horizon_s: float = DAY_S) -> float:
    """The worst shadow entry or exit error: every truth edge against the nearest predicted edge of
    its kind and every predicted edge inside the day against the nearest truth edge (so a missed or
    invented eclipse counts, as the whole time to the nearest real one)."""
    worst = 0.0
    for entering in (True, False):
        truth = [t for t, e in edges if e == entering]
        pred = [p[0] if entering else p[1] for p in predicted]
        pred_in_day = [p for p in pred if start < p < start + horizon_s - TRUTH_STEP_S]
        for a, b in [(truth, pred), (pred_in_day, truth)]:
            for t in a:
                worst = max(worst, min((abs(t - u) for u in b), default=math.inf))
    return worst


def errors_s(cases: list[Case], predictions=node_predictions) -> list[float]:
    """Each case's worst shadow edge error over 24 h, elements uploaded once at the start."""
    requests = [{**uplink(c), "start_unix_s": c.epoch_unix_s, "horizon_s": DAY_S + 3600.0} for c in cases]
    return [worst_edge_error_s(truth_edges(c), p, c.epoch_unix_s) for c, p in zip(cases, predictions(requests))]


def eclipse_figures():
    high, low = high_beta_cases(), low_beta_cases()
    errs = errors_s(high + low)
    worst_high = max(errs[:len(high)])
    yield Figure("eclipse_predict_max_err_s_high_beta", worst_high, "s",
                 f"<= 2 (24 h from one upload; {len(high)} orbits at beta 50-60 deg incl. 1200 km 53 deg)")
    yield Figure("eclipse_predict_max_err_s_all_beta", max(errs), "s",
                 f"<= 2 (24 h from one upload; {len(errs)} orbits at beta 0-60 deg)")


BENCHMARKS = [eclipse_figures]
