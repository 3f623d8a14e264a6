"""Rate groups on the lockstep clock: exact tick times and counts, no wall-clock waiting."""
import threading

import pytest

from gridfree.flight.core.clock import LockstepClock, RealClock
from gridfree.flight.core.scheduler import RateGroup, Scheduler


def make(rates_hz, start=1000.0):
    clock = LockstepClock(start)
    seen = {hz: [] for hz in rates_hz}
    groups = [RateGroup(f"{hz}Hz", 1.0 / hz, [seen[hz].append]) for hz in rates_hz]
    sched = Scheduler(clock, groups)
    sched.start()
    return clock, sched, seen


def test_each_group_ticks_at_epoch_plus_k_periods():
    clock, sched, seen = make([10, 1, 0.1], start=1000.0)
    sched.advance_to(1020.0)
    assert len(seen[10]) == 201 and len(seen[1]) == 21 and len(seen[0.1]) == 3
    assert seen[1] == [1000.0 + k for k in range(21)]
    assert seen[0.1] == [1000.0, 1010.0, 1020.0]
    assert seen[10][-1] == pytest.approx(1020.0)
    assert clock.now() == 1020.0


def test_members_see_the_clock_at_their_tick_time():
    clock = LockstepClock(0.0)
    times = []
    sched = Scheduler(clock, [RateGroup("1Hz", 1.0, [lambda t: times.append((t, clock.now()))])])
    sched.start()
    sched.advance_to(3.5)
    assert times == [(0.0, 0.0), (1.0, 1.0), (2.0, 2.0), (3.0, 3.0)]
    assert clock.now() == 3.5


def test_ticks_run_in_time_order_across_groups():
    clock = LockstepClock(0.0)
    order = []
    fast = RateGroup("fast", 0.5, [lambda t: order.append(("fast", t))])
    slow = RateGroup("slow", 1.0, [lambda t: order.append(("slow", t))])
    sched = Scheduler(clock, [slow, fast])
    sched.start()
    sched.advance_to(1.0)
    assert [t for _, t in order] == sorted(t for _, t in order)
    assert ("slow", 1.0) in order and ("fast", 0.5) in order


def test_a_failing_member_is_counted_and_reported_and_the_group_continues():
    clock = LockstepClock(0.0)
    errors, ok = [], []

    def broken(t):
        raise RuntimeError(f"sensor read failed at {t}")

    group = RateGroup("1Hz", 1.0, [broken, ok.append])
    sched = Scheduler(clock, [group], on_error=lambda g, m, e: errors.append(str(e)))
    sched.start()
    sched.advance_to(2.0)
    assert group.stats.errors == 3 and group.stats.ticks == 3
    assert ok == [0.0, 1.0, 2.0]
    assert errors[0] == "sensor read failed at 0.0"


def test_lockstep_time_never_goes_backwards():
    clock = LockstepClock(10.0)
    with pytest.raises(ValueError, match="backwards"):
        clock.set(9.0)


def test_bad_periods_and_duplicate_groups_are_rejected():
    with pytest.raises(ValueError, match="period"):
        RateGroup("bad", 0.0)
    sched = Scheduler(LockstepClock(), [RateGroup("a", 1.0)])
    with pytest.raises(ValueError, match="duplicate"):
        sched.add(RateGroup("a", 2.0))


def test_real_time_overrun_is_detected_and_missed_ticks_skipped():
    """A member that works for 3.5 periods produces an overrun and skipped ticks, not a burst."""
    stop = threading.Event()
    calls = []

    def member(t):
        calls.append(t)
        if len(calls) == 2:
            threading.Event().wait(0.07)  # simulated work: 70 ms in a 20 ms group
        if len(calls) >= 4:
            stop.set()

    group = RateGroup("50Hz", 0.02, [member])
    overruns = []
    sched = Scheduler(RealClock(), [group], on_overrun=lambda g, late: overruns.append(late))
    sched.run(stop)
    assert group.stats.overruns >= 1 and overruns
    assert group.stats.skipped >= 2
    # Ticks stay on the 20 ms grid after the skip (tolerance: float ulp at Unix-epoch scale).
    steps = [(t - calls[0]) / 0.02 for t in calls]
    assert all(abs(s - round(s)) < 1e-3 for s in steps)
    assert round(steps[2]) >= 4  # at least two ticks were skipped, not run late in a burst
