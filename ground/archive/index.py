"""The sidecar index of a segment (`<segment>.idx`): where to start reading for a given time,
so that a query for the last minute of a 64 MiB segment reads kilobytes, not the segment.

The index is a hint, never a source of records: each entry has its own CRC, and the reader
uses an entry only after finding, at its offset, an intact record with the entry's t_rx. A missing,
torn or damaged index therefore costs time (a scan), never data. An entry whose CRC checks is also held to what can be
checked without reading the segment (`_plausible`: its running maximum no lower than the entry
before it and its record, its order flag consistent, room for the records it counts), so a broken
writer's lie is dropped too. It is append-only and written
after the segment data it points to is durable, so after a crash it lags the data, never leads it.

Big-endian, like the segment. Index header (INDEX_HEADER_SIZE = 14 bytes)::

    0   8  magic 89 47 46 49 0D 0A 1A 0A  ("\\x89GFI\\r\\n\\x1a\\n")
    8   2  format version, u16 (1)
    10  4  CRC-32 of bytes 0..9

Then fixed-size entries (ENTRY_SIZE = 40 bytes) at 14 + 40*k::

    0   8  offset of the record in the segment file, u64
    8   8  ordinal: how many records precede it in the segment, u64
    16  8  t_rx of that record, f64
    24  8  t_max_before: the largest t_rx of all records before it, f64 (-inf for the first)
    32  4  flags, u32: bit 0 IN_ORDER = t_rx never decreased from the first record up to this one
    36  4  CRC-32 of bytes 0..35

t_max_before makes seeking exact even when a receive clock stepped back: every record before an
entry with t_max_before < t_from is older than t_from, whatever order they came in. IN_ORDER lets
a reader stop at the first record past t_to; without it, it must read to the end of the segment.

The writer adds an entry for the first record, then whenever `every_records` records or
`every_bytes` bytes have been appended since the last entry.
"""
from __future__ import annotations

import bisect
import math
import struct
import zlib
from collections.abc import Iterator
from typing import Final, NamedTuple

from gridfree.ground.archive.layout import RECORD_OVERHEAD

INDEX_MAGIC: Final = b"\x89GFI\r\n\x1a\n"
INDEX_VERSION: Final = 1
IN_ORDER: Final = 1

_HEAD = struct.Struct(">8sH")
_ENTRY = struct.Struct(">QQddI")
_CRC = struct.Struct(">I")
INDEX_HEADER_SIZE: Final = _HEAD.size + _CRC.size
ENTRY_SIZE: Final = _ENTRY.size + _CRC.size


class IndexEntry(NamedTuple):
    offset: int
    ordinal: int
    t_rx: float
    t_max_before: float
    in_order: bool


class IndexRead(NamedTuple):
    entries: list[IndexEntry]
    bad_entries: int
    """Entries dropped: CRC mismatch, or an offset/ordinal not after the previous good entry."""
    torn_bytes: int
    """A partial last entry, as a crash during the index append leaves it."""


def encode_index_header() -> bytes:
    head = _HEAD.pack(INDEX_MAGIC, INDEX_VERSION)
    return head + _CRC.pack(zlib.crc32(head))


def encode_entry(e: IndexEntry) -> bytes:
    body = _ENTRY.pack(e.offset, e.ordinal, e.t_rx, e.t_max_before, IN_ORDER if e.in_order else 0)
    return body + _CRC.pack(zlib.crc32(body))


def decode_index(buf: bytes) -> IndexRead | None:
    """The good entries of an index file, or None when its header is not one this module wrote."""
    if len(buf) < INDEX_HEADER_SIZE or buf[:INDEX_HEADER_SIZE] != encode_index_header():
        return None
    entries: list[IndexEntry] = []
    bad = 0
    end = INDEX_HEADER_SIZE + (len(buf) - INDEX_HEADER_SIZE) // ENTRY_SIZE * ENTRY_SIZE
    for pos in range(INDEX_HEADER_SIZE, end, ENTRY_SIZE):
        offset, ordinal, t_rx, t_max, flags = _ENTRY.unpack_from(buf, pos)
        (crc,) = _CRC.unpack_from(buf, pos + _ENTRY.size)
        e = IndexEntry(offset, ordinal, t_rx, t_max, bool(flags & IN_ORDER))
        if crc != zlib.crc32(buf[pos:pos + _ENTRY.size]) or not _plausible(e, entries[-1] if entries else None):
            bad += 1
            continue
        entries.append(e)
    return IndexRead(entries, bad, len(buf) - end)


def _plausible(e: IndexEntry, prev: IndexEntry | None) -> bool:
    """Whether an entry whose CRC checks agrees with itself and with the good entry before it: a
    writer's lie about the times before it would make a query skip records, so what can be checked
    without reading the segment is (the first entry has nothing before it; every later one has at
    least the records between, each of at least RECORD_OVERHEAD octets, and a running maximum no
    lower than the previous entry's record)."""
    if not math.isfinite(e.t_rx) or math.isnan(e.t_max_before) or e.t_max_before == math.inf:
        return False
    if e.ordinal == 0:
        return prev is None and e.t_max_before == -math.inf and e.in_order
    if prev is None:
        return math.isfinite(e.t_max_before) and (not e.in_order or e.t_rx >= e.t_max_before)
    return (e.offset - prev.offset >= (e.ordinal - prev.ordinal) * RECORD_OVERHEAD > 0
            and e.t_max_before >= max(prev.t_max_before, prev.t_rx)
            and (not e.in_order or (prev.in_order and e.t_rx >= e.t_max_before)))


def seek_candidates(entries: list[IndexEntry], t_from: float) -> Iterator[IndexEntry]:
    """Entries from which reading finds every record with t_rx >= t_from, best first. The caller
    tries them in turn until one validates; if none does, it reads from the start."""
    k = bisect.bisect_left([e.t_max_before for e in entries], t_from)
    return reversed(entries[:k])


class IndexBuilder:
    """The writer's side: decides which records get an entry and tracks the running maximum and
    order that the entries carry."""

    def __init__(self, every_records: int, every_bytes: int):
        if every_records < 1 or every_bytes < 1:
            raise ValueError("index spacing must be at least one record and one byte")
        self.every_records, self.every_bytes = every_records, every_bytes
        self.ordinal = 0
        self.t_max = -math.inf
        self.in_order = True
        self._last: tuple[int, int] | None = None  # (ordinal, offset) of the last entry

    def note(self, offset: int, t_rx: float) -> bytes:
        """Account for the record about to be written at `offset`; the entry bytes for it, or b""."""
        self.in_order = self.in_order and t_rx >= self.t_max
        entry = b""
        if (self._last is None or self.ordinal - self._last[0] >= self.every_records
                or offset - self._last[1] >= self.every_bytes):
            entry = encode_entry(IndexEntry(offset, self.ordinal, t_rx, self.t_max, self.in_order))
            self._last = (self.ordinal, offset)
        self.ordinal += 1
        self.t_max = max(self.t_max, t_rx)
        return entry
