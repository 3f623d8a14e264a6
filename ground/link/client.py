"""The ground's client of a node: decode what comes down, send commands, track verification.

Bytes from the link go through the sans-IO TM decoder to packets, and packets to values with the
dictionary the ground loaded; the client never imports flight code. Commands are sent by dictionary
name with typed, range-checked arguments, as PUS TCs in TC frames in CLTUs, and each gets a
`CommandHandle` that follows its PUS 1 reports (accepted, started, completed, or failed with a
reason) as they arrive.
"""
from __future__ import annotations

import random
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

from gridfree.protocols.config import LinkConfig
from gridfree.protocols.deframing import TmDecoder
from gridfree.protocols.dictionary import DecodeError, Dictionary, Event, Severity
from gridfree.protocols.errors import ProtocolError
from gridfree.protocols.framing import TcFrameEncoder
from gridfree.protocols.links import LinkReader, Protocol, open_link
from gridfree.protocols.pus import PEC_LEN, TC_SEC_HEADER_LEN, AckFlags, PusTc, PusTm
from gridfree.protocols.services import events as pus5
from gridfree.protocols.services import housekeeping as pus3
from gridfree.protocols.services import largedata as pus13
from gridfree.protocols.services import schedule as pus11
from gridfree.protocols.services import parameters as pus20
from gridfree.protocols.services.verification import FailureCode, RequestId, Subtype, VerificationReport
from gridfree.protocols.spacepacket import PRIMARY_HEADER_LEN

HASH_CHANNEL = "node.DictionaryHash"
UPLINK_COMMANDS = {pus13.Subtype.UPLINK_FIRST_PART: "lds.UplinkFirstPart",
                   pus13.Subtype.UPLINK_INTERMEDIATE_PART: "lds.UplinkIntermediatePart",
                   pus13.Subtype.UPLINK_LAST_PART: "lds.UplinkLastPart"}


@dataclass
class Sample:
    channel: str
    value: Any
    time_s: float  # onboard time of the report


@dataclass
class PacketRecord:
    """A good packet as it came off the link, for the console's packet viewer."""

    raw: bytes
    apid: int
    service: int
    subtype: int
    seq_count: int
    time_s: float


@dataclass
class TransferRecord:
    """A PUS 13 downlink transfer, whole: a job's result, a ledger statement, a test pattern."""

    transaction: int
    data: bytes
    time_s: float


@dataclass
class EventRecord:
    event: Event | None
    event_id: int
    severity: Severity | None
    args: dict
    text: str
    time_s: float


@dataclass
class CommandHandle:
    name: str
    request: RequestId
    stages: list[tuple[str, bool]] = field(default_factory=list)  # (stage, ok)
    failure: tuple[int, str] | None = None
    _done: threading.Event = field(default_factory=threading.Event)

    @property
    def completed(self) -> bool:
        return ("completion", True) in self.stages

    @property
    def failed(self) -> bool:
        return self.failure is not None

    def wait(self, timeout: float = 10.0) -> "CommandHandle":
        """Until completion or failure (or the timeout); returns self for chaining."""
        self._done.wait(timeout)
        return self

    def describe(self) -> str:
        text = " -> ".join(f"{s}{'' if ok else ' FAILED'}" for s, ok in self.stages) or "no report yet"
        if self.failure:
            code, reason = self.failure
            name = FailureCode(code).name if code in FailureCode._value2member_map_ else str(code)
            text += f" ({name}: {reason})"
        return f"{self.name}: {text}"


class UplinkError(RuntimeError):
    """A large-data uplink stopped: one of its parts failed or went unanswered."""

    def __init__(self, transaction: int, why: str):
        super().__init__(f"uplink {transaction}: {why}")
        self.transaction = transaction


