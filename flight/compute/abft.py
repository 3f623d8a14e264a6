"""Checksummed matrix products (Huang–Abraham ABFT): a single-event upset in a GEMM's output, or in
an operand after its checksum was taken, must not reach a tenant as a silently wrong result.

The checksums ride in the product itself. A gets a row of its column sums (e^T A), B a column of
its row sums (B e), and one matmul of the augmented operands gives C = A B framed by e^T C and C e,
computed from the operands rather than from C. Summing C's rows and columns (O(n²), next to the
O(n³) product) and comparing them with that frame finds a corrupted element at the crossing of the
mismatching row and column, and its checksum gives the value back. Anything else (two elements, a
damaged checksum, a corrupted operand, which spoils a whole row or column) recomputes the product,
or only the affected matrices of a batch.

When is a mismatch a fault? Both sides are rounded, so they agree only to within rounding error.
The model (probabilistic rounding analysis, Higham & Mary 2019): independent rounding errors add
like a random walk, so a dot product of length k whose partial sums are of size S is off by about
u·sqrt(k)·S, u the unit roundoff. A row check adds n dot products of length k and compares them
with one more, so it is off by about u·sqrt(k + n + 1)·S_i, with S_i for the row's partial sums

    ‖P[i, :]‖                       (the row and its checksum: large when terms add coherently)
  + sqrt(Σ_k A[i, k]² ‖B[k, :]‖²)   (the root-sum-square of the terms: large when they cancel),

and a column check likewise. A mismatch above `tol` (default 16) times that is a fault. The
worst-case bound (u·k·|A||B|e, every rounding error of one sign) is about sqrt(k·n) times larger on
random data and would leave float32 checks blind, so this one is statistical, calibrated with
margin: on Gaussian, uniform, log-normal, mean-shifted, row-, column- and inner-dimension-scaled
data up to n = 2048 the largest mismatch was 0.7 of the model (random signs) and 8 (constant or
sign-coherent data, whose rounding errors are correlated and grow with n: beyond n ≈ 4096 such
data may raise false alarms, which cost a recompute and then `AbftUncorrectable`).

What it cannot see is a change smaller than that tolerance, about 16·u·sqrt(k + n) of its row's
norm: a flipped low mantissa bit, or any flipped bit of an element that small next to the rest of
its row and column. Such a change is within the rounding noise the same sums carry anyway; in
that sense it is numerically harmless, though the element itself may be far off in relative
terms. On random data at n = 256 that left 2 of 1000 flips of the sign, exponent and top three
mantissa bits undetected in float32 (both in elements 1/3000 of their row's typical size) and
none in float64. Sums of squares are taken in float64, so float32 data of any finite size can be
checked; float64 results must stay within about 1e±150 (beyond, a check that needs a norm cannot
be evaluated, counts as failed, and the product ends in `AbftUncorrectable`).

What it costs: (m + 1)(n + 1)k multiply-adds instead of mnk (0.2 % more at n = 1024), then memory
traffic. Copying the operands to append their checksums took 1.0 ms (float32) and 1.7 ms (float64)
at n = 1024 on the two-core development node, the checks 0.5 and 0.7 ms, against GEMMs of 11 to
30 and 33 to 40 ms there: 3 to 8 %. Operands kept in `operand_buffers` skip the copy.
"""
from __future__ import annotations

import threading
import weakref
from dataclasses import dataclass
from typing import Callable

import numpy as np

DEFAULT_TOL = 16.0
RETRIES = 2

Inject = Callable[[str, np.ndarray, int], None]
"""Fault-injection hook: called as inject(stage, array, attempt) with stage "a" or "b" (an
augmented operand, its checksum already taken: the caller's own buffer if it came from
`operand_buffers`) or "product" (the augmented product, before it is checked); attempt 0 for the
first computation, 1, 2, ... for recomputations, which are made matrix by matrix (2-D arrays) in a
batch. It may change the array in place (see `flip_bit`), and should copy what it wants to keep:
operand buffers are reused by the next call."""

_UINT = {np.dtype(np.float32): np.uint32, np.dtype(np.float64): np.uint64}


