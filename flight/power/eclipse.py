"""Onboard eclipse prediction from orbital elements the ground uploads.

The ground sends mean elements at an epoch (its orbit determination averages the osculating
elements over whole revolutions) and the draconitic period it measured. The node propagates them
analytically: the mean ellipse with the secular J2 drift of the node, the perigee and the mean
anomaly (Vallado eqs. 9-41 to 9-43), plus J2's first-order short-periodic terms (Brouwer's theory
in the small-e form SGP4 uses), which is cheap enough to scan a day ahead at 20 s steps. Shadow
entry and exit are found where the Sun's visible fraction crosses one half (the edge of the
geometric shadow, mid-penumbra), refined by bisection to 10 ms.

Where the error came from (measured against the rig's integration, 24 h from one upload): a LEO
orbit started circular has ~1e-3 of mean eccentricity from J2 alone, and taken as a circle it was
~5 km off radially and ~10 km along track once an orbit; leaving out the short-periodic terms cost
1-2 km twice an orbit in the radius, the plane and the argument of latitude. At beta 0 the shadow
edges barely feel either; at beta 50-60 deg the orbit meets the shadow at a slant and the edges
moved by up to 4 s. With both the error stays within 0.25 s at every beta up to 60 deg
(ground/hil/bencheclipse.py). This module is the node's own code: it shares nothing with the
rig's truth model.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

MU_KM3_S2 = 398_600.4418
RE_KM = 6_378.137
J2 = 1.08262668e-3
RSUN_KM = 695_700.0
AU_KM = 149_597_870.7
J2000_UNIX_S = 946_728_000.0


@dataclass(frozen=True)
class OrbitElements:
    """Mean elements at an epoch (angles in degrees): the average of the osculating ones over a
    revolution, so that the mean ellipse plus the short-periodic terms gives the position."""

    epoch_unix_s: float
    a_km: float
    e: float
    i_deg: float
    raan_deg: float
    argp_deg: float
    mean_anomaly_deg: float
    # The draconitic period (node to node) from orbit determination, as a TLE's mean motion gives
    # it; without it the period follows from a_km, which for osculating elements is off by the
    # short-periodic J2 terms and lets the along-track error grow by seconds per orbit.
    nodal_period_s: float | None = None


def _sun_km(t: float):
    d = (t - J2000_UNIX_S) / 86_400.0
    g = math.radians(357.529 + 0.98560028 * d)
    q = 280.459 + 0.98564736 * d
    lam = math.radians(q + 1.915 * math.sin(g) + 0.020 * math.sin(2 * g))
    eps = math.radians(23.439 - 0.00000036 * d)
    r = AU_KM * (1.00014 - 0.01671 * math.cos(g) - 0.00014 * math.cos(2 * g))
    return r * math.cos(lam), r * math.cos(eps) * math.sin(lam), r * math.sin(eps) * math.sin(lam)


class EclipsePredictor:
    def __init__(self, el: OrbitElements):
        self.el = el
        a, e, i = el.a_km, el.e, math.radians(el.i_deg)
        n = math.sqrt(MU_KM3_S2 / a ** 3)
        p = a * (1 - e * e)
        self.p_km, self.gamma = p, J2 * (RE_KM / p) ** 2
        k = 1.5 * self.gamma * n
        self.n = n
        self.raan_rate = -k * math.cos(i)
        self.argp_rate = 0.5 * k * (5 * math.cos(i) ** 2 - 1)
        self.m_rate = n + 0.5 * k * math.sqrt(1 - e * e) * (3 * math.cos(i) ** 2 - 1)
        if el.nodal_period_s:
            self.m_rate = 2 * math.pi / el.nodal_period_s - self.argp_rate

    def position_km(self, t: float):
        """Position at t: the mean ellipse (Kepler plus the secular drift) with J2's first-order
        short-periodic terms added in the argument of latitude, the radius, the node and the
        inclination (Brouwer's theory as SGP4 writes it for small e, J2 only). Left out, they
        move a LEO orbit by kilometres twice an orbit; at high beta the Sun sits off the orbit
        plane and the shadow edge moves with the radius and the plane, by seconds."""
        el, dt = self.el, t - self.el.epoch_unix_s
        e, i = el.e, math.radians(el.i_deg)
        raan = math.radians(el.raan_deg) + self.raan_rate * dt
        argp = math.radians(el.argp_deg) + self.argp_rate * dt
        m = (math.radians(el.mean_anomaly_deg) + self.m_rate * dt) % (2 * math.pi)
        ea = m
        for _ in range(8):  # Newton on Kepler's equation
            ea -= (ea - e * math.sin(ea) - m) / (1 - e * math.cos(ea))
        nu = 2 * math.atan2(math.sqrt(1 + e) * math.sin(ea / 2), math.sqrt(1 - e) * math.cos(ea / 2))
        u = argp + nu
        g, ci, si = self.gamma, math.cos(i), math.sin(i)
        s2u, c2u = math.sin(2 * u), math.cos(2 * u)
        r = (el.a_km * (1 - e * math.cos(ea)) * (1 - 0.75 * g * math.sqrt(1 - e * e) * (3 * ci * ci - 1))
             + 0.25 * g * self.p_km * si * si * c2u)
        u -= 0.125 * g * (7 * ci * ci - 1) * s2u
        raan += 0.75 * g * ci * s2u
        i += 0.75 * g * ci * si * c2u
        cO, sO, ci, si, cu, su = math.cos(raan), math.sin(raan), math.cos(i), math.sin(i), math.cos(u), math.sin(u)
        return (r * (cO * cu - sO * su * ci), r * (sO * cu + cO * su * ci), r * su * si)

    def sunlit_fraction(self, t: float) -> float:
        r = self.position_km(t)
        s = _sun_km(t)
        d = (s[0] - r[0], s[1] - r[1], s[2] - r[2])
        ds, dr = math.sqrt(sum(x * x for x in d)), math.sqrt(sum(x * x for x in r))
        a_sun, b_earth = math.asin(RSUN_KM / ds), math.asin(min(1.0, RE_KM / dr))
        c = math.acos(max(-1.0, min(1.0, -(r[0] * d[0] + r[1] * d[1] + r[2] * d[2]) / (dr * ds))))
        if c >= a_sun + b_earth:
            return 1.0
        if c <= b_earth - a_sun:
            return 0.0
        x = (c * c + a_sun * a_sun - b_earth * b_earth) / (2 * c)
        y = math.sqrt(max(0.0, a_sun * a_sun - x * x))
        area = (a_sun * a_sun * math.acos(max(-1.0, min(1.0, x / a_sun)))
                + b_earth * b_earth * math.acos(max(-1.0, min(1.0, (c - x) / b_earth))) - c * y)
        return max(0.0, min(1.0, 1 - area / (math.pi * a_sun * a_sun)))

    def _edge(self, t0: float, t1: float) -> float:
        in0 = self.sunlit_fraction(t0) < 0.5
        while t1 - t0 > 0.01:
            mid = (t0 + t1) / 2
            if (self.sunlit_fraction(mid) < 0.5) == in0:
                t0 = mid
            else:
                t1 = mid
        return (t0 + t1) / 2

    def eclipses(self, start: float, horizon_s: float, step_s: float = 20.0) -> list[tuple[float, float]]:
        """(entry, exit) times of the shadow between start and start + horizon; an eclipse under way
        at `start` comes first, with its real entry time."""
        out, entry = [], None
        prev_t, prev_in = start, self.sunlit_fraction(start) < 0.5
        if prev_in:
            back = start
            while self.sunlit_fraction(back) < 0.5 and back > start - horizon_s:
                back -= step_s
            entry = self._edge(back, back + step_s)
        t = start
        while t < start + horizon_s:
            t += step_s
            now_in = self.sunlit_fraction(t) < 0.5
            if now_in != prev_in:
                edge = self._edge(prev_t, t)
                if now_in:
                    entry = edge
                elif entry is not None:
                    out.append((entry, edge))
                    entry = None
            prev_t, prev_in = t, now_in
        return out


def main(lines=None, out=None) -> int:
    """`python -m gridfree.flight.power.eclipse`: one JSON request a line on stdin, the node's
    predictions for it a line on stdout. A request carries power.SetOrbit's arguments as the
    ground uploads them plus `start_unix_s` and `horizon_s`; the answer is `{"eclipses": [[entry,
    exit], ...]}`. It lets the ground's benchmarks run the node's own predictor without importing
    flight code; a bad request gets `{"error": ...}` and the next line is read."""
    import json
    import sys

    lines, out = lines if lines is not None else sys.stdin, out or sys.stdout
    fields = ("epoch_unix_s", "a_km", "e", "i_deg", "raan_deg", "argp_deg", "mean_anomaly_deg")
    bad = 0
    for line in lines:
        if not line.strip():
            continue
        try:
            req = json.loads(line)
            el = OrbitElements(*(float(req[f]) for f in fields), float(req.get("nodal_period_s") or 0.0) or None)
            start, horizon = float(req["start_unix_s"]), float(req["horizon_s"])
            if not (6_500.0 <= el.a_km <= 50_000.0 and 0.0 <= el.e < 0.9 and 0.0 < horizon <= 10 * 86_400.0):
                raise ValueError("a_km, e or horizon_s out of range")
            answer = {"eclipses": EclipsePredictor(el).eclipses(start, horizon)}
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            bad += 1
            answer = {"error": f"bad request {bad}: {type(exc).__name__}: {exc}"}
        out.write(json.dumps(answer) + "\n")
        out.flush()
    return 0 if not bad else 1


if __name__ == "__main__":
    raise SystemExit(main())
