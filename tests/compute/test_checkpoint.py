"""Job checkpoint logs: a commit appends one record and rewrites nothing, and a job never resumes
from a damaged byte, only from the good records before it."""
import numpy as np
import pytest

from gridfree.flight.compute import checkpoint
from gridfree.native.crc import crc32c


def outputs(k):
    rng = np.random.default_rng(k)
    return {"acc": rng.normal(size=(16, 16)).astype(np.float32), "labels": np.arange(k, k + 4), "loss": 0.5 * k}


def same(got, k):
    want = outputs(k)
    return got.keys() == want.keys() and all(np.array_equal(got[n], want[n]) for n in want)


def write(tmp_path, job, count):
    for k in range(count):
        path = checkpoint.append(tmp_path, job, k, outputs(k))
    return path


def test_round_trip_and_discard(tmp_path):
    assert checkpoint.load(tmp_path, 7).chunks == []
    write(tmp_path, 7, 4)
    log = checkpoint.load(tmp_path, 7)
    assert log.damage is None and len(log.chunks) == 4 and all(same(c, k) for k, c in enumerate(log.chunks))
    assert list(tmp_path.iterdir()) == [tmp_path / "job-00000007.ckpt"]
    checkpoint.discard(tmp_path, 7)
    assert checkpoint.load(tmp_path, 7).chunks == []


def test_a_commit_writes_its_own_record_and_nothing_else(tmp_path):
    """The cost of a commit does not grow with the chunks before it: the log grows by one record,
    and the bytes already there stay as they were."""
    path = write(tmp_path, 1, 1)
    one = path.read_bytes()
    for k in range(1, 6):
        before = path.read_bytes()
        checkpoint.append(tmp_path, 1, k, outputs(0))
        after = path.read_bytes()
        assert after[:len(before)] == before and len(after) == len(before) + len(one)


