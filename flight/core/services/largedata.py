"""PUS service 13: large data down in parts, paced so housekeeping and events keep flowing, and
up in parts, reassembled and handed to whoever on board takes that kind of data.

Transfers queue up and go out on the bulk virtual channel a few parts per fast tick; the compute
manager's results and files use `queue()`. `DownlinkTestPattern` sends a known pattern so a test
bench can check the whole path end to end. Other components queue data through `queueIn`.

Uplinks (TC[13,9..11]) are reassembled per transaction id in any order, within bounds an untrusted
sender cannot stretch: octets and parts per transfer, transfers in progress, and a timeout after
the last part heard. A complete transfer goes out through `uplinkOut` to the component the
topology connected, which answers whether its first four octets, its magic, are its kind of data,
or raises `UplinkRejected` to refuse it. Whatever ends a
transfer early is reported in TM[13,16] and an event, counted, and fails the TC that caused it;
nothing already held by a consumer is touched by a failed transfer.

Tenants may uplink too. A transfer belongs to the SA its first part came through: a part from
another SA is refused (NOT_AUTHORISED) without touching it, and the consumer is told the origin,
so it can refuse one tenant's data naming another tenant.
"""
from __future__ import annotations

from array import array
from collections import OrderedDict, deque
from dataclasses import dataclass

from gridfree.flight.core.component import CommandFailed, Component
from gridfree.flight.core.messages import ONBOARD, LargeDataDownlink, Origin, UplinkedData, UplinkRejected
from gridfree.flight.core.ports import InPort, OutPort
from gridfree.flight.core.downlink import VC_BULK
from gridfree.native.crc import crc32c
from gridfree.protocols.dictionary import (Channel, Command, DecodeError, Event, Field, HousekeepingPacket, Parameter,
                                           Severity)
from gridfree.protocols.services import largedata as pus13
from gridfree.protocols.services.largedata import UplinkFailure
from gridfree.protocols.services.verification import FailureCode

PART_OCTETS = 1000
PARTS_PER_TICK = 8
MAX_QUEUED_OCTETS = 64 << 20
UPLINK_MAX_OCTETS = 16 << 20  # one transfer; four in progress hold at most 64 MiB
UPLINK_MAX_PARTS = 1 << 15  # a TC frame carries ~1000 octets: room for 16 MiB, no room for one-octet parts
UPLINK_MAX_TRANSFERS = 4
RECENT_UPLINKS = 16  # transfers remembered after their end, to tell a late duplicate from a new transfer
MAGIC_OCTETS = 4


@dataclass
class _Incoming:
    reassembly: pus13.Reassembly
    last_heard_s: float
    origin: Origin = ONBOARD  # the SA the first part came through: the transfer's owner


@dataclass
class _Ended:
    """What is remembered of a transfer after it ended: the CRC-32C of each of its parts, by number
    (4 octets a part: the remembered transfers cost at most 2 MiB)."""

    completed: bool
    part_crcs: array

    def holds(self, seq: int, part: bytes) -> bool:
        return seq < len(self.part_crcs) and self.part_crcs[seq] == crc32c(part)


def known_pattern(size: int) -> bytes:
    """A pattern whose every position is distinct within 64 KiB, so misplaced parts show."""
    return bytes((i * 7 + (i >> 8)) & 0xFF for i in range(size))


