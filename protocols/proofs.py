"""Proofs the ground checks without trusting the node: that a product was computed, that the
blocks of a product too big to downlink are the ones the node committed to, and that no item of a
job was skipped. Pure functions over arrays and octets, shared by node (flight/compute/proofs.py)
and ground (ground/compute/verify.py).

**Freivalds' check** (R. Freivalds, 1977). C = A B is checked as C R = A (B R) for an n x k matrix R
of random 0/1 entries drawn from a seed the ground chooses after the result came down: O(k n^2)
instead of the product's O(n^3). A node that knew R in advance could fake C to pass, so R comes
from a seed the node never sees. Soundness with a tolerance: if some element of C is off by more
than twice its row's tolerance t_i, i.e. |D_ij| > 2 t_i for D = C - A B, then of any two vectors r,
r' differing only in entry j, (D r)_i and (D r')_i differ by |D_ij|, so at most one of them lies
within t_i: each random vector misses the error with probability at most 1/2, and FREIVALDS_K = 20
independent vectors with probability at most 2^-20 (< 1e-6, the same target as the samples below).
A lazy node's C (sums right, product not done) is off by the size of the elements everywhere.

**The tolerance** is the worst-case rounding bound of the arithmetic (Higham, Accuracy and Stability
of Numerical Algorithms, 2nd ed., eq. 3.13), not a statistical estimate, so an honest node is never
accused whatever order its BLAS sums in (FMA and higher-precision accumulation only do better): an
element of a float32 product is within gamma_n(u32) (|A||B|)_ij of the exact value, gamma_n(u) =
n u / (1 - n u), u32 = 2^-24. Hence |(C r - A B r)_i| <= gamma_n(u32) (|A||B| r)_i <= gamma_n(u32) s_i
with s = |A| (|B| e), computed once for all k vectors (r <= e entrywise). The ground computes in
float64 from float32 operands: A (B r) and C r carry at most 4 gamma_n(u64) s_i more. Underflow
adds at most 2^-150 per product. Integer-valued A and B with max_i |a_i|_1 max|B| below 2^24
multiply exactly in float32 whatever the order (every partial sum of an element is an integer
below 2^24, and so are the float64 sums of up to n of them the ground forms), and then the
tolerance is 0: the check is exact.

The bound is the worst case, about sqrt(n) times the typical rounding: what Freivalds guarantees
to see is an element off by 2 gamma_n(u32) (|A||B|e)_i, a few per cent of the largest element at
n = 256. That is no room for a lazy node (a product made any cheaper is off by the size of the
elements), and no honest node is ever refused; small upsets are ABFT's to catch, on board.

**Commitments.** A product too big to downlink stays on board; its result carries a Merkle root
(RFC 6962 tree hash: SHA-256, leaves hashed as 0x00 || block and nodes as 0x01 || left || right, so
no leaf can pose as a node; an odd node at the end of a level goes up unchanged) over fixed-size
blocks of C: BLOCK_OCTETS of whole rows (the last block of a chunk shorter), chunk after chunk. The
ground then names a seed; the node answers the blocks that seed draws, each with its path to the
root (`BlockAnswer`), and the ground recomputes each block (rows of A times B) itself.

**Samples.** A node that skipped (or faked) a fraction f of a job's items escapes n random draws
with probability at most (1 - f)^n; n = ceil(ln(1e-6) / ln(1 - f)) makes that at most 1e-6 per job.
We take f = DETECT_FRACTION = 0.05 (n = 270); drawing without replacement only helps, and a job
with no more than n items has all of them checked.
"""
from __future__ import annotations

import hashlib
import math
import struct
import zlib
from dataclasses import dataclass
from typing import Sequence

import numpy as np

FREIVALDS_K = 20
DETECT_FRACTION = 0.05
MISS_PROBABILITY = 1e-6
BLOCK_OCTETS = 16384  # one product block: whole float32 rows (one row of n = 4096)
LEAF_PREFIX, NODE_PREFIX = b"\x00", b"\x01"
NO_ROOT = bytes(32)
_U32, _U64 = 2.0 ** -24, 2.0 ** -53
_EXACT_LIMIT = 2.0 ** 24
_FREIVALDS_TAG, _SAMPLE_TAG = 0x46524556, 0x53414D50  # keep the seed's streams apart


