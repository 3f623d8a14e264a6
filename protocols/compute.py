"""Compute jobs as a contract between tenant, node and ground: what a job computes, from inputs
both sides can regenerate, and how the ground checks a downlinked result without trusting the
node.

Inputs come from a seed (a tenant who needs their own data uplinks it through PUS 13; the
shipped kinds make theirs), so the ground can recompute or, for big products, check a result
far more cheaply than computing it: a matrix product is checked through its row and column sums,
(e^T A) B and A (B e), in O(n^2). Floating-point results are compared with tolerances from the
error bound of the arithmetic, integer ones exactly.

Kinds:
- MATMUL: per chunk, C = A B for n x n float32 A, B; the result is C's row and column sums.
- MLP: per chunk, `batch` samples through a 3-layer perceptron of size small/medium/large (more
  accurate, more work); the result is each sample's class and the sum of its logits.
- TILES: per chunk, `batch` 64x64 Earth-observation tiles; those with a cloud fraction below the
  threshold are kept (only they are worth downlinking); the result is their indices.
"""
from __future__ import annotations

import io
import struct
import zlib
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

RESULT_MAGIC = b"GFRS"
_RESULT_HEAD = struct.Struct(">4sIBI")
MLP_LAYERS = {0: (64, 32, 10), 1: (256, 128, 10), 2: (1024, 512, 10)}
TILE = 64
CLOUD_LEVEL = 200


class Kind(IntEnum):
    MATMUL = 1
    MLP = 2
    TILES = 3


