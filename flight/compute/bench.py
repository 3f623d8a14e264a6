"""Compute benchmarks: what ABFT costs a GEMM and what it catches. (What the scheduler makes of a
day of energy is the scheduling study's benchmark, `gridfree.flight.study.bench`.)

Issue 18's figures: `abft_silent_f32` / `_f64`, the fraction of random single bit flips (random
element of the product, random bit) that leave an element off by more than 1e-4 (float32) or
1e-10 (float64) of its row's rms once the checks have corrected or recomputed what they caught,
against a wider reference (float64 for float32 products, long double for float64), the worst of
n = 256, 1024 and 2048; and `abft_overhead_f32_n256` / `_n1024`, plain `a @ b` time over ABFT
time with one BLAS thread (a child process started with OPENBLAS_NUM_THREADS=1: a running
OpenBLAS cannot be narrowed without a library we do not carry), operands allocated once, the
median of RUNS interleaved runs, their spread shown with it."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np

from gridfree.flight.compute.abft import abft_matmul, check_and_repair, flip_bit, framed, high_bits
from gridfree.flight.compute.abft_check import THRESHOLD_RMS
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
SILENT_SIZES = (256, 1024, 2048)
SILENT_FLIPS = 2000
SINGLE_THREAD_SIZES = (256, 1024)
RUNS = 11
RUN_S = 0.2
"""Each of the RUNS interleaved runs times calls of plain and of ABFT lasting this together."""


def _overhead(dtype) -> float:
    """ABFT GEMM throughput / plain `a @ b` throughput, with the BLAS's own threads. Rounds
    alternate between the two, so that load from other processes falls on both alike; best-of, as
    interference only ever slows a run down."""
    rng = np.random.default_rng(1)
    a = rng.standard_normal((OVERHEAD_N, OVERHEAD_N)).astype(dtype)
    b = rng.standard_normal((OVERHEAD_N, OVERHEAD_N)).astype(dtype)
    plain = abft = 0.0
    for _ in range(ROUNDS):
        plain = max(plain, best_rate(lambda: a @ b, 1.0, repeat=1))
        abft = max(abft, best_rate(lambda: abft_matmul(a, b), 1.0, repeat=1))
    return abft / plain


def interleaved_ratios(n: int, runs: int = RUNS, dtype=np.float32) -> tuple[list[float], float]:
    """Plain time / ABFT time of `runs` runs of RUN_S or more each. Within a run the calls
    alternate, plain and ABFT, which of the two goes first alternating too: load from other
    processes, which on a shared machine comes and goes within milliseconds, then falls on both
    alike. And the ratio of the fastest calls of each, what an idle machine would show."""
    rng = np.random.default_rng(n)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    for _ in range(3):  # warm: first-touch of the result buffers, the plan cache
        a @ b
        abft_matmul(a, b)
    t0 = time.perf_counter()
    a @ b
    pairs = max(1, int(RUN_S / 2 / max(time.perf_counter() - t0, 1e-9)))
    clock = time.perf_counter
    ratios, fastest = [], [np.inf, np.inf]
    for _ in range(runs):
        plain = abft = 0.0
        for pair in range(pairs):
            if pair % 2:
                t0 = clock()
                abft_matmul(a, b)
                t1 = clock()
                a @ b
                t2 = clock()
                one_abft, one_plain = t1 - t0, t2 - t1
            else:
                t0 = clock()
                a @ b
                t1 = clock()
                abft_matmul(a, b)
                t2 = clock()
                one_plain, one_abft = t1 - t0, t2 - t1
            plain, abft = plain + one_plain, abft + one_abft
            fastest = [min(fastest[0], one_plain), min(fastest[1], one_abft)]
        ratios.append(plain / abft)
    return ratios, fastest[0] / fastest[1]


def _single_thread_child() -> None:
    """In the child process: the interleaved ratios at each size, as JSON on stdout."""
    print(json.dumps({n: interleaved_ratios(n) for n in SINGLE_THREAD_SIZES}))


def single_thread_ratios() -> dict[int, tuple[list[float], float]]:
    """`interleaved_ratios` at SINGLE_THREAD_SIZES in a child process whose BLAS has one thread."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
    child = subprocess.run([sys.executable, "-c", "from gridfree.flight.compute.bench import _single_thread_child; "
                            "_single_thread_child()"], env=env, capture_output=True, text=True, timeout=900)
    if child.returncode:
        raise RuntimeError(f"single-thread overhead run failed: {child.stderr.strip().splitlines()[-1:]}")
    return {int(n): (r, fastest) for n, (r, fastest) in json.loads(child.stdout).items()}