class GroundClient(Protocol):
    is_replay = False  # a ReplayClient (ground/archive) says True; nothing else may tell them apart

    def __init__(self, url: str, dictionary: Dictionary, apid: int = 100, link_config: LinkConfig = LinkConfig(),
                 source_id: int = 1):
        self.url, self.dictionary, self.apid, self.source_id = url, dictionary, apid, source_id
        self.decoder = TmDecoder(link_config)
        self.encoder = TcFrameEncoder(link_config)
        self.latest: dict[str, Sample] = {}
        self.events: deque[EventRecord] = deque(maxlen=1000)
        self.parameters: dict[str, Any] = {}
        self.pongs = 0
        self.transfers: dict[int, pus13.Reassembly] = {}
        self.completed_transfers: dict[int, bytes] = {}
        self.uplinks: dict[int, list[CommandHandle]] = {}  # transaction -> its parts' handles
        self.uplink_aborts: dict[int, int] = {}  # transaction -> UplinkFailure, from TM[13,16]
        self._next_uplink = random.randrange(1, 0x10000)
        self.schedule_report: list[tuple[float, bytes]] | None = None
        self.packets = 0
        self.decode_errors = 0
        self.hash_mismatch: bool | None = None
        self._seq = 0
        self._pending: dict[tuple[int, int], CommandHandle] = {}
        self._cond = threading.Condition()
        self._subscribers: list[Callable[[str, Any], None]] = []
        self._frame_taps: list[Callable[[bytes, Any], None]] = []
        self.link = None
        self.reader: LinkReader | None = None

    # ---- connection ---------------------------------------------------------------------------
    def connect(self) -> "GroundClient":
        self.link = open_link(self.url)
        self.reader = LinkReader(self.link, self, name="ground-downlink")
        self.reader.start()
        return self

    def close(self) -> None:
        if self.reader is not None:
            self.reader.stop()
        if self.link is not None:
            self.link.close()

    def __enter__(self):
        return self.connect()

    def __exit__(self, *exc):
        self.close()

    def subscribe(self, callback: Callable[[str, Any], None]) -> None:
        """callback(kind, item) for kind in "packet", "sample", "event", "verification"; called
        on the reader thread, so it must be quick (and ignore kinds it does not know)."""
        self._subscribers.append(callback)

    def tap_frames(self, callback: Callable[[bytes, Any], None]) -> None:
        """callback(buffer, TmFrameBatch) for every batch of frames found, good and bad, before
        their packets are handled: how the archive records exactly what came off the link."""
        self._frame_taps.append(callback)

    # ---- downlink ---------------------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        batch = self.decoder.feed_batch(data)
        for tap in self._frame_taps:
            tap(batch.buffer, batch.frames)
        for packet in batch.good_packets():
            self.handle_packet(packet)

    def handle_packet(self, packet: bytes) -> None:
        try:
            tm = PusTm.unpack(packet)
        except ProtocolError:
            self.decode_errors += 1
            return
        self.packets += 1
        self._notify("packet", PacketRecord(bytes(packet), tm.apid, tm.service, tm.subtype, tm.seq_count,
                                            tm.time.to_unix()))
        try:
            self._dispatch(tm)
        except (DecodeError, ValueError, KeyError):
            self.decode_errors += 1
        with self._cond:
            self._cond.notify_all()

    def _notify(self, kind: str, item: Any) -> None:
        for cb in self._subscribers:
            cb(kind, item)

    def _dispatch(self, tm: PusTm) -> None:
        t = tm.time.to_unix()
        if tm.service == 1:
            self._verification(VerificationReport.unpack(tm.subtype, tm.app_data))
        elif (tm.service, tm.subtype) == (3, pus3.Subtype.HK_REPORT):
            report = pus3.HkReport.unpack(tm.app_data)
            for name, value in self.dictionary.decode_hk(report.sid, report.values).items():
                sample = Sample(name, value, t)
                self.latest[name] = sample
                self._notify("sample", sample)
            if HASH_CHANNEL in self.latest:
                ours = int(self.dictionary.hash.split(":", 1)[1][:16], 16)
                self.hash_mismatch = self.latest[HASH_CHANNEL].value != ours
        elif tm.service == 5 and tm.subtype <= 4:
            report = pus5.EventReport.unpack(tm.subtype, tm.app_data)
            ev = self.dictionary.event_by_id.get(report.event_id)
            args = ev.decode_args(report.aux) if ev else {}
            record = EventRecord(ev, report.event_id, ev.severity if ev else None, args,
                                 ev.text(args) if ev else f"unknown event {report.event_id}", t)
            self.events.append(record)
            self._notify("event", record)
        elif (tm.service, tm.subtype) == (17, 2):
            self.pongs += 1
        elif (tm.service, tm.subtype) == (20, 2):
            self.parameters.update(pus20.unpack_values(self.dictionary, tm.app_data))
        elif (tm.service, tm.subtype) == (11, pus11.Subtype.DETAIL_REPORT):
            self.schedule_report = pus11.unpack_activities(tm.app_data)
        elif tm.service == 13 and tm.subtype in (1, 2, 3):
            tid, seq, part = pus13.unpack_part(tm.app_data)
            if seq == 0:  # a first part, or the only part of a short transfer: a new transaction
                self.transfers[tid] = pus13.Reassembly(tid)
            r = self.transfers.get(tid)
            if r is None:
                raise DecodeError(f"part {seq} of transfer {tid} without its first part")
            r.add(tm.subtype, seq, part)
            if r.complete:
                self.completed_transfers[tid] = r.data()
                del self.transfers[tid]
                self._notify("transfer", TransferRecord(tid, self.completed_transfers[tid], t))
        elif (tm.service, tm.subtype) == (13, pus13.UPLINK_ABORTION):
            tid, reason = pus13.unpack_abortion(tm.app_data)
            self.uplink_aborts[tid] = reason

    def _verification(self, rep: VerificationReport) -> None:
        key = (rep.request.apid, rep.request.seq_count)
        with self._cond:
            handle = self._pending.get(key)
        if handle is None:
            return
        handle.stages.append((rep.subtype.stage, not rep.subtype.failed))
        if rep.subtype.failed:
            handle.failure = (int(rep.failure or 0), rep.failure_data.decode(errors="replace"))
        if rep.subtype.failed or rep.subtype is Subtype.COMPLETION_OK:
            handle._done.set()
        self._notify("verification", handle)

    # ---- uplink -----------------------------------------------------------------------------------
    def _packet(self, name: str, service: int, subtype: int, data: bytes,
                ack: AckFlags = AckFlags.ALL) -> tuple[bytes, CommandHandle]:
        with self._cond:
            seq = self._seq
            self._seq = (self._seq + 1) & 0x3FFF
            packet = PusTc(apid=self.apid, service=service, subtype=subtype, app_data=data, seq_count=seq,
                           source_id=self.source_id, ack=ack).pack()
            handle = CommandHandle(name, RequestId.of_packet(packet))
            self._pending[(self.apid, seq)] = handle
        return packet, handle

    def send_packet(self, name: str, service: int, subtype: int, data: bytes,
                    ack: AckFlags = AckFlags.ALL) -> CommandHandle:
        packet, handle = self._packet(name, service, subtype, data, ack)
        self.link.write(self.encoder.cltu(packet))
        return handle

    def _encode(self, name: str, args: dict) -> tuple:
        cmd = self.dictionary.command_by_name.get(name)
        if cmd is None:
            raise KeyError(f"no command {name!r} in the dictionary "
                           f"(e.g. {', '.join(sorted(self.dictionary.command_by_name)[:5])})")
        data = self._raw_args(cmd.service, cmd.subtype, args) if cmd.raw else cmd.encode_args(**args)
        return cmd, data

    def schedule(self, activities: list[tuple[float, str, dict]]) -> tuple[CommandHandle, list[CommandHandle]]:
        """Insert time-tagged commands (TC[11,4]); returns the insert's handle and one handle per
        scheduled command, which completes when the node releases and executes it."""
        packets, handles = [], []
        for release_s, name, args in activities:
            cmd, data = self._encode(name, args)
            packet, handle = self._packet(name, cmd.service, cmd.subtype, data)
            packets.append((release_s, packet))
            handles.append(handle)
        insert = self.send_packet("schedule.Insert", 11, pus11.Subtype.INSERT, pus11.pack_activities(packets))
        return insert, handles

    def send(self, name: str, **args: Any) -> CommandHandle:
        """Send a dictionary command by name; arguments are checked before anything is sent."""
        cmd, data = self._encode(name, args)
        return self.send_packet(name, cmd.service, cmd.subtype, data)

    def uplink(self, data: bytes, part_octets: int | None = None, *, window: int = 16,
               timeout: float = 10.0) -> int:
        """Send `data` up in TC[13,9..11] parts; returns the transaction id (the parts' handles are
        in `uplinks[tid]`, an abortion report in `uplink_aborts[tid]`).

        `part_octets` defaults to the most a TC frame carries. With `window` > 0 at most that many
        parts are out before the oldest has completed, so a fast link does not overrun the node's
        command queue; `window=0` sends every part at once (a caller that paces the link itself).
        Raises UplinkError if a part fails or is not verified within `timeout` seconds.
        """
        overhead = PRIMARY_HEADER_LEN + TC_SEC_HEADER_LEN + PEC_LEN + pus13.PART_HEAD_OCTETS
        part_octets = part_octets or self.encoder.config.tc_max_data_octets - overhead
        with self._cond:
            tid = self._next_uplink
            self._next_uplink = self._next_uplink % 0xFFFF + 1
        handles = self.uplinks[tid] = []
        for subtype, app_data in pus13.uplink_parts(tid, data, part_octets):
            if window and len(handles) >= window:
                self._await_part(tid, handles[-window], timeout)
            handles.append(self.send_packet(UPLINK_COMMANDS[subtype], pus13.SERVICE, subtype, app_data))
        return tid

    def _await_part(self, tid: int, handle: CommandHandle, timeout: float) -> None:
        handle.wait(timeout)
        if not handle.completed:
            raise UplinkError(tid, handle.describe() if handle.stages else f"{handle.name}: no report in {timeout} s")

    def _raw_args(self, service: int, subtype: int, args: dict) -> bytes:
        if (service, subtype) == (20, pus20.Subtype.SET_VALUES):
            return pus20.pack_values(self.dictionary, args)
        if (service, subtype) == (20, pus20.Subtype.REPORT_VALUES):
            return pus20.pack_ids(self.dictionary, list(args.get("names", [])))
        if (service, subtype) == (11, pus11.Subtype.DELETE):
            return pus11.pack_request_ids([(h.request.apid, h.request.seq_count) for h in args["handles"]])
        raise ValueError(f"no ground encoder for TC[{service},{subtype}]")

    # ---- waiting ------------------------------------------------------------------------------------
    def wait_until(self, predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(min(remaining, 0.2))
        return True

    def value(self, channel: str) -> Any:
        return self.latest[channel].value if channel in self.latest else None