@dataclass(frozen=True)
class JobSpec:
    job_id: int
    tenant: int
    kind: Kind
    seed: int
    size: int  # MATMUL: n; MLP: model size 0..2; TILES: unused
    batch: int  # MLP samples, TILES tiles per chunk; MATMUL: 1
    chunks: int
    threshold: float = 0.3  # TILES: largest cloud fraction kept

    def check(self) -> None:
        limits = {Kind.MATMUL: (8, 4096), Kind.MLP: (0, 2), Kind.TILES: (0, 0)}
        lo, hi = limits[Kind(self.kind)]
        if not lo <= self.size <= hi or not 1 <= self.batch <= 65536 or not 1 <= self.chunks <= 1_000_000:
            raise ValueError(f"job {self.job_id}: size {self.size}, batch {self.batch}, chunks {self.chunks} "
                             f"out of range for {Kind(self.kind).name}")

    def work_units(self) -> int:
        """Work per chunk in MFLOP (TILES: in kilo-pixels inspected), what tokens are charged on."""
        if self.kind == Kind.MATMUL:
            return max(1, 2 * self.size ** 3 // 1_000_000)
        if self.kind == Kind.MLP:
            a, b, c = MLP_LAYERS[self.size]
            return max(1, 2 * self.batch * (a * b + b * c + c * c) // 1_000_000)
        return max(1, self.batch * TILE * TILE // 1000)


def _rng(spec: JobSpec, chunk: int) -> np.random.Generator:
    return np.random.default_rng([spec.seed, spec.job_id, chunk])


def matmul_inputs(spec: JobSpec, chunk: int) -> tuple[np.ndarray, np.ndarray]:
    rng = _rng(spec, chunk)
    n = spec.size
    return (rng.standard_normal((n, n), dtype=np.float32), rng.standard_normal((n, n), dtype=np.float32))


def mlp_weights(size: int) -> list[np.ndarray]:
    """The model for a size: fixed weights, as if trained on the ground and uplinked once."""
    a, b, c = MLP_LAYERS[size]
    rng = np.random.default_rng([7, size])
    return [rng.standard_normal(shape, dtype=np.float32) / np.sqrt(shape[0]).astype(np.float32)
            for shape in ((a, b), (b, c), (c, c))]


def mlp_inputs(spec: JobSpec, chunk: int) -> np.ndarray:
    return _rng(spec, chunk).standard_normal((spec.batch, MLP_LAYERS[spec.size][0]), dtype=np.float32)


def mlp_forward(weights: list[np.ndarray], x: np.ndarray, matmul=np.matmul) -> np.ndarray:
    h = np.maximum(matmul(x, weights[0]), 0)
    h = np.maximum(matmul(h, weights[1]), 0)
    return matmul(h, weights[2])


def tiles(spec: JobSpec, chunk: int) -> np.ndarray:
    """Synthetic scenes: ground at 0..180, clouds above CLOUD_LEVEL over a random share of each."""
    rng = _rng(spec, chunk)
    out = rng.integers(0, 180, (spec.batch, TILE, TILE), dtype=np.uint8)
    cover = rng.uniform(0, 1, spec.batch)
    clouds = rng.uniform(0, 1, (spec.batch, TILE, TILE)) < cover[:, None, None]
    out[clouds] = rng.integers(CLOUD_LEVEL + 1, 256, int(clouds.sum()), dtype=np.uint8)
    return out


def keep_tiles(t: np.ndarray, threshold: float) -> np.ndarray:
    return np.flatnonzero((t > CLOUD_LEVEL).mean(axis=(1, 2)) < threshold).astype(np.uint32)


# ---- results ----------------------------------------------------------------------------------

def pack_result(spec: JobSpec, chunks: list[dict[str, np.ndarray]]) -> bytes:
    """The downlinked result: a header, one .npz of every chunk's outputs, and a CRC-32."""
    buf = io.BytesIO()
    np.savez(buf, **{f"{k}.{name}": v for k, c in enumerate(chunks) for name, v in c.items()})
    body = _RESULT_HEAD.pack(RESULT_MAGIC, spec.job_id, int(spec.kind), len(chunks)) + buf.getvalue()
    return body + struct.pack(">I", zlib.crc32(body))


def unpack_result(data: bytes) -> tuple[int, Kind, list[dict[str, np.ndarray]]]:
    if len(data) < _RESULT_HEAD.size + 4 or zlib.crc32(data[:-4]) != struct.unpack(">I", data[-4:])[0]:
        raise ValueError("result damaged: CRC-32 does not match")
    magic, job_id, kind, n = _RESULT_HEAD.unpack_from(data)
    if magic != RESULT_MAGIC:
        raise ValueError(f"not a job result (magic {magic!r})")
    with np.load(io.BytesIO(data[_RESULT_HEAD.size:-4]), allow_pickle=False) as z:
        chunks = [{name.split(".", 1)[1]: z[name] for name in z.files if name.split(".", 1)[0] == str(k)}
                  for k in range(n)]
    return job_id, Kind(kind), chunks


def verify(spec: JobSpec, data: bytes) -> list[str]:
    """What is wrong with a downlinked result, chunk by chunk; empty when it is right."""
    try:
        job_id, kind, chunks = unpack_result(data)
    except (ValueError, OSError) as exc:
        return [str(exc)]
    problems = []
    if job_id != spec.job_id or kind != spec.kind or len(chunks) != spec.chunks:
        return [f"result is job {job_id} {kind.name} with {len(chunks)} chunks, expected job {spec.job_id} "
                f"{Kind(spec.kind).name} with {spec.chunks}"]
    for k, c in enumerate(chunks):
        try:
            bad = _verify_chunk(spec, k, c)
        except KeyError as exc:
            bad = f"missing {exc}"
        if bad:
            problems.append(f"chunk {k}: {bad}")
    return problems


def _verify_chunk(spec: JobSpec, k: int, c: dict[str, np.ndarray]) -> str:
    if spec.kind == Kind.MATMUL:
        a, b = (x.astype(np.float64) for x in matmul_inputs(spec, k))
        rows, cols = a @ b.sum(axis=1), a.sum(axis=0) @ b  # C e and e^T C without forming C
        # Rounding in a float32 product and its sums grows like eps * sqrt(n) times the root sum of
        # squares of the terms (measured: at most 0.63 of that on random inputs, n = 64..1024); 8x
        # leaves no false alarm and still sees an error in the 20th bit of an element.
        eps, n = np.finfo(np.float32).eps, spec.size
        a2, b2 = a * a, b * b
        tol_rows = 8 * eps * np.sqrt(n) * np.sqrt(a2 @ b2.sum(axis=1))
        tol_cols = 8 * eps * np.sqrt(n) * np.sqrt(a2.sum(axis=0) @ b2)
        if c["row_sums"].shape != rows.shape or c["col_sums"].shape != cols.shape \
                or (np.abs(c["row_sums"] - rows) > tol_rows).any() or (np.abs(c["col_sums"] - cols) > tol_cols).any():
            return "row/column sums disagree with (e^T A) B and A (B e)"
        return ""
    if spec.kind == Kind.MLP:
        logits = mlp_forward(mlp_weights(spec.size), mlp_inputs(spec, k))
        top2 = np.sort(logits, axis=1)[:, -2:]
        clear = (top2[:, 1] - top2[:, 0]) > 1e-3  # near-ties may go either way in float32
        labels = logits.argmax(axis=1)
        if c["labels"].shape != labels.shape or (c["labels"][clear] != labels[clear]).any():
            return f"{int((c['labels'][clear] != labels[clear]).sum())} wrong classes"
        return ""
    kept = keep_tiles(tiles(spec, k), spec.threshold)
    if not np.array_equal(c["kept"], kept):
        return f"kept tiles {c['kept'].tolist()[:8]}..., expected {kept.tolist()[:8]}..."
    return ""
