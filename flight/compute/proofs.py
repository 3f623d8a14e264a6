"""The node's side of the proofs (protocols/proofs.py): committing to every MATMUL product it
computes, and answering the blocks the ground challenges.

Each MATMUL chunk hashes its product's blocks while the product is still in memory (the leaves,
`product_outputs`: SHA-256 over C costs about what reading it does, next to the product's O(n^3)).
When the job's products fit the downlink (MAX_DOWNLINKED_PRODUCT_OCTETS) they go down with the
result and the ground checks them by Freivalds. Otherwise only the root goes down, and the leaves
stay in a `ProofStore` (32 octets per BLOCK_OCTETS block of C, so 1/512 of the products), with the
products themselves while they fit MAX_KEPT_PRODUCT_OCTETS (the oldest dropped first).
`compute.ProveBlocks(job_id, seed)` draws the challenged blocks from the ground's seed and sends
each, with its Merkle path, down through PUS 13: read back from the kept product when it is there
and still hashes to its leaf, else recomputed (rows of A times B: O(rows n^2), from the job's seed
or its tenant input) and checked against its leaf.

Why keep the products: a product is accepted by ABFT within its rounding tolerance, so an upset
below it (a flipped low mantissa bit) stays in the octets committed to, and no recomputation,
however exact, makes those octets again; read back, they answer as committed, and the ground holds
them to A B within float32 rounding as it does any block. Reading costs no board energy either;
recomputing costs at most samples_needed() block products (270 blocks at f = 0.05), done in the
command handler and not billed to the tenant. A block recomputed alone is, with our BLAS, bit for
bit the rows of the whole product; if the node's product routine ever sums otherwise, the chunk's
whole product is computed again with it.
"""
from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Callable

import numpy as np

from gridfree.flight.core.component import CommandFailed
from gridfree.flight.core.messages import ONBOARD, LargeDataDownlink, Origin
from gridfree.flight.core.store import replace_durably
from gridfree.native.crc import crc32c
from gridfree.protocols.compute import JobSpec, Kind, matmul_inputs, pack_result
from gridfree.protocols.proofs import (BlockAnswer, BlockProof, block_octets, block_slice, blocks_per_chunk,
                                       challenged_blocks, leaf_hash, merkle_paths, merkle_root, product_leaves)
from gridfree.protocols.services.verification import FailureCode

MAX_DOWNLINKED_PRODUCT_OCTETS = 1 << 20
"""A job whose products together stay within this goes down whole (Freivalds on the ground)."""
MAX_KEPT_PROOFS = 256  # jobs whose leaves are kept for a challenge; the oldest go first
MAX_KEPT_PRODUCT_OCTETS = 256 << 20
"""Products kept whole for their challenges, all jobs together; the oldest chunks' go first."""
KEPT_PRODUCT = "_kept_product"
"""The chunk output holding a product that stays on board: spooled into the ProofStore when the
chunk commits (AttemptRunner.commit), never written to the checkpoint log or the result."""
_RECORD_MAGIC = b"GFPL"
_RECORD = struct.Struct(">4sIHBIHIIfI")


def product_downlinked(spec: JobSpec) -> bool:
    return spec.kind == Kind.MATMUL and 4 * spec.size * spec.size * spec.chunks <= MAX_DOWNLINKED_PRODUCT_OCTETS


def product_outputs(spec: JobSpec, c: np.ndarray) -> dict[str, np.ndarray]:
    """What a MATMUL chunk keeps of its product C besides its sums: the leaf hashes of its blocks,
    and C itself (float32), to go down whole with the result or to stay on board (KEPT_PRODUCT)."""
    return {"leaves": product_leaves(c),
            "product" if product_downlinked(spec) else KEPT_PRODUCT: np.ascontiguousarray(c, dtype=np.float32)}


