"""The block checks of a framed product (flight/compute/abft.py): which blocks, how they are summed
fast, and the rounding-model tolerance each row's block is held to."""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np

from gridfree.native.blocksums import block_sums

THRESHOLD_RMS = {np.dtype(np.float32): 1e-4, np.dtype(np.float64): 1e-10}
"""What a fault may leave in an element, relative to its row's rms (issue 18)."""
NOISE_SHARE = 0.67
"""The share of THRESHOLD_RMS a block's tolerance may take on random data."""
MODEL_SPREAD = 2.8
"""A block's tolerance over λ·u·sqrt((k + w)·w)·rms on random data: |checksum| + 2 ‖C_i,b‖ is
about (0.8 + 2)·sqrt(w)·rms."""
COHERENT = 0.25
"""The coherent term's factor: on constant, uniform and mean-shifted data (k = 16 to 2048) the
mismatch beyond the random-walk tolerance was at most 0.06 of u·(k + w)·|A (B E)|."""
MIN_WIDTH = 16
"""Blocks no narrower: the narrow products then cost at most 1/16 of the GEMM (float32 with
k beyond about 10^4 would need narrower blocks to meet THRESHOLD_RMS, and does not get them)."""
CACHED_BYTES = 1 << 19
"""A matrix this small is taken to be in cache (half a core's L2 here) when summed."""
CHUNK_K = 512
"""The longest dot product the checksums A (B E) are summed over before float64 takes over."""
SMALL_GEMM = 1 << 19
"""m·n·k at or below which OpenBLAS multiplies without packing its operands (measured: 2 to 4
times faster for the narrow products of the checks, so they are run in row chunks this small)."""


