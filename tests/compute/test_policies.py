"""The payload policies the study and the node share: each against a hand calculation in a small,
exactly known view, and every one that means to keep the limits checked against an independent
second-by-second simulation of the step it asks for."""
import dataclasses
import math
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from gridfree.flight.compute import planner
from gridfree.flight.compute.datasheet import BOARD
from gridfree.flight.compute.policies import PLAN_ORBITS, PLAN_STEP_S, POLICIES, NodeView

PERIOD_S = 6000.0
ECLIPSES = tuple((1000.0 + PERIOD_S * k, 3000.0 + PERIOD_S * k) for k in range(5))  # 2000 s of each 6000
LIMITS = planner.Limits(soc_floor=0.32, dod_limit=0.30, temp_max_C=72.0, charge_efficiency=0.99)
THERMAL = planner.Thermal(sink_C=-99.0, conductance_W_K=60.0, heat_capacity_J_K=60_000.0)  # sink: the view's
PEAK_SOC = 0.95  # the last orbit's highest SOC: the DoD floor is 0.65


def view(**changes) -> NodeView:
    """Arrays 4000 W in sun, essentials 30 W in sun and 110 W in shadow, a 5000 Wh battery, the
    radiator good for 60 W/K * (72 - 10) K = 3720 W for good."""
    history = np.full(100, 0.85)
    history[40] = PEAK_SOC
    base = dict(t=0.0, soc=0.8, soc_history=history, history_step_s=60.0, temp_C=20.0, sink_C=10.0,
                eclipses=ECLIPSES, array_sun_W=4000.0, essentials_sun_W=30.0, essentials_shadow_W=110.0,
                period_s=PERIOD_S, capacity_Wh=5000.0, limits=LIMITS, thermal=THERMAL,
                max_charge_W=3000.0, max_discharge_W=4000.0)
    base.update(changes)
    return NodeView(**base)


def ask(name: str, v: NodeView) -> float:
    return POLICIES[name]().power_W(v)


# ---- the view's arithmetic ---------------------------------------------------------------------

def test_the_view_samples_the_orbit_from_its_eclipses():
    v = view()
    assert v.shade(900.0, 1200.0) == pytest.approx(200 / 300)
    assert v.shade(np.array([0.0, 900.0, 1500.0]), np.array([300.0, 1200.0, 1800.0])) == pytest.approx([0, 2 / 3, 1])
    assert v.generation_W(np.array([0.0, 900.0]), 300.0) == pytest.approx([4000.0, 4000.0 / 3])
    assert v.essentials_W(np.array([0.0, 900.0, 1500.0]), 300.0) == pytest.approx([30.0, 30 + 80 * 2 / 3, 110.0])
    assert v.sunlit(999.0) and not v.sunlit(1000.0) and v.sunlit(3000.0)
    assert v.next_shadow() == (1000.0, 3000.0) and v.next_shadow(2000.0) == (1000.0, 3000.0)
    assert v.next_shadow(3000.0) == (7000.0, 9000.0)
    assert v.dod_floor() == pytest.approx(0.65)
    assert v.steady_thermal_W() == pytest.approx(3720.0)
    assert v.soc_orbit_ago() == pytest.approx(0.85)


def test_the_planners_dod_reference_keeps_a_peak_between_samples():
    """One reading of 0.95 among 0.85s: a plan that saw only every fifth reading would measure the
    DoD from 0.85 and plan the SOC down to 0.55 (a 40 % cycle); the 5-minute samples keep the peak."""
    recent = view().recent_soc(300.0)
    assert len(recent) == 20 and recent.max() == pytest.approx(PEAK_SOC)
    assert np.sort(recent)[:-1] == pytest.approx(np.full(19, 0.85))


