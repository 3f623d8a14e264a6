"""Rainflow counting against ASTM E1049-85's worked example and a literal transcription of its
rules, its conservation properties, and battery life used by Miner's rule against the cycle-life
curve."""
import time

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from gridfree.protocols.rainflow import Cycle, CycleLife, life_used, rainflow, reversals

# ASTM E1049-85 (2017), section 5.4.4, Fig. 6: the load history A..I and its counted cycles
# (X.4 table): range 3 half, range 4 one and a half, range 6 half, range 8 one, range 9 half.
ASTM_HISTORY = [-2, 1, -3, 5, -1, 3, -4, 4, -2]
ASTM_CYCLES = [Cycle(3, -0.5, 0.5), Cycle(4, -1.0, 0.5), Cycle(4, 1.0, 1.0), Cycle(8, 1.0, 0.5),
               Cycle(9, 0.5, 0.5), Cycle(8, 0.0, 0.5), Cycle(6, 1.0, 0.5)]

series = st.lists(st.integers(-50, 50), min_size=0, max_size=60)


def by_range(cycles):
    out = {}
    for c in cycles:
        out[c.range] = out.get(c.range, 0.0) + c.count
    return out


def astm_literal(points):
    """Section 5.4.4 read word for word over a list of peaks and valleys with an explicit starting
    point S: an independent transcription to compare the stack implementation against."""
    pts, s, counted, i = list(points), 0, [], 0
    kept = []  # indices into pts not discarded, in order
    while True:
        if i < len(pts):  # step 1: read the next peak or valley
            kept.append(i)
            i += 1
        else:  # step 6: every range not counted is a half cycle
            counted += [(abs(pts[b] - pts[a]), 0.5) for a, b in zip(kept, kept[1:])]
            return sorted(counted)
        while len(kept) >= 3:  # step 2
            x = abs(pts[kept[-1]] - pts[kept[-2]])
            y = abs(pts[kept[-2]] - pts[kept[-3]])
            if x < y:  # step 3
                break
            if s in (kept[-3], kept[-2]):  # step 5: Y contains the starting point
                counted.append((y, 0.5))
                kept.remove(kept[-3])
                s = kept[0]
            else:  # step 4
                counted.append((y, 1.0))
                del kept[-3:-1]


def test_the_standards_worked_example():
    assert rainflow(ASTM_HISTORY) == ASTM_CYCLES
    assert by_range(rainflow(ASTM_HISTORY)) == {3: 0.5, 4: 1.5, 6: 0.5, 8: 1.0, 9: 0.5}


def test_points_between_reversals_and_flat_stretches_are_not_reversals():
    assert reversals([0, 1, 2, 2, 3, 1, 1, 0, 4]).tolist() == [0, 3, 0, 4]
    assert reversals([5, 5, 5]).tolist() == [5]
    assert rainflow([5, 5, 5]) == [] and rainflow([]) == [] and rainflow([1.5]) == []
    assert rainflow([0, 2]) == [Cycle(2, 1, 0.5)]


@given(series)
def test_matches_a_literal_transcription_of_the_standard(xs):
    got = sorted((c.range, c.count) for c in rainflow(xs))
    assert got == astm_literal(reversals(xs).tolist())


@given(series)
def test_every_reversal_is_counted_once(xs):
    """n reversals are n - 1 ranges: a closed cycle uses two of them, a half cycle one."""
    n = len(reversals(xs))
    assert sum(2 * c.count for c in rainflow(xs)) == max(n - 1, 0)


@given(series)
def test_counted_ranges_add_up_to_the_distance_travelled(xs):
    """A closed cycle of range r goes up and down r; a half cycle r once: the range-weighted
    count is the series' total variation, so no excursion is lost or counted twice."""
    assert sum(2 * c.count * c.range for c in rainflow(xs)) == sum(abs(b - a) for a, b in zip(xs, xs[1:]))


