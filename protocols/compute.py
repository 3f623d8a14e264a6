"""Compute jobs as a contract between tenant, node and ground: what a job computes, from inputs
both sides can regenerate, and the formats of tenant inputs and results. The ground checks a
downlinked result without trusting the node (`gridfree.ground.compute.verify`).

Inputs come from a seed, so the ground can recompute or, for big products, check a result far
more cheaply than computing it (`gridfree.protocols.proofs`): a matrix product by Freivalds' check
on the downlinked product, or, when the job's products are too big to downlink, by blocks of them
the ground challenges against the Merkle root the result carries; MLP and tile jobs by a random
sample of their chunks computed again. Floating-point results are compared with tolerances from
the error bound of the arithmetic, integer ones exactly.

A tenant with data of its own uplinks it through PUS 13 as a `TenantInput` and submits jobs with
its `input_id`: the input then holds every chunk's inputs, one chunk after another, in the layout
the kind reads (`chunk_input_octets`); the ground checks the result against the data it sent.

    tenant input (big-endian header, then the payload)
    offset size field
    0      4    magic "GFIN"
    4      1    format version (1)
    5      4    input id, u32 (>= 1)
    9      2    tenant, u16
    11     4    payload length, u32
    15     4    CRC-32C of octets 0..14 and the payload
    19     n    payload: MATMUL chunks x (A, B), n x n float32 little-endian each, row-major;
                MLP chunks x batch x inputs float32; TILES chunks x batch x 64 x 64 uint8

Kinds (each with its work unit; what one costs on the board is the node's model,
`gridfree.flight.compute.kinds`):
- MATMUL: per chunk, C = A B for n x n float32 A, B; the result is C's row and column sums, and C
  itself ("product") when the job's products fit the downlink (flight/compute/proofs.py); the
  result's header carries the Merkle root over the blocks of every chunk's C either way.

    job result (big-endian header, then an .npz of every chunk's outputs, then a CRC-32)
    offset size field
    0      4    magic "GFRS"
    4      4    job id, u32
    8      1    kind
    9      4    chunks, u32
    13     1    format version (2); a version 1 result has none: its .npz starts here ("PK")
    14     32   Merkle root over the product blocks (MATMUL; all zero: no commitment)
    46     n    .npz, arrays named "<chunk>.<output>"
    end-4  4    CRC-32 of everything before
  A version 1 result is still read; the ground refuses its MATMUL results, whose row and column
  sums a node can make in O(n^2) without the product.
- MLP: per chunk, `batch` samples through a 3-layer perceptron of size small/medium/large (more
  accurate, more work); the result is each sample's class and the sum of its logits.
- TILES: per chunk, `batch` 64x64 Earth-observation tiles; those with a cloud fraction below the
  threshold are kept (only they are worth downlinking); the result is their indices.
"""
from __future__ import annotations

import io
import struct
import zipfile
import zlib
from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from gridfree.native.crc import crc32c

RESULT_MAGIC = b"GFRS"
INPUT_MAGIC = b"GFIN"
INPUT_VERSION = 1
_INPUT_HEAD = struct.Struct(">4sBIHI")
MAX_INPUT_PAYLOAD = 16 << 20  # what one PUS 13 uplink carries, less its header
MAX_INPUT_MAGNITUDE = 1e15  # a float input beyond this could overflow float32 products of n <= 4096
_RESULT_HEAD = struct.Struct(">4sIBI")
RESULT_VERSION = 2
_RESULT_V2 = struct.Struct(">B32s")
_NPZ_MAGIC = b"PK"  # where a version 1 result's .npz begins, a later version has its version octet
MLP_LAYERS = {0: (64, 32, 10), 1: (256, 128, 10), 2: (1024, 512, 10)}
TILE = 64
CLOUD_LEVEL = 200