def test_a_step_out_of_shadow_keeps_the_floor_at_the_shadows_exit():
    """30 s of shadow then 30 s of sun with 5 Wh above the floor: the low point is the shadow's exit,
    so (110 + p) W for 30 s may take 5 Wh: p = 5 * 3600 / 30 - 110 = 490 W, although the sun after it
    would bring the step's end SOC back above the floor at far more."""
    v = view(t=2970.0, soc=0.651)
    assert v.battery_cap_W() == pytest.approx(490.0, abs=1e-6)


def test_a_step_into_shadow_keeps_the_floor_at_its_end():
    """30 s of sun then 30 s of shadow, 50 Wh above the floor, the board past what the arrays give:
    (3970 - p) 30 + (-110 - p) 30 = -50 * 3600, p = 4930 W."""
    v = view(t=970.0, soc=0.66)
    assert v.battery_cap_W() == pytest.approx(4930.0, abs=1e-6)


@pytest.mark.parametrize("bad, message", [
    (dict(soc=math.nan), "soc"), (dict(temp_C=math.inf), "temp_C"), (dict(capacity_Wh=0.0), "capacity_Wh"),
    (dict(eclipses=((10.0, 5.0),)), "eclipse"), (dict(soc_history=np.array([0.5, math.nan])), "history"),
])
def test_a_view_from_bad_telemetry_is_refused_with_one_line(bad, message):
    with pytest.raises(ValueError, match=message) as err:
        view(**bad)
    assert "\n" not in str(err.value)


# ---- each policy by hand -------------------------------------------------------------------------

def test_greedy_is_the_naive_baseline_flat_out_above_40_percent():
    assert ask("greedy", view(soc=0.41)) == BOARD.max_W
    assert ask("greedy", view(soc=0.41, t=2000.0)) == BOARD.max_W  # below its DoD floor: it does not care
    assert ask("greedy", view(soc=0.39)) == 0.0
    assert not POLICIES["greedy"]().respects_limits


def test_greedy_best_clock_runs_at_the_most_work_per_joule_until_a_limit():
    best_W = float(BOARD.power_W(BOARD.best_clock))
    assert ask("greedy-best-clock", view(soc=0.9)) == pytest.approx(best_W)
    assert ask("greedy-best-clock", view(soc=0.9, t=2000.0)) == pytest.approx(best_W)
    # in shadow 5 Wh above the floor: 5 Wh in a minute is 300 W, of which the essentials take 110
    assert ask("greedy-best-clock", view(soc=0.651, t=2000.0)) == pytest.approx(190.0)
    # a sink at 60 C: the radiator takes 60 * (72 - 60) = 720 W for good
    assert ask("greedy-best-clock", view(soc=0.9, sink_C=60.0)) == pytest.approx(720.0)


def test_two_level_spends_the_dod_budget_over_the_shadow_and_refills_in_sun():
    # in shadow, 1000 s left, 0.15 of 5000 Wh above the floor: 750 Wh / 1000 s = 2700 W, less 110 W
    assert ask("two-level", view(soc=0.8, t=2000.0)) == pytest.approx(2590.0)
    # in sun, 1000 s to the shadow, 0.05 of 5000 Wh to refill at 99 %: 909.09 W of the 3970 W spare
    assert ask("two-level", view(soc=0.95)) == pytest.approx(3970.0 - 0.05 * 5000 / 0.99 * 3.6)
    # 0.2 to refill would take 3636 W: the charge limit allows 3000, the board gets the other 970
    assert ask("two-level", view(soc=0.8)) == pytest.approx(970.0)
    # full: every spare watt, up to the radiator's 3720 W
    assert ask("two-level", view(soc=1.0, soc_history=np.full(100, 1.0))) == pytest.approx(3720.0)


