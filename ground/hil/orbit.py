"""Orbit truth: two-body + J2 integrated numerically, the Sun from a low-precision ephemeris, and
a conical Earth shadow with umbra and penumbra.

The node predicts eclipses from mean elements onboard; the rig integrates the equations of motion
with the J2 oblateness term so that its truth is of higher fidelity than any onboard prediction.
Atmospheric drag is left out (it matters for lifetime, not for a day of power and thermal).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

# WGS-84 / EGM constants (Vallado, "Fundamentals of Astrodynamics and Applications", 4th ed., App. D)
MU_EARTH_KM3_S2 = 398_600.4418
R_EARTH_KM = 6_378.137
J2 = 1.08262668e-3
R_SUN_KM = 695_700.0  # IAU 2015 nominal solar radius
AU_KM = 149_597_870.7
DAY_S = 86_400.0
UNIX_J2000_S = 946_728_000.0  # 2000-01-01T12:00:00 UTC (TT/UTC difference ignored)

Vec = tuple[float, float, float]


def _sub(a: Vec, b: Vec) -> Vec:
    return (a[0] - b[0], a[1] - b[1], a[2] - b[2])


def _dot(a: Vec, b: Vec) -> float:
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def _cross(a: Vec, b: Vec) -> Vec:
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


def _norm(a: Vec) -> float:
    return math.sqrt(_dot(a, a))


def sun_position_km(t_unix_s: float) -> Vec:
    """Geocentric Sun vector in the mean equator/equinox frame, good to ~0.01 deg (Astronomical
    Almanac low-precision formulae, as in Vallado Algorithm 29)."""
    n = (t_unix_s - UNIX_J2000_S) / DAY_S
    mean_lon = math.radians((280.460 + 0.9856474 * n) % 360.0)
    g = math.radians((357.528 + 0.9856003 * n) % 360.0)
    ecl_lon = mean_lon + math.radians(1.915 * math.sin(g) + 0.020 * math.sin(2 * g))
    obliquity = math.radians(23.439 - 0.0000004 * n)
    r_km = (1.00014 - 0.01671 * math.cos(g) - 0.00014 * math.cos(2 * g)) * AU_KM
    return (r_km * math.cos(ecl_lon), r_km * math.cos(obliquity) * math.sin(ecl_lon),
            r_km * math.sin(obliquity) * math.sin(ecl_lon))


def sunlit_fraction(r_km: Vec, sun_km: Vec) -> float:
    """Fraction of the solar disc visible from r: 1 in sunlight, 0 in umbra, between in penumbra
    (conical shadow, Montenbruck & Gill, "Satellite Orbits", §3.4.2)."""
    to_sun = _sub(sun_km, r_km)
    d_sun, d = _norm(to_sun), _norm(r_km)
    a = math.asin(min(1.0, R_SUN_KM / d_sun))  # apparent radius of the Sun
    b = math.asin(min(1.0, R_EARTH_KM / d))  # apparent radius of the Earth
    c = math.acos(max(-1.0, min(1.0, -_dot(r_km, to_sun) / (d * d_sun))))  # their separation
    if c >= a + b:
        return 1.0
    if c <= b - a:
        return 0.0
    if c <= a - b:  # annular: the Earth's disc entirely inside the Sun's
        return 1.0 - (b * b) / (a * a)
    x = (c * c + a * a - b * b) / (2 * c)
    y = math.sqrt(max(0.0, a * a - x * x))
    overlap = a * a * math.acos(max(-1.0, min(1.0, x / a))) + b * b * math.acos(max(-1.0, min(1.0, (c - x) / b))) - c * y
    return max(0.0, min(1.0, 1.0 - overlap / (math.pi * a * a)))


def _accel(r: Vec, j2: float = J2) -> Vec:
    """Two-body plus J2 acceleration, km/s^2 (Vallado eq. 8-30)."""
    x, y, z = r
    r2 = x * x + y * y + z * z
    rn = math.sqrt(r2)
    k = -MU_EARTH_KM3_S2 / (r2 * rn)
    f = 1.5 * j2 * MU_EARTH_KM3_S2 * R_EARTH_KM ** 2 / (r2 * r2 * rn)
    zz = 5.0 * z * z / r2
    return (k * x - f * x * (1 - zz), k * y - f * y * (1 - zz), k * z - f * z * (3 - zz))


@dataclass(frozen=True)
class Elements:
    """Classical orbital elements at an epoch (angles in degrees)."""

    semi_major_axis_km: float
    eccentricity: float
    inclination_deg: float
    raan_deg: float
    arg_perigee_deg: float
    true_anomaly_deg: float

    @property
    def period_s(self) -> float:
        return 2 * math.pi * math.sqrt(self.semi_major_axis_km ** 3 / MU_EARTH_KM3_S2)

    def state(self) -> tuple[Vec, Vec]:
        """Position (km) and velocity (km/s) in the inertial frame (Vallado Algorithm 10)."""
        a, e = self.semi_major_axis_km, self.eccentricity
        i, raan, w, nu = (math.radians(v) for v in (self.inclination_deg, self.raan_deg, self.arg_perigee_deg,
                                                      self.true_anomaly_deg))
        p = a * (1 - e * e)
        r_pf = (p * math.cos(nu) / (1 + e * math.cos(nu)), p * math.sin(nu) / (1 + e * math.cos(nu)), 0.0)
        v_pf = (-math.sqrt(MU_EARTH_KM3_S2 / p) * math.sin(nu), math.sqrt(MU_EARTH_KM3_S2 / p) * (e + math.cos(nu)), 0.0)
        cO, sO, ci, si, cw, sw = math.cos(raan), math.sin(raan), math.cos(i), math.sin(i), math.cos(w), math.sin(w)
        rot = ((cO * cw - sO * sw * ci, -cO * sw - sO * cw * ci, sO * si),
               (sO * cw + cO * sw * ci, -sO * sw + cO * cw * ci, -cO * si),
               (sw * si, cw * si, ci))

        def apply(v):
            return tuple(rot[k][0] * v[0] + rot[k][1] * v[1] + rot[k][2] * v[2] for k in range(3))

        return apply(r_pf), apply(v_pf)


def sun_synchronous_inclination_deg(altitude_km: float) -> float:
    """Inclination whose J2 nodal precession follows the Sun (360 deg per tropical year)."""
    a = R_EARTH_KM + altitude_km
    n = math.sqrt(MU_EARTH_KM3_S2 / a ** 3)
    rate_rad_s = 2 * math.pi / (365.2422 * DAY_S)
    return math.degrees(math.acos(-rate_rad_s / (1.5 * n * J2 * (R_EARTH_KM / a) ** 2)))


def sun_right_ascension_deg(t_unix_s: float) -> float:
    s = sun_position_km(t_unix_s)
    return math.degrees(math.atan2(s[1], s[0])) % 360.0


def preset(name: str, epoch_unix_s: float) -> Elements:
    """The rig's orbit presets (circular)."""
    if name == "leo550":
        return Elements(R_EARTH_KM + 550.0, 0.0, 53.0, 0.0, 0.0, 0.0)
    if name == "sso650-dawn-dusk":
        # Orbit plane perpendicular to the Sun line: RAAN 90 deg ahead of the Sun's right ascension.
        return Elements(R_EARTH_KM + 650.0, 0.0, sun_synchronous_inclination_deg(650.0),
                        (sun_right_ascension_deg(epoch_unix_s) + 90.0) % 360.0, 0.0, 0.0)
    if name == "iss500":
        return Elements(R_EARTH_KM + 500.0, 0.0, 51.6, 0.0, 0.0, 0.0)
    raise ValueError(f"unknown orbit preset {name!r} (known: leo550, sso650-dawn-dusk, iss500)")


