"""Checking a node's answer to compute.ProveBlocks: the blocks of a product too big to downlink
that the ground's seed challenged (protocols/proofs.py, flight/compute/proofs.py).

An answer is believed only if it answers exactly the blocks the ground's own seed draws (a node
cannot pick the blocks it did compute), each block leads by its path to the root the result came
down with (it is the block the node committed to before it knew the seed), and each block is,
element by element within float32 rounding, the rows of A times B the ground computes itself.
"""
from __future__ import annotations

from typing import Iterable

import numpy as np

from gridfree.protocols.compute import JobSpec, matmul_inputs
from gridfree.protocols.proofs import (PROOF_MAGIC, BlockAnswer, block_error, block_slice, blocks_per_chunk, challenged_blocks,
                                       leaf_hash, root_from_path)

MAX_PROBLEMS = 8  # an answer wrong everywhere is told in a few lines, not in hundreds


def answers_by_job(transfers: Iterable[bytes]) -> dict[int, bytes]:
    """The block answers among downlinked transfers, by job (the last one of each). Which seed an
    answer must answer is the ground's record of the ProveBlocks it sent, never the answer's word."""
    out = {}
    for data in transfers:
        if data[:len(PROOF_MAGIC)] == PROOF_MAGIC and len(data) >= 9:
            out[int.from_bytes(data[5:9], "big")] = data
    return out


def blocks_problems(spec: JobSpec, root: bytes, answer_octets: bytes, seed: int,
                    payload: bytes | None = None) -> list[str]:
    """What is wrong with a block answer to the challenge `seed` of the job whose result carried
    `root`; empty when every challenged block is proven."""
    try:
        answer = BlockAnswer.unpack(answer_octets)
    except ValueError as exc:
        return [str(exc)]
    n, per_chunk = spec.size, blocks_per_chunk(spec.size)
    size = spec.chunks * per_chunk
    if (answer.job_id, answer.seed, answer.chunks, answer.size, answer.root) != (spec.job_id, seed, spec.chunks,
                                                                                 size, root):
        return [f"answer for job {answer.job_id}, seed {answer.seed}, {answer.chunks} chunks, {answer.size} blocks, "
                f"root {answer.root.hex()[:16]}...; challenged job {spec.job_id}, seed {seed}, {spec.chunks} "
                f"chunks, {size} blocks, root {root.hex()[:16]}..."]
    wanted = challenged_blocks(seed, spec.chunks, n).tolist()
    got = [b.leaf for b in answer.blocks]
    if got != wanted:
        return [f"answered {len(got)} blocks, not the {len(wanted)} the seed challenges"]
    problems, inputs = [], None
    for proof in answer.blocks:
        chunk, block = divmod(proof.leaf, per_chunk)
        rows = block_slice(n, block)
        where = f"chunk {chunk} block {block}"
        if root_from_path(leaf_hash(proof.data), proof.leaf, size, proof.path) != root:
            problems.append(f"{where}: not the block committed to (its path does not lead to the root)")
        elif len(proof.data) != 4 * n * (rows.stop - rows.start):
            problems.append(f"{where}: {len(proof.data)} octets, expected {4 * n * (rows.stop - rows.start)}")
        else:
            if inputs is None or inputs[0] != chunk:
                inputs = (chunk, *matmul_inputs(spec, chunk, payload))
            _, a, b = inputs
            bad = block_error(a[rows], b, np.frombuffer(proof.data, dtype="<f4").reshape(-1, n))
            if bad:
                problems.append(f"{where}: {bad}")
        if len(problems) >= MAX_PROBLEMS:
            problems.append(f"(checking stopped after {MAX_PROBLEMS} bad blocks)")
            break
    return problems
