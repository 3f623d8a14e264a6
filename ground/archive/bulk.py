"""Bulk decoding: a recorded log to one (time, value) array pair per channel, in the native core.

Replay hands frames one at a time to the live decoder, which is right for watching a pass and
far too slow for a day of 10 Hz housekeeping. Here the native core scans each segment's records
(checking both CRCs), the frames are used where they lie in the segment file (no copies), packet
extraction and PEC checks run over all of them at once, and each housekeeping layout becomes a
numpy structured type, so every channel of a SID is decoded by one vectorised view.

A frame's FECF was checked when it was received: the recorder stores the verdict in the record's
flags and the record CRC proves the bytes have not changed since, so frames recorded bad are
skipped here as the live decoder skipped them.

A log recorded through an authenticated link (link.json says `sdls`) holds TM frames with SDLS
fields: given the TM SA (`tm_sa`, from the ground's key directory) each frame's MAC is checked in
log order, as the live decoder checks it, and frames that fail are counted and not decoded;
without it the fields are only stripped and the frames counted as unchecked.
"""
from __future__ import annotations

import mmap
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np

from gridfree.ground.archive import dictionaries, linkfile
from gridfree.ground.archive.layout import HEADER_SIZE, MAX_DATA_BYTES, SYNC
from gridfree.ground.archive.reader import open_archive
from gridfree.ground.archive.recorder import FLAG_BAD_CRC
from gridfree.native.frames import PacketExtractor, TmFrameBatch, gather_rows, unpack_at
from gridfree.native.records import scan_records
from gridfree.protocols.config import LinkConfig
from gridfree.protocols.dictionary import Dictionary
from gridfree.protocols.pus import CCSDS_EPOCH_UNIX_S
from gridfree.protocols.sdls import SecurityAssociation
from gridfree.protocols.sdls_tm import TmVerifier

# PUS-C TM as the node sends it (protocols/pus.py): primary header, the secondary header's service
# and subtype at 7 and 8, CUC time 4+2 octets at 13, housekeeping SID at 19 and values from 21.
SERVICE_AT, SUBTYPE_AT, TIME_AT, SID_AT, VALUES_AT, PEC_OCTETS = 7, 8, 13, 19, 21, 2
_STRUCT_TO_NUMPY = {"B": "u1", "b": "i1", "H": "u2", "h": "i2", "I": "u4", "i": "i4", "Q": "u8", "q": "i8",
                    "f": "f4", "d": "f8", "?": "u1"}  # to native byte order: unpack_columns swaps


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
    sdls: bool = False  # the log's TM frames carry SDLS fields
    auth_ok: int = 0  # SDLS frames whose MAC checked (decoded)
    auth_failed: int = 0  # SDLS frames whose SPI, SA or MAC did not check, or whose IV repeated: not decoded
    auth_unchecked: int = 0  # SDLS frames decoded without a TM SA to check them with
    packets_seen: int = field(default=0, repr=False)  # running packet count, for stream order
    notes: list[str] = field(default_factory=list)


def hk_fields(dictionary: Dictionary, sid: int) -> tuple[list[str], list[tuple[int, np.dtype]], int]:
    """Channel names, (offset, native dtype) of each value, and the values' total size, for one
    housekeeping packet as the dictionary declares it (big-endian and packed on the wire)."""
    h = dictionary.hk_by_sid[sid]
    names, fields, at = [], [], 0
    for name in h.channels:
        wire = dictionary.channel_by_name[name].wire
        fmt = wire.fmt
        names.append(name)
        fields.append((at, np.dtype(f"S{wire.size}" if fmt.endswith("s") else _STRUCT_TO_NUMPY[fmt])))
        at += wire.size
    return names, fields, at


@dataclass
class _Piece:
    """The good housekeeping packets of one SID in one segment, located but not yet decoded."""

    layout: tuple  # (dictionary hash, sid)
    t: np.ndarray
    keys: np.ndarray  # stream order, across SIDs and segments
    src: tuple  # (segment buffer, offsets of packets in it, their positions in the piece)
    spill: tuple  # the same for packets that spanned frames, in the extractor's spill copy


