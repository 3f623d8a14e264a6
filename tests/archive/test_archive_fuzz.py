"""The archive's readers fed damaged segments and indexes whose CRCs were fixed up after the damage,
so lying lengths, times and offsets reach the parser: opening, queries by time, bulk decoding and
replay each report the damage (`Archive.errors`, `ReadStats`, `Decoded.notes`) and keep every record
before it, never raising and never reading past the bytes present."""
import math
import random
import struct
import zlib

import numpy as np
import pytest

from gridfree.flight.app import topology
from gridfree.ground.archive import bulk, dictionaries
from gridfree.ground.archive.index import ENTRY_SIZE, INDEX_HEADER_SIZE
from gridfree.ground.archive.layout import HEADER_SIZE, RECORD_HEADER_SIZE, Record, encode_record, index_path
from gridfree.ground.archive.reader import open_archive
from gridfree.ground.archive.replay import ReplayClient
from gridfree.ground.archive.segment import SegmentWriter
from gridfree.protocols.config import LinkConfig

FRAME = LinkConfig().tm_frame_octets


def _crc(data: bytearray, start: int, end: int) -> None:
    """Make the CRC-32 at data[end:end+4] cover data[start:end] again."""
    data[end:end + 4] = struct.pack(">I", zlib.crc32(bytes(data[start:end])))


def _records(rng: random.Random) -> list[Record]:
    return [Record(1.7e9 + k * 0.5, 0, 0, bytes(rng.randrange(256) for _ in range(rng.choice((FRAME, 3, 200)))))
            for k in range(24)]


def mutate(seg: bytes, idx: bytes, spans, rng: random.Random) -> tuple[bytes, bytes, int]:
    """Damaged copies of a segment and its index, and the first record the damage can touch."""
    seg, idx = bytearray(seg), bytearray(idx)
    how = rng.choice(("record", "record", "lying length", "header", "index", "cut", "garbage"))
    first = len(spans)
    if how in ("record", "lying length"):
        first = rng.randrange(len(spans))
        start, end = spans[first]
        if how == "record":
            for _ in range(rng.choice((1, 4))):
                seg[rng.randrange(start, end)] ^= 1 << rng.randrange(8)
        else:
            seg[start + 4:start + 8] = struct.pack(">I", rng.choice((0, 1, 65535, 65536, 2**32 - 1,
                                                                     rng.randrange(end - start))))
        if rng.random() < 0.5:
            seg[start + 8:start + 16] = struct.pack(">d", rng.choice((math.nan, math.inf, -1e300, 0.0)))
        _crc(seg, start, start + RECORD_HEADER_SIZE - 4)  # the header CRC vouches for the lie
        n = struct.unpack_from(">I", seg, start + 4)[0]
        if start + RECORD_HEADER_SIZE + n + 4 <= len(seg):
            _crc(seg, start, start + RECORD_HEADER_SIZE + n)
    elif how == "header":
        at = rng.choice((8, 9, rng.randrange(10, 90), rng.randrange(90, 98)))
        seg[at] = rng.randrange(256)
        _crc(seg, 0, HEADER_SIZE - 4)
        first = 0
    elif how == "index":
        entries = (len(idx) - INDEX_HEADER_SIZE) // ENTRY_SIZE
        for _ in range(rng.choice((1, 3))):
            k = rng.randrange(entries)
            at = INDEX_HEADER_SIZE + k * ENTRY_SIZE
            field = rng.choice((0, 8, 16, 24))
            seg_len = len(seg)
            value = (struct.pack(">Q", rng.choice((0, seg_len, seg_len + 100, 2**64 - 1, rng.randrange(seg_len))))
                     if field < 16 else struct.pack(">d", rng.choice((math.nan, -math.inf, math.inf, 1.7e9 + 3))))
            idx[at + field:at + field + 8] = value
            _crc(idx, at, at + ENTRY_SIZE - 4)
    elif how == "cut":
        cut = rng.randrange(len(seg))
        seg = seg[:cut]
        first = sum(end <= cut for _, end in spans)
    else:
        seg += bytes(rng.randrange(256) for _ in range(rng.randrange(1, 400)))
    return bytes(seg), bytes(idx), first


def damage_on_disk(seg_path, good_seg: bytes, good_idx: bytes, spans, rng: random.Random) -> tuple[bytes, bytes, int]:
    """`mutate`, written over the segment and its index where the readers will find them."""
    data, idx, first = mutate(good_seg, good_idx, spans, rng)
    seg_path.write_bytes(data)
    index_path(seg_path).write_bytes(idx)
    return data, idx, first


@pytest.fixture(scope="module")
def log(tmp_path_factory):
    """A one-segment log written by the real writer, its dictionary beside it."""
    d = topology.dictionary()
    directory = tmp_path_factory.mktemp("log")
    dictionaries.store(directory, d)
    rng = random.Random(1620)
    records = _records(rng)
    with SegmentWriter(directory, d.hash, durable=False, index_every_records=3) as w:
        for rec in records:
            w.append(rec)
    (seg,) = directory.glob("seg-*.gfa")
    spans, pos = [], HEADER_SIZE
    for rec in records:
        spans.append((pos, pos + len(encode_record(rec))))
        pos = spans[-1][1]
    return directory, seg, seg.read_bytes(), index_path(seg).read_bytes(), records, spans, d


def test_opening_and_querying_a_damaged_segment_keep_every_record_before_the_damage(log):
    directory, seg, good_seg, good_idx, records, spans, _ = log
    rng = random.Random(1621)
    reported = 0
    for _ in range(700):
        data, idx, first = damage_on_disk(seg, good_seg, good_idx, spans, rng)
        archive = open_archive(directory)
        if archive.errors:  # the header did not decode: the segment is reported, not read
            assert archive.segments == [] and first == 0
            reported += 1
            continue
        got = list(archive.records())
        assert got[:first] == records[:first]
        t_from, t_to = 1.7e9 + rng.randrange(24) * 0.5, 1.7e9 + rng.randrange(24) * 0.5
        window = list(archive.records(t_from, t_to))
        assert window == [r for r in got if t_from <= r.t_rx < t_to]
        s = archive.stats
        reported += bool(s.records_damaged or s.torn_tail or s.index_rejected or archive.segments[0].index_note != "ok")
        assert s.bytes_read <= 4 * len(data) + 2 * len(idx) + 64 * 1024  # never a read past the file's bytes
        archive.report()
    assert reported > 400


def test_bulk_decoding_a_damaged_segment_reports_damage_and_never_raises(log):
    directory, seg, good_seg, good_idx, _, spans, d = log
    rng = random.Random(1622)
    damaged = 0
    for _ in range(200):
        data, idx, _ = damage_on_disk(seg, good_seg, good_idx, spans, rng)
        out = bulk.decode(directory, dictionary=d)
        damaged += bool(out.records_damaged or out.notes)
        assert all(len(t) == len(v) and np.all(np.isfinite(t)) for t, v in out.series.values())
    assert damaged > 60


def test_replaying_a_damaged_segment_plays_what_is_intact(log):
    directory, seg, good_seg, good_idx, records, spans, d = log
    rng = random.Random(1623)
    for _ in range(25):
        data, idx, first = damage_on_disk(seg, good_seg, good_idx, spans, rng)
        try:
            replay = ReplayClient(directory, d, speed=math.inf)
        except Exception as exc:  # only the documented refusal: no readable segment
            assert type(exc).__name__ == "ReplayError" and first == 0
            continue
        with replay:
            assert replay.finished.wait(10)
        assert replay.frames_replayed >= first
    seg.write_bytes(good_seg)
    index_path(seg).write_bytes(good_idx)
