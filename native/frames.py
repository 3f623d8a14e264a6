"""Batch decoding of a TM byte stream: ASM search and frame checks, then packet extraction.

One C call handles a whole buffer and returns numpy arrays, so a ground archive of a day of
telemetry decodes without a Python loop per frame or per packet. Both calls are streaming-safe:
`deframe_tm` reports how much it consumed (keep the rest for the next buffer) and whether it
holds sync; `PacketExtractor` keeps each virtual channel's packet-in-progress between calls.
"""
from __future__ import annotations

import sys
from dataclasses import dataclass, field

import numpy as np

from gridfree.native._core import ffi, lib
from gridfree.native.errors import check

#: TM virtual channels (3-bit VCID): the C core's per-VC reassembly state has one slot each.
VIRTUAL_CHANNELS = 8

ASM_OCTETS = 4
PRIMARY_HEADER_OCTETS = 6
MIN_PACKET_OCTETS = 7
MAX_PACKET_OCTETS = 65542


def _ptr(ctype: str, array: np.ndarray):
    return ffi.cast(ctype, ffi.from_buffer(array))


@dataclass
class TmFrameBatch:
    """Frames found in a buffer: one entry per frame, in stream order."""

    offset: np.ndarray  # int64: first octet of the frame (after its ASM) in the buffer
    scid: np.ndarray
    vcid: np.ndarray
    mc_count: np.ndarray
    vc_count: np.ndarray
    fhp: np.ndarray
    fecf_ok: np.ndarray  # bool; when False the other header fields are untrusted
    consumed: int  # octets fully processed; keep buf[consumed:] for the next call
    resyncs: int
    bytes_skipped: int
    locked: bool
    frame_len: int

    def __len__(self) -> int:
        return len(self.offset)


def deframe_tm(buf, frame_len: int, *, has_fecf: bool = True, locked: bool = False) -> TmFrameBatch:
    """Find ASM-prefixed frames of `frame_len` octets (ASM excluded) in `buf`.

    `locked` says the buffer starts exactly where a previous call's last good frame ended.
    """
    if not 8 <= frame_len <= 2048:
        raise ValueError(f"TM frame length must be 8..2048 octets, got {frame_len}")
    capacity = len(buf) // (frame_len + ASM_OCTETS) + 1
    arrays = {
        "offset": np.empty(capacity, np.int64), "scid": np.empty(capacity, np.uint16),
        "vcid": np.empty(capacity, np.uint8), "mc_count": np.empty(capacity, np.uint8),
        "vc_count": np.empty(capacity, np.uint8), "fhp": np.empty(capacity, np.uint16),
        "fecf_ok": np.empty(capacity, np.bool_),
    }
    out = ffi.new("gf_frames *")
    out.offset = _ptr("int64_t *", arrays["offset"])
    out.scid = _ptr("uint16_t *", arrays["scid"])
    out.vcid = _ptr("uint8_t *", arrays["vcid"])
    out.mc_count = _ptr("uint8_t *", arrays["mc_count"])
    out.vc_count = _ptr("uint8_t *", arrays["vc_count"])
    out.fhp = _ptr("uint16_t *", arrays["fhp"])
    out.fecf_ok = _ptr("uint8_t *", arrays["fecf_ok"])
    out.capacity = capacity
    stats = ffi.new("gf_deframe_stats *", {"locked": int(locked)})
    check(lib.gf_deframe_tm(ffi.from_buffer(buf), len(buf), frame_len, int(has_fecf), out, stats), "deframe_tm")
    n = out.count
    return TmFrameBatch(**{k: v[:n] for k, v in arrays.items()}, consumed=stats.consumed,
                        resyncs=stats.resyncs, bytes_skipped=stats.bytes_skipped,
                        locked=bool(stats.locked), frame_len=frame_len)


