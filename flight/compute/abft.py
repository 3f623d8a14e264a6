"""Checksummed matrix products (Huang–Abraham ABFT): a single-event upset in a GEMM's output, or in
an operand after its checksum was taken, must not reach a tenant as a silently wrong result.

C = A B is framed by checksums computed from the operands rather than from C: a column A (B e)
next to it, which each row of C must sum to, and a row (e^T A) B under it, which each column must
sum to. The frame lives in the product's own buffer, P = [[C, A B e], [e^T A B, e^T A B e]]
((m + 1) x (n + 1)). A corrupted element fails its row's check and its column's; it sits at their
crossing, and its row's checksum gives the value back. Anything else (two elements, a damaged
checksum, a corrupted operand, which spoils a whole row or column) recomputes the product, or only
the affected matrices of a batch.

Detection needs only one side, location both. So the rows are checked on every product and the
column checksums are taken only for a matrix whose rows failed: on the common path three O(n²)
passes over memory (B e, A (B e), the row sums of C) instead of five. They are BLAS matrix-vector
products, which run on the BLAS threads the GEMM has just used, still awake, and so read memory at
about twice the speed of one core (faster, measured, than C passes that fuse them on one thread).
Folding the checksums into the GEMM as [A; e^T A] [B, B e] costs more: OpenBLAS runs an n + 1
wide product through its edge kernels, 3 % of a float64 GEMM at n = 1024, and the operands must
first be copied next to their sums.

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
its row. Such a change is within the rounding noise the same sums carry anyway; in that sense it
is numerically harmless, though the element itself may be far off in relative terms. On random
data at n = 256 that left 2 of 1000 flips of the sign, exponent and top three mantissa bits
undetected in float32 (both in elements 1/3000 of their row's typical size) and none in float64;
in elements at least 1/100 of their row's typical size, none. Sums of squares are taken in
float64, so float32 data of any finite size can be checked; float64 results must stay within
about 1e±150 (beyond, a check that needs a norm cannot be evaluated, counts as failed, and the
product ends in `AbftUncorrectable`).

What it costs at n = 1024 on the two-core development node (`gridfree bench compute`,
abft_overhead): 2 to 3 % of a float64 GEMM's time, about two thirds of it the three passes and
the rest the Python around them; nothing in float32, where the product's rows, padded to whole
cache lines, are stored faster than numpy's own contiguous result by about what the checks cost.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

import numpy as np

DEFAULT_TOL = 16.0
RETRIES = 2

Inject = Callable[[str, np.ndarray, int], None]
"""Fault-injection hook: called as inject(stage, array, attempt) with stage "a" or "b" (an operand
as the product reads it, B's row sums already taken: the caller's own array unless it had to be
converted) or "product" (the framed product before it is checked: its checksum row is taken only
in a repair, so a hit there on the first computation changes nothing); attempt 0 for the first
computation, 1, 2, ... for recomputations, which are made matrix by matrix (2-D arrays) in a
batch. It may change the array in place (see `flip_bit`)."""

_UINT = {np.dtype(np.float32): np.uint32, np.dtype(np.float64): np.uint64}


@dataclass(frozen=True)
class AbftResult:
    c: np.ndarray  # A @ B: a view into the framed product
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
        rows = _ratio(self.row_residual, self.row_tol)
        return np.maximum(rows, _ratio(self.col_residual, self.col_tol)) if self.col_tol.size else rows


def _passes(residual: np.ndarray, tol: np.ndarray) -> np.ndarray:
    """NaN residuals fail, and so do infinite tolerances: a sum of squares that overflowed says
    nothing about rounding (an upset that made an element huge does that to its row and column)."""
    return (np.abs(residual) <= tol) & np.isfinite(tol)


def _ratio(residual: np.ndarray, tol: np.ndarray) -> np.ndarray:
    err = np.abs(residual, dtype=np.float64)
    usable = (tol > 0) & np.isfinite(tol)
    r = np.divide(err, tol, out=np.full(err.shape, np.inf), where=usable)
    r[err == 0] = 0.0  # nothing to explain, even by a zero tolerance
    r[np.isnan(err) | ~np.isfinite(tol)] = np.inf
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


@dataclass(frozen=True)
class Operands:
    """A and B as the product reads them (in the dtype it computes in, rows contiguous: the
    caller's own arrays when they already are) and the checksums taken from them: B's row sums
    before the product, A's column sums for a matrix whose rows failed. Taken once: whatever
    happens to an operand afterwards, even in the caller's memory, is checked against them, and a
    recomputation does not take new ones."""

    a: np.ndarray
    b: np.ndarray
    b_sums: np.ndarray  # B e: b's batch + (k,)
    row_checks: np.ndarray  # A (B e), what each row of the product must sum to: the batch + (m,)
    a_sums: np.ndarray | None = None  # e^T A, once the columns of a (2-D) matrix are checked

    def matrix(self, idx: tuple[int, ...]) -> "Operands":
        """The operands of one matrix of the (broadcast) batch, 2-D."""
        return Operands(self.a[_sub(idx, self.a.shape[:-2])], self.b[_sub(idx, self.b.shape[:-2])],
                        self.b_sums[_sub(idx, self.b_sums.shape[:-1])], self.row_checks[idx])

    def with_column_sums(self) -> "Operands":
        return Operands(self.a, self.b, self.b_sums, self.row_checks, np.einsum("ik->k", self.a))


def framed(a: np.ndarray, b: np.ndarray, dtype) -> tuple[Operands, np.ndarray]:
    """The operands with B's row sums taken, and room for their product whose checksum column
    already holds what each row must sum to, A (B e)."""
    dtype = np.dtype(dtype)
    a, b = np.ascontiguousarray(a, dtype=dtype), np.ascontiguousarray(b, dtype=dtype)
    m, n = a.shape[-2], b.shape[-1]
    pad = -(n + 1) % (64 // dtype.itemsize)  # whole cache lines a row: OpenBLAS stores C 1-3 % faster
    p = np.empty(np.broadcast_shapes(a.shape[:-2], b.shape[:-2]) + (m + 1, n + 1 + pad), dtype)[..., :n + 1]
    b_sums = b @ np.ones(n, dtype)
    row_checks = np.matmul(a, b_sums[..., None])[..., 0]
    p[..., :m, n] = row_checks
    return Operands(a, b, b_sums, row_checks), p


def _frame_row(p: np.ndarray, ops: Operands) -> None:
    """The checksum row of a 2-D framed product, (e^T A) B and its corner (e^T A)(B e)."""
    n = p.shape[-1] - 1
    np.matmul(ops.a_sums, ops.b, out=p[-1, :n])
    p[-1, n] = np.dot(ops.a_sums, ops.b_sums)


@np.errstate(all="ignore")  # a corrupted product may hold anything: inf, NaN, signalling NaN
def verify(p: np.ndarray, ops: Operands, tol: float = DEFAULT_TOL, columns: bool = True) -> Check:
    """Check a framed product (module docstring): its rows against the checksum column, and with
    `columns` (which needs `ops.a_sums` and the checksum row in place) all of its frame. The
    tolerance is evaluated lazily, cheapest bound first: |checksum| <= the row's norm <= norm +
    root-sum-square, so a check passing an early bound passes the model, and on random data
    almost every check passes the first, which costs nothing. Only rows and columns still failing
    pay for more."""
    m, k, n = p.shape[-2] - 1, ops.a.shape[-1], p.shape[-1] - 1
    u = np.finfo(p.dtype).eps / 2
    row_scale, col_scale = tol * u * np.sqrt(k + n + 1), tol * u * np.sqrt(k + m + 1)
    rss = functools.cache(lambda: _root_sum_squares(ops))
    checked = p if columns else p[..., :m, :]  # rows: with the checksum row once it is taken
    row_res = checked[..., :, :n] @ np.ones(n, p.dtype) - checked[..., :, n]
    row_tol = _tolerance(row_res, checked, row_scale, lambda: rss()[0])
    if not columns:
        return Check(row_res, row_tol, _NONE, _NONE)
    col_res = np.ones(m, p.dtype) @ p[..., :m, :] - p[..., m, :]
    return Check(row_res, row_tol, col_res, _tolerance(col_res, np.swapaxes(p, -1, -2), col_scale, lambda: rss()[1]))


_NONE = np.zeros(0)


def _tolerance(res: np.ndarray, lines: np.ndarray, scale: float, rss: Callable[[], np.ndarray]) -> np.ndarray:
    """The tolerance of each row (or column: `lines` transposed) whose mismatches are `res`, taken
    only as far up the bounds as it takes to pass: |checksum| (the line's last element), then the
    line's norm, then that plus the root-sum-square of its terms."""
    tol = scale * np.abs(lines[..., -1], dtype=np.float64)
    weak = ~_passes(res, tol)
    if weak.any():
        tol[weak] = scale * np.sqrt(_sumsq(lines[weak]))
        weak = ~_passes(res, tol)
        if weak.any():
            tol[weak] += scale * np.broadcast_to(rss(), weak.shape)[weak]
    return tol


def _root_sum_squares(ops: Operands) -> tuple[np.ndarray, np.ndarray | None]:
    """sqrt(Σ_k A[i, k]² ‖[B, B e][k, :]‖²) by row (the checksum row's too once A's sums are taken)
    and its twin by column: the size of the terms, which bounds the rounding when they cancel and
    the norm of the result does not."""
    f8 = np.float64
    a, b = ops.a, ops.b
    b_rows = np.einsum("...kj,...kj->...k", b, b, dtype=f8) + np.square(ops.b_sums, dtype=f8)
    rows = np.sqrt(np.einsum("...ik,...ik,...k->...i", a, a, b_rows, dtype=f8))
    if ops.a_sums is None:
        return rows, None
    a_sums_sq = np.square(ops.a_sums, dtype=f8)
    a_cols = np.einsum("ik,ik->k", a, a, dtype=f8) + a_sums_sq
    return (np.append(rows, np.sqrt(a_sums_sq @ b_rows)),
            np.append(np.sqrt(np.einsum("k,kj,kj->j", a_cols, b, b, dtype=f8)),
                      np.sqrt(a_cols @ np.square(ops.b_sums, dtype=f8))))


def _sumsq(rows: np.ndarray) -> np.ndarray:
    """Sums of squares of 2-D `rows`, in float64 for float32 data (no float32 square overflows
    there), natively for float64 (beyond 1e±150 a check then cannot be evaluated)."""
    return np.square(rows, dtype=np.float64).sum(axis=-1)


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
    with np.errstate(all="ignore"):  # an upset may make inf or NaN: the checks are there for that
        return _checked_product(a, b, dtype, DEFAULT_TOL if tol is None else float(tol), inject, retries)


def _checked_product(a: np.ndarray, b: np.ndarray, dtype, lam: float, inject: Inject | None,
                     retries: int) -> AbftResult:
    ops, p = framed(a, b, dtype)
    m, n = a.shape[-2], b.shape[-1]
    if not (np.isfinite(ops.b_sums).all() and np.isfinite(ops.row_checks).all()):
        raise ValueError("abft_matmul needs finite operands whose checksums are finite")
    if inject:
        inject("a", ops.a, 0)
        inject("b", ops.b, 0)
    np.matmul(ops.a, ops.b, out=p[..., :m, :n])
    if inject:
        inject("product", p, 0)
    ratio = np.array(verify(p, ops, lam, columns=False).ratio())
    bad = ~(ratio <= 1)  # a failed check's ratio is > 1 or inf
    corrected = recomputed = 0
    for idx in (tuple(int(i) for i in row) for row in np.argwhere(bad)) if bad.any() else ():
        item = _Item(idx, p[idx], ops.matrix(idx).with_column_sums(), lam)
        fixed, redone, ratio[idx] = item.repair(inject, retries)
        corrected += fixed
        recomputed += redone
    return AbftResult(p[..., :m, :n], bool(bad.any()), corrected, recomputed, float(ratio.max(initial=0.0)))


def _sub(idx: tuple[int, ...], batch: tuple[int, ...]) -> tuple[int, ...]:
    """The index into an operand of batch shape `batch` that np.matmul broadcast to the batch index `idx`."""
    return tuple(0 if d == 1 else i for i, d in zip(idx[len(idx) - len(batch):], batch))


@dataclass
class _Item:
    """One matrix of the product whose rows failed their checks, and what it takes to repair it."""

    idx: tuple[int, ...]
    p: np.ndarray  # (m + 1, n + 1), a view into the whole product: repairs land there
    ops: Operands  # this matrix's operands and checksums, A's column sums taken
    lam: float

    def repair(self, inject: Inject | None, retries: int) -> tuple[int, int, float]:
        """Locate, then correct or recompute until the checks pass: (corrected, recomputed, residual)."""
        m, n = self.p.shape[0] - 1, self.p.shape[1] - 1
        _frame_row(self.p, self.ops)
        check = verify(self.p, self.ops, self.lam)
        for attempt in range(retries + 1):
            rows, cols = np.flatnonzero(check.bad_rows()), np.flatnonzero(check.bad_cols())
            if not len(rows) and not len(cols):
                return 0, attempt, float(check.ratio())
            if len(rows) == 1 and len(cols) == 1 and rows[0] < m and cols[0] < n:
                for value in _replacements(self.p, rows[0], cols[0], check):
                    self.p[rows[0], cols[0]] = value
                    check = verify(self.p, self.ops, self.lam)
                    if not (check.bad_rows().any() or check.bad_cols().any()):
                        return 1, attempt, float(check.ratio())
            if attempt == retries:
                break
            if inject:
                inject("a", self.ops.a, attempt + 1)
                inject("b", self.ops.b, attempt + 1)
            np.matmul(self.ops.a, self.ops.b, out=self.p[:m, :n])
            self.p[:m, n] = self.ops.row_checks
            _frame_row(self.p, self.ops)
            if inject:
                inject("product", self.p, attempt + 1)
            check = verify(self.p, self.ops, self.lam)
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


class CheckedProducts:
    """`abft_matmul` as a job's product routine (`jobs.Matmul`), counting what the checks did for
    telemetry: elements put back from their checksums, products computed again."""

    def __init__(self):
        self.corrected = self.recomputed = 0

    def __call__(self, a: np.ndarray, b: np.ndarray, inject: Inject | None = None) -> np.ndarray:
        r = abft_matmul(a, b, inject=inject)
        self.corrected += r.corrected
        self.recomputed += r.recomputed
        return r.c
