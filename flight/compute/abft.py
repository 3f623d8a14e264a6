"""Checksummed matrix products (Huang–Abraham ABFT, over column blocks): a single-event upset in a
GEMM's output, or in an operand after its checksum was taken, must not reach a tenant as a
silently wrong result, nor a result wrong by more than its rounding allows.

C = A B (m x k x n) is framed by checksums computed from the operands rather than from C. The n
columns are cut into nb blocks of w (`block_width`); E is the n x nb matrix that sums a block.
The frame P = [C, A (B E)] lives in the product's own buffer: each row of C must sum, block by
block, to its checksum. A changed element fails its row's check in its block; the row is then
computed again on its own (one GEMV, O(kn)), which points at the element, and the bad word's
single-bit neighbour nearest that value restores it bit-exactly (or the recomputed value, for an
upset inside the arithmetic). Anything else (two failing blocks, a damaged checksum, a corrupted
operand, which spoils a whole row or column) recomputes the product, or the affected matrices of a
batch.

When is a mismatch a fault? Both sides are rounded: they agree only to within rounding error.
Independent rounding errors add like a random walk (Higham & Mary 2019): a dot product of length k
is off by about u·sqrt(k)·S, u the unit roundoff and S the size of its partial sums; a block check
adds w of them and compares with one more, so it is off by about u·sqrt(k + w)·S_ib with

    S_ib = |(A B E)_ib|                 (the checksum)
         + ‖C_i,b‖                       (the block's norm: its elements' own partial sums)
         + max(‖C_i,b‖, sqrt(Σ_k A_ik² ‖B_k,b‖²))   (the terms' root-sum-square, when they cancel).

The sums of a block whose elements are alike (constant, or positive, or mean-shifted data) round
alike, and their errors add up rather than as a random walk: a coherent term 0.25·u·(k + w)·
|(A B E)_ib|·ρ² joins the tolerance, ρ = |(A B E)_ib| / (sqrt(w)·‖C_i,b‖) how alike they are (1
for a constant block, about 1/sqrt(w) for random signs, where the term vanishes). A mismatch above
`tol` (DEFAULT_TOL = 1) times u·sqrt(k + w)·S_ib plus that is a fault. The tolerance is evaluated
lazily: with ‖C_i,b‖ in the place of the last term first (a lower bound of it, in the product's
dtype, one pass over C), and only for a block failing that in full, in float64, on rows scaled by
their largest element so that data of any finite size can be checked.

Why the blocks, and why this meets the issue's bound. What a check cannot see is a change smaller
than its tolerance; on random data S_ib is about 2.8·sqrt(w) times the row's rms, so a change
below about 2.8·u·sqrt((k + w)·w) of the row's rms goes unseen. The bound to meet (issue 18) is
1e-4 of the row's rms in float32 and 1e-10 in float64: `block_width` takes the widest block
(halving from the whole row) whose tolerance stays under two thirds of it. Float64 needs no blocks
at any size we run (u = 1.1e-16: whole rows, a tolerance of 1e-13 to 9e-13 of the rms from n = 256
to 2048). Float32 (u = 6e-8) does: one block of 256 at n = 256, 128 at n = 1024, 64 at n = 2048,
a tolerance of 5.7e-5 to 6.1e-5 of the rms (median over blocks; above 1e-4 in 0.4 to 2 % of them,
1.5e-4 at most), where whole-row checks held at 16 times a float32 model (the previous scheme) let
everything under 1e-3 (n = 256) to 8e-3 (n = 2048) through: 11.6 % of random flips at n = 256. A
flip left unseen moves its element by less than its block's tolerance, so only a flip in one of
the few blocks above the bound, moving its element by an amount between the two, can stay silent;
`gridfree bench compute` counts them (abft_silent_f32, abft_silent_f64: 2000 flips of a random bit
of a random element at each of n = 256, 1024, 2048, against a float64 or long-double reference).

The checks are summed in the product's own dtype: at w <= k their rounding adds at most sqrt(w/k)
of the GEMM's own. The checksums A (B E) are summed over k in chunks of 512 added in float64, as
OpenBLAS's narrow products round over the whole of k: at n = 2048 they were off by 2.2 times
what the GEMM's rounding puts in a block's sum, which took a clean block to 0.9 of its tolerance;
in chunks, 1.1 times. Measured on Gaussian data: a clean block's mismatch is 0.04 to 0.07 of its
tolerance (median), the largest in a product 0.3 (n = 256) to 0.46 (n = 2048).

What it costs (`gridfree bench compute`, one BLAS thread): B E and C E, one dot product a block
(np.vecdot, which reads a product just stored, no longer in cache, 1.5 to 2 times faster than a
GEMV); A (B E), nb/n of the GEMM's flops, in products small enough for OpenBLAS to multiply
without packing its operands (m·n·k <= 2^19, measured 2 to 4 times faster); and C's block norms,
in the same pass as C E (gridfree.native.blocksums) once C no longer fits in cache. The
product's rows are padded to whole cache lines, off the 4 KiB stride at
which numpy's own contiguous result makes stores conflict: at n = 1024 that alone stores the
product 2 to 3 % faster than `a @ b`, about half of what the checks cost there.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, NamedTuple

import numpy as np

from gridfree.flight.compute.abft_check import BlockChecks, checksums, plan_for

DEFAULT_TOL = 1.0
RETRIES = 2

Inject = Callable[[str, np.ndarray, int], None]
"""Fault-injection hook: called as inject(stage, array, attempt) with stage "a" or "b" (an operand
as the product reads it, its checksums already taken: the caller's own array unless it had to be
converted) or "product" (the framed product [C, A (B E)] before it is checked); attempt 0 for the
first computation, 1, 2, ... for recomputations, which are made matrix by matrix (2-D arrays) in a
batch. It may change the array in place (see `flip_bit`)."""

_UINT = {np.dtype(np.float32): np.uint32, np.dtype(np.float64): np.uint64}


class AbftResult(NamedTuple):  # (a NamedTuple: made on every product, at a third of a frozen dataclass's cost)
    c: np.ndarray  # A @ B: a view into the framed product
    detected: bool  # some check failed: a fault was present (or the data defeat the model)
    corrected: int  # elements put back
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


def flip_bit(array: np.ndarray, flat_index: int, bit: int) -> None:
    """Flip one bit (0 = least significant mantissa bit, 31 or 63 = sign) of one element in place:
    what an upset does to a word of memory or a register."""
    word = array[np.unravel_index(flat_index, array.shape) + (Ellipsis,)].view(_UINT[array.dtype])
    word ^= word.dtype.type(1 << bit)  # on the bits in place: never through a float register


def high_bits(dtype) -> range:
    """Sign, exponent and the top three mantissa bits: a flip of any of them moves a value by at
    least a sixteenth of itself."""
    return range(np.finfo(dtype).nmant - 3, 8 * np.dtype(dtype).itemsize)


def block_width(k: int, n: int, dtype) -> int:
    """The column block each checksum covers: module docstring."""
    return plan_for(k, n, np.dtype(dtype)).w


def framed(a: np.ndarray, b: np.ndarray, dtype, tol: float = DEFAULT_TOL) -> tuple[BlockChecks, np.ndarray]:
    """The operands with their checksums taken (B E, then A (B E)), and room for their product
    whose checksum columns already hold A (B E): P = [C, A (B E)], rows padded to whole cache lines."""
    dtype = np.dtype(dtype)
    a, b = np.ascontiguousarray(a, dtype=dtype), np.ascontiguousarray(b, dtype=dtype)
    m, k, n = a.shape[-2], a.shape[-1], b.shape[-1]
    plan = plan_for(k, n, dtype)
    batch = (a.shape[:-2] if b.ndim == 2 else b.shape[:-2] if a.ndim == 2
             else np.broadcast_shapes(a.shape[:-2], b.shape[:-2]))
    p = np.empty(batch + (m, plan.row_stride), dtype)[..., :n + plan.nb]
    be = plan.block_sums(b)
    checks = checksums(a, be)
    p[..., n:] = checks
    return BlockChecks(a, b, be, checks, plan, tol), p


def abft_matmul(a, b, *, tol: float | None = None, inject: Inject | None = None,
                retries: int = RETRIES) -> AbftResult:
    """`a @ b` (float32 or float64, batched as np.matmul) with its result checked, a single bad
    element corrected and anything worse recomputed. `tol` is the safety factor over the rounding
    model (module docstring). Raises AbftUncorrectable when `retries` recomputations of a matrix
    all fail, ValueError for operands whose checksums are not finite (inf, NaN, overflow)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.ndim < 2 or b.ndim < 2 or a.shape[-1] != b.shape[-2]:
        raise ValueError(f"abft_matmul needs matrices with matching inner size, got {a.shape} @ {b.shape}")
    dtype = a.dtype if a.dtype == b.dtype else np.result_type(a, b)
    if dtype not in _UINT:
        raise TypeError(f"abft_matmul's tolerance is derived for float32 and float64, not {dtype}")
    with np.errstate(all="ignore"):  # an upset may make inf or NaN: the checks are there for that
        return _checked_product(a, b, dtype, DEFAULT_TOL if tol is None else float(tol), inject, retries)


