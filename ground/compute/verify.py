"""The ground's check of a downlinked job result, without trusting the node.

Inputs come from a seed (or from the tenant input the ground sent), so the ground regenerates them
and checks each chunk far more cheaply than computing it where it can: a matrix product through
its row and column sums, (e^T A) B and A (B e), in O(n^2) (`matmul_sums_error`, the contract the
node also holds its own outputs to); an MLP by running it, ties within float32 rounding allowed
either way; the tile filter exactly.
"""
from __future__ import annotations

import numpy as np

from gridfree.protocols.compute import (JobSpec, Kind, TenantInput, check_input, keep_tiles, matmul_inputs,
                                        matmul_sums_error, mlp_forward, mlp_inputs, mlp_weights, tiles, unpack_result)


def verify(spec: JobSpec, data: bytes, tenant_input: TenantInput | None = None) -> list[str]:
    """What is wrong with a downlinked result, chunk by chunk; empty when it is right. A job on an
    uplinked input is checked against `tenant_input`, the input the ground sent."""
    try:
        job_id, kind, chunks = unpack_result(data)
    except (ValueError, OSError) as exc:
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
    problems = []
    if job_id != spec.job_id or kind != spec.kind or len(chunks) != spec.chunks:
        return [f"result is job {job_id} {kind.name} with {len(chunks)} chunks, expected job {spec.job_id} "
                f"{Kind(spec.kind).name} with {spec.chunks}"]
    for k, c in enumerate(chunks):
        try:
            bad = _verify_chunk(spec, k, c, payload)
        except KeyError as exc:
            bad = f"missing {exc}"
        if bad:
            problems.append(f"chunk {k}: {bad}")
    return problems


def _verify_chunk(spec: JobSpec, k: int, c: dict[str, np.ndarray], payload: bytes | None) -> str:
    if spec.kind == Kind.MATMUL:
        return matmul_sums_error(*matmul_inputs(spec, k, payload), c["row_sums"], c["col_sums"])
    if spec.kind == Kind.MLP:
        logits = mlp_forward(mlp_weights(spec.size), mlp_inputs(spec, k, payload))
        top2 = np.sort(logits, axis=1)[:, -2:]
        clear = (top2[:, 1] - top2[:, 0]) > 1e-3  # near-ties may go either way in float32
        labels = logits.argmax(axis=1)
        if c["labels"].shape != labels.shape or (c["labels"][clear] != labels[clear]).any():
            return f"{int((c['labels'][clear] != labels[clear]).sum())} wrong classes"
        return ""
    kept = keep_tiles(tiles(spec, k, payload), spec.threshold)
    if not np.array_equal(c["kept"], kept):
        return f"kept tiles {c['kept'].tolist()[:8]}..., expected {kept.tolist()[:8]}..."
    return ""
