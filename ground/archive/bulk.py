"""Bulk decoding: a recorded log to one (time, value) array pair per channel, in the native core.

Replay hands frames one at a time to the live decoder, which is right for watching a pass and
far too slow for a day of 10 Hz housekeeping. Here the native core scans each segment's records
(checking both CRCs), the frames are used where they lie in the segment file (no copies), packet
extraction and PEC checks run over all of them at once, and each housekeeping layout becomes a
numpy structured type, so every channel of a SID is decoded by one vectorised view.

A frame's FECF was checked when it was received: the recorder stores the verdict in the record's
flags and the record CRC proves the bytes have not changed since, so frames recorded bad are
skipped here as the live decoder skipped them.
"""
from __future__ import annotations

import mmap
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

from gridfree.ground.archive import dictionaries
from gridfree.ground.archive.layout import HEADER_SIZE, MAX_DATA_BYTES, SYNC
from gridfree.ground.archive.reader import open_archive
from gridfree.ground.archive.recorder import FLAG_BAD_CRC
from gridfree.native.frames import PacketExtractor, TmFrameBatch, gather_rows
from gridfree.native.records import scan_records
from gridfree.protocols.config import LinkConfig
from gridfree.protocols.dictionary import Dictionary
from gridfree.protocols.pus import CCSDS_EPOCH_UNIX_S

# PUS-C TM as the node sends it (protocols/pus.py): primary header, the secondary header's service
# and subtype at 7 and 8, CUC time 4+2 octets at 13, housekeeping SID at 19 and values from 21.
SERVICE_AT, SUBTYPE_AT, TIME_AT, SID_AT, VALUES_AT, PEC_OCTETS = 7, 8, 13, 19, 21, 2
_STRUCT_TO_NUMPY = {"B": "u1", "b": "i1", "H": "u2", "h": "i2", "I": "u4", "i": "i4", "Q": "u8", "q": "i8",
                    "f": "f4", "d": "f8", "?": "u1"}


@dataclass
class Decoded:
    """Per channel, receive-independent onboard times (unix s) and values, in log order."""

    series: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    frames: int = 0
    frames_bad: int = 0
    packets: int = 0
    packets_bad: int = 0
    hk_unknown: int = 0  # housekeeping packets whose SID or length the dictionary does not know
    records_damaged: int = 0
    packets_seen: int = field(default=0, repr=False)  # running packet count, for stream order
    notes: list[str] = field(default_factory=list)


def hk_dtype(dictionary: Dictionary, sid: int) -> np.dtype:
    """The structured numpy type of one housekeeping packet's values (big-endian, packed)."""
    h = dictionary.hk_by_sid[sid]
    names, formats, offsets, at = [], [], [], 0
    for name in h.channels:
        wire = dictionary.channel_by_name[name].wire
        fmt = wire.fmt
        names.append(name)
        formats.append(f"S{wire.size}" if fmt.endswith("s") else ">" + _STRUCT_TO_NUMPY[fmt])
        offsets.append(at)
        at += wire.size
    return np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": at})


