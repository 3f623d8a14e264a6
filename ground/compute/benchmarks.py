"""Proof benchmarks: whether the ground catches a lazy node, and what checking a product costs.

`verify_lazy_node_caught`: a set of faked results, each made as a node would make it to save its
work (protocols only: the fakes are the lazy node's, written here), checked by `verify` with a
fresh seed each: the fraction refused (target 1.0). The honest results they fake are checked too
(`verify_honest_passed`, target 1.0: a proof that accused honest nodes would be worthless).

`freivalds_MBps`: Freivalds' check of a downlinked float32 product (n = 1024, k = 20), in octets
of product per second, with A and B already regenerated; the same-run baseline is the product
computed again by numpy (float32 BLAS, and compared), what the ground would do without the proof.
"""
from __future__ import annotations

import struct
import zlib

import numpy as np

from gridfree.ground.compute.verify import verify
from gridfree.native.benchkit import Figure, best_rate
from gridfree.protocols.compute import (JobSpec, Kind, keep_tiles, matmul_inputs, mlp_forward, mlp_inputs, mlp_weights,
                                        pack_result, read_result, tiles)
from gridfree.protocols.proofs import (DETECT_FRACTION, FREIVALDS_K, BlockAnswer, BlockProof, block_octets,
                                       blocks_per_chunk, challenged_blocks, freivalds_error, merkle_paths,
                                       merkle_root, product_leaves)

FREIVALDS_N = 1024
ROUNDS = 9


