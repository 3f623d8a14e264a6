"""A lazy node fails the ground's proofs; an honest one passes them (issue 18, item 4).

The lazy node is the real compute manager given a product routine that does not multiply: it makes
each C in O(n^2) with its row and column sums right, which the node's own check (and the ground's
check before format 2) accepts. The ground catches it by Freivalds when its products come down and
by the blocks it challenges when they stay on board. A node skipping MLP or tile items with
plausible outputs is caught by the chunks the ground computes again."""
from __future__ import annotations

import numpy as np
import pytest

from gridfree.flight.compute.proofs import MAX_DOWNLINKED_PRODUCT_OCTETS, answer_challenge
from gridfree.flight.core.component import CommandFailed
from gridfree.flight.core.messages import Origin
from gridfree.ground.compute.blocks import answers_by_job
from gridfree.ground.compute.verify import PENDING, needs_challenge, verify
from gridfree.protocols.compute import JobSpec, Kind, keep_tiles, matmul_inputs, pack_result, read_result, tiles
from gridfree.protocols.proofs import BlockAnswer, block_rows, blocks_per_chunk, challenged_blocks, merkle_root, product_leaves, samples_needed
from tests.compute.alone import manager, results, run_until_idle, submit

SMALL = JobSpec(21, 1, Kind.MATMUL, seed=5, size=64, batch=1, chunks=3)  # products go down
BIG = JobSpec(22, 1, Kind.MATMUL, seed=6, size=256, batch=1, chunks=20)  # 5 MiB of products stay on board
MLP = JobSpec(23, 1, Kind.MLP, seed=7, size=0, batch=32, chunks=12)


def sums_only(a: np.ndarray, b: np.ndarray, **_) -> np.ndarray:
    """A 'product' with every row and column sum of A B and nothing else of it, in O(n^2)."""
    f8 = np.float64
    rows, cols = a.astype(f8) @ b.sum(axis=1, dtype=f8), a.sum(axis=0, dtype=f8) @ b
    n, m = len(rows), len(cols)
    return (rows[:, None] / m + cols[None, :] / n - rows.sum() / (n * m)).astype(np.float32)


def run(tmp_path, specs, matmul=None):
    t = manager(tmp_path, quotas=(1,), **({"matmul": matmul} if matmul else {}))
    for spec in specs:
        assert submit(t, spec).ok
    run_until_idle(t, 200)
    return t, results(t)


def prove(t, spec: JobSpec, seed: int) -> bytes:
    assert t.command("ProveBlocks", job_id=spec.job_id, seed=seed).ok
    return t.sent("downlinkOut")[-1].data


def test_an_honest_node_passes_freivalds_and_its_challenged_blocks(tmp_path):
    assert 4 * BIG.size ** 2 * BIG.chunks > MAX_DOWNLINKED_PRODUCT_OCTETS >= 4 * SMALL.size ** 2 * SMALL.chunks
    t, got = run(tmp_path, [SMALL, BIG])
    small, big = read_result(got[SMALL.job_id]), read_result(got[BIG.job_id])
    assert all("product" in c for c in small.chunks) and not any("product" in c for c in big.chunks)
    assert verify(SMALL, got[SMALL.job_id], seed=1) == [] and verify(SMALL, got[SMALL.job_id]) == []
    assert needs_challenge(BIG, got[BIG.job_id]) and verify(BIG, got[BIG.job_id], seed=1)[0].startswith(PENDING)
    answer = prove(t, BIG, 77)
    assert answers_by_job(d.data for d in t.sent("downlinkOut")) == {BIG.job_id: answer}
    blocks = BlockAnswer.unpack(answer).blocks
    assert len(blocks) == samples_needed() < 20 * 16  # 270 of the job's 320 blocks
    assert verify(BIG, got[BIG.job_id], seed=77, blocks=answer) == []
    # An answer is good for its own challenge only: the ground's next seed draws other blocks.
    assert verify(BIG, got[BIG.job_id], seed=78, blocks=answer)[0].startswith("answer for job 22, seed 77")