@dataclass(frozen=True)
class AbftResult:
    c: np.ndarray  # A @ B: a view into the augmented product, whose frame holds the checksums
    detected: bool  # some check failed: a fault was present (or the data defeat the model)
    corrected: int  # elements put back from their checksums
    recomputed: int  # matrices computed again
    residual: float  # largest |mismatch| / tolerance it passed with (<= 1), an upper bound


class AbftUncorrectable(RuntimeError):
    """A matrix still fails its checks after every recomputation: a persistent fault, or data
    outside the rounding model. The product must not be used."""

    def __init__(self, batch_index: tuple[int, ...], residual: float):
        super().__init__(f"matrix {batch_index} still fails its checks after recomputation "
                         f"(|mismatch| / tolerance = {residual:.3g})")
        self.batch_index = batch_index
        self.residual = residual


@dataclass(frozen=True)
class Check:
    """Mismatches and the tolerances they were held to, by row (m + 1) and column (n + 1)."""

    row_residual: np.ndarray
    row_tol: np.ndarray
    col_residual: np.ndarray
    col_tol: np.ndarray

    def bad_rows(self) -> np.ndarray:
        return ~_passes(self.row_residual, self.row_tol)

    def bad_cols(self) -> np.ndarray:
        return ~_passes(self.col_residual, self.col_tol)

    def ratio(self) -> np.ndarray:
        """Largest |mismatch| / tolerance per matrix; inf where a check cannot be evaluated."""
        return np.maximum(_ratio(self.row_residual, self.row_tol), _ratio(self.col_residual, self.col_tol))


@np.errstate(all="ignore")
def _passes(residual: np.ndarray, tol: np.ndarray) -> np.ndarray:
    """NaN residuals fail, and so do infinite tolerances: a sum of squares that overflowed says
    nothing about rounding (an upset that made an element huge does that to its row and column)."""
    return (np.abs(residual) <= tol) & np.isfinite(tol)


@np.errstate(all="ignore")
def _ratio(residual: np.ndarray, tol: np.ndarray) -> np.ndarray:
    err = np.abs(residual, dtype=np.float64)
    r = err / tol
    r[err == 0] = 0.0  # nothing to explain, even by a zero tolerance
    r[np.isnan(r) | ~np.isfinite(tol)] = np.inf
    return r.max(axis=-1, initial=0.0)


def flip_bit(array: np.ndarray, flat_index: int, bit: int) -> None:
    """Flip one bit (0 = least significant mantissa bit, 31 or 63 = sign) of one element in place:
    what an upset does to a word of memory or a register."""
    word = array[np.unravel_index(flat_index, array.shape) + (Ellipsis,)].view(_UINT[array.dtype])
    word ^= word.dtype.type(1 << bit)  # on the bits in place: never through a float register


def high_bits(dtype) -> range:
    """Sign, exponent and the top three mantissa bits: a flip of any of them moves a value by at
    least a sixteenth of itself."""
    return range(np.finfo(dtype).nmant - 3, 8 * np.dtype(dtype).itemsize)


def operand_buffers(a_shape: tuple[int, ...], b_shape: tuple[int, ...], dtype) -> tuple[np.ndarray, np.ndarray]:
    """Room for A and B and their checksums. Operands kept in a_aug[..., :-1, :] and
    b_aug[..., :-1] are checksummed where they lie: abft_matmul of those views copies nothing,
    which at n = 1024 saves about as much as all its checks cost."""
    buffers = _blank(a_shape, b_shape, dtype)
    for x in buffers:  # only these are written into: a view that merely looks alike may be anyone's
        _LENT[id(x)] = x
    return buffers


def augment(a: np.ndarray, b: np.ndarray, dtype) -> tuple[np.ndarray, np.ndarray]:
    """[A; e^T A] and [B, B e], so that the product and its checksums are one matmul."""
    return _copy_in(a, b, *_blank(a.shape, b.shape, dtype))


def _blank(a_shape: tuple[int, ...], b_shape: tuple[int, ...], dtype) -> tuple[np.ndarray, np.ndarray]:
    return (np.empty(a_shape[:-2] + (a_shape[-2] + 1, a_shape[-1]), dtype),
            np.empty(b_shape[:-1] + (b_shape[-1] + 1,), dtype))