def decode(directory: str | os.PathLike, *, channels: list[str] | None = None, t_from: float | None = None,
           t_to: float | None = None, dictionary: Dictionary | None = None, link_config: LinkConfig | None = None,
           tm_sa: SecurityAssociation | None = None, progress: Callable[[int], None] | None = None) -> Decoded:
    """Every housekeeping sample in the log with receive time in [t_from, t_to); `progress` is
    called with the bytes of each segment done. `link_config` defaults to the layout recorded
    beside the log (linkfile.py); `tm_sa` checks SDLS frames (its anti-replay state is not touched:
    a copy is used).

    Two passes: the first finds every packet and its time, the second decodes each value straight
    from the segment file into its place in one preallocated array per channel, so a day of
    telemetry is read once and written once."""
    archive = open_archive(directory)
    out, pieces, layouts, maps = Decoded(), [], {}, []
    out.notes += [str(e) for e in archive.errors]
    if link_config is None:
        link_config = linkfile.load_or_default(directory)
    frame_len = link_config.tm_frame_octets
    verifier = None
    if link_config.sdls:
        verifier = TmVerifier(None if tm_sa is None else fresh(tm_sa), link_config)
        extractor = PacketExtractor(verifier.plain_octets, has_ocf=link_config.tm_ocf, has_fecf=False)
    else:
        if tm_sa is not None:
            raise linkfile.LinkLayoutError(f"{directory}: its TM frames were recorded without SDLS: there is no MAC "
                                           f"to check with a TM SA")
        extractor = PacketExtractor(frame_len, has_ocf=link_config.tm_ocf, has_fecf=link_config.tm_fecf)
    out.sdls = link_config.sdls
    try:
        for seg in archive.segments:
            if t_from is not None and seg.t_max is not None and seg.t_max < t_from:
                continue
            d, note = dictionaries.resolve(directory, seg.dictionary_hash, dictionary)
            if note and note not in out.notes:
                out.notes.append(note)
            with open(seg.path, "rb") as f:
                mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            maps.append(mm)
            _locate(np.frombuffer(mm, np.uint8), d, t_from, t_to, frame_len, extractor, verifier, out, pieces,
                    layouts)
            if progress:
                progress(len(mm))
        _fill(pieces, layouts, None if channels is None else set(channels), out)
    finally:
        for mm in maps:
            try:
                mm.close()
            except BufferError:  # a caller still holds a view: the map goes with it
                pass
    return out


def fresh(sa: SecurityAssociation) -> SecurityAssociation:
    """The same SA with an empty anti-replay window: a log is read from its start, and the live
    client's SA (its window already past every recorded IV) must not be moved by reading it."""
    return replace(sa, highest_iv=0, _seen=0)


def _opened(buf, frames: TmFrameBatch, verifier: TmVerifier, out: Decoded):
    """SDLS frames checked (or only stripped, without an SA): the plain frames, copied out."""
    opened = verifier.open_batch(buf, frames)
    if verifier.checking:
        out.auth_ok += opened.auth_ok
        out.auth_failed += opened.auth_failed + opened.replayed
    else:
        out.auth_unchecked += len(opened.frames)
    return np.frombuffer(opened.buffer, np.uint8), opened.frames


def _locate(buf, d, t_from, t_to, frame_len, extractor, verifier, out, pieces, layouts) -> None:
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
    if verifier is not None:  # packets are found in the frames' plain copies, not in the segment
        buf, frames = _opened(buf, frames, verifier, out)
    packets = extractor.extract(buf, frames)
    ok = packets.crc_ok
    out.packets += int(ok.sum())
    out.packets_bad += int((~ok).sum())
    good = np.flatnonzero(ok)
    if not len(good):
        return
    spill = np.frombuffer(packets.spill, np.uint8)
    offsets, spans, lengths = packets.offset[good], packets.spans[good], packets.length[good]
    head = np.empty((len(good), VALUES_AT), np.uint8)
    head[~spans] = gather_rows(buf, offsets[~spans], VALUES_AT)
    head[spans] = gather_rows(spill, offsets[spans], VALUES_AT)
    # A channel may sit in several housekeeping packets: keys put its samples back in stream order.
    keys = out.packets_seen + np.arange(len(good), dtype=np.int64)
    out.packets_seen += len(good)
    hk = (head[:, SERVICE_AT] == 3) & (head[:, SUBTYPE_AT] == 25)
    sids = head[:, SID_AT].astype(np.uint16) << 8 | head[:, SID_AT + 1]
    for sid in np.unique(sids[hk]).tolist():
        sel = hk & (sids == sid)
        if sid not in d.hk_by_sid:
            out.hk_unknown += int(sel.sum())
            continue
        layout = (d.hash, sid)
        if layout not in layouts:
            layouts[layout] = (d, *hk_fields(d, sid))
        size = layouts[layout][3]
        sized = np.flatnonzero(sel & (lengths == VALUES_AT + size + PEC_OCTETS))
        out.hk_unknown += int(sel.sum()) - len(sized)
        if not len(sized):
            continue
        h = head[sized]
        coarse = (h[:, TIME_AT:TIME_AT + 4].astype(np.uint32) << np.array([24, 16, 8, 0], np.uint32)).sum(1)
        fine = h[:, TIME_AT + 4].astype(np.uint32) << 8 | h[:, TIME_AT + 5]
        in_spill = spans[sized]
        rows = np.arange(len(sized), dtype=np.int64)
        pieces.append(_Piece(layout, CCSDS_EPOCH_UNIX_S + coarse.astype(np.float64) + fine / 65536.0, keys[sized],
                             (buf, offsets[sized][~in_spill] + VALUES_AT, rows[~in_spill]),
                             (spill, offsets[sized][in_spill] + VALUES_AT, rows[in_spill])))


