"""Running a job's chunks on the node: the computation each kind does (protocols/compute.py says
what; here it is done, with the product routine the caller trusts, e.g. ABFT-protected).

A chunk is the unit of preemption: the manager runs one at a time, checkpoints between them, and
can stop after any of them for eclipse, low charge, heat or a reboot.

It is also the unit of recomputation after an upset (issue 9), which is why a chunk checks what it
computed on before its outputs are believed:

- inputs get a CRC-32C when they are made and are checked once the chunk has been computed: an
  input changed under the computation (which an ABFT product would take as given, its checksums
  coming from the changed operand) makes a `ChunkUpset` and the chunk runs again;
- products are the caller's `matmul`: with ABFT, checked and corrected or recomputed in place.
  ABFT's tolerance is statistical and must hold for any data, so an upset below it passes; in a
  MATMUL chunk that can still be above the tolerance the ground checks the result's row and
  column sums to (4 to 7 % of random bit flips in the product were, at n = 8 to 128), so the
  chunk checks its own sums first against the same contract (protocols.compute.matmul_sums_error:
  O(n^2), 7 ms next to a 60 ms product at n = 1024 on the two-core development node);
- the elementwise steps between them (ReLU, the cloud-fraction filter) are computed twice and
  compared (DMR) before their output is used. Not checksums: these steps are not linear, so no
  checksum carries through them (the sum of max(z, 0) says nothing of max(sum z, 0)), and they are
  O(n) where the products are O(n^2 k), so doing them twice costs a fraction of a percent.

What this leaves is the code between one check and the next: an activation between its comparison
and the next product taking its checksums, a checked product before the step that reads it, the
outputs before the checkpoint's CRC. Those windows are as short as the instructions between them.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import numpy as np

from gridfree.flight.compute.proofs import product_outputs
from gridfree.native.crc import crc32c
from gridfree.protocols.compute import (CLOUD_LEVEL, JobSpec, Kind, matmul_inputs, matmul_sums_error, mlp_inputs,
                                        mlp_weights, tiles)

if TYPE_CHECKING:
    from gridfree.flight.compute.faults import ChunkUpsets

Matmul = Callable[..., np.ndarray]
"""`matmul(a, b)`; called as `matmul(a, b, inject=hook)` when an upset campaign hits that product
(an `abft_matmul` hook, see flight/compute/abft.py)."""

SITES = {Kind.MATMUL: ("product",),
         Kind.MLP: ("product 1", "activations 1", "product 2", "activations 2", "product 3"),
         Kind.TILES: ("cloud fractions",)}
"""Where a chunk's intermediates lie, in the order it makes them: products and DMR-checked steps."""


class ChunkUpset(RuntimeError):
    """A check inside a chunk failed: nothing it computed is used, and the chunk runs again."""

    def __init__(self, what: str):
        super().__init__(f"{what}: check failed, chunk to be computed again")
        self.what = what


def run_chunk(spec: JobSpec, chunk: int, matmul: Matmul = np.matmul, weights=mlp_weights,
              payload: bytes | None = None, upsets: "ChunkUpsets | None" = None) -> dict[str, np.ndarray]:
    """The outputs of one chunk, as they go into the downlinked result. `weights(size)` gives the
    model: the manager passes its EDAC-protected resident copy. `payload` is the checked tenant
    input of a job that computes on uplinked data (None for seeded inputs). `upsets` are what an
    upset campaign (flight/compute/faults.py) throws at this attempt. Raises ChunkUpset when a
    check fails (module docstring)."""
    if spec.kind == Kind.MATMUL:
        inputs = matmul_inputs(spec, chunk, payload)
    elif spec.kind == Kind.MLP:
        inputs = (mlp_inputs(spec, chunk, payload),)
    elif spec.kind == Kind.TILES:
        inputs = (tiles(spec, chunk, payload),)
    else:
        raise ValueError(f"unknown job kind {spec.kind}")
    crcs = [crc32c(x) for x in inputs]
    if upsets:
        upsets.inputs(*inputs)
    try:
        outputs = _compute(spec, inputs, matmul, weights, upsets)
    except Exception:
        _check_inputs(inputs, crcs)  # a changed input explains the failure (an operand made infinite, ...)
        raise
    _check_inputs(inputs, crcs)
    return outputs


def _check_inputs(inputs, crcs: list[int]) -> None:
    if [crc32c(x) for x in inputs] != crcs:
        raise ChunkUpset("inputs")


def _compute(spec: JobSpec, inputs, matmul: Matmul, weights, upsets) -> dict[str, np.ndarray]:
    if spec.kind == Kind.MATMUL:
        c = _product(matmul, *inputs, upsets, "product")
        out = {"row_sums": c.sum(axis=1, dtype=np.float64), "col_sums": c.sum(axis=0, dtype=np.float64),
               **product_outputs(spec, c)}  # the commitment (and the product, if it goes down): proofs.py
        if matmul_sums_error(*inputs, out["row_sums"], out["col_sums"]):
            raise ChunkUpset("result")  # what the ground would refuse, the node does not send
        return out
    if spec.kind == Kind.MLP:
        h, layers = inputs[0], weights(spec.size)
        for k, w in enumerate(layers, 1):  # protocols.compute.mlp_forward, step by step
            z = _product(matmul, h, w, upsets, f"product {k}")
            if k < len(layers):
                h = _twice(upsets, f"activations {k}", np.maximum, z, 0)
        return {"labels": z.argmax(axis=1).astype(np.uint16), "logit_sums": z.sum(axis=1)}
    (t,) = inputs  # protocols.compute.keep_tiles, its fractions computed twice
    cloud = _twice(upsets, "cloud fractions", _cloud_fractions, t)
    return {"kept": np.flatnonzero(cloud < spec.threshold).astype(np.uint32)}


def _product(matmul: Matmul, a: np.ndarray, b: np.ndarray, upsets, site: str) -> np.ndarray:
    hook = upsets.product(site) if upsets else None
    return matmul(a, b, inject=hook) if hook else matmul(a, b)


def _cloud_fractions(t: np.ndarray) -> np.ndarray:
    return (t > CLOUD_LEVEL).mean(axis=(1, 2))


def _twice(upsets, site: str, step: Callable[..., np.ndarray], *args) -> np.ndarray:
    """DMR: `step(*args)` computed twice, its output used only if both agree to the bit (NaN included)."""
    first, second = step(*args), step(*args)
    if upsets:
        upsets.at(site, first)
    if first.shape != second.shape or not np.array_equal(first.view(np.uint8), second.view(np.uint8)):
        raise ChunkUpset(site)
    return first