def _checked_product(a: np.ndarray, b: np.ndarray, dtype, lam: float, inject: Inject | None,
                     retries: int) -> AbftResult:
    m, n = a.shape[-2], b.shape[-1]
    if m == 0 or n == 0:
        return AbftResult(np.matmul(a.astype(dtype), b.astype(dtype)), False, 0, 0, 0.0)
    ops, p = framed(a, b, dtype, lam)
    if inject:
        inject("a", ops.a, 0)
        inject("b", ops.b, 0)
    np.matmul(ops.a, ops.b, out=p[..., :n])
    if inject:
        inject("product", p, 0)
    return _check_and_repair(p, ops, inject, retries)


def check_and_repair(p: np.ndarray, ops: BlockChecks, inject: Inject | None = None,
                     retries: int = RETRIES) -> AbftResult:
    """What `abft_matmul` does once the product is in its frame (`framed`): check it, correct a
    single bad element, recompute anything worse. (Separate so that a fault campaign can run it
    on copies of one product instead of computing the product again for every fault.)"""
    with np.errstate(all="ignore"):  # a corrupted product may hold anything: inf, NaN, signalling NaN
        return _check_and_repair(p, ops, inject, retries)


def _check_and_repair(p: np.ndarray, ops: BlockChecks, inject: Inject | None, retries: int) -> AbftResult:
    failed, ratio = ops.check(p)
    if failed and not np.isfinite(ops.checks).all():  # (a non-finite checksum never passes a check)
        raise ValueError("abft_matmul needs finite operands whose checksums are finite")
    corrected = recomputed = 0
    for idx, (cells, worst) in failed.items():
        fixed, redone, residual = _Repair(idx, p[idx], ops.matrix(idx)).run(cells, worst, inject, retries)
        ratio[idx] = max(float(ratio[idx]), residual)
        corrected += fixed
        recomputed += redone
    return AbftResult(p[..., :p.shape[-1] - ops.plan.nb], bool(failed), corrected, recomputed,
                      float(ratio if ratio.ndim == 0 else ratio.max(initial=0.0)))


