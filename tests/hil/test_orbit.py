"""Orbit truth against hand calculations and published values."""
import math

import pytest

from gridfree.ground.hil.orbit import (
    R_EARTH_KM, Elements, Orbit, sun_position_km, sun_right_ascension_deg, sunlit_fraction,
    sun_synchronous_inclination_deg, preset,
)

EQUINOX_2026 = 1_774_018_000.0  # 2026-03-20T14:46:40Z, near the March equinox (USNO: 14:46 UTC)


def test_period_of_a_500_km_orbit_is_94_6_minutes():
    # T = 2 pi sqrt(a^3 / mu) with a = 6878.137 km: 5676.98 s.
    el = Elements(R_EARTH_KM + 500.0, 0.0, 51.6, 0.0, 0.0, 0.0)
    assert el.period_s == pytest.approx(2 * math.pi * math.sqrt(6878.137 ** 3 / 398600.4418))
    assert el.period_s / 60 == pytest.approx(94.6, abs=0.05)


def test_two_body_integration_closes_after_one_period():
    el = Elements(R_EARTH_KM + 500.0, 0.01, 51.6, 30.0, 40.0, 0.0)
    orbit = Orbit(el, EQUINOX_2026, max_step_s=5.0, j2=0.0)
    r0 = orbit.r_km
    orbit.advance(el.period_s)
    assert math.dist(orbit.r_km, r0) < 0.01  # 10 m after 5,677 s of RK4


def test_j2_regresses_the_node_as_the_analytic_rate_says():
    # dOmega/dt = -3/2 n J2 (R/p)^2 cos i (Vallado eq. 9-41): a sun-synchronous orbit turns +0.9856 deg/day.
    alt = 650.0
    i = sun_synchronous_inclination_deg(alt)
    assert i == pytest.approx(97.99, abs=0.02)  # published value for 650 km
    orbit = Orbit(Elements(R_EARTH_KM + alt, 0.0, i, 100.0, 0.0, 0.0), EQUINOX_2026, max_step_s=10.0)
    orbit.advance(86_400.0)
    drift = (orbit.raan_deg() - 100.0 + 180) % 360 - 180
    assert drift == pytest.approx(360 / 365.2422, abs=0.05)  # osculating vs mean RAAN: a few hundredths


def test_sun_near_the_march_equinox_is_on_the_equator_at_1_au():
    s = sun_position_km(EQUINOX_2026)
    r = math.sqrt(sum(c * c for c in s))
    assert math.degrees(math.asin(s[2] / r)) == pytest.approx(0.0, abs=0.05)
    assert r / 149_597_870.7 == pytest.approx(0.996, abs=0.002)  # Earth is ~0.996 AU from the Sun in March
    assert sun_right_ascension_deg(EQUINOX_2026) == pytest.approx(0.0, abs=0.1)


def test_eclipse_of_a_500_km_orbit_at_zero_beta_lasts_35_8_minutes():
    # A polar orbit whose node lies on the Sun's right ascension contains the Sun line: beta = 0.
    # Hand calculation (cylindrical shadow): 2 asin(R / (R + h)) / 2 pi * T = 0.378 * 94.6 min = 35.8 min.
    el = Elements(R_EARTH_KM + 500.0, 0.0, 90.0, sun_right_ascension_deg(EQUINOX_2026), 0.0, 0.0)
    orbit = Orbit(el, EQUINOX_2026, max_step_s=1.0)
    assert orbit.beta_deg() == pytest.approx(0.0, abs=0.1)
    dt = 1.0
    umbra = shadow = penumbra = 0.0
    for _ in range(int(el.period_s)):
        f = orbit.sunlit_fraction()
        umbra += dt * (f == 0.0)
        penumbra += dt * (0.0 < f < 1.0)
        shadow += dt * (f < 0.5)
        orbit.advance(dt)
    hand_min = 2 * math.asin(R_EARTH_KM / (R_EARTH_KM + 500)) / (2 * math.pi) * el.period_s / 60
    assert hand_min == pytest.approx(35.8, abs=0.05)
    assert shadow / 60 == pytest.approx(hand_min, abs=0.15)
    assert umbra < shadow < umbra + penumbra
    assert 10 < penumbra < 30  # ~8-9 s of penumbra at each end at 500 km


def test_shadow_fraction_edge_cases():
    sun = (149_597_870.7, 0.0, 0.0)
    assert sunlit_fraction((R_EARTH_KM + 500, 0.0, 0.0), sun) == 1.0  # noon
    assert sunlit_fraction((-(R_EARTH_KM + 500), 0.0, 0.0), sun) == 0.0  # midnight
    assert sunlit_fraction((0.0, R_EARTH_KM + 500, 0.0), sun) == 1.0  # terminator, above the limb


def test_presets():
    dd = preset("sso650-dawn-dusk", EQUINOX_2026)
    orbit = Orbit(dd, EQUINOX_2026)
    assert abs(orbit.beta_deg()) > 65  # dawn-dusk: the Sun nearly along the orbit normal
    assert preset("iss500", 0).inclination_deg == 51.6
    with pytest.raises(ValueError, match="known"):
        preset("geo", 0)


@pytest.mark.parametrize("date,eclipsed", [("2026-03-20", False), ("2026-06-21", True), ("2026-09-22", False)])
def test_dawn_dusk_orbit_has_an_eclipse_season_around_the_june_solstice(date, eclipsed):
    # Beta falls below asin(R / (R + 650 km)) = 65.2 deg only near the June solstice for this
    # orientation (ascending node at 18:00 local time): that is the dawn-dusk eclipse season.
    from datetime import datetime

    epoch = datetime.fromisoformat(date + "T12:00:00+00:00").timestamp()
    orbit = Orbit(preset("sso650-dawn-dusk", epoch), epoch, max_step_s=5.0)
    beta_star = math.degrees(math.asin(R_EARTH_KM / (R_EARTH_KM + 650.0)))
    assert (abs(orbit.beta_deg()) < beta_star) == eclipsed
    shadow_s = 0
    for _ in range(6000 // 5):
        shadow_s += 5 * (orbit.sunlit_fraction() < 0.5)
        orbit.advance(5.0)
    assert (shadow_s > 600) == eclipsed and (shadow_s == 0) == (not eclipsed)
