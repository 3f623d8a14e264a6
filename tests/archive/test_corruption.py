"""Damage in the middle of a segment costs exactly the records it touches, and says so."""
import random
import struct
import zlib

import pytest
from hypothesis import given, strategies as st

from gridfree.ground.archive.layout import RECORD_HEADER_SIZE
from gridfree.ground.archive.segment import Record, open_archive
from tests.archive.util import spans, write_segment

_rng = random.Random(3)
RECS = [Record(1.7e9 + i / 10, 2, i & 3, _rng.randbytes(_rng.choice((0, 5, 40, 200)))) for i in range(30)]
SPANS = spans(RECS)


@pytest.fixture(scope="module")
def pristine(tmp_path_factory):
    directory = tmp_path_factory.mktemp("pristine")
    return write_segment(directory, RECS, index_every_records=4).read_bytes()


def read_damaged(tmp_path, blob: bytes):
    (tmp_path / "seg-0000000000-0000000000000.gfa").write_bytes(blob)
    a = open_archive(tmp_path)
    return list(a.records()), a.stats


def touched(start: int, end: int) -> set[int]:
    return {i for i, (s, e) in enumerate(SPANS) if s < end and start < e}


@given(i=st.integers(0, len(RECS) - 2), where=st.floats(0, 1, exclude_max=True), mask=st.integers(1, 255))
def test_a_flipped_byte_costs_only_its_record(tmp_path_factory, pristine, i, where, mask):
    start, end = SPANS[i]
    pos = start + int(where * (end - start))
    blob = bytearray(pristine)
    blob[pos] ^= mask
    got, stats = read_damaged(tmp_path_factory.mktemp("flip"), bytes(blob))
    assert got == RECS[:i] + RECS[i + 1:]
    assert (stats.records_damaged, stats.bytes_skipped, stats.torn_tail) == (1, end - start, {})


@given(start=st.integers(SPANS[0][0], SPANS[-2][1] - 1), length=st.integers(1, 600), zeros=st.booleans(),
       seed=st.integers(0, 2**32))
def test_an_overwritten_span_costs_only_the_records_it_touches(tmp_path_factory, pristine, start, length, zeros, seed):
    end = min(start + length, SPANS[-2][1])  # the last record stays intact: see the torn-tail test
    blob = bytearray(pristine)
    blob[start:end] = bytes(end - start) if zeros else random.Random(seed).randbytes(end - start)
    lost = {i for i in touched(start, end) if blob[slice(*SPANS[i])] != pristine[slice(*SPANS[i])]}
    got, stats = read_damaged(tmp_path_factory.mktemp("span"), bytes(blob))
    assert got == [r for i, r in enumerate(RECS) if i not in lost]
    assert (1 if lost else 0) <= stats.records_damaged <= len(lost)
    assert stats.bytes_skipped == sum(SPANS[i][1] - SPANS[i][0] for i in lost)


def with_length(blob: bytes, i: int, n: int, fix_header_crc: bool) -> bytes:
    """Record i's length field set to n, its header CRC recomputed to match when asked."""
    out = bytearray(blob)
    start = SPANS[i][0]
    out[start + 4:start + 8] = struct.pack(">I", n)
    if fix_header_crc:
        out[start + 20:start + 24] = struct.pack(">I", zlib.crc32(out[start:start + 20]))
    return bytes(out)


@pytest.mark.parametrize("n, fix_header_crc", [
    (0xFFFFFFFF, False),  # caught by the header CRC
    (0xFFFFFFFF, True),   # header CRC forged to match: caught by the 65535-byte limit
    (60000, True),        # plausible, CRC-valid and past the end of the file: caught by the record CRC
    (4, True),            # too short: the record CRC fails where the scan thinks the record ends
])
def test_a_lying_length_field_costs_one_record_and_no_huge_read(tmp_path, pristine, n, fix_header_crc):
    i = 10
    got, stats = read_damaged(tmp_path, with_length(pristine, i, n, fix_header_crc))
    assert got == RECS[:i] + RECS[i + 1:]
    assert stats.records_damaged == 1 and stats.torn_tail == {}
    assert stats.bytes_read <= len(pristine)


@pytest.mark.parametrize("offset_in_record, damaged, torn", [
    (-1, 1, {}),  # its record CRC: the header still vouches for a complete record, so it is damage
    (0, 0, {"seg-0000000000-0000000000000.gfa": SPANS[-1][1] - SPANS[-1][0]}),  # its sync marker: looks torn
])
def test_damage_to_the_last_record_is_reported_never_silent(tmp_path, pristine, offset_in_record, damaged, torn):
    start, end = SPANS[-1]
    blob = bytearray(pristine)
    blob[(start, end)[offset_in_record < 0] + offset_in_record] ^= 0xFF
    got, stats = read_damaged(tmp_path, bytes(blob))
    assert got == RECS[:-1]
    assert (stats.records_damaged, stats.torn_tail) == (damaged, torn)
    assert stats.bytes_skipped + sum(torn.values()) == end - start


def test_a_damaged_header_of_the_first_record_still_yields_the_rest(tmp_path, pristine):
    blob = bytearray(pristine)
    blob[SPANS[0][0] + RECORD_HEADER_SIZE - 1] ^= 1
    got, stats = read_damaged(tmp_path, bytes(blob))
    assert got == RECS[1:] and stats.records_damaged == 1
    assert open_archive(tmp_path).segments[0].first_t_rx == RECS[1].t_rx


@given(cuts=st.lists(st.integers(0, 1 << 16), max_size=12), noise=st.binary(max_size=300), seed=st.integers(0, 99))
def test_a_shuffled_and_noisy_segment_yields_only_real_records_and_never_raises(tmp_path_factory, pristine, cuts,
                                                                                  noise, seed):
    body = pristine[SPANS[0][0]:]
    bounds = sorted({0, len(body), *(c % len(body) for c in cuts)})
    pieces = [body[a:b] for a, b in zip(bounds, bounds[1:])] + [noise]
    random.Random(seed).shuffle(pieces)
    got, stats = read_damaged(tmp_path_factory.mktemp("shuffle"), pristine[:SPANS[0][0]] + b"".join(pieces))
    assert all(r in RECS for r in got)
    assert stats.records_ok == len(got)