def samples_needed(f: float = DETECT_FRACTION, miss: float = MISS_PROBABILITY) -> int:
    """Draws that catch a node skipping a fraction `f` of items with probability >= 1 - `miss`."""
    if not 0.0 < f < 1.0 or not 0.0 < miss < 1.0:
        raise ValueError(f"fraction {f} and miss probability {miss} must lie in (0, 1)")
    return math.ceil(math.log(miss) / math.log1p(-f))


def sample(seed: int, population: int, count: int, stream: int = 0) -> np.ndarray:
    """`count` distinct indices below `population`, sorted, drawn from `seed` (all of them when
    `population` <= `count`); `stream` keeps different draws from one seed apart."""
    if population <= count:
        return np.arange(population)
    rng = np.random.default_rng([seed, _SAMPLE_TAG, stream])
    return np.sort(rng.choice(population, size=count, replace=False))


# ---- products ---------------------------------------------------------------------------------

def _gamma(n: int, u: float) -> float:
    return n * u / (1.0 - n * u)


def _tolerance(s: np.ndarray, a: np.ndarray, b: np.ndarray, columns: int) -> np.ndarray:
    """Bound on |(C x - A B x)_i| for x in [0, 1]^columns, given s >= (|A||B| x) (module docstring)."""
    n = a.shape[1]
    if _integer_valued(a) and _integer_valued(b):
        # Every partial sum of an element is an integer below max_i |a_i|_1 max |B|: exact below 2^24.
        largest = float(np.abs(a).sum(axis=1, dtype=np.float64).max(initial=0.0)) * float(np.abs(b).max(initial=0.0))
        if largest < _EXACT_LIMIT:
            return np.zeros_like(s)
    slack = _gamma(n, _U32) + 4 * _gamma(n, _U64)
    return slack * (1 + 4 * _gamma(n, _U64)) * s + n * columns * 2.0 ** -150


def _integer_valued(x: np.ndarray) -> bool:
    head = x.reshape(-1)[:256]  # most float data shows it is not on its first elements
    if not np.array_equal(head, np.rint(head)):
        return False
    return bool(np.all(np.isfinite(x)) and np.array_equal(x, np.rint(x)))


_ROWS = 128  # rows converted to float64 at a time: a block stays in cache for all its uses


def freivalds_error(a: np.ndarray, b: np.ndarray, c: np.ndarray, seed: int, chunk: int = 0,
                    k: int = FREIVALDS_K) -> str:
    """What is wrong with C as A B ("" if nothing), by Freivalds' check with k random 0/1 vectors
    from (`seed`, `chunk`): a C with any element off by more than twice its row's rounding bound
    passes with probability at most 2^-k (module docstring)."""
    if a.ndim != 2 or b.ndim != 2 or a.shape[1] != b.shape[0] or c.shape != (a.shape[0], b.shape[1]):
        return f"product of shape {c.shape} for A {a.shape} and B {b.shape}"
    if c.dtype != np.float32:
        return f"product of {c.dtype}, not float32"
    f8 = np.float64
    r = np.random.default_rng([seed, _FREIVALDS_TAG, chunk]).integers(0, 2, size=(b.shape[1], k)).astype(f8)
    br, b_sums = np.empty((b.shape[0], k)), np.empty(b.shape[0])
    for i in range(0, b.shape[0], _ROWS):  # B r and |B| e in one pass over B
        blk = b[i:i + _ROWS].astype(f8)
        np.matmul(blk, r, out=br[i:i + _ROWS])
        np.abs(blk, out=blk).sum(axis=1, out=b_sums[i:i + _ROWS])
    diff, s = np.empty((a.shape[0], k)), np.empty(a.shape[0])
    for i in range(0, a.shape[0], _ROWS):  # C r - A (B r) and |A| |B| e in one pass over A and C
        blk = a[i:i + _ROWS].astype(f8)
        np.subtract(c[i:i + _ROWS].astype(f8) @ r, blk @ br, out=diff[i:i + _ROWS])
        np.matmul(np.abs(blk, out=blk), b_sums, out=s[i:i + _ROWS])
    np.abs(diff, out=diff)
    bad = ~(diff <= _tolerance(s, a, b, b.shape[1])[:, None])  # NaN is bad
    if bad.any():
        rows, vectors = np.nonzero(bad)
        return (f"C r differs from A (B r) beyond rounding for {len(set(vectors.tolist()))} of {k} random "
                f"vectors (first at row {int(rows[0])})")
    return ""


