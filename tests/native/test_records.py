"""The native record scanner against the ground archive's Python reader: the same records and the
same counts on clean, truncated, corrupted and adversarial segment bodies."""
import io
import math
import random
import struct
import zlib
from unittest import mock

import numpy as np
import pytest
from hypothesis import given, strategies as st

from gridfree.ground.archive import layout, scan as scan_mod
from gridfree.ground.archive.layout import MAX_DATA_BYTES, SYNC, SYNC_BYTES, Record, encode_record
from gridfree.native.records import scan_records

NAME = "seg-0000000000-0000000000000.gfa"
HEAD = 24  # record header octets: data starts here


def body_of(records) -> bytes:
    return b"".join(encode_record(r) for r in records)


def raw_record(n_field: int, t_rx: float, link: int, flags: int, data: bytes) -> bytes:
    """A record with any length field and t_rx (NaN too), both CRCs right for what is there."""
    head = struct.pack(">IIdHH", SYNC, n_field, t_rx, link, flags)
    head += struct.pack(">I", zlib.crc32(head))
    body = head + data
    return body + struct.pack(">I", zlib.crc32(body))


def python_scan(body: bytes, chunk: int | None = None):
    stats = scan_mod.ReadStats()
    with mock.patch.object(scan_mod, "CHUNK_BYTES", chunk or scan_mod.CHUNK_BYTES):
        records = list(scan_mod.scan(io.BytesIO(body), 0, stats, NAME))
    return records, stats


def assert_same(body, chunk: int | None = None, *, buf=None, sync=SYNC, max_len=MAX_DATA_BYTES):
    """Native and Python agree on `body`; returns the native batch."""
    got = scan_records(body if buf is None else buf, sync=sync, max_len=max_len)
    want, stats = python_scan(bytes(body), chunk)
    native = [(int(got.data_offset[i]) - HEAD,
               Record(float(got.t_rx[i]), int(got.link[i]), int(got.flags[i]), got.data(i)))
              for i in range(len(got))]
    assert native == want
    assert list(got.data_len) == [len(r.data) for _, r in want]
    assert (got.records_ok, got.records_damaged, got.bytes_skipped, got.torn_tail_bytes) == \
        (stats.records_ok, stats.records_damaged, stats.bytes_skipped, stats.torn_tail.get(NAME, 0))
    assert got.consumed == (want[-1][0] + layout.RECORD_OVERHEAD + len(want[-1][1].data) if want else 0)
    # Every octet is an intact record, part of a damaged stretch, or the torn tail.
    assert got.consumed + got.torn_tail_bytes <= len(body)
    return got


_rng = random.Random(7)
RECS = [Record(1.7e9 + i / 10, i % 3, (i * 7) & 0xFFFF, _rng.randbytes(_rng.choice((0, 1, 5, 40, 200))))
        for i in range(40)]
BODY = body_of(RECS)
SMALL = body_of(RECS[:6])

# Strategies --------------------------------------------------------------------------------

payloads = st.one_of(
    st.binary(max_size=120),
    st.just(SYNC_BYTES * 3),
    # A complete, valid record inside another record's data: found if the outer one is damaged.
    st.builds(lambda r: encode_record(r), st.builds(Record, st.floats(0, 2e9), st.integers(0, 0xFFFF),
                                                     st.integers(0, 0xFFFF), st.binary(max_size=40))),
)
records = st.builds(Record, st.floats(-1e10, 1e10), st.integers(0, 0xFFFF), st.integers(0, 0xFFFF), payloads)
bodies = st.lists(records, max_size=12).map(body_of)

Mutation = st.one_of(
    st.tuples(st.just("flip"), st.floats(0, 1, exclude_max=True), st.integers(1, 255)),
    st.tuples(st.just("zeros"), st.floats(0, 1, exclude_max=True), st.integers(1, 300)),
    st.tuples(st.just("noise"), st.floats(0, 1, exclude_max=True), st.binary(min_size=1, max_size=300)),
    st.tuples(st.just("insert"), st.floats(0, 1), st.sampled_from([SYNC_BYTES, SYNC_BYTES[:3], b"\0", b"\xd5"])),
    st.tuples(st.just("cut"), st.floats(0, 1), st.none()),
    st.tuples(st.just("length"), st.floats(0, 1, exclude_max=True),
              st.tuples(st.sampled_from([0, 3, 60000, 65535, 65536, 0xFFFFFFFF]), st.booleans())),
)


def mutate(body: bytes, mutations) -> bytes:
    out = bytearray(body)
    for kind, where, arg in mutations:
        if not out:
            break
        at = int(where * len(out))
        if kind == "flip":
            out[at] ^= arg
        elif kind == "zeros":
            out[at:at + arg] = bytes(len(out[at:at + arg]))
        elif kind == "noise":
            out[at:at + len(arg)] = arg[:len(out) - at]
        elif kind == "insert":
            out[at:at] = arg
        elif kind == "cut":
            del out[at:]
        elif kind == "length":  # the length field of the first record at or after `at`
            start = out.find(SYNC_BYTES, at)
            if start >= 0 and start + HEAD <= len(out):
                n, fix = arg
                out[start + 4:start + 8] = struct.pack(">I", n)
                if fix:
                    out[start + 20:start + 24] = struct.pack(">I", zlib.crc32(out[start:start + 20]))
    return bytes(out)


# Clean data ----------------------------------------------------------------------------------

def test_clean_segment():
    got = assert_same(BODY)
    assert len(got) == len(RECS) and got.records_damaged == got.bytes_skipped == got.torn_tail_bytes == 0
    assert got.consumed == len(BODY)
    assert [got.data(i) for i in range(len(got))] == [r.data for r in RECS]
    assert got.t_rx.dtype == np.float64 and got.data_offset.dtype == np.int64


