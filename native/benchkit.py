"""What every benchmark reports, and how it times itself (shared by all layers' benchmarks)."""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Iterable


@dataclass(frozen=True)
class Figure:
    """One reported number. `key` is the stable JSON name other tools read."""

    key: str
    value: float
    unit: str = ""
    target: str = ""  # human-readable goal, e.g. ">= 8", shown next to the figure


Benchmark = Callable[[], Iterable[Figure]]


def best_rate(fn: Callable[[], object], work: float, min_time_s: float = 0.2, repeat: int = 5) -> float:
    """Best-of-`repeat` throughput of `fn` in `work` units per second.

    Each repeat runs `fn` enough times to last at least `min_time_s`, so that short calls are not
    dominated by timer resolution. Best-of, not mean: interference only ever slows a run down.
    """
    calls = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        dt = time.perf_counter() - t0
        if dt >= min_time_s / 4 or calls >= 1 << 20:
            break
        calls *= 2
    best = calls * work / dt
    for _ in range(repeat - 1):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        best = max(best, calls * work / (time.perf_counter() - t0))
    return best
