"""Opening an archive directory and reading its records back in order, by time range.

Opening reads each segment's header, its index and the records after the last index entry that
checks out, so it costs kilobytes per segment, not the segment. A segment whose header cannot be
read is reported in `Archive.errors` and left out; the others open as usual.

Segments are read in the order of their sequence numbers, which is append order. Within a segment
a query starts at the last index entry that vouches for every earlier record being older than
t_from, and stops at the first record at or after t_to when the segment's receive times never
decreased. When they did (a receive clock stepped back), the start is still exact but the query
reads to the end of the segment; records always come back in append order, filtered to
t_from <= t_rx < t_to. Index entries are used only after the record at their offset is found
intact and with their t_rx, so a bad index makes a query slower, never wrong.
"""
from __future__ import annotations

import bisect
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from gridfree.ground.archive.index import IndexEntry, decode_index, seek_candidates
from gridfree.ground.archive.layout import (HEADER_SIZE, RECORD_HEADER_SIZE, HeaderError, Record, Status,
                                            decode_header, index_path, parse_record, segment_seq)
from gridfree.ground.archive.scan import ReadStats, scan


class SegmentError(Exception):
    """A segment file that cannot be read at all; the archive reports it and opens the rest."""

    def __init__(self, path: Path, reason: str):
        super().__init__(f"{path}: {reason}")
        self.path, self.reason = path, reason


@dataclass(frozen=True)
class SegmentInfo:
    path: Path
    version: int
    dictionary_hash: str
    created_s: float
    first_t_rx: float | None
    """t_rx of the first intact record, or of the second when earlier (None when there is none)."""
    last_t_rx: float | None
    """t_rx of the last intact record."""
    t_max: float | None
    """The largest t_rx in the segment; equal to last_t_rx when in_order."""
    records: int
    """Records written as far as the reader can tell: those the last good index entry counts before
    itself (damaged ones included), plus the intact records from there on."""
    in_order: bool
    """t_rx never decreased within the segment."""
    torn_tail_bytes: int
    """Bytes after the last intact record holding no intact record (a crash mid-append)."""
    index_note: str
    """How the index served: 'ok', or why it was missing, damaged or partly unusable."""
    entries: tuple[IndexEntry, ...] = field(repr=False, compare=False)


class Archive:
    """The records of one archive directory, read-only."""

    def __init__(self, directory: Path, segments: list[SegmentInfo], errors: list[SegmentError],
                 open_bytes_read: int):
        self.directory = directory
        self.segments = segments
        self.errors = errors
        """Segments left out, each naming its file and what is wrong with it."""
        self.open_bytes_read = open_bytes_read
        self.stats = ReadStats()
        """What queries have read and found so far (opening is counted in open_bytes_read)."""

    def records(self, t_from: float | None = None, t_to: float | None = None) -> Iterator[Record]:
        """Intact records with t_from <= t_rx < t_to (either bound may be None), in append order."""
        for seg in self.segments:
            if t_from is not None and seg.t_max is not None and seg.t_max < t_from:
                continue
            if t_to is not None and seg.in_order and seg.first_t_rx is not None and seg.first_t_rx >= t_to:
                continue
            with open(seg.path, "rb", buffering=0) as f:
                start = HEADER_SIZE if t_from is None else self._start(f, seg, t_from)
                for offset, rec in scan(f, start, self.stats, seg.path.name):
                    if t_to is not None and rec.t_rx >= t_to:
                        if seg.in_order and not _out_of_place(seg, offset, rec.t_rx):
                            break
                        continue
                    if t_from is None or rec.t_rx >= t_from:
                        yield rec

    def _start(self, f: BinaryIO, seg: SegmentInfo, t_from: float) -> int:
        for e in seek_candidates(list(seg.entries), t_from):
            if _validate(f, e, self.stats):
                self.stats.index_seeks += 1
                return e.offset
            self.stats.index_rejected += 1
        self.stats.index_fallbacks += 1
        return HEADER_SIZE

    def report(self) -> str:
        """A summary for an operator: what is there, what is damaged, what was lost."""
        s = self.stats
        lines = [f"archive {self.directory}: {len(self.segments)} segments, {len(self.errors)} unreadable"]
        lines += [f"  unreadable {e}" for e in self.errors]
        for seg in self.segments:
            torn = f", torn tail {seg.torn_tail_bytes} bytes" if seg.torn_tail_bytes else ""
            lines.append(f"  {seg.path.name}: {seg.records} records, index {seg.index_note}{torn}")
        lines.append(f"  read: {s.records_ok} records ok, {s.records_damaged} damaged, "
                     f"{s.bytes_skipped} bytes skipped, {s.bytes_read} bytes read; index: {s.index_seeks} seeks, "
                     f"{s.index_rejected} entries rejected, {s.index_fallbacks} fallbacks to scanning")
        lines += [f"  torn tail: {name} {n} bytes" for name, n in s.torn_tail.items()]
        return "\n".join(lines)


