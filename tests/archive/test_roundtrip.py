"""Everything appended comes back identical and in order, across rotations by size and by age."""
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, strategies as st

from gridfree.ground.archive.segment import Record, SegmentWriter, WriterBusyError, open_archive
from tests.archive.util import DICT_HASH

records_st = st.builds(Record, st.floats(allow_nan=False, allow_infinity=False), st.integers(0, 0xFFFF),
                       st.integers(0, 0xFFFF), st.binary(max_size=300))


@given(recs=st.lists(records_st, max_size=40), max_bytes=st.integers(150, 3000), every=st.integers(1, 5),
       flushes=st.lists(st.booleans(), min_size=1), data=st.data())
def test_records_come_back_identical_across_size_rotation(recs, max_bytes, every, flushes, data):
    with tempfile.TemporaryDirectory() as tmp:
        with SegmentWriter(tmp, DICT_HASH, max_bytes=max_bytes, durable=False, index_every_records=every) as w:
            for i, rec in enumerate(recs):
                w.append(rec)
                if flushes[i % len(flushes)]:
                    assert w.flush() == i + 1 == w.stats.acknowledged
        a = open_archive(tmp)
        assert list(a.records()) == recs
        assert a.errors == [] and a.stats.records_damaged == 0 and a.stats.torn_tail == {}
        assert sum(s.records for s in a.segments) == len(recs)
        for seg in a.segments:
            assert seg.dictionary_hash == DICT_HASH
            assert seg.path.stat().st_size <= max_bytes or seg.records == 1
        # Arbitrary floats are rarely in order: seeking must stay exact when t_rx goes backwards.
        times = [r.t_rx for r in recs] + [0.0, 1e300]
        t_from = data.draw(st.one_of(st.none(), st.sampled_from(times)))
        t_to = data.draw(st.one_of(st.none(), st.sampled_from(times)))
        want = [r for r in recs if (t_from is None or r.t_rx >= t_from) and (t_to is None or r.t_rx < t_to)]
        assert list(a.records(t_from, t_to)) == want


def test_segments_rotate_by_age_on_the_writer_clock(tmp_path):
    now = [1000.0]
    recs = [Record(1.7e9 + i, 1, 0, b"frame %d" % i) for i in range(12)]
    with SegmentWriter(tmp_path, DICT_HASH, max_age_s=10.0, durable=False, clock=lambda: now[0]) as w:
        for rec in recs:
            w.append(rec)
            now[0] += 3.0  # the 5th record comes 12 s after the segment began
    a = open_archive(tmp_path)
    assert [s.records for s in a.segments] == [4, 4, 4]
    assert [s.created_s for s in a.segments] == [1000.0, 1012.0, 1024.0]
    assert [(s.first_t_rx, s.last_t_rx) for s in a.segments] == [(recs[i].t_rx, recs[i + 3].t_rx) for i in (0, 4, 8)]
    assert list(a.records()) == recs


def test_a_wall_clock_stepping_back_does_not_reorder_segments(tmp_path):
    now = [0.0]
    recs = [Record(float(i), 0, 0, bytes(50)) for i in range(3)]
    with SegmentWriter(tmp_path, DICT_HASH, max_bytes=100, durable=False, clock=lambda: now[0]) as w:
        for rec, wall_s in zip(recs, [5000.0, 10.0, 20.0]):
            now[0] = wall_s
            w.append(rec)
    a = open_archive(tmp_path)
    assert [s.created_s for s in a.segments] == [5000.0, 10.0, 20.0]
    assert list(a.records()) == recs


def test_durable_flush_acknowledges_exactly_what_was_appended(tmp_path):
    with SegmentWriter(tmp_path, DICT_HASH, max_bytes=4096) as w:
        for i in range(100):
            w.append(Record(float(i), 0, 0, bytes(100)))
        assert (w.stats.appended, w.stats.acknowledged) == (100, 0)
        assert w.flush() == 100
        assert w.stats.segments == len(list(tmp_path.glob("seg-*.gfa"))) > 1
        assert w.stats.bytes == sum(p.stat().st_size for p in tmp_path.glob("seg-*.gfa"))
    assert len(list(open_archive(tmp_path).records())) == 100


def test_a_second_writer_is_refused_and_a_later_one_continues_the_archive(tmp_path):
    first = [Record(1.0, 0, 0, b"a"), Record(2.0, 0, 0, b"b")]
    with SegmentWriter(tmp_path, DICT_HASH, durable=False) as w:
        w.append(first[0])
        with pytest.raises(WriterBusyError, match=str(tmp_path)):
            SegmentWriter(tmp_path, DICT_HASH)
        w.append(first[1])
    later = [Record(3.0, 0, 0, b"c")]
    with SegmentWriter(tmp_path, "sha256:" + "11" * 32, durable=False) as w:
        w.append(later[0])
    a = open_archive(tmp_path)
    assert list(a.records()) == first + later
    assert [s.dictionary_hash for s in a.segments] == [DICT_HASH, "sha256:" + "11" * 32]


@pytest.mark.parametrize("rec, what", [
    (Record(float("nan"), 0, 0, b""), "t_rx"),
    (Record(float("inf"), 0, 0, b""), "t_rx"),
    (Record(1.0, 0x10000, 0, b""), "link"),
    (Record(1.0, 0, -1, b""), "flags"),
    (Record(1.0, 0, 0, bytes(0x10000)), "data"),
])
def test_records_the_format_cannot_hold_are_refused_at_append(tmp_path, rec, what):
    with SegmentWriter(tmp_path, DICT_HASH, durable=False) as w:
        with pytest.raises(ValueError, match=what):
            w.append(rec)
        w.append(Record(1.0, 0, 0, bytes(0xFFFF)))
        assert w.stats.appended == 1
    assert [len(r.data) for r in open_archive(tmp_path).records()] == [0xFFFF]


def test_a_dictionary_hash_that_does_not_fit_the_header_is_refused(tmp_path):
    with pytest.raises(ValueError, match="dictionary hash"):
        SegmentWriter(tmp_path, "x" * 81)
    assert not list(Path(tmp_path).glob("seg-*"))