def test_orbit_average_balances_the_next_orbit_and_returns_to_the_soc_an_orbit_ago():
    v = view(soc=0.8)  # 0.85 an orbit ago: the orbit must store 0.05 * 5000 Wh more than it spends
    p = ask("orbit-average", v)
    sun, shadow = 4000.0, 2000.0  # seconds of the next orbit
    stored_J = 0.99 * (4000.0 - 30.0 - p) * sun - (110.0 + p) * shadow
    assert stored_J == pytest.approx(0.05 * 5000 * 3600)
    assert p == pytest.approx((0.99 * 2 / 3 * 3970 - 110 / 3 - 150) / (0.99 * 2 / 3 + 1 / 3))
    assert ask("orbit-average", view(soc=0.8, t=2000.0)) == pytest.approx(p)  # the same power all orbit


def test_sunlight_aware_draws_on_the_battery_by_its_headroom():
    # headroom (0.8 - 0.32) / 0.68 of the 750 Wh budget over the last 1000 s of shadow, less 110 W
    assert ask("sunlight-aware", view(soc=0.8, t=2000.0)) == pytest.approx(750 * 0.48 / 0.68 * 3.6 - 110)
    assert ask("sunlight-aware", view(soc=0.95)) == pytest.approx(ask("two-level", view(soc=0.95)))


def test_planned_flies_the_first_step_of_the_lp_from_the_same_inputs():
    v = view(soc=0.9, t=0.0)
    steps = int(PLAN_ORBITS * PERIOD_S / PLAN_STEP_S)
    seconds = np.arange(steps * int(PLAN_STEP_S)) + 0.5  # the eclipses' edges fall on whole seconds
    dark = np.zeros_like(seconds, dtype=bool)
    for a, b in ECLIPSES:
        dark |= (seconds >= a) & (seconds < b)
    dark = dark.reshape(steps, -1).mean(axis=1)
    recent = np.full(20, 0.85)
    recent[8] = PEAK_SOC  # the reading at 40 minutes, in the 5-minute stretch from 40 to 45
    plan = planner.solve(PLAN_STEP_S, 4000.0 * (1 - dark), 30.0 + 80.0 * dark, capacity_Wh=5000.0, soc0=0.9,
                         temp0_C=20.0, recent_soc=recent, window=20, limits=LIMITS,
                         thermal=dataclasses.replace(THERMAL, sink_C=10.0), max_charge_W=3000.0,
                         max_discharge_W=4000.0)
    assert ask("planned", v) == pytest.approx(float(plan.power_W[0]), rel=1e-6, abs=1e-3)


def test_planned_solves_again_every_five_minutes_of_view_time():
    policy = POLICIES["planned"]()
    asked = [policy.power_W(view(t=t, soc=0.9)) for t in np.arange(0.0, 900.0, 60.0)]
    assert policy.solves == 3 and policy.failures == 0
    assert asked[:5] == [asked[0]] * 5  # one plan's step flown through its five minutes
    assert policy.plan is not None and policy.plan_t == 600.0


# ---- the limits, for any view --------------------------------------------------------------------