def silent_fraction(dtype, n: int, flips: int, rng: np.random.Generator) -> tuple[float, float]:
    """Of `flips` random single bit flips in the product of two n x n Gaussian matrices, the
    fraction that leave some element off by more than THRESHOLD_RMS of its row's rms after the
    checks, and the clean product's own largest such error (the floor every flip starts from).

    The product is computed once and each flip lands in it as `abft_matmul` would have it (the
    framed product, before its check), then `check_and_repair` runs exactly as in `abft_matmul`
    (recomputations included) and the elements that then differ from the clean product (in the
    flipped row, or anywhere after a recomputation) are held against the reference: one
    long-double dot product each. Computing the product again for each
    of the flips would take an hour at n = 2048 and give the same bits."""
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    ops, p = framed(a, b, dtype)
    np.matmul(ops.a, ops.b, out=p[:, :n])
    clean = p[:, :n].copy()
    rms = np.sqrt(np.mean(np.square(clean, dtype=np.float64), axis=1))
    limit = THRESHOLD_RMS[np.dtype(dtype)]
    wide_a, wide_b = a.astype(np.longdouble), b.astype(np.longdouble)

    def off(i: int, j: int, value) -> float:
        return float(abs(np.longdouble(value) - wide_a[i] @ wide_b[:, j]) / rms[i])

    sample = rng.integers(n, size=(500, 2))
    floor = max(off(i, j, clean[i, j]) for i, j in sample)
    left = 0
    with np.errstate(all="ignore"):
        for _ in range(flips):
            i, j, bit = int(rng.integers(n)), int(rng.integers(n)), int(rng.integers(8 * a.itemsize))
            flip_bit(p, i * p.shape[-1] + j, bit)
            r = check_and_repair(p, ops)
            rows = slice(None) if r.recomputed else slice(i, i + 1)  # a correction writes in row i only
            changed = np.argwhere(r.c[rows] != clean[rows]) + [(rows.start or 0), 0]
            left += any(not off(x, y, r.c[x, y]) <= limit for x, y in changed)
            r.c[tuple(changed.T)] = clean[tuple(changed.T)]
    return left / flips, floor


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
        i, j = (int(x) for x in rng.integers(FLIP_N, size=2))
        bit = int(rng.choice(bits))

        def inject(stage, x, attempt):
            if stage == "product" and attempt == 0:
                flip_bit(x, i * x.shape[-1] + j, bit)

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
        yield Figure(f"abft_overhead_{name}", _overhead(dtype), "x plain", ">= 0.95 (n=1024, the BLAS's threads, best of rounds)")
    load = os.getloadavg()[0]
    for n, (ratios, fastest) in single_thread_ratios().items():
        target = {256: 0.85, 1024: 0.97}[n]
        yield Figure(f"abft_overhead_f32_n{n}", float(np.median(ratios)), "plain time / abft time",
                     f">= {target} (1 BLAS thread, median of {len(ratios)} interleaved runs, spread "
                     f"{min(ratios):.3f}-{max(ratios):.3f}; fastest calls {fastest:.3f}; load average {load:.1f})")
    rng = np.random.default_rng(18)
    for dtype, name in ((np.float32, "f32"), (np.float64, "f64")):
        runs = {n: silent_fraction(dtype, n, SILENT_FLIPS, rng) for n in SILENT_SIZES}
        worst = max(fraction for fraction, _ in runs.values())
        detail = ", ".join(f"n={n}: {fraction:.4f}" for n, (fraction, _) in runs.items())
        floor = max(f for _, f in runs.values())
        yield Figure(f"abft_silent_{name}", worst, "flips left off / flips",
                     f"<= 0.01 (worst of {detail}; {SILENT_FLIPS} flips each, off = more than "
                     f"{THRESHOLD_RMS[np.dtype(dtype)]:g} of the row's rms; clean product's own: {floor:.1e})")
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
