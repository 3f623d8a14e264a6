"""Helpers for the archive tests: write records in one go, and where each one landed on disk."""
from __future__ import annotations

from pathlib import Path

from gridfree.ground.archive.layout import HEADER_SIZE, encode_record
from gridfree.ground.archive.segment import Record, SegmentWriter

DICT_HASH = "sha256:" + "0f" * 32


def write_segment(directory: Path, records: list[Record], **kw) -> Path:
    """One segment holding `records` (rotation off unless asked for); its path."""
    kw = {"max_bytes": 1 << 40, "durable": False, **kw}
    with SegmentWriter(directory, DICT_HASH, **kw) as w:
        for rec in records:
            w.append(rec)
    (path,) = sorted(directory.glob("seg-*.gfa"))
    return path


def spans(records: list[Record]) -> list[tuple[int, int]]:
    """(start, end) file offsets of each record in a single segment."""
    out, pos = [], HEADER_SIZE
    for rec in records:
        size = len(encode_record(rec))
        out.append((pos, pos + size))
        pos += size
    return out