@dataclass
class PacketBatch:
    """Space packets found in a batch of frames. A packet that spanned frames was copied into
    `spill` (and its `offset` points there); every other packet is still in the input buffer."""

    apid: np.ndarray
    seq_count: np.ndarray
    vcid: np.ndarray
    frame_index: np.ndarray  # index into the TmFrameBatch of the frame where the packet ended
    offset: np.ndarray
    length: np.ndarray
    crc_ok: np.ndarray
    spans: np.ndarray
    spill: bytes
    source: object = field(repr=False, default=b"")
    packets_dropped: int = 0
    idle_packets: int = 0
    malformed: int = 0

    def __len__(self) -> int:
        return len(self.apid)

    def packet(self, i: int) -> bytes:
        start, n = int(self.offset[i]), int(self.length[i])
        return bytes((self.spill if self.spans[i] else self.source)[start:start + n])


class PacketExtractor:
    """Per-VC reassembly state that survives between buffers (8 x 64 KiB of scratch)."""

    def __init__(self, frame_len: int, *, has_ocf: bool = False, has_fecf: bool = True, has_pec: bool = True):
        self.frame_len, self.has_ocf, self.has_fecf, self.has_pec = frame_len, has_ocf, has_fecf, has_pec
        self._state = ffi.new("gf_extract_state *")
        lib.gf_extract_init(self._state)

    def extract(self, buf, frames: TmFrameBatch) -> PacketBatch:
        if frames.frame_len != self.frame_len:
            raise ValueError(f"frames are {frames.frame_len} octets, extractor set up for {self.frame_len}")
        n = len(frames)
        if any(len(a) != n for a in (frames.offset, frames.scid, frames.vcid, frames.mc_count, frames.vc_count,
                                      frames.fhp, frames.fecf_ok)):
            raise ValueError("a frame batch's arrays must all have one entry per frame")
        if n and int(np.max(frames.vcid)) >= VIRTUAL_CHANNELS:  # the C core keeps state per VC, 0..7
            raise ValueError(f"virtual channel {int(np.max(frames.vcid))} out of range 0..{VIRTUAL_CHANNELS - 1}")
        data_octets = self.frame_len - PRIMARY_HEADER_OCTETS
        capacity = len(frames) * (data_octets // MIN_PACKET_OCTETS + 1) + 8
        spill_capacity = len(frames) * data_octets + 8 * MAX_PACKET_OCTETS
        arrays = {
            "apid": np.empty(capacity, np.uint16), "seq_count": np.empty(capacity, np.uint16),
            "vcid": np.empty(capacity, np.uint8), "frame_index": np.empty(capacity, np.int64),
            "offset": np.empty(capacity, np.int64), "length": np.empty(capacity, np.uint32),
            "crc_ok": np.empty(capacity, np.bool_), "spans": np.empty(capacity, np.bool_),
        }
        spill = np.empty(spill_capacity, np.uint8)
        out = ffi.new("gf_packets *")
        for name, ctype in (("apid", "uint16_t *"), ("seq_count", "uint16_t *"), ("vcid", "uint8_t *"),
                            ("frame_index", "int64_t *"), ("offset", "int64_t *"), ("length", "uint32_t *"),
                            ("crc_ok", "uint8_t *"), ("spans", "uint8_t *")):
            setattr(out, name, _ptr(ctype, arrays[name]))
        out.capacity = capacity
        out.spill = _ptr("uint8_t *", spill)
        out.spill_capacity = spill_capacity
        # The frame arrays must be contiguous for the C side; slices of fresh arrays are.
        fr = ffi.new("gf_frames *")
        keep = [np.ascontiguousarray(a) for a in (frames.offset, frames.scid, frames.vcid, frames.mc_count,
                                                   frames.vc_count, frames.fhp, frames.fecf_ok)]
        (fr.offset, fr.scid, fr.vcid, fr.mc_count, fr.vc_count, fr.fhp, fr.fecf_ok) = (
            _ptr(t, a) for t, a in zip(("int64_t *", "uint16_t *", "uint8_t *", "uint8_t *", "uint8_t *",
                                        "uint16_t *", "uint8_t *"), keep))
        fr.count = fr.capacity = len(frames)
        check(lib.gf_extract_packets(ffi.from_buffer(buf), len(buf), fr, self.frame_len, int(self.has_ocf),
                                     int(self.has_fecf), int(self.has_pec), self._state, out), "extract_packets")
        n = out.count
        return PacketBatch(**{k: v[:n] for k, v in arrays.items()}, spill=spill[:out.spill_used].tobytes(),
                           source=buf, packets_dropped=out.packets_dropped, idle_packets=out.idle_packets,
                           malformed=out.malformed)


def extract_packets(buf, frames: TmFrameBatch, *, has_ocf: bool = False, has_fecf: bool = True,
                    has_pec: bool = True) -> PacketBatch:
    """One-shot extraction (no state carried to a next buffer)."""
    return PacketExtractor(frames.frame_len, has_ocf=has_ocf, has_fecf=has_fecf, has_pec=has_pec).extract(buf, frames)


def gather_rows(src, offsets: np.ndarray, width: int) -> np.ndarray:
    """Rows of `width` octets starting at each offset of `src`, as one (n, width) uint8 array."""
    offsets = np.ascontiguousarray(offsets, np.int64)
    out = np.empty((len(offsets), width), np.uint8)
    src_buf = ffi.from_buffer(src)
    check(lib.gf_gather_rows(ffi.cast("const uint8_t *", src_buf), len(src_buf), _ptr("int64_t *", offsets),
                             len(offsets), width, _ptr("uint8_t *", out)), "gather_rows: a row leaves the buffer")
    return out


def _columns(fields):
    offsets = np.array([off for off, _ in fields], np.uint32)
    sizes = np.array([dt.itemsize for _, dt in fields], np.uint32)
    swap = np.array([dt.kind in "iuf" and dt.itemsize > 1 and sys.byteorder == "little" for _, dt in fields],
                    np.uint8)
    return offsets, sizes, swap


def unpack_columns(rows: np.ndarray, fields: list[tuple[int, np.dtype]]) -> list[np.ndarray]:
    """One native-endian array per (offset, dtype) field of big-endian rows: a structured view
    would leave every field strided and byte-swapped, and converting 100 of those costs more than
    the whole decode."""
    rows = np.ascontiguousarray(rows, np.uint8)
    n, row_len = rows.shape
    outs = [np.empty(n, dt) for _, dt in fields]
    offsets, sizes, swap = _columns(fields)
    ptrs = ffi.new("uint8_t *[]", [ffi.cast("uint8_t *", ffi.from_buffer(o)) for o in outs] or 1)
    check(lib.gf_unpack_columns(_ptr("uint8_t *", rows), n, row_len, len(fields), _ptr("uint32_t *", offsets),
                                _ptr("uint32_t *", sizes), _ptr("uint8_t *", swap), ptrs), "unpack_columns")
    return outs


def unpack_at(src, offsets: np.ndarray, dest_rows: np.ndarray, row_len: int, fields: list[tuple[int, np.dtype]],
              outs: list[np.ndarray]) -> None:
    """Fields of the rows at `offsets` of `src` into rows `dest_rows` of the preallocated `outs`."""
    offsets = np.ascontiguousarray(offsets, np.int64)
    dest_rows = np.ascontiguousarray(dest_rows, np.int64)
    if len(offsets) != len(dest_rows) or len(outs) != len(fields) or \
            any(o.dtype != dt or not o.flags.c_contiguous for o, (_, dt) in zip(outs, fields)):
        raise ValueError("unpack_at: outputs must be contiguous and of the fields' types")
    col_offsets, sizes, swap = _columns(fields)
    src_buf = ffi.from_buffer(src)
    ptrs = ffi.new("uint8_t *[]", [ffi.cast("uint8_t *", ffi.from_buffer(o)) for o in outs] or 1)
    check(lib.gf_unpack_at(ffi.cast("const uint8_t *", src_buf), len(src_buf), _ptr("int64_t *", offsets),
                           _ptr("int64_t *", dest_rows), len(offsets), row_len, len(fields),
                           _ptr("uint32_t *", col_offsets), _ptr("uint32_t *", sizes), _ptr("uint8_t *", swap), ptrs,
                           min((len(o) for o in outs), default=0)), "unpack_at: a row leaves the buffer or the outputs")