def open_archive(directory: str | os.PathLike) -> Archive:
    """Open every segment of an archive directory; never raises for a bad segment."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"archive directory {directory} does not exist")
    stats, segments, errors = ReadStats(), [], []
    for path in sorted(directory.glob("seg-*.gfa")):  # zero-padded sequence numbers: name order is append order
        try:
            if segment_seq(path) is None:
                raise SegmentError(path, "name does not follow seg-<seq>-<unix ms>.gfa, "
                                         "so its place in the archive is unknown")
            segments.append(_survey(path, stats))
        except SegmentError as exc:
            errors.append(exc)
        except OSError as exc:
            errors.append(SegmentError(path, f"cannot read: {exc.strerror}"))
    return Archive(directory, segments, errors, stats.bytes_read)


def _out_of_place(seg: SegmentInfo, offset: int, t_rx: float) -> bool:
    """Whether a record of an in-order segment is later than the index entry after it: its time
    was damaged (with its CRCs made to match), so it must not end a query before the records after
    it. Past the last entry the survey read every record, so in_order is known there."""
    k = bisect.bisect_right([e.offset for e in seg.entries], offset)
    return k < len(seg.entries) and t_rx > seg.entries[k].t_rx


def _record_at(f: BinaryIO, offset: int, stats: ReadStats) -> Record | None:
    """The intact record starting exactly at `offset`, reading no more than it, or None."""
    f.seek(offset)
    buf = f.read(RECORD_HEADER_SIZE)
    p = parse_record(buf, 0)
    if p.status is Status.NEED and p.header_ok:
        buf += f.read(p.size - len(buf))
        p = parse_record(buf, 0)
    stats.bytes_read += len(buf)
    return p.record if p.status is Status.OK else None


def _validate(f: BinaryIO, e: IndexEntry, stats: ReadStats) -> bool:
    """Whether an intact record with the entry's t_rx starts at the entry's offset."""
    rec = _record_at(f, e.offset, stats)
    return rec is not None and rec.t_rx == e.t_rx


def _load_index(path: Path, stats: ReadStats) -> tuple[list[IndexEntry], str]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return [], "missing: segment scanned"
    except OSError as exc:
        return [], f"unreadable ({exc.strerror}): segment scanned"
    stats.bytes_read += len(raw)
    read = decode_index(raw)
    if read is None:
        return [], "header damaged: segment scanned"
    notes = [f"{read.bad_entries} damaged entries dropped"] if read.bad_entries else []
    notes += [f"torn last entry ({read.torn_bytes} bytes)"] if read.torn_bytes else []
    return read.entries, "; ".join(notes) or "ok"


def _survey(path: Path, stats: ReadStats) -> SegmentInfo:
    """Header, index and the records after the last good index entry: enough to describe the
    segment without reading all of it."""
    with open(path, "rb", buffering=0) as f:
        head = f.read(HEADER_SIZE)
        stats.bytes_read += len(head)
        try:
            header = decode_header(head)
        except HeaderError as exc:
            raise SegmentError(path, str(exc)) from None
        entries, note = _load_index(index_path(path), stats)
        size = os.fstat(f.fileno()).st_size
        dropped = 0
        while entries and not (entries[-1].offset < size and _validate(f, entries[-1], stats)):
            entries.pop()
            dropped += 1
        if dropped:
            note = ("" if note == "ok" else note + "; ") + f"{dropped} last entries do not match the segment"
            note += "" if entries else ": segment scanned"
        tail = ReadStats()
        start = entries[-1] if entries else None
        t_max = start.t_max_before if start else -math.inf
        in_order = start.in_order if start else True
        count, first, last = (start.ordinal if start else 0), None, None
        for _, rec in scan(f, start.offset if start else HEADER_SIZE, tail, path.name):
            in_order = in_order and rec.t_rx >= t_max
            t_max = max(t_max, rec.t_rx)
            first = rec.t_rx if first is None else first
            last = rec.t_rx
            count += 1
        if start and start.offset != HEADER_SIZE:
            firsts = scan(f, HEADER_SIZE, tail, path.name)
            two = [r.t_rx for _, r in (next(firsts, (0, None)), next(firsts, (0, None))) if r is not None]
            first = min(two) if two else None  # a first record whose time was damaged must not hide the rest
        stats.bytes_read += tail.bytes_read
    return SegmentInfo(path, header.version, header.dictionary_hash, header.created_s, first, last,
                       None if last is None else t_max, count, in_order, tail.torn_tail.get(path.name, 0),
                       note, tuple(entries))
