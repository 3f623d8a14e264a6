"""Compute benchmarks: what ABFT costs a GEMM and what it catches. (What the scheduler makes of a
day of energy is the scheduling study's benchmark, `gridfree.flight.study.bench`.)"""
from __future__ import annotations

import numpy as np

from gridfree.flight.compute.abft import abft_matmul, flip_bit, high_bits
from gridfree.native.benchkit import Figure, best_rate

OVERHEAD_N = 1024
FLIP_N = 256
FLIPS_PER_DTYPE = 1000
ROUNDS = 40
VISIBLE = 1e-2
"""A flip is counted against the detection rate when its element is at least this fraction of its
row's rms. Below, even a flip of the top exponent bit towards zero changes the product by less
than the rounding noise its row's checksum carries (abft.py's docstring): no float checksum can
see it, and the result stays as accurate as the check can certify. Those are counted apart."""


def _overhead(dtype) -> float:
    """ABFT GEMM throughput / plain `a @ b` throughput. Rounds alternate between the two, so that
    load from other processes falls on both alike; best-of, as interference only ever slows a run
    down. On a loaded two-core node the ratio still swings by a few per cent from run to run."""
    rng = np.random.default_rng(1)
    a = rng.standard_normal((OVERHEAD_N, OVERHEAD_N)).astype(dtype)
    b = rng.standard_normal((OVERHEAD_N, OVERHEAD_N)).astype(dtype)
    plain = abft = 0.0
    for _ in range(ROUNDS):
        plain = max(plain, best_rate(lambda: a @ b, 1.0, repeat=1))
        abft = max(abft, best_rate(lambda: abft_matmul(a, b), 1.0, repeat=1))
    return abft / plain


def _flips(dtype, rng) -> tuple[int, int, int, int]:
    """Random single flips of high bits (sign, exponent, top mantissa bits) of random elements of
    the product: (visible flips, of them detected, of them restored bit-exactly, flips in
    elements below VISIBLE that went undetected)."""
    a = rng.standard_normal((FLIP_N, FLIP_N)).astype(dtype)
    b = rng.standard_normal((FLIP_N, FLIP_N)).astype(dtype)
    clean = abft_matmul(a, b).c
    rms = np.sqrt(np.mean(clean.astype(np.float64) ** 2, axis=1))
    bits = np.array(high_bits(dtype))
    visible = detected = restored = unseen = 0
    for _ in range(FLIPS_PER_DTYPE):
        i, j = rng.integers(FLIP_N, size=2)
        flat, bit = i * (FLIP_N + 1) + j, int(rng.choice(bits))

        def inject(stage, x, attempt):
            if stage == "product" and attempt == 0:
                flip_bit(x, flat, bit)

        r = abft_matmul(a, b, inject=inject)
        if abs(float(clean[i, j])) >= VISIBLE * rms[i]:
            visible += 1
            detected += r.detected
            restored += np.array_equal(r.c, clean)
        else:
            unseen += not r.detected
    return visible, detected, restored, unseen


def abft_figures():
    for dtype, name in ((np.float32, "f32"), (np.float64, "f64")):
        yield Figure(f"abft_overhead_{name}", _overhead(dtype), "x plain", ">= 0.95")
    rng = np.random.default_rng(7)
    visible, detected, restored, unseen = (sum(c) for c in zip(*(_flips(dtype, rng) for dtype in (np.float32, np.float64))))
    injected = 2 * FLIPS_PER_DTYPE
    yield Figure("abft_detect_rate", detected / visible, "detected / injected",
                 f"1.0 ({visible} of {injected} high-bit flips, n={FLIP_N}, float32 and float64, in elements "
                 f">= {VISIBLE:g} of their row's rms)")
    yield Figure("abft_correct_rate", restored / visible, "bit-exact / injected", "1.0")
    yield Figure("abft_unseen_small", unseen, "flips", f"(in the {injected - visible} elements below {VISIBLE:g} of "
                 "their row's rms: within the checksums' rounding noise)")


BENCHMARKS = [abft_figures]