PAYLOAD_POLICIES = ("planned", "two-level", "orbit-average", "sunlight-aware", "greedy-best-clock", "greedy")
"""The payload power policies (flight/compute/policies.py) by the number the node's
compute.PayloadPolicy parameter takes and a rig scenario's `policy` names."""


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
    input_id: int = 0  # 0: inputs from the seed; else the uplinked TenantInput they come from

    def check(self) -> None:
        limits = {Kind.MATMUL: (8, 4096), Kind.MLP: (0, 2), Kind.TILES: (0, 0)}
        lo, hi = limits[Kind(self.kind)]
        if not lo <= self.size <= hi or not 1 <= self.batch <= 65536 or not 1 <= self.chunks <= 1_000_000:
            raise ValueError(f"job {self.job_id}: size {self.size}, batch {self.batch}, chunks {self.chunks} "
                             f"out of range for {Kind(self.kind).name}")

    def work_units(self) -> int:
        """Work per chunk in the kind's unit (MFLOP, or kilo-pixels for TILES), what tokens are
        charged on."""
        if self.kind == Kind.MATMUL:
            return max(1, 2 * self.size ** 3 // 1_000_000)
        if self.kind == Kind.MLP:
            a, b, c = MLP_LAYERS[self.size]
            return max(1, 2 * self.batch * (a * b + b * c + c * c) // 1_000_000)
        return max(1, self.batch * TILE * TILE // 1000)


def _rng(spec: JobSpec, chunk: int) -> np.random.Generator:
    return np.random.default_rng([spec.seed, spec.job_id, chunk])


# ---- tenant inputs ----------------------------------------------------------------------------

class InputDamaged(ValueError):
    """Octets that are not an intact tenant input; nothing in them may be computed on."""


@dataclass(frozen=True)
class TenantInput:
    input_id: int
    tenant: int
    payload: bytes

    def pack(self) -> bytes:
        if not 1 <= self.input_id <= 0xFFFF_FFFF or not 0 <= self.tenant <= 0xFFFF:
            raise ValueError(f"input id {self.input_id} (1..2**32-1), tenant {self.tenant} (0..65535)")
        if not 0 < len(self.payload) <= MAX_INPUT_PAYLOAD:
            raise ValueError(f"a tenant input holds 1..{MAX_INPUT_PAYLOAD} octets, not {len(self.payload)}")
        head = _INPUT_HEAD.pack(INPUT_MAGIC, INPUT_VERSION, self.input_id, self.tenant, len(self.payload))
        return head + struct.pack(">I", crc32c(self.payload, crc32c(head))) + bytes(self.payload)

    @classmethod
    def unpack(cls, data: bytes) -> "TenantInput":
        """The input in `data`, after its CRC-32C has checked header and payload: InputDamaged if not."""
        if len(data) < _INPUT_HEAD.size + 4:
            raise InputDamaged(f"a tenant input is at least {_INPUT_HEAD.size + 4} octets, got {len(data)}")
        (crc,) = struct.unpack_from(">I", data, _INPUT_HEAD.size)
        payload = data[_INPUT_HEAD.size + 4:]
        if crc32c(payload, crc32c(data[:_INPUT_HEAD.size])) != crc:
            raise InputDamaged("tenant input damaged: CRC-32C does not match")
        magic, version, input_id, tenant, length = _INPUT_HEAD.unpack_from(data)
        # The length is only compared, and only now that the CRC has checked.
        if magic != INPUT_MAGIC or version != INPUT_VERSION or length != len(payload) or input_id == 0:
            raise InputDamaged(f"not a tenant input: magic {magic!r}, version {version}, id {input_id}, "
                               f"{length} octets declared, {len(payload)} present")
        return cls(input_id, tenant, bytes(payload))


def chunk_input_octets(spec: JobSpec) -> int:
    """Octets of one chunk's inputs in a tenant input, for the kind and shape of `spec`."""
    if spec.kind == Kind.MATMUL:
        return 2 * spec.size * spec.size * 4
    if spec.kind == Kind.MLP:
        return spec.batch * MLP_LAYERS[spec.size][0] * 4
    return spec.batch * TILE * TILE


def check_input(spec: JobSpec, inp: TenantInput) -> None:
    """ValueError unless `inp` can feed every chunk of `spec`: its tenant, its size, finite numbers."""
    if inp.input_id != spec.input_id or inp.tenant != spec.tenant:
        raise ValueError(f"input {inp.input_id} belongs to tenant {inp.tenant}, not to job {spec.job_id} "
                         f"of tenant {spec.tenant}")
    need = spec.chunks * chunk_input_octets(spec)
    if len(inp.payload) != need:
        raise ValueError(f"input {inp.input_id} holds {len(inp.payload)} octets; {spec.chunks} chunks of "
                         f"{Kind(spec.kind).name} size {spec.size} batch {spec.batch} need {need}")
    if spec.kind != Kind.TILES:
        x = np.frombuffer(inp.payload, dtype="<f4")
        if not np.isfinite(x).all() or np.abs(x).max() > MAX_INPUT_MAGNITUDE:
            raise ValueError(f"input {inp.input_id}: values must be finite and within +-{MAX_INPUT_MAGNITUDE:g}")


def _uplinked(spec: JobSpec, chunk: int, payload: bytes, dtype: str, shape: tuple) -> np.ndarray:
    size = chunk_input_octets(spec)
    if len(payload) < (chunk + 1) * size:
        raise ValueError(f"input {spec.input_id} has no chunk {chunk}")
    return np.frombuffer(payload, dtype=dtype, count=size // np.dtype(dtype).itemsize,
                         offset=chunk * size).reshape(shape).astype(dtype[1:])


def matmul_inputs(spec: JobSpec, chunk: int, payload: bytes | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A and B of a chunk: from the seed, or from `payload`, the tenant input of a job that has one."""
    n = spec.size
    if spec.input_id:
        ab = _uplinked(spec, chunk, _need(spec, payload), "<f4", (2, n, n))
        return ab[0], ab[1]
    rng = _rng(spec, chunk)
    return (rng.standard_normal((n, n), dtype=np.float32), rng.standard_normal((n, n), dtype=np.float32))


def _need(spec: JobSpec, payload: bytes | None) -> bytes:
    if payload is None:
        raise ValueError(f"job {spec.job_id} computes on uplinked input {spec.input_id}: its payload is needed")
    return payload


def mlp_weights(size: int) -> list[np.ndarray]:
    """The model for a size: fixed weights, as if trained on the ground and uplinked once."""
    a, b, c = MLP_LAYERS[size]
    rng = np.random.default_rng([7, size])
    return [rng.standard_normal(shape, dtype=np.float32) / np.sqrt(shape[0]).astype(np.float32)
            for shape in ((a, b), (b, c), (c, c))]


def mlp_inputs(spec: JobSpec, chunk: int, payload: bytes | None = None) -> np.ndarray:
    shape = (spec.batch, MLP_LAYERS[spec.size][0])
    if spec.input_id:
        return _uplinked(spec, chunk, _need(spec, payload), "<f4", shape)
    return _rng(spec, chunk).standard_normal(shape, dtype=np.float32)


def mlp_forward(weights: list[np.ndarray], x: np.ndarray, matmul=np.matmul) -> np.ndarray:
    h = np.maximum(matmul(x, weights[0]), 0)
    h = np.maximum(matmul(h, weights[1]), 0)
    return matmul(h, weights[2])


def tiles(spec: JobSpec, chunk: int, payload: bytes | None = None) -> np.ndarray:
    """Synthetic scenes: ground at 0..180, clouds above CLOUD_LEVEL over a random share of each
    (or the tenant's own scenes, from its input)."""
    if spec.input_id:
        return _uplinked(spec, chunk, _need(spec, payload), "|u1", (spec.batch, TILE, TILE))
    rng = _rng(spec, chunk)
    out = rng.integers(0, 180, (spec.batch, TILE, TILE), dtype=np.uint8)
    cover = rng.uniform(0, 1, spec.batch)
    clouds = rng.uniform(0, 1, (spec.batch, TILE, TILE)) < cover[:, None, None]
    out[clouds] = rng.integers(CLOUD_LEVEL + 1, 256, int(clouds.sum()), dtype=np.uint8)
    return out


def keep_tiles(t: np.ndarray, threshold: float) -> np.ndarray:
    return np.flatnonzero((t > CLOUD_LEVEL).mean(axis=(1, 2)) < threshold).astype(np.uint32)


# ---- results ----------------------------------------------------------------------------------

@dataclass(frozen=True)
class JobResult:
    """A downlinked result as read: format `version`, and the commitment `root` (proofs.NO_ROOT: none)."""

    job_id: int
    kind: Kind
    chunks: list[dict[str, np.ndarray]]
    version: int
    root: bytes


def pack_result(spec: JobSpec, chunks: list[dict[str, np.ndarray]], root: bytes = bytes(32)) -> bytes:
    """The downlinked result (version 2, layout in the module docstring): a header with the
    commitment `root`, one .npz of every chunk's outputs, and a CRC-32."""
    if len(root) != 32:
        raise ValueError(f"a commitment root is 32 octets, not {len(root)}")
    buf = io.BytesIO()
    np.savez(buf, **{f"{k}.{name}": v for k, c in enumerate(chunks) for name, v in c.items()})
    body = (_RESULT_HEAD.pack(RESULT_MAGIC, spec.job_id, int(spec.kind), len(chunks))
            + _RESULT_V2.pack(RESULT_VERSION, root) + buf.getvalue())
    return body + struct.pack(">I", zlib.crc32(body))


def read_result(data: bytes) -> JobResult:
    """The result in `data`, of format version 1 or 2: ValueError saying what is wrong if it is not
    an intact one."""
    if len(data) < _RESULT_HEAD.size + 4 or zlib.crc32(data[:-4]) != struct.unpack(">I", data[-4:])[0]:
        raise ValueError("result damaged: CRC-32 does not match")
    magic, job_id, kind, n = _RESULT_HEAD.unpack_from(data)
    if magic != RESULT_MAGIC:
        raise ValueError(f"not a job result (magic {magic!r})")
    at, version, root = _RESULT_HEAD.size, 1, bytes(32)
    if data[at:at + 2] != _NPZ_MAGIC:
        if len(data) < at + _RESULT_V2.size + 4 or data[at] != RESULT_VERSION:
            raise ValueError(f"job result of format version {data[at] if len(data) > at + 4 else None}: "
                             f"versions 1 and {RESULT_VERSION} are read")
        version, root = _RESULT_V2.unpack_from(data, at)
        at += _RESULT_V2.size
    try:
        kind = Kind(kind)
        with np.load(io.BytesIO(data[at:-4]), allow_pickle=False) as z:
            chunks = [{name.split(".", 1)[1]: z[name] for name in z.files if name.split(".", 1)[0] == str(k)}
                      for k in range(n)]
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise ValueError(f"job result {job_id}: outputs unreadable ({exc})") from None
    return JobResult(job_id, kind, chunks, version, bytes(root))


def unpack_result(data: bytes) -> tuple[int, Kind, list[dict[str, np.ndarray]]]:
    """Job id, kind and chunks' outputs of a result (`read_result` for its version and commitment)."""
    r = read_result(data)
    return r.job_id, r.kind, r.chunks


def matmul_sums_error(a: np.ndarray, b: np.ndarray, row_sums: np.ndarray, col_sums: np.ndarray) -> str:
    """What is wrong with the row and column sums of C = A B ("" if nothing), checked against
    A (B e) and (e^T A) B in O(n^2): the MATMUL contract. The ground holds a downlinked result to
    it, and the node its own outputs before they go into a checkpoint, for an upset in C smaller
    than its ABFT tolerance can still be larger than this one (flight/compute/jobs.py)."""
    # In float64, by numpy's single-threaded einsum loops and without float64 copies of A and B: a
    # threaded BLAS gemv on a loaded node costs more than all of this (7 ms at n = 1024).
    f8 = np.float64
    rows = np.einsum("ik,k->i", a, b.sum(axis=1, dtype=f8), dtype=f8)  # C e and e^T C without forming C
    cols = np.einsum("k,kj->j", a.sum(axis=0, dtype=f8), b, dtype=f8)
    # Rounding in a float32 product and its sums grows like eps * sqrt(n) times the root sum of
    # squares of the terms (measured: at most 0.63 of that on random inputs, n = 64..1024); 8x
    # leaves no false alarm and still sees an error in the 20th bit of an element.
    scale = 8 * np.finfo(np.float32).eps * np.sqrt(a.shape[1])
    tol_rows = scale * np.sqrt(np.einsum("ik,ik,k->i", a, a, np.einsum("kj,kj->k", b, b, dtype=f8), dtype=f8))
    tol_cols = scale * np.sqrt(np.einsum("k,kj,kj->j", np.einsum("ik,ik->k", a, a, dtype=f8), b, b, dtype=f8))
    if row_sums.shape != rows.shape or col_sums.shape != cols.shape \
            or not (np.abs(row_sums - rows) <= tol_rows).all() or not (np.abs(col_sums - cols) <= tol_cols).all():
        return "row/column sums disagree with (e^T A) B and A (B e)"
    return ""