class Orbit:
    """Integrates the state forward with fixed-step RK4 (10 s steps keep a LEO orbit to metres
    over a day, which is far below what power and thermal care about)."""

    def __init__(self, elements: Elements, epoch_unix_s: float, max_step_s: float = 10.0, j2: float = J2):
        self.j2 = j2
        self.r_km, self.v_km_s = elements.state()
        self.t_unix_s = epoch_unix_s
        self.max_step_s = max_step_s

    def _rk4(self, h: float) -> None:
        r, v = self.r_km, self.v_km_s

        def add(a, b, s):
            return (a[0] + s * b[0], a[1] + s * b[1], a[2] + s * b[2])

        j2 = self.j2
        k1v, k1r = _accel(r, j2), v
        k2v, k2r = _accel(add(r, k1r, h / 2), j2), add(v, k1v, h / 2)
        k3v, k3r = _accel(add(r, k2r, h / 2), j2), add(v, k2v, h / 2)
        k4v, k4r = _accel(add(r, k3r, h), j2), add(v, k3v, h)
        self.r_km = tuple(r[i] + h / 6 * (k1r[i] + 2 * k2r[i] + 2 * k3r[i] + k4r[i]) for i in range(3))
        self.v_km_s = tuple(v[i] + h / 6 * (k1v[i] + 2 * k2v[i] + 2 * k3v[i] + k4v[i]) for i in range(3))

    def advance(self, dt_s: float) -> None:
        while dt_s > 1e-9:
            h = min(self.max_step_s, dt_s)
            self._rk4(h)
            self.t_unix_s += h
            dt_s -= h

    def sunlit_fraction(self) -> float:
        return sunlit_fraction(self.r_km, sun_position_km(self.t_unix_s))

    def sun_unit(self) -> Vec:
        s = _sub(sun_position_km(self.t_unix_s), self.r_km)
        n = _norm(s)
        return (s[0] / n, s[1] / n, s[2] / n)

    def beta_deg(self) -> float:
        """Angle between the orbit plane and the Sun direction."""
        h = _cross(self.r_km, self.v_km_s)
        s = sun_position_km(self.t_unix_s)
        return math.degrees(math.asin(_dot(h, s) / (_norm(h) * _norm(s))))

    def raan_deg(self) -> float:
        """Right ascension of the ascending node of the osculating orbit."""
        h = _cross(self.r_km, self.v_km_s)
        return math.degrees(math.atan2(h[0], -h[1])) % 360.0

    def altitude_km(self) -> float:
        return _norm(self.r_km) - R_EARTH_KM

    def earth_view_factor(self) -> float:
        """Fraction of the sky the Earth fills from here (for albedo and IR loads on a radiator)."""
        return 0.5 * (1 - math.sqrt(1 - (R_EARTH_KM / _norm(self.r_km)) ** 2))


