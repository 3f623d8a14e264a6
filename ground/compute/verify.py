"""The ground's check of a downlinked job result, without trusting the node (protocols/proofs.py).

Inputs come from a seed (or from the tenant input the ground sent), so the ground regenerates them
and checks each job far more cheaply than computing it, with randomness the node cannot foresee
(`seed`, drawn here when the caller does not fix it):

- MATMUL whose products came down: every chunk's C by Freivalds' check (k = 20 random vectors,
  a wrong C passes with probability <= 2^-20), and the commitment root against those products;
- MATMUL whose products stayed on board: the Merkle root in the result is all there is, so the
  ground challenges it: it sends compute.ProveBlocks(job, seed) and hands the node's answer to
  `verify(..., seed=seed, blocks=answer)` (blocks.py). Until then the result is not verified;
- every MATMUL chunk's row and column sums against (e^T A) B and A (B e) (`matmul_sums_error`),
  as before; they are the tenant's outputs too, but on their own they prove nothing: a node makes
  them in O(n^2) without the product, which is why a version 1 MATMUL result is refused;
- MLP and TILES: a random sample of chunks computed again (samples_needed(): 270 at f = 0.05,
  every chunk of a job with fewer), an MLP's classes within float32 ties, the tile filter exactly.
"""
from __future__ import annotations

import secrets

import numpy as np

from gridfree.ground.compute.blocks import blocks_problems
from gridfree.protocols.compute import (JobResult, JobSpec, Kind, TenantInput, check_input, keep_tiles, matmul_inputs,
                                        matmul_sums_error, mlp_forward, mlp_inputs, mlp_weights, read_result, tiles)
from gridfree.protocols.proofs import NO_ROOT, freivalds_error, merkle_root, product_leaves, sample, samples_needed

PENDING = "product kept on board"
"""How a problem list starts for a result whose product still awaits its challenge (`needs_challenge`)."""


def needs_challenge(spec: JobSpec, data: bytes) -> bool:
    """Whether the result's products stayed on board: it is verified only with a block answer."""
    try:
        r = read_result(data)
    except ValueError:
        return False
    return spec.kind == Kind.MATMUL and r.root != NO_ROOT and any("product" not in c for c in r.chunks)


def verify(spec: JobSpec, data: bytes, tenant_input: TenantInput | None = None, *, seed: int | None = None,
           blocks: bytes | None = None, every_chunk: bool = False) -> list[str]:
    """What is wrong with a downlinked result; empty when it is right. A job on an uplinked input is
    checked against `tenant_input`, the input the ground sent. `seed` draws the random vectors and
    samples (a fresh one if None); with `blocks`, the node's answer to compute.ProveBlocks, it must be
    the seed that command sent. `every_chunk` computes every MLP and tile chunk again, not a sample:
    the sample is sized to catch a node that skips work, not a rare wrong chunk (a test bench holding
    an upset campaign to every result wants them all)."""
    try:
        r = read_result(data)
    except ValueError as exc:
        return [str(exc)]
    payload = None
    if spec.input_id:
        if tenant_input is None or tenant_input.input_id != spec.input_id:
            return [f"job {spec.job_id} computes on uplinked input {spec.input_id}: give that input to verify it"]
        try:
            check_input(spec, tenant_input)
        except ValueError as exc:
            return [str(exc)]
        payload = tenant_input.payload
    if r.job_id != spec.job_id or r.kind != spec.kind or len(r.chunks) != spec.chunks:
        return [f"result is job {r.job_id} {r.kind.name} with {len(r.chunks)} chunks, expected job {spec.job_id} "
                f"{Kind(spec.kind).name} with {spec.chunks}"]
    if blocks is not None and seed is None:
        return ["a block answer is checked against the seed its challenge sent: give that seed"]
    seed = secrets.randbits(32) if seed is None else seed
    if spec.kind == Kind.MATMUL:
        return _verify_matmul(spec, r, payload, seed, blocks)
    problems = []
    chunks = range(spec.chunks) if every_chunk else sample(seed, spec.chunks, samples_needed()).tolist()
    for k in chunks:
        try:
            bad = _rerun_chunk(spec, k, r.chunks[k], payload)
        except KeyError as exc:
            bad = f"missing {exc}"
        if bad:
            problems.append(f"chunk {k}: {bad}")
    return problems


def _verify_matmul(spec: JobSpec, r: JobResult, payload: bytes | None, seed: int, blocks: bytes | None) -> list[str]:
    if r.version < 2:
        return [f"result format {r.version} carries no proof of its products (its row and column sums can be made "
                "without them): refused"]
    downlinked = any("product" in c for c in r.chunks)  # then every chunk's goes down
    if not downlinked and r.root == NO_ROOT:
        return ["neither the products nor a commitment to them came down"]
    problems = []
    for k, c in enumerate(r.chunks):
        try:
            a, b = matmul_inputs(spec, k, payload)
            bad = matmul_sums_error(a, b, c["row_sums"], c["col_sums"])
            if not bad and downlinked:
                bad = freivalds_error(a, b, c["product"], seed, k) if "product" in c else "no product"
        except KeyError as exc:
            bad = f"missing {exc}"
        if bad:
            problems.append(f"chunk {k}: {bad}")
    if problems or not downlinked:
        if not problems and blocks is None:
            problems.append(f"{PENDING} under root {r.root.hex()[:16]}...: challenge it (compute.ProveBlocks) "
                            "and verify the answer")
        elif not problems:
            problems.extend(blocks_problems(spec, r.root, blocks, seed, payload))
        return problems
    if r.root != NO_ROOT:
        leaves = [bytes(h) for c in r.chunks for h in product_leaves(c["product"])]
        if merkle_root(leaves) != r.root:
            problems.append("the commitment root is not that of the products that came down")
    return problems


def _rerun_chunk(spec: JobSpec, k: int, c: dict[str, np.ndarray], payload: bytes | None) -> str:
    if spec.kind == Kind.MLP:
        logits = mlp_forward(mlp_weights(spec.size), mlp_inputs(spec, k, payload))
        top2 = np.sort(logits, axis=1)[:, -2:]
        clear = (top2[:, 1] - top2[:, 0]) > 1e-3  # near-ties may go either way in float32
        labels = logits.argmax(axis=1)
        if c["labels"].shape != labels.shape:
            return f"{c['labels'].shape[0] if c['labels'].ndim else 0} classes, expected {labels.shape[0]}"
        if (c["labels"][clear] != labels[clear]).any():
            return f"{int((c['labels'][clear] != labels[clear]).sum())} wrong classes"
        return ""
    kept = keep_tiles(tiles(spec, k, payload), spec.threshold)
    if not np.array_equal(c["kept"], kept):
        return f"kept tiles {c['kept'].tolist()[:8]}..., expected {kept.tolist()[:8]}..."
    return ""
