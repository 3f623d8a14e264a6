"""Reading the records of one segment file forward from an offset, surviving whatever damage it
finds: a bad record costs that record, never the ones after it.

After anything that is not an intact record, the scan hunts for the next sync marker whose
header CRC and then record CRC check, starting one byte after the failure rather than jumping by
the failed record's length, which may come from a false header inside a payload. The bytes passed over
are one damaged stretch, counted as the number of complete records with a good header but a bad
record CRC in it, and at least one; `records_damaged` is a lower bound when damage wiped several
headers. A stretch that runs to the end of the file and holds no such complete record is a torn
tail, as a crash mid-append leaves it: reported, not counted as damage. (So damage to the header
of a file's last record is reported as a torn tail: the two look the same.)
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO, Final

from gridfree.ground.archive.layout import SYNC_BYTES, Record, Status, parse_record

CHUNK_BYTES: Final = 64 << 10


@dataclass
class ReadStats:
    """What reading cost and what it found; counters only grow, so callers compare snapshots."""

    records_ok: int = 0
    records_damaged: int = 0
    """Damaged stretches, each counted as the good record headers in it and at least one."""
    bytes_skipped: int = 0
    """Bytes in damaged stretches (not counting torn tails)."""
    bytes_read: int = 0
    """Every byte read from segment and index files, including index validation."""
    index_seeks: int = 0
    """Queries that started inside a segment at a validated index entry."""
    index_rejected: int = 0
    """Index entries that did not match the record at their offset and were passed over."""
    index_fallbacks: int = 0
    """Queries with a start time that read a segment from its beginning for want of a good entry."""
    torn_tail: dict[str, int] = field(default_factory=dict)
    """Segment file name -> bytes after its last intact record that hold no intact record."""


def scan(f: BinaryIO, start: int, stats: ReadStats, name: str) -> Iterator[tuple[int, Record]]:
    """(offset, record) for every intact record from `start` to the end of the file `f`, which is
    named `name` in stats.torn_tail."""
    f.seek(start)
    buf, base, pos, eof = b"", start, 0, False
    stretch_start, stretch_headers = -1, 0
    while True:
        p = parse_record(buf, pos)
        if p.status is Status.NEED and not eof:
            buf, base, pos = buf[pos:], base + pos, 0
            chunk = f.read(max(CHUNK_BYTES, p.size - len(buf)))
            stats.bytes_read += len(chunk)
            eof = not chunk
            buf += chunk
            continue
        if p.status is Status.OK:
            if stretch_start >= 0:
                stats.records_damaged += max(1, stretch_headers)
                stats.bytes_skipped += base + pos - stretch_start
                stretch_start = -1
            stats.records_ok += 1
            yield base + pos, p.record
            pos += p.size
            continue
        if pos >= len(buf):
            break
        if stretch_start < 0:
            stretch_start, stretch_headers = base + pos, 0
        stretch_headers += p.status is Status.BAD and p.header_ok
        nxt = buf.find(SYNC_BYTES, pos + 1)
        if nxt >= 0:
            pos = nxt
        elif eof:
            pos = len(buf)
        else:  # keep the last bytes: a sync marker may straddle the next chunk
            pos = max(pos + 1, len(buf) - len(SYNC_BYTES) + 1)
    if stretch_start >= 0 and stretch_headers:
        stats.records_damaged += stretch_headers
        stats.bytes_skipped += base + len(buf) - stretch_start
    elif stretch_start >= 0:
        stats.torn_tail[name] = base + len(buf) - stretch_start
