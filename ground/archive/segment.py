"""Writing the archive: append-only segment files that survive kill -9 and power loss.

The format is in layout.py (segment files) and index.py (their sidecar indexes); the reading side
is reader.py, re-exported here so that one import serves both.

Durability protocol. `append` only encodes into memory, so it never blocks on the disk and a bad
record is refused at once. `flush` then, for each segment with pending bytes, oldest first:
writes them, fsyncs the segment file, appends the index entries for them and fsyncs the index,
and, when a file is new, fsyncs the directory so its name survives too. Only then are the
records acknowledged. A crash at any point leaves acknowledged records intact and at most a torn
tail after them, which the reader reports; the index, written after the data, can only lag.

Segments are never reopened: a new writer (after a crash, say) starts a new segment with the next
sequence number, so a torn tail is always the end of its file. One writer per directory is
enforced with an advisory lock on `writer.lock`.
"""
from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from gridfree.ground.archive.index import IndexBuilder, encode_index_header
from gridfree.ground.archive.layout import (HEADER_SIZE, Record, encode_header, encode_record, index_path,
                                            segment_name, segment_seq)
from gridfree.ground.archive.reader import Archive, SegmentError, SegmentInfo, open_archive

__all__ = ["Archive", "Record", "SegmentError", "SegmentInfo", "SegmentWriter", "WriterBusyError", "WriterStats",
           "open_archive"]


class WriterBusyError(RuntimeError):
    """Another SegmentWriter (in this or another process) holds the directory."""


@dataclass
class WriterStats:
    appended: int = 0
    acknowledged: int = 0
    """Records that will survive a crash: written and, when durable, fsynced."""
    segments: int = 0
    """Segments this writer started."""
    bytes: int = 0
    """Bytes written to segment files (headers included, pending bytes not)."""


def _write_all(fd: int, pending: bytearray) -> int:
    """Write and drop pending bytes; on an error, what was written is gone from `pending`, so a
    retried flush neither loses nor repeats bytes."""
    total = 0
    while pending:
        n = os.write(fd, pending)
        del pending[:n]
        total += n
    return total


class _Segment:
    """One segment file and its index while they are being written."""

    def __init__(self, path: Path, dictionary_hash: str, created_s: float, index: IndexBuilder):
        self.path, self.created_s, self.index = path, created_s, index
        self.pending = bytearray(encode_header(dictionary_hash, created_s))
        self.pending_index = bytearray(encode_index_header())
        self.size = HEADER_SIZE
        self.records = 0
        self.fds: tuple[int, int] | None = None
        self.named_durably = False

    def add(self, encoded: bytes, t_rx: float) -> None:
        self.pending_index += self.index.note(self.size, t_rx)
        self.pending += encoded
        self.size += len(encoded)
        self.records += 1

    def write_out(self, durable: bool) -> int:
        if self.fds is None:
            flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND | os.O_CLOEXEC
            data_fd = os.open(self.path, flags, 0o644)
            try:
                self.fds = (data_fd, os.open(index_path(self.path), flags, 0o644))
            except OSError:
                os.close(data_fd)
                raise
        data_fd, index_fd = self.fds
        written = _write_all(data_fd, self.pending)
        if durable:
            os.fsync(data_fd)
        _write_all(index_fd, self.pending_index)
        if durable:
            os.fsync(index_fd)
        return written

    def close(self) -> None:
        if self.fds is not None:
            for fd in self.fds:
                os.close(fd)
            self.fds = None


class SegmentWriter:
    """Append-only writer for one archive directory; rotates segments by size and by age."""

    def __init__(self, directory: str | os.PathLike, dictionary_hash: str, *, max_bytes: int = 64 << 20,
                 max_age_s: float = 3600.0, durable: bool = True, index_every_records: int = 256,
                 index_every_bytes: int = 64 << 10, clock: Callable[[], float] = time.time):
        encode_header(dictionary_hash, 0.0)  # refuse a bad hash now, not at the first flush
        IndexBuilder(index_every_records, index_every_bytes)  # and bad index spacing
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)
        self.dictionary_hash = dictionary_hash
        self.max_bytes, self.max_age_s, self.durable, self.clock = max_bytes, max_age_s, durable, clock
        self._index_spacing = (index_every_records, index_every_bytes)
        self._lock_fd = os.open(self.directory / "writer.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._lock_fd)
            raise WriterBusyError(f"another writer holds {self.directory}") from None
        seqs = [segment_seq(p) for p in self.directory.glob("seg-*.gfa")]
        self._next_seq = max((s for s in seqs if s is not None), default=-1) + 1
        self._segments: list[_Segment] = []  # oldest first; all but the last are full and await flush
        self._closed = False
        self.stats = WriterStats()

    def append(self, rec: Record) -> None:
        """Buffer one record; it is acknowledged by the next flush."""
        if self._closed:
            raise ValueError(f"append to the closed writer of {self.directory}")
        rec.check()
        encoded = encode_record(rec)
        cur = self._segments[-1] if self._segments else None
        if cur is None or (cur.records and (cur.size + len(encoded) > self.max_bytes
                                            or self.clock() - cur.created_s >= self.max_age_s)):
            cur = self._start_segment()
        cur.add(encoded, rec.t_rx)
        self.stats.appended += 1

    def _start_segment(self) -> _Segment:
        created_s = self.clock()
        seg = _Segment(self.directory / segment_name(self._next_seq, created_s), self.dictionary_hash, created_s,
                       IndexBuilder(*self._index_spacing))
        self._next_seq += 1
        self._segments.append(seg)
        self.stats.segments += 1
        return seg

    def flush(self) -> int:
        """Write and (if durable) fsync everything appended; returns the records acknowledged,
        all of which survive kill -9 and, when durable, power loss."""
        appended = self.stats.appended
        for seg in self._segments:
            self.stats.bytes += seg.write_out(self.durable)
        if self.durable and not all(seg.named_durably for seg in self._segments):
            dir_fd = os.open(self.directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
            for seg in self._segments:
                seg.named_durably = True
        for seg in self._segments[:-1]:
            seg.close()
        del self._segments[:-1]
        self.stats.acknowledged = appended
        return appended

    def close(self) -> None:
        """Flush, then release the files and the directory lock; closing twice is harmless."""
        if self._closed:
            return
        try:
            self.flush()
        finally:
            self._closed = True
            for seg in self._segments:
                seg.close()
            os.close(self._lock_fd)

    def __enter__(self) -> SegmentWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