@dataclass(frozen=True)
class MeanElements:
    """What orbit determination uplinks: mean elements (the osculating ones averaged over whole
    revolutions, Brouwer's first-order mean elements), whose J2-secular propagation plus J2's
    short-periodic terms follows the integrated orbit, not the osculating state of one instant."""

    epoch_unix_s: float
    a_km: float  # mean semi-major axis
    i_deg: float
    raan_deg: float  # at the epoch
    u_deg: float  # argument of latitude at the epoch on a circle through the ascending nodes (e ignored)
    nodal_period_s: float
    e: float = 0.0
    argp_deg: float = 0.0  # at the epoch
    mean_anomaly_deg: float = 0.0  # at the epoch


def _osculating(r: Vec, v: Vec) -> tuple[float, float, float, float, float]:
    """(a, i, raan, e cos w, e sin w) of the osculating ellipse; e's components in the node frame
    stay defined on a circular orbit, where w alone does not."""
    h = _cross(r, v)
    hn, rn = _norm(h), _norm(r)
    raan = math.atan2(h[0], -h[1])
    ev = tuple(c / MU_EARTH_KM3_S2 - x / rn for c, x in zip(_cross(v, h), r))
    node = (math.cos(raan), math.sin(raan), 0.0)
    normal = (h[0] / hn, h[1] / hn, h[2] / hn)
    return (1.0 / (2.0 / rn - _dot(v, v) / MU_EARTH_KM3_S2), math.acos(normal[2]), raan,
            _dot(ev, node), _dot(ev, _cross(normal, node)))


