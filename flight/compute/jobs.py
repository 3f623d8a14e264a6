"""Running a job's chunks on the node: the computation each kind does (protocols/compute.py says
what; here it is done, with the product routine the caller trusts, e.g. ABFT-protected).

A chunk is the unit of preemption: the manager runs one at a time, checkpoints between them, and
can stop after any of them for eclipse, low charge, heat or a reboot.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from gridfree.protocols.compute import (JobSpec, Kind, keep_tiles, matmul_inputs, mlp_forward, mlp_inputs,
                                        mlp_weights, tiles)

Matmul = Callable[[np.ndarray, np.ndarray], np.ndarray]


def run_chunk(spec: JobSpec, chunk: int, matmul: Matmul = np.matmul, weights=mlp_weights) -> dict[str, np.ndarray]:
    """The outputs of one chunk, as they go into the downlinked result. `weights(size)` gives the
    model: the manager passes its EDAC-protected resident copy."""
    if spec.kind == Kind.MATMUL:
        c = matmul(*matmul_inputs(spec, chunk))
        return {"row_sums": c.sum(axis=1, dtype=np.float64), "col_sums": c.sum(axis=0, dtype=np.float64)}
    if spec.kind == Kind.MLP:
        logits = mlp_forward(weights(spec.size), mlp_inputs(spec, chunk), matmul)
        return {"labels": logits.argmax(axis=1).astype(np.uint16), "logit_sums": logits.sum(axis=1)}
    if spec.kind == Kind.TILES:
        return {"kept": keep_tiles(tiles(spec, chunk), spec.threshold)}
    raise ValueError(f"unknown job kind {spec.kind}")