@given(series, st.data())
def test_points_added_on_monotone_stretches_change_nothing(xs, data):
    dense = []
    for a, b in zip(xs, xs[1:]):
        dense.append(a)
        lo, hi = sorted((a, b))
        dense += sorted(data.draw(st.lists(st.floats(lo, hi), max_size=3)), reverse=a > b)
    dense += xs[-1:]
    assert rainflow(dense) == rainflow(xs)


@given(series)
def test_cycles_stay_inside_the_series(xs):
    for c in rainflow(xs):
        assert 0 < c.range <= max(xs) - min(xs)
        assert min(xs) <= c.mean - c.range / 2 and c.mean + c.range / 2 <= max(xs)
        assert c.count in (0.5, 1.0)


def test_bad_series_get_one_line_errors():
    with pytest.raises(ValueError, match="sample 2 is nan"):
        rainflow([0.5, 0.6, float("nan")])
    with pytest.raises(ValueError, match="one-dimensional"):
        rainflow([[0.1, 0.2], [0.3, 0.4]])
    with pytest.raises(ValueError, match="a percentage"):
        life_used([80.0, 60.0, 90.0])
    with pytest.raises(ValueError, match="0..1"):
        life_used([0.5, -0.2, 0.5])


def test_the_curve_is_the_documented_power_law():
    curve = CycleLife()
    assert curve.cycles_to_failure(0.20) == pytest.approx(30_000)
    assert curve.cycles_to_failure(0.10) == pytest.approx(120_000)  # half the depth, four times the cycles
    assert curve.cycles_to_failure(0.0) == float("inf")
    assert CycleLife(n_ref=1000, dod_ref=1.0, k=1.5).cycles_to_failure(0.25) == pytest.approx(8000)
    for bad in (dict(n_ref=0), dict(dod_ref=1.5), dict(k=-1), dict(k=float("nan"))):
        with pytest.raises(ValueError, match="CycleLife"):
            CycleLife(**bad)


def test_life_used_is_miners_sum_over_the_cycles():
    """15 orbits a day between 100 % and 80 %: 14 closed 20 % cycles and two half ones, each
    1/30 000 of the life by the default curve."""
    day = [1.0, 0.8] * 15 + [1.0]
    assert life_used(day) == pytest.approx(15 / 30_000)
    assert CycleLife().life_used(day) == life_used(day)
    # The same charge throughput in 10 % cycles costs half: depth matters, not only throughput.
    shallow = [1.0, 0.9] * 30 + [1.0]
    assert life_used(shallow) == pytest.approx(0.5 * life_used(day))
    assert life_used([0.7] * 100) == 0.0 and life_used([]) == 0.0


@settings(max_examples=50)
@given(st.lists(st.floats(0.0, 1.0), min_size=2, max_size=60), st.floats(0.1, 0.9))
def test_deeper_swings_use_more_life(soc, scale):
    soc = np.asarray(soc)
    shallower = soc.mean() + scale * (soc - soc.mean())
    assert life_used(shallower) <= life_used(soc) * scale ** 2 * (1 + 1e-9) + 1e-15


def _orbits(n, rng):
    t_s = np.arange(n) * (86_400 / n)
    return 0.9 - 0.15 * np.clip(np.sin(2 * np.pi * t_s / 5_554), 0, None) + 0.001 * rng.standard_normal(n)


def test_a_day_of_samples_counts_fast():
    """The study counts every policy's day: a day at one sample a minute in milliseconds, a day at
    one a second (every sample a reversal, from the noise) well under a second."""
    rng = np.random.default_rng(19)
    for n, budget_s in ((1440, 0.02), (86_400, 0.5)):
        soc = _orbits(n, rng)
        best = min(_timed(life_used, soc) for _ in range(3))
        assert best < budget_s, f"{n} samples took {best * 1000:.1f} ms"


def _timed(f, *args):
    t0 = time.perf_counter()
    f(*args)
    return time.perf_counter() - t0


def test_soc_a_hair_outside_zero_to_one_is_rounding_not_a_percentage():
    assert life_used([1.0 + 1e-12, 0.8, 1.0]) == pytest.approx(life_used([1.0, 0.8, 1.0]))