class ProofStore:
    """The leaves of jobs whose products stayed on board, one file per job with its spec and a
    CRC-32C, replaced atomically; at most MAX_KEPT_PROOFS jobs, the oldest dropped first. Beside
    them the products, one file per chunk (little-endian float32 rows, no check of their own: a
    block read back is believed only if it hashes to its committed leaf)."""

    def __init__(self, directory: str | os.PathLike):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)

    def _path(self, job_id: int) -> Path:
        return self.dir / f"proof-{job_id:010d}.bin"

    def save(self, spec: JobSpec, leaves: np.ndarray) -> None:
        head = _RECORD.pack(_RECORD_MAGIC, spec.job_id, spec.tenant, int(spec.kind), spec.seed, spec.size, spec.batch,
                            spec.chunks, spec.threshold, spec.input_id)
        body = head + np.ascontiguousarray(leaves, dtype=np.uint8).tobytes()
        replace_durably(self._path(spec.job_id), body + struct.pack(">I", crc32c(body)))
        kept = sorted(self.dir.glob("proof-*.bin"), key=lambda p: p.stat().st_mtime_ns)
        for old in kept[:-MAX_KEPT_PROOFS]:
            old.unlink(missing_ok=True)

    def _product_path(self, job_id: int, chunk: int) -> Path:
        return self.dir / f"product-{job_id:010d}-{chunk:08d}.f32"

    def keep_product(self, job_id: int, chunk: int, c: np.ndarray) -> None:
        """Keep a chunk's product (replacing an earlier attempt's), dropping the oldest kept
        products beyond MAX_KEPT_PRODUCT_OCTETS. Not fsynced: one lost to a crash is recomputed."""
        data = np.ascontiguousarray(c, dtype="<f4").tobytes()
        if len(data) > MAX_KEPT_PRODUCT_OCTETS:
            return
        path = self._product_path(job_id, chunk)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(data)
        os.replace(tmp, path)
        kept = sorted(((p.stat(), p) for p in self.dir.glob("product-*.f32")), key=lambda sp: sp[0].st_mtime_ns)
        total = sum(st.st_size for st, _ in kept)
        for st, old in kept:
            if total <= MAX_KEPT_PRODUCT_OCTETS:
                break
            old.unlink(missing_ok=True)
            total -= st.st_size

    def kept_block(self, job_id: int, chunk: int, n: int, block: int) -> bytes | None:
        """A block of a kept product as stored (None if the product is not kept, or too short)."""
        rows = block_slice(n, block)
        want = 4 * n * (rows.stop - rows.start)
        try:
            with open(self._product_path(job_id, chunk), "rb") as f:
                f.seek(4 * n * rows.start)
                data = f.read(want)
        except FileNotFoundError:
            return None
        return data if len(data) == want else None

    def load(self, job_id: int) -> tuple[JobSpec, np.ndarray] | None:
        """The job's spec and leaves (n_leaves x 32), or None if none are kept or they are damaged."""
        try:
            data = self._path(job_id).read_bytes()
        except FileNotFoundError:
            return None
        if len(data) < _RECORD.size + 4 or crc32c(data[:-4]) != struct.unpack(">I", data[-4:])[0]:
            return None
        magic, job, tenant, kind, seed, size, batch, chunks, threshold, input_id = _RECORD.unpack_from(data)
        leaves = np.frombuffer(data[_RECORD.size:-4], dtype=np.uint8)
        if magic != _RECORD_MAGIC or job != job_id or leaves.size % 32:
            return None
        return JobSpec(job, tenant, Kind(kind), seed, size, batch, chunks, threshold, input_id), leaves.reshape(-1, 32)


def commit_result(spec: JobSpec, outputs: list[dict[str, np.ndarray]], store: ProofStore) -> bytes:
    """The job's result as it goes down: for MATMUL, the leaves taken out of the chunks' outputs
    and their root in the header; the leaves kept in `store` when the products stay on board."""
    if spec.kind != Kind.MATMUL or not outputs or any("leaves" not in c for c in outputs):
        return pack_result(spec, outputs)
    leaves = np.concatenate([c["leaves"] for c in outputs])
    root = merkle_root([bytes(h) for h in leaves])
    if not product_downlinked(spec):
        store.save(spec, leaves)
    return pack_result(spec, [{k: v for k, v in c.items() if k not in ("leaves", KEPT_PRODUCT)} for c in outputs], root)