@dataclass
class _Repair:
    """One matrix of the product with failing checks, and what it takes to repair it."""

    idx: tuple[int, ...]
    p: np.ndarray  # (m, n + nb), a view into the whole product: repairs land there
    ops: BlockChecks  # this matrix's operands and checksums

    def run(self, cells: np.ndarray, worst: float, inject: Inject | None, retries: int) -> tuple[int, int, float]:
        """Correct or recompute until the checks pass: (corrected, recomputed, residual)."""
        n = self.p.shape[1] - self.ops.plan.nb
        for attempt in range(retries + 1):
            if len(cells) == 1:
                residual = self._correct(*(int(x) for x in cells[0]))
                if residual <= 1:  # every other block passed already, and only this one changed
                    return 1, attempt, residual
            if attempt == retries:
                break
            if inject:
                inject("a", self.ops.a, attempt + 1)
                inject("b", self.ops.b, attempt + 1)
            np.matmul(self.ops.a, self.ops.b, out=self.p[:, :n])
            self.p[:, n:] = self.ops.checks
            if inject:
                inject("product", self.p, attempt + 1)
            failed, ratio = self.ops.check(self.p)
            if not failed:
                return 0, attempt + 1, float(ratio)
            cells, worst = failed[()]
        raise AbftUncorrectable(self.idx, worst)

    @np.errstate(all="ignore")
    def _correct(self, i: int, block: int) -> float:
        """Row i's block fails alone: compute the row again on its own, take the element furthest
        from it, and try the word's single-bit neighbour nearest the recomputed value (an upset in
        stored data is one flipped bit, and flipping it back restores the fault-free value
        exactly), then the recomputed value itself (an upset inside the arithmetic); keep the
        first that makes the row's checks, against the checksums as taken, pass. The row's
        largest |mismatch| / tolerance then (inf: nothing kept, or nothing to keep in the row,
        when it is its checksum in the frame that was hit)."""
        plan, row = self.ops.plan, self.p[i, :self.p.shape[1] - self.ops.plan.nb]
        if self.ops.row_residual(i, row) <= 1:
            return np.inf  # the row is sound: its checksum in the frame was hit
        cols = slice(block * plan.w, min((block + 1) * plan.w, row.shape[0]))
        again = self.ops.a[i] @ self.ops.b
        off = np.nan_to_num(np.abs(row[cols].astype(np.float64) - again[cols]), nan=np.inf)
        j = cols.start + int(np.argmax(off))
        kind = _UINT[row.dtype]
        old = row[j]
        neighbours = (old.view(kind) ^ (kind(1) << np.arange(8 * row.dtype.itemsize, dtype=kind))).view(row.dtype)
        distance = np.nan_to_num(np.abs(neighbours.astype(np.float64) - float(again[j])), nan=np.inf)
        for value in (neighbours[np.argmin(distance)], again[j]):
            row[j] = value
            residual = self.ops.row_residual(i, row)
            if residual <= 1:
                return residual
        row[j] = old
        return np.inf


class CheckedProducts:
    """`abft_matmul` as a job's product routine (`jobs.Matmul`), counting what the checks did for
    telemetry: elements put back, products computed again."""

    def __init__(self):
        self.corrected = self.recomputed = 0

    def __call__(self, a: np.ndarray, b: np.ndarray, inject: Inject | None = None) -> np.ndarray:
        r = abft_matmul(a, b, inject=inject)
        self.corrected += r.corrected
        self.recomputed += r.recomputed
        return r.c

