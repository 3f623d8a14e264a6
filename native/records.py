"""Bulk scan of archive segment records: one C call finds every intact record of a segment body.

The format and the damage rules are the ground archive's (ground/archive/layout.py and scan.py;
src/records.c sums them up). This layer sits below the ground, so the caller passes the sync
marker and the largest data length rather than this module importing them.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gridfree.native._core import ffi, lib
from gridfree.native.errors import check

RECORD_HEADER_OCTETS = 24
RECORD_OVERHEAD_OCTETS = 28
_U32 = 0xFFFFFFFF


@dataclass
class RecordBatch:
    """The intact records of a buffer, in order, and what the scan passed over."""

    data_offset: np.ndarray  # int64: first data octet of each record within the buffer
    data_len: np.ndarray  # uint32
    t_rx: np.ndarray  # float64, unix seconds
    link: np.ndarray  # uint16
    flags: np.ndarray  # uint16
    records_ok: int
    records_damaged: int  # damaged stretches, each counted as the good headers in it and at least 1
    bytes_skipped: int  # octets in damaged stretches
    torn_tail_bytes: int  # octets after the last intact record that hold no record (crash mid-append)
    consumed: int  # end of the last intact record: a reader following a growing file resumes here
    source: object = field(repr=False, default=b"")

    def __len__(self) -> int:
        return len(self.data_offset)

    def data(self, i: int) -> bytes:
        """A copy of record i's data."""
        start = int(self.data_offset[i])
        return bytes(memoryview(self.source).cast("B")[start:start + int(self.data_len[i])])


def _ptr(ctype: str, array: np.ndarray):
    return ffi.cast(ctype, ffi.from_buffer(array))


def scan_records(buf, *, sync: int, max_len: int) -> RecordBatch:
    """Every intact record in `buf`, the bytes of a segment file after its header, read in place
    (bytes, bytearray, memoryview, mmap or a numpy array). `buf` is taken to be the whole rest of
    the file, so an incomplete record at its end is a torn tail."""
    if not 0 <= sync <= _U32:
        raise ValueError(f"sync marker must be a u32, got {sync!r}")
    if not 0 <= max_len <= _U32:
        raise ValueError(f"max_len must be a u32, got {max_len!r}")
    cbuf = ffi.from_buffer(buf)
    size = len(cbuf)  # octets, whatever the item size of buf
    capacity = size // RECORD_OVERHEAD_OCTETS + 1
    arrays = {
        "data_offset": np.empty(capacity, np.int64), "data_len": np.empty(capacity, np.uint32),
        "t_rx": np.empty(capacity, np.float64), "link": np.empty(capacity, np.uint16),
        "flags": np.empty(capacity, np.uint16),
    }
    out = ffi.new("gf_records *")
    out.data_offset = _ptr("int64_t *", arrays["data_offset"])
    out.data_len = _ptr("uint32_t *", arrays["data_len"])
    out.t_rx = _ptr("double *", arrays["t_rx"])
    out.link = _ptr("uint16_t *", arrays["link"])
    out.flags = _ptr("uint16_t *", arrays["flags"])
    out.capacity = capacity
    stats = ffi.new("gf_scan_stats *")
    check(lib.gf_scan_records(cbuf, size, sync, max_len, out, stats), "scan_records")
    n = out.count
    # Arrays sized for the worst case (all empty records) are trimmed when mostly unused, so a
    # batch does not pin several times the memory its records need.
    trim = (lambda a: a[:n].copy()) if n < capacity // 2 else (lambda a: a[:n])
    return RecordBatch(**{k: trim(v) for k, v in arrays.items()}, records_ok=stats.records_ok,
                       records_damaged=stats.records_damaged, bytes_skipped=stats.bytes_skipped,
                       torn_tail_bytes=stats.torn_tail_bytes, consumed=stats.consumed, source=buf)
