"""The payload datasheet model: draw and work by the clock, and the operating points the
scheduler relies on."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from gridfree.flight.compute.datasheet import BOARD, PayloadModel


def test_draw_by_hand():
    # idle at the lowest clock, the nameplate at full clock; at half clock the voltage is
    # 0.6 + 0.4 * 0.5 = 0.8 of full, so the dynamic draw is 0.5 * 0.8^2 = 0.32 of its maximum
    assert BOARD.power_W(0.0) == BOARD.idle_W and BOARD.power_W(1.0) == BOARD.max_W
    assert BOARD.power_W(0.5) == pytest.approx(300 + 5700 * 0.32)
    assert BOARD.mflops(0.5) == pytest.approx(20e6)


@given(st.floats(0.0, 1.0))
def test_clock_for_inverts_the_draw(c):
    assert BOARD.clock_for(float(BOARD.power_W(c))) == pytest.approx(c, abs=1e-8)


def test_best_clock_is_where_work_per_joule_peaks():
    """At the best clock the tangent of the draw passes through the origin: P(c) = c P'(c)."""
    c, eps = BOARD.best_clock, 1e-6
    slope = (BOARD.power_W(c + eps) - BOARD.power_W(c - eps)) / (2 * eps)
    assert BOARD.power_W(c) == pytest.approx(c * slope, rel=2e-3)
    grid = np.linspace(0.01, 1, 991)
    assert BOARD.mflops(c) / BOARD.power_W(c) >= (BOARD.mflops(grid) / BOARD.power_W(grid)).max() * (1 - 1e-6)


@given(st.floats(1.0, 6000.0))
def test_operating_point_spends_the_power_for_at_least_the_work_of_any_steady_clock(power_W):
    clock, duty = BOARD.operating_point(power_W)
    assert duty * BOARD.power_W(clock) == pytest.approx(power_W, rel=1e-6)
    if power_W >= BOARD.idle_W:  # a steady clock can spend it too: never better
        steady = BOARD.clock_for(power_W)
        assert duty * BOARD.mflops(clock) >= BOARD.mflops(steady) * (1 - 1e-6)


def test_the_work_envelope_bounds_the_board_from_above_and_touches_it():
    lines = BOARD.work_envelope
    clocks = np.linspace(0.0, 1.0, 2001)
    points = [BOARD.operating_point(float(p)) for p in BOARD.power_W(clocks)]
    for (c, d), p in zip(points, BOARD.power_W(clocks)):
        bound = min(s * p + i for s, i in lines)
        assert bound >= d * BOARD.mflops(c) * (1 - 1e-9)
        assert bound <= d * BOARD.mflops(c) * 1.01  # 24 tangents: within 1 % everywhere


def test_without_voltage_scaling_a_lower_clock_buys_nothing():
    """The scheduler's lever is the voltage falling with the clock: take it away (and the idle
    draw) and every clock does the same work per joule."""
    flat = PayloadModel(idle_W=0.0, v_min=1.0)
    per_J = flat.mflops(np.linspace(0.1, 1, 10)) / flat.power_W(np.linspace(0.1, 1, 10))
    assert np.allclose(per_J, per_J[-1])
    assert BOARD.mflops(0.3) / BOARD.power_W(0.3) > 1.4 * BOARD.mflops(1.0) / BOARD.power_W(1.0)


def test_each_kind_declares_its_unit_rate_and_draw():
    """By hand: a 1024^3 MATMUL chunk is 2147 MFLOP, 53.7 us at full clock on a 40 TFLOP/s board,
    at the board's full 6 kW; a tile filter at half clock draws idle plus 0.45 of the dynamic
    draw there, and takes twice as long as at full clock."""
    from gridfree.flight.compute.kinds import KIND_MODELS
    from gridfree.protocols.compute import JobSpec, Kind

    mm = KIND_MODELS[Kind.MATMUL]
    units = JobSpec(1, 1, Kind.MATMUL, 1, 1024, 1, 1).work_units()
    assert units == 2147 and mm.seconds(units, 1.0) == pytest.approx(2147 / 40e6)
    assert mm.energy_Wh(units, 1.0) == pytest.approx(6000.0 * 2147 / 40e6 / 3600)
    tiles = KIND_MODELS[Kind.TILES]
    assert tiles.power_W(0.5) == pytest.approx(300 + 0.45 * (300 + 5700 * 0.32 - 300))
    assert tiles.seconds(1000, 0.5) == pytest.approx(2 * tiles.seconds(1000, 1.0))
    # what the planner counts: the same board time as MFLOP at full clock
    assert tiles.full_clock_mflop(4e6) == pytest.approx(40e6)