def test_a_node_whose_product_routine_sums_otherwise_still_answers_with_the_octets_it_committed_to(tmp_path):
    """Rows of A times B recomputed alone need not be, bit for bit, the rows of the product its own
    routine made (here: summed in float64); the node then makes the chunk's product again with it."""
    def in_float64(a, b, **_):
        return (a.astype(np.float64) @ b.astype(np.float64)).astype(np.float32)

    t, got = run(tmp_path, [BIG], matmul=in_float64)
    for kept in (tmp_path / "state" / "compute" / "proofs").glob("product-*.f32"):
        kept.unlink()  # dropped for room: the node computes them again
    answer = prove(t, BIG, 12)
    assert verify(BIG, got[BIG.job_id], seed=12, blocks=answer) == []
    assert t.events("BlocksProven")[-1]["recomputed"] == samples_needed()


def low_bit_upsets(calls: int):
    """A product routine whose first `calls` products meet the kind of upset ABFT lets through: the
    least significant mantissa bit of the first element of every block flipped, far below the
    checks' tolerance. (Upsets do not strike twice alike: later products are clean.)"""
    made = {"n": 0}

    def matmul(a, b, **_):
        c = a @ b
        made["n"] += 1
        if made["n"] <= calls:
            c[::block_rows(c.shape[1]), 0].view(np.uint32)[...] ^= 1
        return c
    return matmul


def test_a_product_with_an_upset_below_the_checks_is_proven_from_its_kept_octets(tmp_path):
    """No recomputation makes an upset product's octets again, however exact: the kept product
    answers as committed, each block read back and hashed to its leaf, and the ground holds it to
    A B within float32 rounding as any block; without it, the node refuses rather than lie."""
    t, got = run(tmp_path, [BIG], matmul=low_bit_upsets(BIG.chunks))
    answer = prove(t, BIG, 31)
    assert verify(BIG, got[BIG.job_id], seed=31, blocks=answer) == []
    assert t.events("BlocksProven")[-1]["recomputed"] == 0
    kept = sorted((tmp_path / "state" / "compute" / "proofs").glob("product-*.f32"))
    assert len(kept) == BIG.chunks and all(p.stat().st_size == 4 * BIG.size ** 2 for p in kept)
    chunk, block = divmod(int(challenged_blocks(31, BIG.chunks, BIG.size)[0]), blocks_per_chunk(BIG.size))
    data = bytearray(kept[chunk].read_bytes())
    data[4 * BIG.size * block_rows(BIG.size) * block + 5] ^= 0x40  # an upset in the kept copy of a challenged block
    kept[chunk].write_bytes(bytes(data))
    reply = t.command("ProveBlocks", job_id=BIG.job_id, seed=31)  # recomputed, clean: not as committed
    assert not reply.ok and "does not come out as committed" in reply.reason


def test_a_lazy_node_making_sums_without_products_fails_every_check(tmp_path):
    t, got = run(tmp_path, [SMALL, BIG], matmul=sums_only)
    assert len(got) == 2  # its own sums check let the fakes through: they came down
    for seed in range(5):
        problems = verify(SMALL, got[SMALL.job_id], seed=seed)
        assert len(problems) == SMALL.chunks and all("C r differs from A (B r)" in p for p in problems)
    answer = prove(t, BIG, 5)  # it answers with the blocks it committed to, and they are not A B
    problems = verify(BIG, got[BIG.job_id], seed=5, blocks=answer)
    assert problems and "differ from A B beyond rounding" in problems[0]


def test_a_lazy_node_cannot_answer_with_honest_blocks_under_its_lazy_root(tmp_path):
    t, got = run(tmp_path, [BIG], matmul=sums_only)
    lazy_root = read_result(got[BIG.job_id]).root
    # The honest products, computed once the seed is known, answered under the root it sent before.
    honest = [bytes(h) for k in range(BIG.chunks) for h in product_leaves(np.matmul(*matmul_inputs(BIG, k)))]
    answer, _ = answer_challenge(BIG, np.frombuffer(b"".join(honest), np.uint8).reshape(-1, 32), 9, np.matmul)
    forged = BlockAnswer(answer.job_id, answer.seed, answer.chunks, answer.size, lazy_root, answer.blocks)
    problems = verify(BIG, got[BIG.job_id], seed=9, blocks=forged.pack())
    assert problems[0].startswith("chunk") and "path does not lead to the root" in problems[0]
    # Nor by answering fewer, or other, blocks than the seed draws.
    wanted = challenged_blocks(9, BIG.chunks, BIG.size)
    some = BlockAnswer(answer.job_id, 9, answer.chunks, answer.size, lazy_root, answer.blocks[:10])
    assert "not the 270 the seed challenges" in verify(BIG, got[BIG.job_id], seed=9, blocks=some.pack())[0]
    assert len(wanted) == 270 and merkle_root(honest) != lazy_root