@st.composite
def views(draw):
    period = draw(st.integers(5400, 7000))
    shadow = draw(st.integers(0, 2400))
    first = draw(st.integers(-period, period))
    eclipses = tuple((first + period * k, first + period * k + shadow) for k in range(-1, 6)) if shadow else ()
    history = draw(st.lists(st.floats(0.2, 1.0), max_size=period // 60))
    limits = planner.Limits(draw(st.floats(0.1, 0.5)), draw(st.floats(0.1, 0.5)), draw(st.floats(50.0, 80.0)), 0.99)
    ess_sun = draw(st.floats(0.0, 200.0))
    step_s = draw(st.sampled_from([30, 60, 120]))
    # the hard cases often: a step across a shadow's edge, a battery just above its floor
    edges = [e for a, b in eclipses for e in (a, b) if 0 <= e <= period]
    t = draw(st.integers(0, period) | st.sampled_from(edges or [0]).flatmap(
        lambda e: st.integers(max(0, e - step_s), e)))
    floor = max(limits.soc_floor, max(history, default=0.0) - limits.dod_limit)
    soc = draw(st.floats(0.2, 1.0) | st.floats(0.0, 0.02).map(lambda d: min(1.0, floor + d)))
    return NodeView(t=float(t), soc=soc,
                    soc_history=np.array(history), history_step_s=60.0, temp_C=draw(st.floats(-20.0, 90.0)),
                    sink_C=draw(st.floats(-40.0, 60.0)), eclipses=eclipses, array_sun_W=draw(st.floats(0.0, 6000.0)),
                    essentials_sun_W=ess_sun, essentials_shadow_W=ess_sun + draw(st.floats(0.0, 200.0)),
                    period_s=float(period), capacity_Wh=draw(st.floats(500.0, 8000.0)), limits=limits,
                    thermal=THERMAL, max_charge_W=draw(st.floats(100.0, 5000.0)),
                    max_discharge_W=draw(st.floats(100.0, 6000.0)), step_s=float(step_s))


def fly_step(v: NodeView, power_W: float) -> tuple[float, float]:
    """The step second by second in the view's power model, written out afresh: (lowest SOC, most
    the battery gave in any second, W)."""
    level, lowest, most = v.soc * v.capacity_Wh, v.soc, 0.0
    for s in range(int(v.step_s)):
        now = v.t + s + 0.5
        dark = any(a <= now < b for a, b in v.eclipses)
        gen = 0.0 if dark else v.array_sun_W
        net = gen - (v.essentials_shadow_W if dark else v.essentials_sun_W) - power_W
        if net > 0:
            net = v.limits.charge_efficiency * min(net, v.max_charge_W)
        level = min(v.capacity_Wh, level + net / 3600.0)
        lowest = min(lowest, level / v.capacity_Wh)
        most = max(most, power_W + (v.essentials_shadow_W if dark else v.essentials_sun_W) - gen)
    return lowest, most


def check_limits(name: str, v: NodeView):
    p = POLICIES[name]().power_W(v)
    assert 0.0 <= p <= BOARD.max_W
    if p == 0.0:
        return  # asking for nothing cannot break a limit the essentials break on their own
    lowest, most = fly_step(v, p)
    assert lowest >= min(v.dod_floor(), v.soc) - 1e-9, f"{name} asked {p:.1f} W"
    assert most <= v.max_discharge_W + 1e-6
    if name == "planned":  # its LP models the heat capacity: the limit holds at the step's end
        a = math.exp(-v.thermal.conductance_W_K * v.step_s / v.thermal.heat_capacity_J_K)
        end_C = a * v.temp_C + (1 - a) * (v.sink_C + p / v.thermal.conductance_W_K)
        assert end_C <= max(v.limits.temp_max_C, v.temp_C) + 1e-6
    else:
        assert p <= v.steady_thermal_W() + 1e-6


RULES = [name for name, make in POLICIES.items() if make().respects_limits and name != "planned"]


@pytest.mark.parametrize("name", RULES)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(v=views())
def test_no_rule_asks_for_power_past_a_limit_within_the_step(name, v):
    check_limits(name, v)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(v=views())
def test_the_plan_flown_keeps_the_limits_within_the_step(v):
    check_limits("planned", v)


def test_every_policy_is_registered_by_the_name_it_carries():
    assert set(POLICIES) == {"greedy", "greedy-best-clock", "two-level", "orbit-average", "sunlight-aware", "planned"}
    assert all(make().name == name for name, make in POLICIES.items())


@pytest.mark.parametrize("name", [name for name in POLICIES if name != "planned"])
def test_a_rule_costs_well_under_a_millisecond(name):
    """The study asks every simulated minute for days: the fastest of five batches of 200 calls,
    each at a new time (steps into and out of shadow included)."""
    policy = POLICIES[name]()
    vs = [view(t=float(t), soc=0.9) for t in range(0, 12000, 60)]
    best = math.inf
    for _ in range(5):
        start = time.perf_counter()
        for v in vs:
            policy.power_W(v)
        best = min(best, (time.perf_counter() - start) / len(vs))
    assert best < 0.5e-3
