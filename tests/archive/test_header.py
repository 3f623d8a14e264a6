"""A segment whose header cannot be read is named in a clear error, and the archive opens the rest."""
import struct
import zlib

import pytest

from gridfree.ground.archive.layout import HEADER_SIZE, VERSION
from gridfree.ground.archive.segment import Record, SegmentWriter, open_archive
from tests.archive.util import DICT_HASH

RECS = [Record(100.0 + i, 0, 0, bytes([i]) * 100) for i in range(9)]


@pytest.fixture
def three_segments(tmp_path):
    with SegmentWriter(tmp_path, DICT_HASH, max_bytes=HEADER_SIZE + 3 * 128, durable=False) as w:
        for r in RECS:
            w.append(r)
    paths = sorted(tmp_path.glob("seg-*.gfa"))
    assert len(paths) == 3
    return paths


def with_version(blob: bytes, version: int) -> bytes:
    """The header of a later format: a valid CRC over a version this reader does not know."""
    head = bytearray(blob[:HEADER_SIZE])
    head[8:10] = struct.pack(">H", version)
    head[-4:] = struct.pack(">I", zlib.crc32(head[:-4]))
    return bytes(head) + blob[HEADER_SIZE:]


@pytest.mark.parametrize("damage, reason", [
    (lambda b: b"PK\x03\x04" + b[4:], "bad magic"),
    (lambda b: with_version(b, VERSION + 1), f"unknown format version {VERSION + 1}"),
    (lambda b: b[:50] + bytes([b[50] ^ 1]) + b[51:], "header CRC mismatch"),
    (lambda b: b[:HEADER_SIZE - 1], "header truncated at 101"),
    (lambda b: b"", "header truncated at 0"),
])
def test_a_bad_header_is_reported_by_name_and_the_rest_still_opens(three_segments, damage, reason):
    bad = three_segments[1]
    bad.write_bytes(damage(bad.read_bytes()))
    a = open_archive(bad.parent)
    (err,) = a.errors
    assert err.path == bad and bad.name in str(err) and reason in str(err)
    assert [s.path for s in a.segments] == [three_segments[0], three_segments[2]]
    assert list(a.records()) == RECS[:3] + RECS[6:]
    assert bad.name in a.report() and reason in a.report()


def test_a_file_not_named_by_the_writer_is_reported_not_guessed_at(three_segments):
    stray = three_segments[0].with_name("seg-copy.gfa")
    stray.write_bytes(three_segments[0].read_bytes())
    a = open_archive(stray.parent)
    assert [e.path for e in a.errors] == [stray] and "name" in a.errors[0].reason
    assert list(a.records()) == RECS


def test_a_missing_directory_is_an_error_not_an_empty_archive(tmp_path):
    with pytest.raises(FileNotFoundError, match="nowhere"):
        open_archive(tmp_path / "nowhere")