def orbit_determination(elements: Elements, epoch_unix_s: float, orbits: int = 3) -> MeanElements:
    """Mean elements fitted to the integrated orbit over a few revolutions, as a ground orbit
    determination would produce them. J2's short-periodic terms average out over whole
    revolutions, so the average of the osculating elements between the first and the last
    ascending node is the mean orbit at the middle of that span; the secular J2 rates carry it to
    the epoch. The period between node crossings is measured, not derived: J2 makes it differ from
    the Keplerian period by seconds per orbit. Fed the osculating state instead, the node's
    predictor sits kilometres off and its shadow edges come seconds early or late; without the
    mean eccentricity (a circular osculating start has ~1e-3 of it, all J2's) the along-track
    error swings by seconds once an orbit. Near-circular orbits."""
    orbit = Orbit(elements, epoch_unix_s, max_step_s=1.0)
    crossings, prev = [], orbit.r_km
    sums, samples, raan0 = [0.0] * 5, 0, None
    while len(crossings) <= orbits:
        orbit.advance(1.0)
        r = orbit.r_km
        if crossings:  # whole revolutions between the first and last crossing
            osc = list(_osculating(r, orbit.v_km_s))
            raan0 = osc[2] if raan0 is None else raan0
            osc[2] = raan0 + (osc[2] - raan0 + math.pi) % (2 * math.pi) - math.pi  # unwrapped
            sums = [acc + x for acc, x in zip(sums, osc)]
            samples += 1
        if prev[2] < 0 <= r[2]:
            f = -prev[2] / (r[2] - prev[2])
            crossings.append(orbit.t_unix_s - 1.0 + f)
        prev = r
    period = (crossings[-1] - crossings[0]) / orbits
    a, i, raan_mid, k, h = (x / samples for x in sums)
    e, t_node, t_mid = math.hypot(k, h), crossings[0], (crossings[0] + crossings[-1]) / 2
    gamma = J2 * (R_EARTH_KM / (a * (1 - e * e))) ** 2
    n = math.sqrt(MU_EARTH_KM3_S2 / a ** 3)
    raan_rate, argp_rate = -1.5 * n * gamma * math.cos(i), 0.75 * n * gamma * (5 * math.cos(i) ** 2 - 1)
    argp_node = math.atan2(h, k) - argp_rate * (t_mid - t_node)
    nu = -argp_node  # at the ascending node the mean orbit's argument of latitude is zero
    ea = 2 * math.atan2(math.sqrt(1 - e) * math.sin(nu / 2), math.sqrt(1 + e) * math.cos(nu / 2))
    m_rate = 2 * math.pi / period - argp_rate  # as the node's predictor takes it from the period
    mean_anomaly = ea - e * math.sin(ea) - m_rate * (t_node - epoch_unix_s)
    argp = argp_node - argp_rate * (t_node - epoch_unix_s)
    raan = raan_mid - raan_rate * (t_mid - epoch_unix_s)
    u = -360.0 * (t_node - epoch_unix_s) / period
    return MeanElements(epoch_unix_s, a, math.degrees(i), math.degrees(raan) % 360.0, u % 360.0, period, e,
                        math.degrees(argp) % 360.0, math.degrees(mean_anomaly) % 360.0)


def nodal_period_s(elements: Elements, epoch_unix_s: float, orbits: int = 3) -> float:
    """The mean time between ascending node crossings of the integrated orbit. J2 makes it differ
    from the Keplerian period by seconds per orbit, which is why the ground uploads it."""
    return orbit_determination(elements, epoch_unix_s, orbits).nodal_period_s