def block_error(a_rows: np.ndarray, b: np.ndarray, block: np.ndarray) -> str:
    """What is wrong with `block` as rows of A times B ("" if nothing), recomputed in float64 and
    held element by element to the rounding bound of a float32 product (module docstring)."""
    if block.shape != (a_rows.shape[0], b.shape[1]):
        return f"block of shape {block.shape}, expected {(a_rows.shape[0], b.shape[1])}"
    f8 = np.float64
    a8, b8 = a_rows.astype(f8), b.astype(f8)
    s = np.abs(a8) @ np.abs(b8)
    bad = ~(np.abs(block.astype(f8) - a8 @ b8) <= _tolerance(s, a_rows, b, 1))
    if bad.any():
        i, j = (int(x[0]) for x in np.nonzero(bad))
        return f"{int(bad.sum())} elements differ from A B beyond rounding (first at [{i}, {j}])"
    return ""


# ---- product blocks and Merkle trees ------------------------------------------------------------

def block_rows(n: int) -> int:
    """Rows of C (n columns of float32) in one product block."""
    return max(1, BLOCK_OCTETS // (4 * n))


def blocks_per_chunk(n: int) -> int:
    return -(-n // block_rows(n))


def block_slice(n: int, block: int) -> slice:
    rows = block_rows(n)
    return slice(block * rows, min(n, (block + 1) * rows))


def block_octets(c: np.ndarray, block: int) -> bytes:
    """The octets a leaf hashes: the block's rows of C as float32 little-endian, row-major."""
    return np.ascontiguousarray(c[block_slice(c.shape[0], block)], dtype="<f4").tobytes()


def challenged_blocks(seed: int, chunks: int, n: int) -> np.ndarray:
    """The leaves the ground's `seed` challenges in a job of `chunks` products of size n: enough to
    catch a node that faked DETECT_FRACTION of the blocks with probability >= 1 - MISS_PROBABILITY."""
    return sample(seed, chunks * blocks_per_chunk(n), samples_needed(), stream=1)


def leaf_hash(data: bytes) -> bytes:
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def product_leaves(c: np.ndarray) -> np.ndarray:
    """The leaf hashes of one chunk's product, one row of 32 octets per block."""
    hashes = [leaf_hash(block_octets(c, k)) for k in range(blocks_per_chunk(c.shape[0]))]
    return np.frombuffer(b"".join(hashes), dtype=np.uint8).reshape(-1, 32)


def _levels(leaves: Sequence[bytes]) -> list[list[bytes]]:
    if not leaves:
        raise ValueError("a Merkle tree needs at least one leaf")
    levels = [list(leaves)]
    while len(levels[-1]) > 1:
        low = levels[-1]
        levels.append([node_hash(low[i], low[i + 1]) if i + 1 < len(low) else low[i] for i in range(0, len(low), 2)])
    return levels


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """RFC 6962's tree hash over leaf hashes (bottom-up with the odd node promoted: the same tree)."""
    return _levels(leaves)[-1][0]


def merkle_paths(leaves: Sequence[bytes], indices: Sequence[int]) -> list[list[bytes]]:
    """Each index's audit path (sibling hashes from the leaf up; none where a node was promoted)."""
    levels, paths = _levels(leaves), []
    for index in indices:
        path, i = [], int(index)
        for level in levels[:-1]:
            sibling = i ^ 1
            if sibling < len(level):
                path.append(level[sibling])
            i //= 2
        paths.append(path)
    return paths


def root_from_path(leaf: bytes, index: int, size: int, path: Sequence[bytes]) -> bytes | None:
    """The root that `leaf` at `index` of a `size`-leaf tree leads to by `path`; None if the path
    does not fit such a tree (too short, too long, index out of range)."""
    if not 0 <= index < size:
        return None
    h, i, m, rest = leaf, index, size, list(path)
    while m > 1:
        if i % 2 == 1 or i + 1 < m:
            if not rest:
                return None
            sibling = rest.pop(0)
            h = node_hash(sibling, h) if i % 2 == 1 else node_hash(h, sibling)
        i, m = i // 2, (m + 1) // 2
    return h if not rest else None


# ---- answers to a challenge -------------------------------------------------------------------

PROOF_MAGIC = b"GFPF"
PROOF_VERSION = 1
_ANSWER_HEAD = struct.Struct(">4sBIIII32sH")
_BLOCK_HEAD = struct.Struct(">II")
MAX_PATH = 40  # a tree of up to 2^40 leaves


@dataclass(frozen=True)
class BlockProof:
    leaf: int  # index of the block's leaf in the job's tree
    data: bytes  # the block's octets (block_octets)
    path: tuple[bytes, ...]


@dataclass(frozen=True)
class BlockAnswer:
    """The node's answer to compute.ProveBlocks, downlinked through PUS 13:

        offset size field (big-endian)
        0      4    magic "GFPF"
        4      1    format version (1)
        5      4    job id, u32
        9      4    the challenge's seed, u32
        13     4    chunks of the job, u32
        17     4    leaves in the job's tree, u32
        21     32   the tree's root
        53     2    blocks answered, u16
        55     ...  per block: leaf index u32, octets u32, the octets, path length u8, 32 x path
        end-4  4    CRC-32 of everything before
    """

    job_id: int
    seed: int
    chunks: int
    size: int
    root: bytes
    blocks: tuple[BlockProof, ...]

    def pack(self) -> bytes:
        out = bytearray(_ANSWER_HEAD.pack(PROOF_MAGIC, PROOF_VERSION, self.job_id, self.seed, self.chunks, self.size,
                                          self.root, len(self.blocks)))
        for b in self.blocks:
            out += _BLOCK_HEAD.pack(b.leaf, len(b.data)) + b.data + bytes([len(b.path)]) + b"".join(b.path)
        return bytes(out) + struct.pack(">I", zlib.crc32(out))

    @classmethod
    def unpack(cls, data: bytes) -> "BlockAnswer":
        """The answer in `data`: ValueError with what is wrong if it is not one, intact."""
        if len(data) < _ANSWER_HEAD.size + 4 or zlib.crc32(data[:-4]) != struct.unpack(">I", data[-4:])[0]:
            raise ValueError("block answer damaged: CRC-32 does not match")
        magic, version, job_id, seed, chunks, size, root, count = _ANSWER_HEAD.unpack_from(data)
        if magic != PROOF_MAGIC or version != PROOF_VERSION:
            raise ValueError(f"not a block answer: magic {magic!r}, version {version} (1 read)")
        body, at, blocks = data[:-4], _ANSWER_HEAD.size, []
        for _ in range(count):
            if at + _BLOCK_HEAD.size > len(body):
                raise ValueError(f"block answer ends inside block {len(blocks)} of {count}")
            leaf, octets = _BLOCK_HEAD.unpack_from(body, at)
            at += _BLOCK_HEAD.size
            if octets > BLOCK_OCTETS or at + octets + 1 > len(body):
                raise ValueError(f"block {len(blocks)}: {octets} octets declared, at most {BLOCK_OCTETS} and "
                                 f"{max(0, len(body) - at - 1)} present")
            block, depth = bytes(body[at:at + octets]), body[at + octets]
            at += octets + 1
            if depth > MAX_PATH or at + 32 * depth > len(body):
                raise ValueError(f"block {len(blocks)}: path of {depth} hashes does not fit")
            path = tuple(bytes(body[at + 32 * h:at + 32 * h + 32]) for h in range(depth))
            blocks.append(BlockProof(leaf, block, path))
            at += 32 * depth
        if at != len(body):
            raise ValueError(f"block answer has {len(body) - at} octets after its {count} blocks")
        return cls(job_id, seed, chunks, size, bytes(root), tuple(blocks))
