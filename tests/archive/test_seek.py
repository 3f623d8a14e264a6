"""A query by time reads a small part of a large segment, and returns the same records as a full
scan whether the index is good, missing, garbage or pointing at the wrong places."""
import os
import random
import shutil

import pytest

from gridfree.ground.archive.index import INDEX_HEADER_SIZE, decode_index, encode_entry, encode_index_header
from gridfree.ground.archive.layout import index_path
from gridfree.ground.archive.segment import Record, SegmentWriter, open_archive
from tests.archive.util import DICT_HASH, write_segment

N = 20_000
_rng = random.Random(11)
RECS = [Record(1.7e9 + i * 0.5, 1, 0, _rng.randbytes(_rng.randrange(16, 64))) for i in range(N)]
QUERIES = [RECS[_rng.randrange(N)].t_rx + _rng.choice((0.0, 0.25)) for _ in range(12)] + [0.0, 1.7e9 + N]


@pytest.fixture(scope="module")
def large(tmp_path_factory):
    """One 1 MB segment; each test gets its own copy to damage."""
    return write_segment(tmp_path_factory.mktemp("large"), RECS).parent


@pytest.fixture
def archive_dir(large, tmp_path):
    return shutil.copytree(large, tmp_path / "a")


def expect(t_from=None, t_to=None):
    return [r for r in RECS if (t_from is None or r.t_rx >= t_from) and (t_to is None or r.t_rx < t_to)]


def test_a_query_from_t_reads_only_from_near_t(archive_dir):
    size_bytes = next(archive_dir.glob("*.gfa")).stat().st_size
    for t_from in QUERIES:
        a = open_archive(archive_dir)
        got = list(a.records(t_from))
        assert got == expect(t_from)
        share = len(got) / N
        # The index has an entry every 64 KiB, and the reader reads 64 KiB chunks.
        assert a.stats.bytes_read <= share * size_bytes + (192 << 10), (t_from, a.stats)


def test_a_short_window_in_the_middle_reads_a_few_chunks(archive_dir):
    size_bytes = next(archive_dir.glob("*.gfa")).stat().st_size
    a = open_archive(archive_dir)
    t_from = RECS[N // 2].t_rx
    assert list(a.records(t_from, t_from + 60.0)) == expect(t_from, t_from + 60.0)
    assert a.stats.index_seeks == 1
    assert a.stats.bytes_read + a.open_bytes_read < size_bytes / 4


def rewrite_index(archive_dir, transform):
    path = index_path(next(archive_dir.glob("*.gfa")))
    path.write_bytes(transform(path.read_bytes()))


def shift_offsets(raw: bytes) -> bytes:
    """Every entry CRC-valid but pointing one record further on: what a stale index would say."""
    entries = decode_index(raw).entries
    moved = [e._replace(offset=nxt.offset) for e, nxt in zip(entries, entries[1:])]
    return encode_index_header() + b"".join(encode_entry(e) for e in moved)


def garble_entries(raw: bytes) -> bytes:
    return raw[:INDEX_HEADER_SIZE] + random.Random(5).randbytes(len(raw) - INDEX_HEADER_SIZE)


def claim_too_early(raw: bytes) -> bytes:
    """CRC-valid entries whose t_rx claims every record was earlier than it was."""
    return encode_index_header() + b"".join(encode_entry(e._replace(t_rx=e.t_rx - 1000.0))
                                            for e in decode_index(raw).entries)


@pytest.mark.parametrize("damage, note", [
    (lambda d: os.remove(index_path(next(d.glob("*.gfa")))), "missing"),
    (lambda d: rewrite_index(d, lambda raw: b"\0" * len(raw)), "header damaged"),
    (lambda d: rewrite_index(d, garble_entries), "damaged entries dropped"),
    (lambda d: rewrite_index(d, lambda raw: raw[:len(raw) // 2 + 7]), "torn last entry"),
    (lambda d: rewrite_index(d, shift_offsets), "do not match"),
    (lambda d: rewrite_index(d, claim_too_early), "do not match"),
])
def test_a_bad_index_costs_a_scan_never_a_wrong_answer(archive_dir, damage, note):
    damage(archive_dir)
    a = open_archive(archive_dir)
    assert note in a.segments[0].index_note
    assert a.segments[0].records == N and a.segments[0].last_t_rx == RECS[-1].t_rx
    for t_from in QUERIES[:4]:
        assert list(a.records(t_from, t_from + 100.0)) == expect(t_from, t_from + 100.0)
    assert a.stats.records_damaged == 0


def test_a_torn_index_still_serves_the_entries_before_the_tear(archive_dir):
    rewrite_index(archive_dir, lambda raw: raw[:len(raw) // 2 + 7])
    a = open_archive(archive_dir)
    t_from = RECS[N // 4].t_rx
    assert list(a.records(t_from)) == expect(t_from)
    assert (a.stats.index_seeks, a.stats.index_rejected) == (1, 0)


def test_seeking_is_exact_when_the_receive_clock_steps_back(tmp_path):
    # 0..99 s, then the clock steps back 50 s and runs on: 50..149 s.
    recs = [Record(float(t), 0, 0, bytes(500)) for t in list(range(100)) + list(range(50, 150))]
    write_segment(tmp_path, recs, index_every_records=7)
    a = open_archive(tmp_path)
    assert not a.segments[0].in_order and a.segments[0].t_max == 149.0
    for t_from, t_to in [(60.0, 70.0), (0.0, 10.0), (99.0, None), (120.0, 121.0), (None, 55.0)]:
        assert list(a.records(t_from, t_to)) == [r for r in recs if (t_from is None or r.t_rx >= t_from)
                                                 and (t_to is None or r.t_rx < t_to)]
    # In order, a window stops at t_to; out of order, it must read on to the end.
    in_order = open_archive(write_segment(tmp_path / "sorted", sorted(recs, key=lambda r: r.t_rx),
                                          index_every_records=7).parent)
    assert list(in_order.records(10.0, 12.0)) == [r for r in sorted(recs, key=lambda r: r.t_rx) if 10 <= r.t_rx < 12]
    assert in_order.stats.records_ok < 10


def test_segments_outside_the_window_are_not_read(tmp_path):
    recs = [Record(1000.0 + i, 0, 0, bytes(200)) for i in range(100)]
    with SegmentWriter(tmp_path, DICT_HASH, max_bytes=2500, durable=False) as w:
        for r in recs:
            w.append(r)
    a = open_archive(tmp_path)
    assert [s.records for s in a.segments] == [10] * 10
    assert list(a.records(1080.0, 1085.0)) == recs[80:85]
    assert a.stats.records_ok == 6  # 80..85 of the ninth segment; the others are never read
