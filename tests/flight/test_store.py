"""Atomic stores: every crash point leaves the old or the new record; corruption is detected."""
import pytest
from hypothesis import given, strategies as st

from gridfree.flight.core.store import AtomicRecordFile, CorruptStoreError


def test_round_trip_and_missing_store(tmp_path):
    store = AtomicRecordFile(tmp_path / "params.bin")
    assert store.load() is None
    store.save(b"battery_uv_threshold_V=6.4")
    assert store.load() == b"battery_uv_threshold_V=6.4"
    store.save(b"")
    assert store.load() == b""


@given(body=st.binary(max_size=300), flip=st.integers(min_value=0))
def test_any_single_bit_flip_is_detected(tmp_path_factory, body, flip):
    path = tmp_path_factory.mktemp("s") / "store.bin"
    AtomicRecordFile(path).save(body)
    raw = bytearray(path.read_bytes())
    bit = flip % (len(raw) * 8)
    raw[bit // 8] ^= 1 << (bit % 8)
    path.write_bytes(bytes(raw))
    with pytest.raises(CorruptStoreError):
        AtomicRecordFile(path).load()


@given(body=st.binary(min_size=1, max_size=300), cut=st.integers(min_value=0))
def test_any_truncation_is_detected(tmp_path_factory, body, cut):
    path = tmp_path_factory.mktemp("s") / "store.bin"
    AtomicRecordFile(path).save(body)
    raw = path.read_bytes()
    path.write_bytes(raw[: cut % len(raw)])
    with pytest.raises(CorruptStoreError):
        AtomicRecordFile(path).load()


def test_a_crash_before_rename_leaves_the_old_record(tmp_path):
    store = AtomicRecordFile(tmp_path / "p.bin")
    store.save(b"old")
    # A crash after the temporary file was (partly) written but before the rename:
    (tmp_path / "p.bin.tmp").write_bytes(b"GFS1\x00\x00")
    assert store.load() == b"old"
    store.save(b"new")  # and the next save replaces the stale temporary file
    assert store.load() == b"new"
