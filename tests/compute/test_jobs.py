"""Jobs computed on the node and checked on the ground from the result alone, the way a tenant
would check what the satellite sold them."""
import numpy as np
import pytest

from gridfree.flight.compute.jobs import ChunkUpset, run_chunk
from gridfree.ground.compute.verify import verify
from gridfree.protocols.compute import JobSpec, Kind, keep_tiles, matmul_inputs, pack_result, tiles

SPECS = [JobSpec(1, 7, Kind.MATMUL, seed=11, size=256, batch=1, chunks=3),
         JobSpec(2, 7, Kind.MLP, seed=12, size=1, batch=500, chunks=2),
         JobSpec(3, 8, Kind.TILES, seed=13, size=0, batch=200, chunks=2, threshold=0.3)]


@pytest.mark.parametrize("spec", SPECS, ids=lambda s: s.kind.name)
def test_a_correct_result_verifies_on_the_ground(spec):
    spec.check()
    result = pack_result(spec, [run_chunk(spec, k) for k in range(spec.chunks)])
    assert verify(spec, result) == []


def test_a_wrong_product_is_caught_by_its_checksums():
    spec = SPECS[0]

    def faulty(a, b):  # one upset in one element of C, as a radiation hit would leave it
        c = a @ b
        c[17, 42] += 1.0
        return c

    c = faulty(*matmul_inputs(spec, 1))
    wrong = {"row_sums": c.sum(axis=1, dtype=np.float64), "col_sums": c.sum(axis=0, dtype=np.float64)}
    chunks = [run_chunk(spec, 0), wrong, run_chunk(spec, 2)]
    assert verify(spec, pack_result(spec, chunks)) == ["chunk 1: row/column sums disagree with (e^T A) B and A (B e)"]
    with pytest.raises(ChunkUpset, match="result"):  # and the node holds its own chunk to the same contract
        run_chunk(spec, 1, matmul=faulty)


def test_a_not_a_number_in_the_sums_is_refused():
    """An upset can make NaN, which compares false with everything: the check must fail on it."""
    spec = SPECS[0]
    chunks = [run_chunk(spec, k) for k in range(spec.chunks)]
    chunks[2]["col_sums"][5] = np.nan
    assert verify(spec, pack_result(spec, chunks)) == ["chunk 2: row/column sums disagree with (e^T A) B and A (B e)"]


def test_wrong_classes_and_wrong_tiles_are_caught():
    mlp, eo = SPECS[1], SPECS[2]
    chunks = [run_chunk(mlp, k) for k in range(mlp.chunks)]
    chunks[1]["labels"][:5] = (chunks[1]["labels"][:5] + 1) % 10
    assert verify(mlp, pack_result(mlp, chunks))[0].startswith("chunk 1: 5 wrong classes")
    chunks = [run_chunk(eo, k) for k in range(eo.chunks)]
    chunks[0]["kept"] = chunks[0]["kept"][1:]  # a valuable tile silently dropped
    assert verify(eo, pack_result(eo, chunks))[0].startswith("chunk 0: kept tiles")


def test_a_damaged_or_foreign_result_is_refused():
    spec = SPECS[2]
    good = pack_result(spec, [run_chunk(spec, k) for k in range(spec.chunks)])
    bad = bytearray(good)
    bad[len(bad) // 2] ^= 0x10
    assert verify(spec, bytes(bad)) == ["result damaged: CRC-32 does not match"]
    other = JobSpec(4, 8, Kind.TILES, seed=13, size=0, batch=200, chunks=2)
    assert "expected job 4" in verify(other, good)[0]


def test_the_tile_filter_keeps_clear_scenes_only():
    spec = SPECS[2]
    t = tiles(spec, 0)
    cloud = (t > 200).mean(axis=(1, 2))
    kept = keep_tiles(t, 0.3)
    assert 0 < len(kept) < len(t) and (cloud[kept] < 0.3).all() and (np.delete(cloud, kept) >= 0.3).all()


def test_bigger_models_cost_more_work():
    work = [JobSpec(1, 1, Kind.MLP, 1, size, 1000, 1).work_units() for size in (0, 1, 2)]
    assert work[0] < work[1] < work[2]
    with pytest.raises(ValueError, match="out of range"):
        JobSpec(1, 1, Kind.MLP, 1, 3, 1000, 1).check()