def test_every_single_bit_flip_is_caught_and_the_records_before_it_kept(tmp_path):
    path = write(tmp_path, 1, 3)
    good = path.read_bytes()
    ends = checkpoint.load(tmp_path, 1).ends
    for bit in range(0, 8 * len(good), 23):
        bad = bytearray(good)
        bad[bit // 8] ^= 1 << (bit % 8)
        path.write_bytes(bytes(bad))
        log = checkpoint.load(tmp_path, 1)
        hit = sum(bit // 8 >= e for e in ends)  # the record the flip landed in
        assert log.damage is not None and len(log.chunks) == hit, (bit, log.damage)
        assert all(same(c, k) for k, c in enumerate(log.chunks))


def test_a_torn_append_is_cut_and_the_log_goes_on(tmp_path):
    path = write(tmp_path, 2, 3)
    good = path.read_bytes()
    ends = checkpoint.load(tmp_path, 2).ends
    for cut in (0, 5, 25, ends[0] + 1, ends[1] + 30, len(good) - 1):
        path.write_bytes(good[:cut])  # power lost part way through an append
        log = checkpoint.load(tmp_path, 2)
        whole = sum(cut >= e for e in ends)
        assert len(log.chunks) == whole and (log.damage is not None) == (cut not in (0, *ends))
        checkpoint.keep(tmp_path, 2, log, whole)
        assert path.stat().st_size == (ends[whole - 1] if whole else 0)
        for k in range(whole, 3):
            checkpoint.append(tmp_path, 2, k, outputs(k))
        assert path.read_bytes() == good


def test_keep_cuts_records_the_queue_never_committed(tmp_path):
    path = write(tmp_path, 3, 3)
    log = checkpoint.load(tmp_path, 3)
    checkpoint.keep(tmp_path, 3, log, 2)
    assert path.stat().st_size == log.ends[1] and len(checkpoint.load(tmp_path, 3).chunks) == 2


def test_a_lying_header_and_another_jobs_log_are_refused(tmp_path):
    path = write(tmp_path, 1, 2)
    good = bytearray(path.read_bytes())
    lying = good.copy()
    lying[14:18] = (1 << 31).to_bytes(4, "big")  # a huge length, CRC not updated: never believed
    path.write_bytes(bytes(lying))
    log = checkpoint.load(tmp_path, 1)
    assert log.chunks == [] and "header CRC" in log.damage
    write(tmp_path, 2, 2).rename(path)  # job 2's log under job 1's name
    assert "job 2" in checkpoint.load(tmp_path, 1).damage


def test_records_out_of_order_are_refused(tmp_path):
    checkpoint.append(tmp_path, 4, 0, outputs(0))
    checkpoint.append(tmp_path, 4, 2, outputs(2))  # chunk 1 missing
    log = checkpoint.load(tmp_path, 4)
    assert len(log.chunks) == 1 and "chunk 2" in log.damage


def test_no_pickled_objects(tmp_path):
    with pytest.raises(ValueError, match="not Python objects"):
        checkpoint.append(tmp_path, 4, 0, {"code": np.array([object()], dtype=object)})
    assert checkpoint.load(tmp_path, 4).chunks == []


def _refit_crcs(data: bytearray, at: int) -> None:
    """Make the record at `at` check again after its payload was changed (a broken writer, not
    the line: the CRCs no longer tell)."""
    head = bytes(data[at:at + checkpoint._HEAD.size])
    n = checkpoint._HEAD.unpack(head)[4]
    payload = bytes(data[at + checkpoint.RECORD_OVERHEAD:at + checkpoint.RECORD_OVERHEAD + n])
    data[at + checkpoint._HEAD.size:at + checkpoint.RECORD_OVERHEAD] = checkpoint._CRCS.pack(crc32c(head),
                                                                                              crc32c(payload))


def test_a_record_whose_crcs_check_but_whose_content_is_malformed_costs_that_record_only(tmp_path):
    """Fuzz the reader past its CRCs: any content a writer could have got wrong is a damaged
    record (the ones before it kept), never an exception out of `load`."""
    import random

    rng = random.Random(16)
    for chunk in range(2):
        checkpoint.append(tmp_path, 9, chunk, {"y": np.arange(40, dtype=np.float32).reshape(8, 5), "n": chunk})
    good = checkpoint.path(tmp_path, 9).read_bytes()
    second = checkpoint.load(tmp_path, 9).ends[0]
    payload_at = second + checkpoint.RECORD_OVERHEAD
    damaged = 0
    for _ in range(400):
        data = bytearray(good)
        for _ in range(rng.choice((1, 2, 8, 64))):
            data[rng.randrange(payload_at, len(data))] = rng.randrange(256)
        _refit_crcs(data, second)
        checkpoint.path(tmp_path, 9).write_bytes(bytes(data))
        log = checkpoint.load(tmp_path, 9)
        assert log.chunks[0]["n"] == 0 and len(log.chunks) in (1, 2)
        if len(log.chunks) == 1:
            assert log.damage.startswith("record 1: outputs do not decode")
            damaged += 1
    assert damaged > 100  # the fuzzing reached the decoder, not only the CRC check


def test_a_compressed_member_is_refused_before_numpy_inflates_it(tmp_path):
    import io

    buf = io.BytesIO()
    np.savez_compressed(buf, y=np.zeros(1_000_000))  # 8 MB from a few kB: a writer must never do this
    checkpoint.append(tmp_path, 4, 0, {"y": np.zeros(3)})
    data = bytearray(checkpoint.path(tmp_path, 4).read_bytes())
    head = checkpoint._HEAD.pack(checkpoint.MAGIC, checkpoint.VERSION, 4, 0, len(buf.getvalue()))
    data[:] = head + checkpoint._CRCS.pack(0, 0) + buf.getvalue()
    _refit_crcs(data, 0)
    checkpoint.path(tmp_path, 4).write_bytes(bytes(data))
    log = checkpoint.load(tmp_path, 4)
    assert log.chunks == [] and "compressed or larger than its record" in log.damage