def decode(directory: str | os.PathLike, *, channels: list[str] | None = None, t_from: float | None = None,
           t_to: float | None = None, dictionary: Dictionary | None = None, link_config: LinkConfig = LinkConfig(),
           progress: Callable[[int], None] | None = None) -> Decoded:
    """Every housekeeping sample in the log with receive time in [t_from, t_to); `progress` is
    called with the bytes of each segment done."""
    archive = open_archive(directory)
    out, parts = Decoded(), {}
    out.notes += [str(e) for e in archive.errors]
    frame_len = link_config.tm_frame_octets
    extractor = PacketExtractor(frame_len, has_ocf=link_config.tm_ocf, has_fecf=link_config.tm_fecf)
    for seg in archive.segments:
        if t_from is not None and seg.t_max is not None and seg.t_max < t_from:
            continue
        d, note = dictionaries.resolve(directory, seg.dictionary_hash, dictionary)
        if note and note not in out.notes:
            out.notes.append(note)
        wanted = set(channels) if channels is not None else None
        with open(seg.path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            _segment(np.frombuffer(mm, np.uint8), d, wanted, t_from, t_to, frame_len, extractor, out, parts)
            if progress:
                progress(len(mm))
    for name, pieces in parts.items():
        order = np.argsort(np.concatenate([k for _, _, k in pieces]), kind="stable")
        out.series[name] = (np.concatenate([t for t, _, _ in pieces])[order],
                            np.concatenate([v for _, v, _ in pieces])[order])
    return out


def _segment(buf, d, wanted, t_from, t_to, frame_len, extractor, out, parts) -> None:
    recs = scan_records(buf[HEADER_SIZE:], sync=SYNC, max_len=MAX_DATA_BYTES)
    out.records_damaged += recs.records_damaged
    keep = recs.data_len == frame_len
    if t_from is not None:
        keep &= recs.t_rx >= t_from
    if t_to is not None:
        keep &= recs.t_rx < t_to
    offsets = recs.data_offset[keep] + HEADER_SIZE
    good = (recs.flags[keep] & FLAG_BAD_CRC) == 0
    out.frames += int(good.sum())
    out.frames_bad += int((~good).sum())
    offsets = offsets[good]
    head = gather_rows(buf, offsets, 6)
    frames = TmFrameBatch(
        offset=offsets, scid=((head[:, 0].astype(np.uint16) << 8 | head[:, 1]) >> 4) & 0x3FF,
        vcid=(head[:, 1] >> 1) & 7, mc_count=head[:, 2].copy(), vc_count=head[:, 3].copy(),
        fhp=(head[:, 4].astype(np.uint16) << 8 | head[:, 5]) & 0x7FF, fecf_ok=np.ones(len(offsets), np.bool_),
        consumed=len(buf), resyncs=0, bytes_skipped=0, locked=True, frame_len=frame_len)
    packets = extractor.extract(buf, frames)
    ok = packets.crc_ok
    out.packets += int(ok.sum())
    out.packets_bad += int((~ok).sum())
    sel = np.flatnonzero(ok)
    if len(sel):
        _housekeeping(_Packets(buf, np.frombuffer(packets.spill, np.uint8), packets.offset[sel], packets.spans[sel]),
                      packets.length[sel], d, wanted, out, parts)


class _Packets:
    """Good packets in stream order, wherever they lie: in the segment file, or (those that
    spanned frames) in the extractor's spill buffer."""

    def __init__(self, buf, spill, offsets, spans):
        self.buf, self.spill, self.offsets, self.spans = buf, spill, offsets, spans

    def rows(self, sel, skip: int, width: int) -> np.ndarray:
        """Octets skip..skip+width of the selected packets, one row each, in stream order."""
        offsets, spans = self.offsets[sel] + skip, self.spans[sel]
        out = np.empty((len(offsets), width), np.uint8)
        out[~spans] = gather_rows(self.buf, offsets[~spans], width)
        out[spans] = gather_rows(self.spill, offsets[spans], width)
        return out


def _housekeeping(packets: _Packets, lengths, d, wanted, out, parts) -> None:
    head = packets.rows(slice(None), 0, VALUES_AT)
    # A channel may sit in several housekeeping packets: its samples are put back in stream order.
    order = out.packets_seen + np.arange(len(head), dtype=np.int64)
    out.packets_seen += len(head)
    hk = (head[:, SERVICE_AT] == 3) & (head[:, SUBTYPE_AT] == 25)
    sids = head[:, SID_AT].astype(np.uint16) << 8 | head[:, SID_AT + 1]
    for sid in np.unique(sids[hk]).tolist():
        sel = hk & (sids == sid)
        if sid not in d.hk_by_sid:
            out.hk_unknown += int(sel.sum())
            continue
        dtype = hk_dtype(d, sid)
        sized = sel & (lengths == VALUES_AT + dtype.itemsize + PEC_OCTETS)
        out.hk_unknown += int(sel.sum() - sized.sum())
        names = [n for n in dtype.names if wanted is None or n in wanted]
        if not names or not sized.any():
            continue
        h = head[sized]
        coarse = (h[:, TIME_AT:TIME_AT + 4].astype(np.uint32) << np.array([24, 16, 8, 0], np.uint32)).sum(1)
        fine = h[:, TIME_AT + 4].astype(np.uint32) << 8 | h[:, TIME_AT + 5]
        t = CCSDS_EPOCH_UNIX_S + coarse.astype(np.float64) + fine / 65536.0
        values = packets.rows(sized, VALUES_AT, dtype.itemsize).view(dtype).reshape(-1)
        for name in names:
            v = values[name]
            v = v.astype(bool) if d.channel_by_name[name].wire.kind == "bool" else \
                v.astype(v.dtype.newbyteorder("="))
            parts.setdefault(name, []).append((t, v, order[sized]))


def segments_bytes(directory: str | os.PathLike) -> int:
    """For progress bars: the bytes bulk decoding will read."""
    return sum(p.stat().st_size for p in Path(directory).glob("seg-*.gfa"))
