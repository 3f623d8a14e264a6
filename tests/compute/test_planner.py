"""The planner's LP: checked against physics by hand and against an exhaustive search."""
import itertools

import numpy as np
import pytest

from gridfree.flight.compute import planner
from gridfree.flight.compute.datasheet import BOARD

CAP_WH = 5328.0
COOL = planner.Thermal(sink_C=0.0, conductance_W_K=1000.0, heat_capacity_J_K=60_000.0)  # never the limit


def test_in_constant_sun_it_runs_steadily_on_what_the_arrays_give():
    """No eclipse, a full battery: the most work is every spare watt at one steady clock (the work
    is concave in the power), nothing shunted while the board can take it, the SOC unchanged."""
    gen, ess = np.full(24, 3000.0), 40.0
    plan = planner.solve(300.0, gen, ess, capacity_Wh=CAP_WH, soc0=1.0, temp0_C=20.0, window=19, thermal=COOL)
    assert plan.power_W == pytest.approx(np.full(24, 2960.0), abs=1.0)
    assert plan.shunt_W.max() < 1.0 and plan.soc == pytest.approx(1.0, abs=1e-6)


def test_a_surplus_beyond_the_board_is_shunted_not_invented():
    gen = np.full(12, 9000.0)
    plan = planner.solve(300.0, gen, 40.0, capacity_Wh=CAP_WH, soc0=1.0, temp0_C=20.0, window=19, thermal=COOL)
    assert plan.power_W == pytest.approx(np.full(12, BOARD.max_W))
    assert plan.shunt_W == pytest.approx(np.full(12, 9000.0 - 40.0 - BOARD.max_W), abs=1e-3)


def test_the_radiator_caps_the_steady_power():
    """A hot sink: the payload may only dissipate G (Tmax - Tsink) for good, whatever the arrays give."""
    hot = planner.Thermal(sink_C=30.0, conductance_W_K=60.0, heat_capacity_J_K=60_000.0)
    limits = planner.Limits(temp_max_C=72.0)
    plan = planner.solve(300.0, np.full(48, 5000.0), 40.0, capacity_Wh=CAP_WH, soc0=1.0, temp0_C=30.0,
                         window=19, thermal=hot, limits=limits)
    assert plan.temp_C.max() <= 72.0 + 1e-6
    assert plan.power_W[-10:] == pytest.approx(np.full(10, 60.0 * (72.0 - 30.0)), rel=1e-3)


def test_through_eclipses_it_keeps_the_dod_limit_and_the_floor():
    period, step = 19, 300.0
    sun = np.tile(np.r_[np.ones(12), np.zeros(7)], 3).astype(bool)
    gen = np.where(sun, 4300.0, 0.0)
    ess = np.where(sun, 29.0, 59.0)
    limits = planner.Limits(soc_floor=0.32, dod_limit=0.30)
    plan = planner.solve(step, gen, ess, capacity_Wh=CAP_WH, soc0=0.9, temp0_C=20.0, window=period,
                         thermal=COOL, limits=limits)
    soc = np.r_[0.9, plan.soc]
    assert soc.min() >= 0.32 - 1e-6
    for k in range(1, len(soc)):
        assert soc[max(0, k - period):k].max() - soc[k] <= 0.30 + 1e-6
    assert plan.power_W[~sun].max() > 0  # it does spend from the battery in shadow
    # energy balance by hand, step by step
    for k in range(len(gen)):
        net = gen[k] - ess[k] - plan.power_W[k] - plan.shunt_W[k]
        dsoc = net * step / 3600 / CAP_WH * (0.99 if net > 0 else 1.0)
        assert soc[k + 1] - soc[k] == pytest.approx(dsoc, abs=1e-6)


def test_the_lp_matches_an_exhaustive_search_of_a_small_plan():
    """Three steps (sun, shadow, shadow) with a small battery: every combination of powers on a
    100 W grid flown through the same rules; the LP's optimum is at least the best of them and
    no more than one grid step's work above it."""
    step, cap = 600.0, 800.0
    gen, ess = np.array([3000.0, 0.0, 0.0]), np.array([30.0, 60.0, 60.0])
    limits = planner.Limits(soc_floor=0.3, dod_limit=0.6, temp_max_C=1e9)
    lp = planner.solve(step, gen, ess, capacity_Wh=cap, soc0=0.8, temp0_C=20.0, window=10, thermal=COOL,
                       limits=limits, terminal_value=0.0)

    def work(p):
        c, d = BOARD.operating_point(p)
        return d * float(BOARD.mflops(c)) * step

    grid = np.arange(0.0, BOARD.max_W + 1, 100.0)
    work_of = {p: work(p) for p in grid}
    best = 0.0
    for powers in itertools.product(grid, repeat=3):
        soc, peak, ok = 0.8, 0.8, True
        for g, e, p in zip(gen, ess, powers):
            net = g - e - p
            soc = min(1.0, soc + net * step / 3600 / cap * (0.99 if net > 0 else 1.0))
            peak = max(peak, soc)
            ok &= soc >= 0.3 - 1e-9 and peak - soc <= 0.6 + 1e-9
        if ok:
            best = max(best, sum(work_of[p] for p in powers))
    assert lp.total_work_mflop >= best * (1 - 1e-6)
    assert lp.total_work_mflop <= best + 3 * 100.0 * BOARD.work_envelope[0][0] * step * 1.01


def test_non_finite_telemetry_gives_no_plan_rather_than_a_wrong_one():
    with pytest.raises(planner.PlanFailed):
        planner.solve(300.0, np.full(5, 1000.0), 30.0, capacity_Wh=CAP_WH, soc0=float("nan"), temp0_C=20.0, window=19)


def test_a_node_already_below_its_floor_still_gets_the_plan_that_recovers_soonest():
    plan = planner.solve(300.0, np.full(12, 2000.0), 30.0, capacity_Wh=CAP_WH, soc0=0.2, temp0_C=20.0, window=19,
                         thermal=COOL)
    assert plan.soc[0] > 0.2 and np.all(np.diff(plan.soc[:6]) > 0)


def test_a_solve_over_its_time_limit_gives_no_plan():
    """On board a plan that is late is no plan: the grant rules until the next solve."""
    sun = np.tile(np.r_[np.ones(12), np.zeros(7)], 40).astype(bool)
    with pytest.raises(planner.PlanFailed):
        planner.solve(300.0, np.where(sun, 4300.0, 0.0), 40.0, capacity_Wh=CAP_WH, soc0=0.9, temp0_C=20.0,
                      window=19, time_limit_s=1e-6)


def test_the_battery_limits_bound_charge_and_discharge():
    """Long shadow, full battery: the plan cannot draw more than the discharge limit from it, and
    in sun what the charge limit turns away is shunted, not stored."""
    sun = np.r_[np.zeros(6), np.ones(6)].astype(bool)
    gen = np.where(sun, 6000.0, 0.0)
    plan = planner.solve(300.0, gen, 40.0, capacity_Wh=CAP_WH, soc0=0.95, temp0_C=20.0, window=19, thermal=COOL,
                         max_charge_W=1000.0, max_discharge_W=2000.0, limits=planner.Limits(dod_limit=0.9))
    assert plan.power_W[~sun].max() <= 2000.0 - 40.0 + 1e-6
    soc = np.r_[0.95, plan.soc]
    gain = np.diff(soc)[sun] * CAP_WH * 3600 / 300.0 / 0.99
    assert gain.max() <= 1000.0 + 1e-3