class LargeDataService(Component):
    channels = (
        Channel(1, "TransfersQueued", "u16", description="Transfers waiting or in progress"),
        Channel(2, "PartsSent", "u32", description="TM[13,x] parts downlinked"),
        Channel(3, "TransfersDone", "u32", description="Transfers whose last part went down"),
        Channel(4, "UplinksInProgress", "u16", description="Uplink transfers being reassembled"),
        Channel(5, "UplinkParts", "u32", description="TC[13,9..11] parts received"),
        Channel(6, "UplinksDone", "u32", description="Uplinks reassembled and taken by their consumer"),
        Channel(7, "UplinksAborted", "u32", description="Uplinks given up (TM[13,16] sent)"),
        Channel(8, "UplinkDuplicates", "u32", description="Uplink parts received again (ignored)"),
    )
    parameters = (
        Parameter(1, "UplinkTimeoutS", "f32", 120.0, "s", "An uplink with no part for this long is aborted",
                  min=1.0, max=86400.0),
    )
    events = (
        Event(1, "UplinkAborted", Severity.WARNING_LO, "uplink {transaction} aborted ({reason}): {detail}",
              (Field("transaction", "u16"), Field("reason", "u8", enum={r.name: r.value for r in UplinkFailure}),
               Field("detail", "string[48]"))),
        Event(2, "UplinkDone", Severity.ACTIVITY_LO, "uplink {transaction}: {octets} octets delivered",
              (Field("transaction", "u16"), Field("octets", "u32", "B"))),
    )
    commands = (
        Command("DownlinkTestPattern", opcode=0x01,
                arguments=(Field("size_bytes", "u32", "B", min=1, max=16 << 20),),
                description="Downlink a known pattern of this size as one large transfer"),
        Command("Abort", service=13, subtype=pus13.Subtype.ABORT, arguments=(Field("transaction", "u16"),),
                description="TC[13,16]: abort a downlink transfer"),
        Command("UplinkFirstPart", service=13, subtype=pus13.Subtype.UPLINK_FIRST_PART, raw=True,
                roles=("operator", "tenant"), description="TC[13,9]: transaction id u16, part sequence number u32 "
                                                          "(0), part"),
        Command("UplinkIntermediatePart", service=13, subtype=pus13.Subtype.UPLINK_INTERMEDIATE_PART, raw=True,
                roles=("operator", "tenant"), description="TC[13,10]: transaction id u16, part sequence number u32, "
                                                          "part"),
        Command("UplinkLastPart", service=13, subtype=pus13.Subtype.UPLINK_LAST_PART, raw=True,
                roles=("operator", "tenant"), description="TC[13,11]: transaction id u16, part sequence number u32, "
                                                          "part"),
    )
    ports = (
        InPort("queueIn", LargeDataDownlink, "data to send down whole; the transaction id", returns=int),
        OutPort("uplinkOut", UplinkedData, "complete uplinks, to the component that takes them", returns=bool),
    )
    housekeeping = (HousekeepingPacket(1, "Status", ("TransfersQueued", "PartsSent", "TransfersDone",
                                                     "UplinksInProgress", "UplinkParts", "UplinksDone",
                                                     "UplinksAborted", "UplinkDuplicates"), 1.0,
                                       "Large data transfers"),)

    def __init__(self, name: str, id_base: int):
        super().__init__(name, id_base)
        self._queue: deque[list] = deque()  # [transaction, data, next part]
        self._next_tid = 1
        self.parts_sent = self.done = 0
        self._incoming: dict[int, _Incoming] = {}
        self._ended: OrderedDict[int, _Ended] = OrderedDict()
        self.uplink_parts = self.uplinks_done = self.uplinks_aborted = self.uplink_duplicates = 0

    def queueIn_handler(self, request: LargeDataDownlink) -> int:
        return self.queue(request.data)

    def queue(self, data: bytes) -> int:
        if sum(len(t[1]) for t in self._queue) + len(data) > MAX_QUEUED_OCTETS:
            raise CommandFailed(FailureCode.BUSY, "large data queue full")
        tid = self._next_tid
        self._next_tid = (self._next_tid % 0xFFFF) + 1
        self._queue.append([tid, bytes(data), 0])
        return tid

    def schedule(self):
        return {"fast": [self.tick]}

    def tick(self, t: float) -> None:
        budget = PARTS_PER_TICK
        while budget and self._queue:
            entry = self._queue[0]
            tid, data, seq = entry
            nparts = max(1, -(-len(data) // PART_OCTETS))
            part = data[seq * PART_OCTETS:(seq + 1) * PART_OCTETS]
            subtype = (pus13.Subtype.LAST_PART if seq == nparts - 1 else
                       pus13.Subtype.FIRST_PART if seq == 0 else pus13.Subtype.INTERMEDIATE_PART)
            self.ctx.downlink.send(13, subtype, pus13.pack_part(tid, seq, part), VC_BULK)
            self.parts_sent += 1
            budget -= 1
            entry[2] += 1
            if entry[2] == nparts:
                self._queue.popleft()
                self.done += 1
        self.tlm("TransfersQueued", len(self._queue))
        self.tlm("PartsSent", self.parts_sent)
        self.tlm("TransfersDone", self.done)
        self._expire_uplinks(t)
        for local, value in (("UplinksInProgress", len(self._incoming)), ("UplinkParts", self.uplink_parts),
                             ("UplinksDone", self.uplinks_done), ("UplinksAborted", self.uplinks_aborted),
                             ("UplinkDuplicates", self.uplink_duplicates)):
            self.tlm(local, value)

    def cmd_DownlinkTestPattern(self, size_bytes: int) -> None:
        self.queue(known_pattern(size_bytes))

    def cmd_Abort(self, transaction: int) -> None:
        for entry in list(self._queue):
            if entry[0] == transaction:
                self._queue.remove(entry)
                return
        raise CommandFailed(FailureCode.BAD_ARGUMENT, f"no transfer {transaction} in progress")

    # ---- uplink ---------------------------------------------------------------------------------
    def cmd_UplinkFirstPart(self, data: bytes, origin: Origin = ONBOARD) -> None:
        self._uplink_part(pus13.Subtype.UPLINK_FIRST_PART, data, origin)

    def cmd_UplinkIntermediatePart(self, data: bytes, origin: Origin = ONBOARD) -> None:
        self._uplink_part(pus13.Subtype.UPLINK_INTERMEDIATE_PART, data, origin)

    def cmd_UplinkLastPart(self, data: bytes, origin: Origin = ONBOARD) -> None:
        self._uplink_part(pus13.Subtype.UPLINK_LAST_PART, data, origin)

    def _uplink_part(self, subtype: pus13.Subtype, data: bytes, origin: Origin) -> None:
        try:
            tid, seq, part = pus13.unpack_part(data)
        except DecodeError as exc:
            raise CommandFailed(FailureCode.INCOMPLETE_OR_BAD_LENGTH, str(exc)) from None
        self.uplink_parts += 1
        now = self.ctx.clock.now()
        incoming = self._incoming.get(tid)
        if incoming is not None and incoming.origin != origin:
            raise CommandFailed(FailureCode.NOT_AUTHORISED, f"uplink {tid} belongs to another SA; {origin} may not "
                                                            "add to it (use another transaction id)")
        if incoming is not None and seq == 0 and 0 in incoming.reassembly.parts \
                and incoming.reassembly.parts[0] != part:  # part 0 again, other content: the sender started over
            self._abort(tid, UplinkFailure.INCONSISTENT, "restarted from part 0", fail=False)
            incoming = None
        if incoming is None:
            ended = self._ended.get(tid)
            if ended is not None and ended.holds(seq, part):
                self.uplink_duplicates += 1  # a late copy of a part of a transfer already ended
                return
            if ended is not None and not ended.completed and seq != 0:
                raise CommandFailed(FailureCode.EXECUTION_ERROR, f"uplink {tid} was aborted; send it again from "
                                                                 "part 0")
            self._ended.pop(tid, None)
            if len(self._incoming) >= UPLINK_MAX_TRANSFERS:
                self._abort(tid, UplinkFailure.TOO_MANY, f"{UPLINK_MAX_TRANSFERS} uplinks in progress")
            incoming = self._incoming[tid] = _Incoming(
                pus13.Reassembly(tid, max_octets=UPLINK_MAX_OCTETS, max_parts=UPLINK_MAX_PARTS), now, origin)
        r = incoming.reassembly
        try:
            new = r.add(subtype, seq, part)
        except pus13.TransferTooLarge as exc:
            self._abort(tid, UplinkFailure.TOO_LARGE, str(exc))
        except DecodeError as exc:
            self._abort(tid, UplinkFailure.INCONSISTENT, str(exc))
        incoming.last_heard_s = now
        if not new:
            self.uplink_duplicates += 1
        if r.complete:
            self._deliver(tid, r, origin)

    def _deliver(self, tid: int, r: pus13.Reassembly, origin: Origin) -> None:
        data = r.data()
        try:
            taken = self.out("uplinkOut", UplinkedData(data, origin)) if self.port_set.connected("uplinkOut") else False
        except UplinkRejected as exc:
            self._abort(tid, UplinkFailure.REJECTED, str(exc))
        except Exception as exc:  # noqa: BLE001 - a consumer's fault (a full disk...) ends the transfer, not the node
            self._abort(tid, UplinkFailure.REJECTED, f"{type(exc).__name__}: {exc}")
        if not taken:
            self._abort(tid, UplinkFailure.NO_CONSUMER, f"nothing takes data starting {data[:MAGIC_OCTETS]!r}")
        del self._incoming[tid]
        self._remember(tid, _Ended(True, array("I", (crc32c(r.parts[s]) for s in range(r.last_seq + 1)))))
        self.uplinks_done += 1
        self.log("UplinkDone", transaction=tid, octets=len(data))

    def _abort(self, tid: int, reason: UplinkFailure, detail: str, fail: bool = True) -> None:
        """End an uplink: TM[13,16], an event, the count; then fail the TC at hand by raising (unless
        `fail` is False: a timeout has no TC at hand, and a restart's part 0 goes on to a new transfer)."""
        self._incoming.pop(tid, None)
        self._remember(tid, _Ended(False, array("I")))
        self.uplinks_aborted += 1
        self.ctx.downlink.send(13, pus13.UPLINK_ABORTION, pus13.pack_abortion(tid, reason))
        self.log("UplinkAborted", transaction=tid, reason=int(reason), detail=detail)
        if fail:
            code = FailureCode.BUSY if reason is UplinkFailure.TOO_MANY else FailureCode.EXECUTION_ERROR
            raise CommandFailed(code, f"{reason.name}: {detail}")  # the report carries 64 octets: detail first

    def _remember(self, tid: int, ended: _Ended) -> None:
        self._ended.pop(tid, None)
        self._ended[tid] = ended
        while len(self._ended) > RECENT_UPLINKS:
            self._ended.popitem(last=False)

    def _expire_uplinks(self, now: float) -> None:
        timeout = self.param("UplinkTimeoutS")
        for tid, incoming in list(self._incoming.items()):
            if now - incoming.last_heard_s > timeout:
                missing = incoming.reassembly.missing
                why = f"parts {missing[:4]} missing" if missing else "no last part"
                self._abort(tid, UplinkFailure.TIMED_OUT, why, fail=False)