def checksums(a: np.ndarray, be: np.ndarray) -> np.ndarray:
    """A (B E), summed over k in chunks of at most CHUNK_K whose products are added in float64:
    whatever order a BLAS accumulates a narrow product in, the checksum's rounding is then that of
    dot products of CHUNK_K at most (measured at k = 2048: half of OpenBLAS's own, about the
    GEMM's own rounding of a block's sum)."""
    m, k, nb = a.shape[-2], a.shape[-1], be.shape[-1]
    c = -(-k // CHUNK_K)
    if c <= 1:
        return narrow(a, be)
    kc, rows = k // c, max(1, SMALL_GEMM // (CHUNK_K * nb))
    if a.ndim == 2 and be.ndim == 2 and k % c == 0 and m % rows == 0:  # one call, (m / rows) x c small products
        parts = np.matmul(a.reshape(m // rows, rows, c, kc).transpose(0, 2, 1, 3), be.reshape(c, kc, nb))
        return parts.sum(axis=1, dtype=np.float64).reshape(m, nb).astype(a.dtype)
    total = np.zeros(np.broadcast_shapes(a.shape[:-1], be.shape[:-2] + (1,)) + (nb,), np.float64)
    for k0 in range(0, k, CHUNK_K):
        total += narrow(a[..., k0:k0 + CHUNK_K], be[..., k0:k0 + CHUNK_K, :])
    return total.astype(a.dtype)


def narrow(x: np.ndarray, e: np.ndarray) -> np.ndarray:
    """x @ e for a narrow e, a 2-D x in row chunks of at most SMALL_GEMM multiply-adds."""
    if e.ndim == 2 and e.shape[1] == 1:
        return (x @ e[:, 0])[..., None]  # a GEMV
    if x.ndim != 2 or e.ndim != 2 or x.shape[0] * x.shape[1] * e.shape[1] <= SMALL_GEMM:
        return np.matmul(x, e)
    out = np.empty((x.shape[0], e.shape[1]), np.result_type(x, e))
    step = max(1, SMALL_GEMM // (x.shape[1] * e.shape[1]))
    for r in range(0, x.shape[0], step):
        np.matmul(x[r:r + step], e, out=out[r:r + step])
    return out


@dataclass(frozen=True)
class Plan:
    """The column blocks of a k x n right operand: nb blocks of w (the last one shorter when w does
    not divide n), and the ways to sum them fast."""

    n: int
    w: int
    nb: int
    unit: float  # u·sqrt(k + w): the tolerance per unit of S_ib at λ = 1 (abft.py's docstring)
    unit_k: float  # u·(k + w): the coherent term's, per unit of |A (B E)|·ρ²
    row_stride: int  # elements per row of the framed product: n + nb, padded to whole cache lines
    ones: np.ndarray = field(repr=False)  # (w,), or (n,) for one block
    e: np.ndarray | None = field(repr=False)  # (n, nb) block indicator when w does not divide n

    def block_sums(self, x: np.ndarray) -> np.ndarray:
        """x E: (..., r, n) -> (..., r, nb), summed in x's dtype. By np.vecdot, one dot product a
        block: measured 1.5 to 2 times faster than a GEMV over a product just stored, which is no
        longer in cache."""
        if self.nb == 1:
            if x.nbytes <= CACHED_BYTES:  # in cache, a GEMV is the faster
                return (x @ self.ones)[..., None]
            return np.vecdot(x, self.ones)[..., None]
        if self.e is None:
            return np.vecdot(x.reshape(x.shape[:-1] + (self.nb, self.w)), self.ones)
        return narrow(x, self.e)

    def block_sumsq(self, x: np.ndarray) -> np.ndarray:
        """(x ∘ x) E, in x's dtype."""
        if self.nb == 1:
            return np.vecdot(x, x)[..., None]
        if self.e is None:
            x = x.reshape(x.shape[:-1] + (self.nb, self.w))
            return np.vecdot(x, x)
        return narrow(np.square(x), self.e.astype(x.dtype))


@functools.lru_cache(maxsize=64)
def plan_for(k: int, n: int, dtype: np.dtype) -> Plan:
    """The widest blocks (halving from the whole row) whose tolerance on random data at the default
    safety factor λ = 1, about MODEL_SPREAD·u·sqrt((k + w)·w) of the row's rms, stays under
    NOISE_SHARE of THRESHOLD_RMS. (A larger λ passed to abft_matmul loosens the checks, it does
    not narrow the blocks.)"""
    u = np.finfo(dtype).eps / 2
    limit = (NOISE_SHARE * THRESHOLD_RMS[dtype] / (MODEL_SPREAD * u)) ** 2
    nb, w = 1, n
    while w > MIN_WIDTH and (k + w) * w > limit:
        nb *= 2
        w = -(-n // nb)
    nb = -(-n // w)
    w = n if nb == 1 else w
    unit, line = u * math.sqrt(k + w), 64 // dtype.itemsize
    e = None
    if n % w:
        e = np.zeros((n, nb), dtype)
        e[np.arange(n), np.arange(n) // w] = 1
    return Plan(n, w, nb, float(unit), float(u * (k + w)), n + nb + -(n + nb) % line, np.ones(w, dtype), e)


def _sub(idx: tuple[int, ...], batch: tuple[int, ...]) -> tuple[int, ...]:
    """The index into an operand of batch shape `batch` that np.matmul broadcast to the batch index `idx`."""
    return tuple(0 if d == 1 else i for i, d in zip(idx[len(idx) - len(batch):], batch))


@dataclass
class BlockChecks:
    """A and B as the product reads them (in its dtype, rows contiguous: the caller's own arrays
    when they already are) and the checksums taken from them before the product: B E and A (B E).
    Taken once: whatever happens to an operand afterwards, even in the caller's memory, is checked
    against them, and a recomputation does not take new ones."""

    a: np.ndarray
    b: np.ndarray
    be: np.ndarray  # B E: b's batch + (k, nb)
    checks: np.ndarray  # A (B E): the product's batch + (m, nb)
    plan: Plan
    lam: float  # the safety factor over the rounding model
    _b_sq: np.ndarray | None = field(default=None, repr=False)  # (B ∘ B) E / max |B|², once needed
    _b_top: np.ndarray | None = field(default=None, repr=False)  # max |B|

    def __post_init__(self):
        self.scale = self.lam * self.plan.unit
        self.coherent = self.lam * COHERENT * self.plan.unit_k

    def matrix(self, idx: tuple[int, ...]) -> "BlockChecks":
        """The checks of one matrix of the (broadcast) batch, 2-D (itself, with what it has
        computed of B, when it is one)."""
        if not idx and self.checks.ndim == 2:
            return self
        return BlockChecks(self.a[_sub(idx, self.a.shape[:-2])], self.b[_sub(idx, self.b.shape[:-2])],
                           self.be[_sub(idx, self.be.shape[:-2])], self.checks[idx], self.plan, self.lam)

    def check(self, p: np.ndarray) -> tuple[dict[tuple[int, ...], tuple[np.ndarray, float]], np.ndarray]:
        """Check a framed product [C, A (B E)] (its batch + (m, n + nb)): for each matrix with
        any, its failing (row, block) cells and their largest |mismatch| / tolerance; and each
        matrix's largest |mismatch| / tolerance over its passing cells."""
        n = p.shape[-1] - self.plan.nb
        c = p[..., :n]
        err, tol, ratio = self._first(c, p[..., n:], self.checks)
        ratio = ratio.max() if ratio.ndim == 2 else ratio.max(axis=(-2, -1))
        if (ratio <= 1 if ratio.ndim == 0 else np.all(ratio <= 1)) and tol.max() < np.inf:
            return {}, np.asarray(ratio, np.float64)  # the common case: every block passes the first look
        ok = self._second(c, err, tol)
        ratio = np.asarray(np.where(ok, err / np.where(tol > 0, tol, 1), 0.0).max(axis=(-2, -1)), np.float64)
        failed = {}
        bad, nd = np.argwhere(~ok), ok.ndim - 2
        if not len(bad):
            return failed, ratio
        keys, group = (np.unique(bad[:, :nd], axis=0, return_inverse=True) if nd else (np.zeros((1, 0), int), None))
        for g, key in enumerate(tuple(int(x) for x in k) for k in keys):
            cells = bad[:, nd:] if group is None else bad[group.ravel() == g, nd:]
            one = self.matrix(key) if key else self
            e = err[key][cells[:, 0], cells[:, 1]].astype(np.float64)
            t = one._exact(p[key][:, :n], cells)
            passed = (e <= t) & np.isfinite(t)
            r = np.where(t > 0, e / np.where(t > 0, t, 1), np.where(e > 0, np.inf, 0.0))
            ratio[key] = max(float(ratio[key]), r[passed].max(initial=0.0))
            if not passed.all():
                failed[key] = (cells[~passed], float(np.nan_to_num(r[~passed], nan=np.inf).max()))
        return failed, ratio

    def row_residual(self, i: int, row: np.ndarray) -> float:
        """Row i of a 2-D product, its C part `row`, against the checksums as taken: its largest
        |mismatch| / tolerance (> 1, or inf, when it fails)."""
        c = row[None]
        err, tol, ratio = self._first(c, self.checks[i:i + 1], self.checks[i:i + 1])
        ok = self._second(c, err, tol, self.checks[i:i + 1])
        if ok.all():
            return float(np.where(tol > 0, err / np.where(tol > 0, tol, 1), 0.0).max())
        blocks = np.flatnonzero(~ok[0])
        t = self._exact(c, np.stack([np.zeros_like(blocks), blocks], axis=1), rows=np.full(len(blocks), i))
        e = err[0, blocks].astype(np.float64)
        if not np.all((e <= t) & np.isfinite(t)):
            return np.inf
        passed = np.where(ok[0], err[0] / np.where(tol[0] > 0, tol[0], 1), 0.0).max()
        return float(max(passed, np.where(t > 0, e / np.where(t > 0, t, 1), 0.0).max()))

    def _first(self, c: np.ndarray, frame: np.ndarray, trusted: np.ndarray):
        """|C E - frame|, the first, cheapest tolerance scale·(|A (B E)| + 2 ‖C_i,b‖) (a lower
        bound of the model: the coherent term left out, ‖C_i,b‖ for the root-sum-square), and
        their ratio. A product out of cache has both of its sums taken in one native pass (each
        pass is bound by memory there: measured 0.8 % of the GEMM saved at n = 1024); one in
        cache by numpy's two, which cost less to call (2 % of the GEMM at n = 256)."""
        if c.nbytes > CACHED_BYTES:
            err, tol = block_sums(c, self.plan.w)
            np.sqrt(tol, out=tol)
        else:
            err, tol = self.plan.block_sums(c), np.sqrt(self.plan.block_sumsq(c))
        err -= frame
        np.abs(err, out=err)
        tol *= 2 * self.scale
        tol += np.abs(trusted) * self.scale
        return err, tol, err / tol

    def _second(self, c: np.ndarray, err: np.ndarray, tol: np.ndarray, trusted: np.ndarray | None = None) -> np.ndarray:
        """Where the mismatch passes once the coherent term joins the first tolerance (in place:
        `tol` is then the second); NaN and an infinite tolerance fail."""
        chk = np.abs(self.checks if trusted is None else trusted)
        tol += self._coherent(chk, (tol - chk * self.scale) / (2 * self.scale))
        return (err <= tol) & (tol < np.inf)

    def _coherent(self, chk: np.ndarray, norm: np.ndarray) -> np.ndarray:
        """COHERENT·u·(k + w)·|A (B E)|·ρ², ρ = |A (B E)| / (sqrt(w)·‖C_i,b‖) how alike the
        block's elements are (1 for a constant block, about 1/sqrt(w) for random signs): the
        rounding errors of alike sums are alike too, and add up, not as a random walk."""
        rho2 = np.square(chk / norm)
        rho2 *= 1 / self.plan.w
        np.fmin(rho2, 1, out=rho2)  # and 1 for 0 / 0
        rho2 *= chk
        rho2 *= self.coherent
        return rho2

    def _exact(self, c: np.ndarray, cells: np.ndarray, rows: np.ndarray | None = None) -> np.ndarray:
        """The model's tolerance for (row of c, block) `cells` of a 2-D product, rows `rows` of A
        (the same by default), in float64: scale·(|A (B E)| + ‖C_i,b‖ + max(‖C_i,b‖,
        root-sum-square of the terms))."""
        blk = cells[:, 1]
        i = cells[:, 0] if rows is None else rows
        f8 = np.float64
        c_rows, top = _scaled(c[cells[:, 0]])  # scaled so that no square overflows or vanishes
        c_norm = top[:, 0] * np.sqrt(self.plan.block_sumsq(c_rows)[np.arange(len(i)), blk])
        if self._b_sq is None:
            b, self._b_top = _scaled(self.b.reshape(1, -1))
            self._b_sq = self.plan.block_sumsq(b.reshape(self.b.shape))  # (k, nb), of B / max |B|
        a_rows, a_top = _scaled(self.a[i])
        rss = a_top[:, 0] * self._b_top[0, 0] * np.sqrt(np.einsum("ck,kc->c", np.square(a_rows), self._b_sq[:, blk]))
        chk = np.abs(self.checks[i, blk], dtype=f8)
        return self.scale * (chk + c_norm + np.maximum(c_norm, rss)) + self._coherent(chk, c_norm)


def _scaled(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows of x in float64 divided by their largest magnitude (1 for a zero row), and those."""
    x = x.astype(np.float64)
    top = np.max(np.abs(x), axis=-1, keepdims=True, initial=0.0)
    top[~(top > 0)] = 1.0  # zero rows; NaN and inf rows keep their NaN and fail
    top[np.isnan(np.abs(x).sum(axis=-1, keepdims=True))] = np.nan
    return x / top, top