def answer_challenge(spec: JobSpec, leaves: np.ndarray, seed: int, matmul: Callable[..., np.ndarray],
                     payload: bytes | None = None,
                     kept: Callable[[int, int], bytes | None] | None = None) -> tuple[BlockAnswer, int]:
    """The blocks `seed` challenges, with their paths, and how many of them were recomputed: each
    read back by `kept(chunk, block)` if it hashes to its committed leaf, else recomputed and
    checked against it. ValueError if a block can be made neither way as committed."""
    hashes = [bytes(h) for h in leaves]
    n, per_chunk = spec.size, blocks_per_chunk(spec.size)
    if len(hashes) != spec.chunks * per_chunk:
        raise ValueError(f"job {spec.job_id}: {len(hashes)} leaves kept, {spec.chunks * per_chunk} expected")
    wanted = challenged_blocks(seed, spec.chunks, n)
    paths = merkle_paths(hashes, wanted)
    blocks, inputs, recomputed = [], None, 0
    for leaf, path in zip(wanted.tolist(), paths):
        chunk, block = divmod(leaf, per_chunk)
        stored = kept(chunk, block) if kept else None
        if stored is not None and leaf_hash(stored) == hashes[leaf]:
            blocks.append(BlockProof(leaf, stored, tuple(path)))
            continue
        recomputed += 1
        if inputs is None or inputs[0] != chunk:
            inputs = (chunk, *matmul_inputs(spec, chunk, payload), None)
        _, a, b, whole = inputs
        data = block_octets(np.matmul(a[block_slice(n, block)], b), 0)
        if leaf_hash(data) != hashes[leaf]:  # not as the product routine summed: its whole product again
            if whole is None:
                whole = np.asarray(matmul(a, b), dtype=np.float32)
                inputs = (chunk, a, b, whole)
            data = block_octets(whole, block)
            if leaf_hash(data) != hashes[leaf]:
                raise ValueError(f"job {spec.job_id}: block {block} of chunk {chunk} does not come out as committed")
        blocks.append(BlockProof(leaf, data, tuple(path)))
    return BlockAnswer(spec.job_id, seed, spec.chunks, len(hashes), merkle_root(hashes), tuple(blocks)), recomputed


class ProofCommands:
    """The compute manager's proof commands and its results' commitments, mixed into
    ComputeManager (which supplies `dir`, `inputs`, `runner`, `out` and `log`)."""

    @property
    def proofs(self) -> ProofStore:
        store = self.__dict__.get("_proof_store")
        if store is None:
            store = self.__dict__["_proof_store"] = ProofStore(self.dir / "proofs")
        return store

    def result_with_commitment(self, spec: JobSpec, outputs: list[dict[str, np.ndarray]]) -> bytes:
        return commit_result(spec, outputs, self.proofs)

    def cmd_ProveBlocks(self, job_id, seed, origin: Origin = ONBOARD):
        kept = self.proofs.load(job_id)
        if kept is None or (origin.role == "tenant" and kept[0].tenant != origin.tenant):
            mine = f" of tenant {origin.tenant}" if origin.role == "tenant" else ""
            raise CommandFailed(FailureCode.BAD_ARGUMENT, f"no product kept on board for job {job_id}{mine}")
        spec, leaves = kept
        payload = None
        if spec.input_id:
            try:
                payload = self.inputs.load(spec.input_id).payload
            except (LookupError, ValueError) as exc:
                raise CommandFailed(FailureCode.EXECUTION_ERROR, f"job {job_id}: its input is gone: {exc}") from None
        try:
            answer, recomputed = answer_challenge(spec, leaves, seed, self.runner.matmul, payload,
                                                  lambda chunk, block: self.proofs.kept_block(job_id, chunk, spec.size, block))
        except ValueError as exc:
            raise CommandFailed(FailureCode.EXECUTION_ERROR, str(exc)) from None
        tid = self.out("downlinkOut", LargeDataDownlink(answer.pack()))
        self.log("BlocksProven", job=job_id, blocks=len(answer.blocks), recomputed=recomputed, transaction=tid)

