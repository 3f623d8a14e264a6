"""The ground's one decoder: bytes in, typed records out, and no I/O of its own.

`Decoder.feed(data)` takes whatever the link (or a replayed log) delivered and returns a `Decoded`:
the frames found, good and bad (for the archive), and the records their packets carried, in
order: a `PacketRecord` per good packet followed by what it held (`Sample`s, an `EventRecord`, a
PUS 1 `VerificationReport`, a whole `TransferRecord`, ...). No threads, sockets or Qt here: the
live client and the replay both feed it, so they cannot decode differently, and a test feeds it
bytes directly. Decoding keeps the state it needs across calls (the frame layer's reassembly,
large-data transfers under way, the latest value of each channel for the dictionary check).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from gridfree.ground.link.records import (EventRecord, PacketRecord, ParameterValues, Pong, Sample,
                                          ScheduleReport, TransferRecord, UplinkAbortion)
from gridfree.protocols.config import LinkConfig
from gridfree.protocols.deframing import TmDecoder, TmStats
from gridfree.protocols.dictionary import DecodeError, Dictionary
from gridfree.protocols.errors import ProtocolError
from gridfree.protocols.pus import PusTm
from gridfree.protocols.services import events as pus5
from gridfree.protocols.services import housekeeping as pus3
from gridfree.protocols.services import largedata as pus13
from gridfree.protocols.services import parameters as pus20
from gridfree.protocols.services import schedule as pus11
from gridfree.protocols.services.verification import VerificationReport

#: The channel by which the node reports the first 64 bits of its dictionary's hash.
HASH_CHANNEL = "node.DictionaryHash"


@dataclass
class Decoded:
    """One `feed`'s worth: the raw buffer and frames (what a recorder keeps) and the records."""

    buffer: bytes
    frames: Any  # protocols.tmframe TmFrameBatch
    records: list = field(default_factory=list)


class Decoder:
    """TM frames -> packets -> records, with the dictionary the ground loaded."""

    def __init__(self, dictionary: Dictionary, link_config: LinkConfig = LinkConfig()):
        self.dictionary = dictionary
        self.frames = TmDecoder(link_config)
        self.packets = 0  # good PUS TM packets
        self.decode_errors = 0  # packets whose content the dictionary or the service could not decode
        self.latest: dict[str, Sample] = {}
        self.hash_mismatch: bool | None = None  # None until the node has reported its hash
        self._ours = int(dictionary.hash.split(":", 1)[1][:16], 16)
        self._transfers: dict[int, pus13.Reassembly] = {}

    @property
    def stats(self) -> TmStats:
        """Frame and packet counters of the frame layer (frames ok/bad/lost, resyncs, bytes)."""
        return self.frames.stats

    def feed(self, data: bytes) -> Decoded:
        batch = self.frames.feed_batch(data)
        out = Decoded(batch.buffer, batch.frames)
        for packet in batch.good_packets():
            out.records += self.packet(packet)
        return out

    def packet(self, packet: bytes) -> list:
        """The records one space packet carries ([] for one that is not a PUS TM packet)."""
        try:
            tm = PusTm.unpack(packet)
        except ProtocolError:
            self.decode_errors += 1
            return []
        self.packets += 1
        t = tm.time.to_unix()
        out: list = [PacketRecord(bytes(packet), tm.apid, tm.service, tm.subtype, tm.seq_count, t)]
        try:
            self._content(tm, t, out)
        except (DecodeError, ValueError, KeyError):  # ProtocolError is a ValueError
            self.decode_errors += 1
        return out

    def _content(self, tm: PusTm, t: float, out: list) -> None:
        key = (tm.service, tm.subtype)
        if tm.service == 1:
            out.append(VerificationReport.unpack(tm.subtype, tm.app_data))
        elif key == (3, pus3.Subtype.HK_REPORT):
            report = pus3.HkReport.unpack(tm.app_data)
            for name, value in self.dictionary.decode_hk(report.sid, report.values).items():
                sample = Sample(name, value, t)
                self.latest[name] = sample
                out.append(sample)
            if HASH_CHANNEL in self.latest:
                self.hash_mismatch = self.latest[HASH_CHANNEL].value != self._ours
        elif tm.service == 5 and tm.subtype <= 4:
            report = pus5.EventReport.unpack(tm.subtype, tm.app_data)
            ev = self.dictionary.event_by_id.get(report.event_id)
            args = ev.decode_args(report.aux) if ev else {}
            out.append(EventRecord(ev, report.event_id, ev.severity if ev else None, args,
                                   ev.text(args) if ev else f"unknown event {report.event_id}", t))
        elif key == (17, 2):
            out.append(Pong(t))
        elif key == (20, 2):
            out.append(ParameterValues(pus20.unpack_values(self.dictionary, tm.app_data), t))
        elif key == (11, pus11.Subtype.DETAIL_REPORT):
            out.append(ScheduleReport(pus11.unpack_activities(tm.app_data), t))
        elif tm.service == 13 and tm.subtype in (1, 2, 3):
            self._transfer_part(tm, t, out)
        elif key == (13, pus13.UPLINK_ABORTION):
            tid, reason = pus13.unpack_abortion(tm.app_data)
            out.append(UplinkAbortion(tid, reason, t))

    def _transfer_part(self, tm: PusTm, t: float, out: list) -> None:
        tid, seq, part = pus13.unpack_part(tm.app_data)
        if seq == 0:  # a first part, or the only part of a short transfer: a new transaction
            self._transfers[tid] = pus13.Reassembly(tid)
        r = self._transfers.get(tid)
        if r is None:
            raise DecodeError(f"part {seq} of transfer {tid} without its first part")
        r.add(tm.subtype, seq, part)
        if r.complete:
            del self._transfers[tid]
            out.append(TransferRecord(tid, r.data(), t))
