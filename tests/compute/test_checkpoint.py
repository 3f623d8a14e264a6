"""Job checkpoints survive a rewrite at any point and are never resumed from damaged bytes."""
import numpy as np
import pytest

from gridfree.flight.compute import checkpoint
from gridfree.flight.compute.checkpoint import CheckpointDamaged


def state(k):
    rng = np.random.default_rng(k)
    return {"acc": rng.normal(size=(64, 64)).astype(np.float32), "rng_state": np.arange(k, k + 4), "loss": 0.5 * k}


def test_round_trip_and_replacement(tmp_path):
    assert checkpoint.load(tmp_path, 7) is None
    checkpoint.save(tmp_path, 7, 3, state(3))
    checkpoint.save(tmp_path, 7, 4, state(4))  # the next chunk replaces it
    chunk, got = checkpoint.load(tmp_path, 7)
    assert chunk == 4 and got["acc"].tobytes() == state(4)["acc"].tobytes() and float(got["loss"]) == 2.0
    assert list(tmp_path.iterdir()) == [tmp_path / "job-00000007.ckpt"]  # no temporary left behind
    checkpoint.discard(tmp_path, 7)
    assert checkpoint.load(tmp_path, 7) is None


def test_every_single_bit_flip_is_caught(tmp_path):
    path = checkpoint.save(tmp_path, 1, 2, {"w": np.arange(32, dtype=np.int16)})
    good = path.read_bytes()
    for bit in range(0, 8 * len(good), 7):
        bad = bytearray(good)
        bad[bit // 8] ^= 1 << (bit % 8)
        path.write_bytes(bytes(bad))
        with pytest.raises(CheckpointDamaged):
            checkpoint.load(tmp_path, 1)


def test_truncation_a_lying_length_and_another_jobs_file_are_refused(tmp_path):
    path = checkpoint.save(tmp_path, 1, 2, state(1))
    good = path.read_bytes()
    for cut in (0, 5, 21, len(good) // 2, len(good) - 1):
        path.write_bytes(good[:cut])
        with pytest.raises(CheckpointDamaged):
            checkpoint.load(tmp_path, 1)
    other = checkpoint.save(tmp_path, 2, 2, state(2))
    other.rename(path)  # job 2's checkpoint under job 1's name
    with pytest.raises(CheckpointDamaged, match="job 2"):
        checkpoint.load(tmp_path, 1)


def test_a_crash_mid_write_leaves_the_previous_checkpoint(tmp_path, monkeypatch):
    checkpoint.save(tmp_path, 3, 1, state(1))
    import os

    def power_cut(src, dst):
        raise OSError("power lost before the rename")

    monkeypatch.setattr(os, "replace", power_cut)
    with pytest.raises(OSError):
        checkpoint.save(tmp_path, 3, 2, state(2))
    monkeypatch.undo()
    chunk, got = checkpoint.load(tmp_path, 3)
    assert chunk == 1 and got["acc"].tobytes() == state(1)["acc"].tobytes()


def test_no_pickled_objects(tmp_path):
    with pytest.raises(ValueError, match="not Python objects"):
        checkpoint.save(tmp_path, 4, 1, {"code": np.array([object()], dtype=object)})
    assert checkpoint.load(tmp_path, 4) is None