def sums_only(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The lazy node's 'product': every row and column sum of A B right, in O(n^2), no product."""
    f8 = np.float64
    rows, cols = a.astype(f8) @ b.sum(axis=1, dtype=f8), a.sum(axis=0, dtype=f8) @ b
    n, m = len(rows), len(cols)
    return (rows[:, None] / m + cols[None, :] / n - rows.sum() / (n * m)).astype(np.float32)


def _matmul_result(spec: JobSpec, product, downlink: bool, fake_chunks=()) -> tuple[bytes, list[np.ndarray]]:
    chunks, products = [], []
    for k in range(spec.chunks):
        a, b = matmul_inputs(spec, k)
        c = sums_only(a, b) if k in fake_chunks else product(a, b)
        products.append(c)
        out = {"row_sums": c.sum(axis=1, dtype=np.float64), "col_sums": c.sum(axis=0, dtype=np.float64)}
        chunks.append({**out, "product": c} if downlink else out)
    root = merkle_root([bytes(h) for c in products for h in product_leaves(c)])
    return pack_result(spec, chunks, root), products


def _answer(spec: JobSpec, products: list[np.ndarray], seed: int, root: bytes | None = None) -> bytes:
    """A node's answer to compute.ProveBlocks from the products it kept (and the root it claims)."""
    per_chunk = blocks_per_chunk(spec.size)
    leaves = [bytes(h) for c in products for h in product_leaves(c)]
    wanted = challenged_blocks(seed, spec.chunks, spec.size)
    blocks = tuple(BlockProof(i, block_octets(products[i // per_chunk], i % per_chunk), tuple(path))
                   for i, path in zip(wanted.tolist(), merkle_paths(leaves, wanted)))
    return BlockAnswer(spec.job_id, seed, spec.chunks, len(leaves), root or merkle_root(leaves), blocks).pack()


def _skipping(spec: JobSpec, skipped: set[int]) -> tuple[bytes, bytes]:
    """An honest result of an MLP or tile job, and one that skipped the chunks in `skipped` with
    plausible outputs (random classes; the kept tiles of the chunk before)."""
    rng = np.random.default_rng(spec.job_id)
    honest, lazy = [], []
    for k in range(spec.chunks):
        if spec.kind == Kind.MLP:
            z = mlp_forward(mlp_weights(spec.size), mlp_inputs(spec, k))
            out = {"labels": z.argmax(axis=1).astype(np.uint16), "logit_sums": z.sum(axis=1)}
            labels = rng.integers(0, z.shape[1], z.shape[0]).astype(np.uint16)
            fake = {"labels": labels, "logit_sums": np.zeros(z.shape[0], np.float32)}
        else:
            out = {"kept": keep_tiles(tiles(spec, k), spec.threshold)}
            fake = honest[-1] if honest else {"kept": np.arange(spec.batch // 2, dtype=np.uint32)}
        honest.append(out)
        lazy.append(fake if k in skipped else out)
    return pack_result(spec, honest), pack_result(spec, lazy)


def _cases():
    """(what, honest check or None, lazy check): each check a function of nothing returning problems."""
    rng = np.random.default_rng(18)
    for n, chunks in ((32, 4), (64, 3), (200, 2)):  # products that come down: Freivalds
        spec = JobSpec(100 + n, 1, Kind.MATMUL, seed=n, size=n, batch=1, chunks=chunks)
        good, _ = _matmul_result(spec, np.matmul, True)
        bad, _ = _matmul_result(spec, np.matmul, True, fake_chunks=(chunks - 1,))
        yield f"MATMUL n={n}, one chunk's sums without its product", (lambda s=spec, d=good: verify(s, d)), \
            (lambda s=spec, d=bad: verify(s, d))
    spec = JobSpec(200, 1, Kind.MATMUL, seed=3, size=128, batch=1, chunks=6)
    good, _ = _matmul_result(spec, np.matmul, True)
    lazy, _ = _matmul_result(spec, sums_only, True)
    yield "MATMUL n=128, every chunk sums only", lambda: verify(spec, good), lambda: verify(spec, lazy)
    old = JobSpec(201, 1, Kind.MATMUL, seed=4, size=64, batch=1, chunks=2)  # format 1: sums, nothing else
    v1 = _format1(_matmul_result(old, sums_only, False)[0])
    yield "MATMUL format 1, sums only", None, lambda: verify(old, v1)  # no honest format 1 MATMUL is accepted
    big = JobSpec(202, 1, Kind.MATMUL, seed=5, size=256, batch=1, chunks=24)  # kept on board: challenged
    good, honest = _matmul_result(big, np.matmul, False)
    lazy, faked = _matmul_result(big, sums_only, False)
    seed = int(rng.integers(2 ** 32))
    lazy_root = read_result(lazy).root
    yield "MATMUL kept on board, committed sums only", \
        (lambda: verify(big, good, seed=seed, blocks=_answer(big, honest, seed))), \
        (lambda: verify(big, lazy, seed=seed, blocks=_answer(big, faked, seed)))
    yield "MATMUL kept on board, honest blocks under a lazy root", None, \
        lambda: verify(big, lazy, seed=seed, blocks=_answer(big, honest, seed, lazy_root))
    for kind, size, batch, chunks in ((Kind.MLP, 0, 16, 10), (Kind.MLP, 1, 8, 400), (Kind.TILES, 0, 2, 1000)):
        spec = JobSpec(300 + chunks, 1, kind, seed=chunks, size=size, batch=batch, chunks=chunks)
        skipped = set(rng.choice(chunks, max(1, int(DETECT_FRACTION * chunks)), replace=False).tolist())
        good, lazy = _skipping(spec, skipped)
        yield f"{kind.name} skipping {len(skipped)} of {chunks} chunks", (lambda s=spec, d=good: verify(s, d)), \
            (lambda s=spec, d=lazy: verify(s, d))


def _format1(v2: bytes) -> bytes:
    """The same result as a format 1 node sends it (no version octet, no root)."""
    body = v2[:13] + v2[13 + 33:-4]
    return body + struct.pack(">I", zlib.crc32(body))


def lazy_node_figures():
    caught = passed = fakes = honest_jobs = 0
    for _what, honest, lazy in _cases():
        fakes += 1
        caught += bool(lazy())
        if honest is not None:
            honest_jobs += 1
            passed += not honest()
    yield Figure("verify_lazy_node_caught", caught / fakes, "caught / faked",
                 f"1.0 ({fakes} faked results: sums without products, committed fakes, forged answers, "
                 f"items skipped at f = {DETECT_FRACTION})")
    yield Figure("verify_honest_passed", passed / honest_jobs, "passed / honest",
                 f"1.0 ({honest_jobs} of the same jobs done honestly)")


def freivalds_figures():
    rng = np.random.default_rng(1)
    n = FREIVALDS_N
    a, b = rng.standard_normal((n, n), dtype=np.float32), rng.standard_normal((n, n), dtype=np.float32)
    c = a @ b
    assert freivalds_error(a, b, c, 1) == ""
    mb = c.nbytes / 1e6

    def recompute():
        assert (np.abs(a @ b - c) <= 1e-2).all()

    ours = base = 0.0
    for _ in range(ROUNDS):  # alternating, best of: load from other processes falls on both alike
        ours = max(ours, best_rate(lambda: freivalds_error(a, b, c, 1), mb, min_time_s=0.05, repeat=1))
        base = max(base, best_rate(recompute, mb, min_time_s=0.05, repeat=1))
    yield Figure("freivalds_MBps", ours, "MB/s of product", f"n={n}, k={FREIVALDS_K}, A and B in hand")
    yield Figure("freivalds_vs_recompute", ours / base, "x numpy recomputing the product", "> 1")


BENCHMARKS = [lazy_node_figures, freivalds_figures]