def _copy_in(a: np.ndarray, b: np.ndarray, a_aug: np.ndarray, b_aug: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a_aug[..., :-1, :] = a
    b_aug[..., :-1] = b
    return _take_checksums(a_aug, b_aug)


def _take_checksums(a_aug: np.ndarray, b_aug: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The O(n²) work here and in `verify` is numpy's own single-threaded loops (einsum: two to
    three times np.sum's speed), never BLAS gemv: a threaded BLAS call waits until every thread is
    scheduled, which on a loaded node costs milliseconds per call, a GEMM's worth of them."""
    np.einsum("...ik->...k", a_aug[..., :-1, :], out=a_aug[..., -1, :])
    np.einsum("...kj->...k", b_aug[..., :-1], out=b_aug[..., -1])
    return a_aug, b_aug


_LENT: weakref.WeakValueDictionary = weakref.WeakValueDictionary()
_SPARE_BYTES = 128 << 20
_spare = threading.local()


def _operands(a: np.ndarray, b: np.ndarray, dtype) -> tuple[np.ndarray, np.ndarray, bool]:
    """The augmented operands, and whether they are ours to keep: the caller's own buffers when
    `a` and `b` are views into `operand_buffers`; else the buffers this thread's previous product
    of the same shape used, as fresh ones cost page faults the kernel zero-fills (5 to 10 % of a
    float64 GEMM at n = 1024). Spares are taken out while in use, so a nested call cannot share."""
    a_whole, b_whole = _holder(a, 2, dtype), _holder(b, 1, dtype)
    if a_whole is not None and b_whole is not None:
        return *_take_checksums(a_whole, b_whole), False
    kept, _spare.kept = getattr(_spare, "kept", None), None
    if kept is not None and kept[0] == (a.shape, b.shape, dtype):
        return *_copy_in(a, b, *kept[1]), True
    return *augment(a, b, dtype), True


def _holder(x: np.ndarray, axis: int, dtype) -> np.ndarray | None:
    """The buffer `x` is the leading part of, one longer along `axis` counted from the end."""
    whole = x.base
    shape = list(x.shape)
    shape[-axis] += 1
    if (whole is None or _LENT.get(id(whole)) is not whole or whole.dtype != dtype
            or whole.shape != tuple(shape) or x.strides != whole.strides or not whole.flags.writeable
            or x.__array_interface__["data"][0] != whole.__array_interface__["data"][0]):
        return None
    return whole


def _keep_spare(a: np.ndarray, b: np.ndarray, dtype, operands: tuple[np.ndarray, np.ndarray]) -> None:
    if operands[0].nbytes + operands[1].nbytes <= _SPARE_BYTES:  # beyond, n³ dwarfs the faults
        _spare.kept = ((a.shape, b.shape, dtype), operands)


@np.errstate(all="ignore")  # a corrupted product may hold anything: inf, NaN, signalling NaN
def verify(p: np.ndarray, a_aug: np.ndarray, b_aug: np.ndarray, tol: float = DEFAULT_TOL) -> Check:
    """Check an augmented product against its frame (module docstring). The tolerance is
    evaluated lazily, cheapest bound first: |checksum| <= the row's norm <= norm + root-sum-square,
    so a check passing an early bound passes the model, and on random data almost every check
    passes the first, which costs nothing. Only rows and columns still failing pay for more."""
    m, k, n = p.shape[-2] - 1, a_aug.shape[-1], p.shape[-1] - 1
    u = np.finfo(p.dtype).eps / 2
    row_scale, col_scale = tol * u * np.sqrt(k + n + 1), tol * u * np.sqrt(k + m + 1)
    row_res = np.einsum("...ij->...i", p[..., :, :n]) - p[..., :, n]
    col_res = np.einsum("...ij->...j", p[..., :m, :]) - p[..., m, :]
    row_tol = row_scale * np.abs(p[..., :, n], dtype=np.float64)
    col_tol = col_scale * np.abs(p[..., m, :], dtype=np.float64)
    rows, cols = ~_passes(row_res, row_tol), ~_passes(col_res, col_tol)
    if rows.any():
        row_tol[rows] = row_scale * np.sqrt(_sumsq(p[rows]))
    if cols.any():
        col_tol[cols] = col_scale * np.sqrt(_sumsq(np.swapaxes(p, -1, -2)[cols]))
    rows, cols = ~_passes(row_res, row_tol), ~_passes(col_res, col_tol)
    if rows.any() or cols.any():
        rss_rows, rss_cols = _root_sum_squares(a_aug, b_aug)
        row_tol[rows] += row_scale * np.broadcast_to(rss_rows, rows.shape)[rows]
        col_tol[cols] += col_scale * np.broadcast_to(rss_cols, cols.shape)[cols]
    return Check(row_res, row_tol, col_res, col_tol)


def _root_sum_squares(a_aug: np.ndarray, b_aug: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """sqrt(Σ_k A[i, k]² ‖B[k, :]‖²) by row and its twin by column: the size of the terms, which
    bounds the rounding when they cancel and the norm of the result does not."""
    f8 = np.float64
    b_rows = np.einsum("...kj,...kj->...k", b_aug, b_aug, dtype=f8)
    a_cols = np.einsum("...ik,...ik->...k", a_aug, a_aug, dtype=f8)
    return (np.sqrt(np.einsum("...ik,...ik,...k->...i", a_aug, a_aug, b_rows, dtype=f8)),
            np.sqrt(np.einsum("...k,...kj,...kj->...j", a_cols, b_aug, b_aug, dtype=f8)))


def _sumsq(rows: np.ndarray) -> np.ndarray:
    """Sums of squares of 2-D `rows`, in float64 for float32 data (no float32 square overflows
    there), natively for float64 (beyond 1e±150 a check then cannot be evaluated)."""
    return np.einsum("ij,ij->i", rows, rows, dtype=np.float64)


def abft_matmul(a, b, *, tol: float | None = None, inject: Inject | None = None,
                retries: int = RETRIES) -> AbftResult:
    """`a @ b` (float32 or float64, batched as np.matmul) with its result checked, a single bad
    element corrected and anything worse recomputed. `tol` is the safety factor over the rounding
    model (module docstring). Raises AbftUncorrectable when `retries` recomputations of a matrix
    all fail, ValueError for operands whose checksums are not finite (inf, NaN, overflow)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim < 2 or b.ndim < 2 or a.shape[-1] != b.shape[-2]:
        raise ValueError(f"abft_matmul needs matrices with matching inner size, got {a.shape} @ {b.shape}")
    dtype = np.result_type(a, b)
    if dtype not in _UINT:
        raise TypeError(f"abft_matmul's tolerance is derived for float32 and float64, not {dtype}")
    lam = DEFAULT_TOL if tol is None else float(tol)
    a_aug, b_aug, ours = _operands(a, b, dtype)
    try:
        # Taken once: whatever happens to an operand afterwards, even in the caller's memory, is
        # checked against these, and a recomputation does not take new ones.
        sums = a_aug[..., -1, :].copy(), b_aug[..., -1].copy()
        if not (np.isfinite(sums[0]).all() and np.isfinite(sums[1]).all()):
            raise ValueError("abft_matmul needs finite operands whose row and column sums are finite")
        if inject:
            inject("a", a_aug, 0)
            inject("b", b_aug, 0)
        p = _product(a_aug, b_aug)
        if inject:
            inject("product", p, 0)
        check = verify(p, a_aug, b_aug, lam)
        ratio = np.array(check.ratio())
        bad = ~(ratio <= 1)  # a failed check's ratio is > 1 or inf
        corrected = recomputed = 0
        for idx in (tuple(int(i) for i in row) for row in np.argwhere(bad)):
            ia, ib = _sub(idx, a), _sub(idx, b)
            item = _Item(idx, p[idx], a[ia], b[ib], sums[0][ia], sums[1][ib], a_aug[ia], b_aug[ib], lam)
            fixed, redone, ratio[idx] = item.repair(_slice(check, idx), inject, retries)
            corrected += fixed
            recomputed += redone
    finally:
        if ours:
            _keep_spare(a, b, dtype, (a_aug, b_aug))
    m, n = a.shape[-2], b.shape[-1]
    return AbftResult(p[..., :m, :n], bool(bad.any()), corrected, recomputed, float(ratio.max(initial=0.0)))


@np.errstate(all="ignore")  # an upset operand may make inf or NaN: the checks are there for that
def _product(a_aug: np.ndarray, b_aug: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    return np.matmul(a_aug, b_aug, out=out)


def _sub(idx: tuple[int, ...], x: np.ndarray) -> tuple[int, ...]:
    """The index into an operand that np.matmul broadcast to the batch index `idx`."""
    batch = x.shape[:-2]
    return tuple(0 if d == 1 else i for i, d in zip(idx[len(idx) - len(batch):], batch))


def _slice(check: Check, idx: tuple[int, ...]) -> Check:
    return Check(check.row_residual[idx], check.row_tol[idx], check.col_residual[idx], check.col_tol[idx])


@dataclass
class _Item:
    """One matrix of the product that failed its checks, and what it takes to repair it."""

    idx: tuple[int, ...]
    p: np.ndarray  # (m + 1, n + 1), a view into the whole product: repairs land there
    a: np.ndarray  # the caller's operands and their checksums, from which a recomputation starts
    b: np.ndarray
    a_sums: np.ndarray
    b_sums: np.ndarray
    a_aug: np.ndarray  # the augmented operands `p` was computed from
    b_aug: np.ndarray
    lam: float

    def repair(self, check: Check, inject: Inject | None, retries: int) -> tuple[int, int, float]:
        """Correct or recompute until the checks pass: (corrected, recomputed, residual)."""
        m, n = self.p.shape[0] - 1, self.p.shape[1] - 1
        for attempt in range(retries + 1):
            rows, cols = np.flatnonzero(check.bad_rows()), np.flatnonzero(check.bad_cols())
            if not len(rows) and not len(cols):
                return 0, attempt, float(check.ratio())
            if len(rows) == 1 and len(cols) == 1 and rows[0] < m and cols[0] < n:
                for value in _replacements(self.p, rows[0], cols[0], check):
                    self.p[rows[0], cols[0]] = value
                    check = verify(self.p, self.a_aug, self.b_aug, self.lam)
                    if not (check.bad_rows().any() or check.bad_cols().any()):
                        return 1, attempt, float(check.ratio())
            if attempt == retries:
                break
            self.a_aug, self.b_aug = _blank(self.a.shape, self.b.shape, self.p.dtype)
            self.a_aug[:-1], self.a_aug[-1] = self.a, self.a_sums
            self.b_aug[:, :-1], self.b_aug[:, -1] = self.b, self.b_sums
            if inject:
                inject("a", self.a_aug, attempt + 1)
                inject("b", self.b_aug, attempt + 1)
            _product(self.a_aug, self.b_aug, out=self.p)
            if inject:
                inject("product", self.p, attempt + 1)
            check = verify(self.p, self.a_aug, self.b_aug, self.lam)
        raise AbftUncorrectable(self.idx, float(check.ratio()))


@np.errstate(all="ignore")
def _replacements(p: np.ndarray, i: int, j: int, check: Check) -> tuple:
    """Values to try for a bad p[i, j], each kept only if the checks then pass. First the single-bit
    neighbour of the bad word nearest to what its checksum says: an upset in stored data is one
    flipped bit, and flipping it back restores the fault-free value exactly, not to within
    rounding. Then the checksum's own value (the row's or column's, whichever is held to the
    tighter tolerance), for an upset inside the arithmetic."""
    m, n = p.shape[0] - 1, p.shape[1] - 1
    if not check.col_tol[j] < check.row_tol[i]:  # NaN: the bad element spoils both, either will do
        others, total = p[i, :n].astype(np.float64), p[i, n]
        others[j] = 0.0
    else:
        others, total = p[:m, j].astype(np.float64), p[m, j]
        others[i] = 0.0
    estimate = float(total) - others.sum()
    kind = _UINT[p.dtype]
    word = p[i, j, ...].view(kind)
    neighbours = (word ^ (kind(1) << np.arange(8 * p.dtype.itemsize, dtype=kind))).view(p.dtype)
    distance = np.nan_to_num(np.abs(neighbours.astype(np.float64) - estimate), nan=np.inf)
    return neighbours[np.argmin(distance)], estimate