def test_empty_and_tiny_buffers():
    for body in (b"", b"\xd5", SYNC_BYTES, SYNC_BYTES[:3], b"\0" * 23, b"\0" * 100, SYNC_BYTES * 10):
        assert_same(body)


def test_extreme_lengths_and_a_long_segment_across_the_python_readers_chunks():
    recs = [Record(1.0 + i, 1, 2, random.Random(i).randbytes(n)) for i, n in enumerate((0, 65535, 1, 65534, 70, 65535))]
    body = body_of(recs)
    got = assert_same(body)
    assert list(got.data_len) == [0, 65535, 1, 65534, 70, 65535]
    # A damaged record straddling the Python reader's 64 KiB chunk boundary.
    blob = bytearray(body)
    blob[65536] ^= 0x40
    assert assert_same(bytes(blob)).records_damaged == 1


def test_max_len_and_sync_are_parameters():
    other = 0x01020304
    short_and_long = [Record(5.0, 1, 1, b"x" * 10), Record(6.0, 1, 1, b"y" * 200), Record(7.0, 1, 1, b"")]
    with mock.patch.multiple(layout, SYNC=other, SYNC_BYTES=other.to_bytes(4, "big"), MAX_DATA_BYTES=100), \
            mock.patch.object(scan_mod, "SYNC_BYTES", other.to_bytes(4, "big")):
        body = body_of(short_and_long)
        got = assert_same(body, sync=other, max_len=100)
    assert [float(t) for t in got.t_rx] == [5.0, 7.0]
    assert scan_records(body, sync=SYNC, max_len=MAX_DATA_BYTES).records_ok == 0


@pytest.mark.parametrize("make", [bytes, bytearray, memoryview, lambda b: np.frombuffer(b, np.uint8)])
def test_buffer_types_are_read_in_place(make):
    assert_same(BODY, buf=make(BODY))


def test_offsets_are_relative_to_the_buffer_given_as_in_bulk_decoding():
    file = layout.encode_header("sha256:" + "0f" * 32, 1.7e9) + BODY
    whole = np.frombuffer(file, np.uint8)
    got = scan_records(whole[layout.HEADER_SIZE:], sync=SYNC, max_len=MAX_DATA_BYTES)
    at = int(got.data_offset[3]) + layout.HEADER_SIZE
    assert whole[at:at + len(RECS[3].data)].tobytes() == RECS[3].data


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="sync"):
        scan_records(BODY, sync=1 << 32, max_len=10)
    with pytest.raises(ValueError, match="max_len"):
        scan_records(BODY, sync=SYNC, max_len=-1)
    with pytest.raises(TypeError):
        scan_records("text", sync=SYNC, max_len=10)


# Damage ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("chunk", [None, 1, 29])
def test_every_cut_of_a_small_segment(chunk):
    for cut in range(len(SMALL) + 1):
        got = assert_same(SMALL[:cut], chunk)
        assert got.records_damaged == 0 and got.consumed + got.torn_tail_bytes == cut


def test_every_cut_with_garbage_before_the_tail():
    base = SMALL[:100] + b"\x55" * 9 + SMALL[100:]
    for cut in range(len(base) + 1):
        assert_same(base[:cut])


@given(i=st.integers(0, len(RECS) - 1), where=st.floats(0, 1, exclude_max=True), mask=st.integers(1, 255),
       chunk=st.sampled_from([None, 64]))
def test_a_byte_flip(i, where, mask, chunk):
    start = len(body_of(RECS[:i]))
    end = start + len(encode_record(RECS[i]))
    blob = bytearray(BODY)
    blob[start + int(where * (end - start))] ^= mask
    assert_same(bytes(blob), chunk)


@given(start=st.integers(0, len(BODY) - 1), length=st.integers(1, 600), zeros=st.booleans(),
       seed=st.integers(0, 2**32))
def test_an_overwritten_span(start, length, zeros, seed):
    blob = bytearray(BODY)
    end = min(start + length, len(BODY))
    blob[start:end] = bytes(end - start) if zeros else random.Random(seed).randbytes(end - start)
    assert_same(bytes(blob))


@pytest.mark.parametrize("i", [0, 10, len(RECS) - 1])
@pytest.mark.parametrize("n, fix", [(0xFFFFFFFF, False), (0xFFFFFFFF, True), (65536, True), (60000, True),
                                    (4, True), (0, True)])
def test_a_false_length(i, n, fix):
    start = len(body_of(RECS[:i]))
    got = assert_same(mutate(BODY, [("length", start / len(BODY), (n, fix))]))
    assert got.records_ok == len(RECS) - 1


def test_non_finite_times_are_not_trusted():
    body = b"".join(raw_record(3, t, 1, 2, b"abc") for t in (1.0, math.nan, math.inf, -math.inf, 2.0))
    got = assert_same(body)
    assert list(got.t_rx) == [1.0, 2.0] and got.records_damaged == 1


@given(body=bodies, mutations=st.lists(Mutation, max_size=4), chunk=st.sampled_from([None, 1, 50]))
def test_any_mutation_of_any_segment(body, mutations, chunk):
    assert_same(mutate(body, mutations), chunk)


@given(pieces=st.lists(st.one_of(st.binary(max_size=40), st.just(SYNC_BYTES), st.sampled_from(
    [encode_record(r) for r in RECS[:8]] + [raw_record(70000, 1.0, 0, 0, b""), raw_record(2, math.nan, 0, 0, b"ab")])),
    max_size=16))
def test_shuffled_records_and_noise(pieces):
    assert_same(b"".join(pieces))