def _fill(pieces: list[_Piece], layouts: dict, wanted: set[str] | None, out: Decoded) -> None:
    homes: dict[str, set] = {}  # channel -> the layouts (dictionary, SID) it appears in
    for p in pieces:
        for name in layouts[p.layout][1]:
            if wanted is None or name in wanted:
                homes.setdefault(name, set()).add(p.layout)
    per_layout = {}
    for p in pieces:
        per_layout.setdefault(p.layout, []).append(p)
    # A channel in one packet shares that packet's time array; one in several gets its own, with
    # stream-order keys to interleave its packets at the end.
    times = {lay: np.concatenate([p.t for p in ps]) if len(ps) > 1 else ps[0].t for lay, ps in per_layout.items()}
    rows_of = {name: sum(len(times[lay]) for lay in lays) for name, lays in homes.items()}
    dtype_of, flags = {}, set()
    for lay, (d, names, fields, _) in layouts.items():
        for name, (_, dt) in zip(names, fields):
            if name in homes:
                dtype_of[name] = np.result_type(dtype_of.get(name, dt), dt)
                if d.channel_by_name[name].wire.kind == "bool":
                    flags.add(name)
    values = {name: np.empty(n, dtype_of[name]) for name, n in rows_of.items()}
    shared = {name for name, lays in homes.items() if len(lays) == 1}
    own_t = {name: np.empty(rows_of[name]) for name in homes if name not in shared}
    own_k = {name: np.empty(rows_of[name], np.int64) for name in own_t}
    filled = dict.fromkeys(homes, 0)
    for p in pieces:
        d, names, fields, size = layouts[p.layout]
        n = len(p.t)
        by_start: dict[int, list[int]] = {}  # one native call per distinct start row
        for k, name in enumerate(names):
            if name in homes:
                by_start.setdefault(filled[name], []).append(k)
        for start, ks in by_start.items():
            same = [k for k in ks if values[names[k]].dtype == fields[k][1]]
            for source, offsets, rows in (p.src, p.spill):
                if len(offsets) and same:
                    unpack_at(source, offsets, rows + start, size, [fields[k] for k in same],
                              [values[names[k]] for k in same])
            for k in ks:
                name = names[k]
                if k not in same:  # a type that changed between dictionary versions: the slow way
                    tmp = [np.empty(n, fields[k][1])]
                    for source, offsets, rows in (p.src, p.spill):
                        if len(offsets):
                            unpack_at(source, offsets, rows, size, [fields[k]], tmp)
                    values[name][start:start + n] = tmp[0]
                if name in own_t:
                    own_t[name][start:start + n] = p.t
                    own_k[name][start:start + n] = p.keys
                filled[name] = start + n
    for name, v in values.items():
        if name in shared:
            t = times[next(iter(homes[name]))]
        else:
            order = np.argsort(own_k[name], kind="stable")
            t, v = own_t[name][order], v[order]
        if name in flags:
            v = v.view(bool) if v.dtype == np.uint8 else v.astype(bool)
        out.series[name] = (t, v)


def segments_bytes(directory: str | os.PathLike) -> int:
    """For progress bars: the bytes bulk decoding will read."""
    return sum(p.stat().st_size for p in Path(directory).glob("seg-*.gfa"))
