"""PUS service 13: large data down in parts, paced so housekeeping and events keep flowing.

Transfers queue up and go out on the bulk virtual channel a few parts per fast tick; the compute
manager's results and files use `queue()`. `DownlinkTestPattern` sends a known pattern so a test
bench can check the whole path end to end.
"""
from __future__ import annotations

from collections import deque

from gridfree.flight.core.component import CommandFailed, Component
from gridfree.flight.core.downlink import VC_BULK
from gridfree.protocols.dictionary import Channel, Command, Field, HousekeepingPacket
from gridfree.protocols.services import largedata as pus13
from gridfree.protocols.services.verification import FailureCode

PART_OCTETS = 1000
PARTS_PER_TICK = 8
MAX_QUEUED_OCTETS = 64 << 20


def known_pattern(size: int) -> bytes:
    """A pattern whose every position is distinct within 64 KiB, so misplaced parts show."""
    return bytes((i * 7 + (i >> 8)) & 0xFF for i in range(size))


class LargeDataService(Component):
    channels = (
        Channel(1, "TransfersQueued", "u16", description="Transfers waiting or in progress"),
        Channel(2, "PartsSent", "u32", description="TM[13,x] parts downlinked"),
        Channel(3, "TransfersDone", "u32", description="Transfers whose last part went down"),
    )
    commands = (
        Command("DownlinkTestPattern", opcode=0x01,
                arguments=(Field("size_bytes", "u32", "B", min=1, max=16 << 20),),
                description="Downlink a known pattern of this size as one large transfer"),
        Command("Abort", service=13, subtype=pus13.Subtype.ABORT, arguments=(Field("transaction", "u16"),),
                description="TC[13,16]: abort a downlink transfer"),
    )
    housekeeping = (HousekeepingPacket(1, "Status", ("TransfersQueued", "PartsSent", "TransfersDone"), 1.0,
                                       "Large data transfers"),)

    def __init__(self, name: str = "lds", id_base: int = 0x00B0):
        super().__init__(name, id_base)
        self._queue: deque[list] = deque()  # [transaction, data, next part]
        self._next_tid = 1
        self.parts_sent = self.done = 0

    def queue(self, data: bytes) -> int:
        if sum(len(t[1]) for t in self._queue) + len(data) > MAX_QUEUED_OCTETS:
            raise CommandFailed(FailureCode.BUSY, "large data queue full")
        tid = self._next_tid
        self._next_tid = (self._next_tid % 0xFFFF) + 1
        self._queue.append([tid, bytes(data), 0])
        return tid

    def schedule(self):
        return {"fast": [self.tick]}

    def tick(self, _t: float) -> None:
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

    def cmd_DownlinkTestPattern(self, size_bytes: int) -> None:
        self.queue(known_pattern(size_bytes))

    def cmd_Abort(self, transaction: int) -> None:
        for entry in list(self._queue):
            if entry[0] == transaction:
                self._queue.remove(entry)
                return
        raise CommandFailed(FailureCode.BAD_ARGUMENT, f"no transfer {transaction} in progress")