def test_proving_is_for_kept_products_of_ones_own_jobs(tmp_path):
    t, got = run(tmp_path, [SMALL, BIG])
    assert not t.command("ProveBlocks", job_id=SMALL.job_id, seed=1).ok  # its products came down
    assert "no product kept on board for job 99" in t.command("ProveBlocks", job_id=99, seed=1).reason
    with pytest.raises(CommandFailed, match="of tenant 2"):
        t.component.cmd_ProveBlocks(job_id=BIG.job_id, seed=1, origin=Origin(9, "tenant", 2))
    t.component.cmd_ProveBlocks(job_id=BIG.job_id, seed=1, origin=Origin(9, "tenant", 1))  # its own
    kept = next((tmp_path / "state" / "compute" / "proofs").glob("proof-*.bin"))
    data = bytearray(kept.read_bytes())
    data[40] ^= 0x10  # an upset in the kept leaves: refused, never a wrong proof
    kept.write_bytes(bytes(data))
    assert not t.command("ProveBlocks", job_id=BIG.job_id, seed=1).ok


def skipping_mlp(skip_every: int):
    """A product routine that skips every `skip_every`-th chunk's MLP: its three products come out
    as plausible random logits instead (so its classes are random)."""
    calls = {"n": 0}
    rng = np.random.default_rng(0)

    def matmul(a, b, **_):
        calls["n"] += 1
        chunk = (calls["n"] - 1) // 3
        if chunk % skip_every == skip_every - 1:
            return rng.standard_normal((a.shape[0], b.shape[1])).astype(np.float32)
        return a @ b

    return matmul


def test_a_node_skipping_mlp_items_is_caught_and_an_honest_one_passes(tmp_path):
    _, honest = run(tmp_path / "honest", [MLP])
    assert verify(MLP, honest[MLP.job_id], seed=3) == []
    _, lazy = run(tmp_path / "lazy", [MLP], matmul=skipping_mlp(4))  # a quarter of the chunks skipped
    problems = verify(MLP, lazy[MLP.job_id], seed=3)
    assert [p.split(":")[0] for p in problems] == ["chunk 3", "chunk 7", "chunk 11"]


def test_sampled_re_execution_catches_a_node_skipping_five_percent_of_a_big_job():
    """A job of more chunks than samples_needed(): the ground computes 270 of 1000 tile chunks again;
    a node that skipped 50 of them (f = 0.05) escapes with probability below 1e-6 each time."""
    spec = JobSpec(24, 1, Kind.TILES, seed=8, size=0, batch=1, chunks=1000)
    chunks = [{"kept": keep_tiles(tiles(spec, k), spec.threshold)} for k in range(spec.chunks)]
    assert verify(spec, pack_result(spec, chunks), seed=1) == []
    rng = np.random.default_rng(1)
    skipped = rng.choice(spec.chunks, 50, replace=False)
    for k in skipped:  # plausible: the answer of a clear tile where the scene was cloudy, and back
        chunks[k] = {"kept": np.array([] if len(chunks[k]["kept"]) else [0], dtype=np.uint32)}
    lazy = pack_result(spec, chunks)
    for seed in range(20):
        problems = verify(spec, lazy, seed=seed)
        assert problems and all(int(p.split(":")[0].split()[1]) in skipped for p in problems)
        assert len(problems) < 50  # a sample: 270 of the 1000 chunks
    assert len(verify(spec, lazy, every_chunk=True)) == 50
