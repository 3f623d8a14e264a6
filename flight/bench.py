"""Flight benchmarks: rate-group timing on the real clock, and lockstep speed."""
from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path

from gridfree.flight.core.clock import J2000_UNIX_S, RealClock
from gridfree.flight.core.scheduler import RateGroup, Scheduler
from gridfree.native.benchkit import Figure

RUN_S = 3.0


def _sleep_loop_lateness(period_s: float, n: int) -> list[float]:
    """The baseline: a bare loop sleeping to the same grid with Event.wait."""
    late, t0, ev = [], time.monotonic(), threading.Event()
    for k in range(1, n + 1):
        due = t0 + k * period_s
        ev.wait(max(0.0, due - time.monotonic()))
        late.append(time.monotonic() - due)
    return late


def _p99(xs: list[float]) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(0.99 * len(xs)))]


def rategroup_figures():
    stop = threading.Event()
    group = RateGroup("fast", 0.1, [lambda t: None])
    sched = Scheduler(RealClock(), [group])
    threading.Timer(RUN_S, stop.set).start()
    sched.run(stop)
    ours = group.stats.jitter_p99_s()
    base = _p99(_sleep_loop_lateness(0.1, int(RUN_S / 0.1)))
    yield Figure("rategroup_jitter_p99_ms", ours * 1e3, "ms", "< 1")
    yield Figure("rategroup_jitter_vs_sleep", ours / base if base > 0 else 1.0, "x",
                 "~1: the scheduler adds nothing to the OS's own wake-up jitter")


def lockstep_figures():
    from gridfree.flight.app.config import NodeConfig
    from gridfree.flight.app.node import Node

    with tempfile.TemporaryDirectory() as tmp:
        node = Node(NodeConfig(state_dir=Path(tmp), clock="lockstep"), tm_sink=lambda vc, packet: None, insecure=True)
        node.start(open_radio=False)
        sim_s = 600.0
        t0 = time.perf_counter()
        node.step_to(J2000_UNIX_S + sim_s)
        wall = time.perf_counter() - t0
        node.stop()
    yield Figure("lockstep_speedup", sim_s / wall, "sim s / wall s", ">= 1000")


BENCHMARKS = [rategroup_figures, lockstep_figures]
