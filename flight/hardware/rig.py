"""The driver for the HIL rig's emulated board (and any board speaking `protocols.hwbus`) on a
serial line: one request at a time, matched by sequence number, with a timeout and retries. A
silent or unplugged line is reported through `health` and the node carries on with None readings.
The payload's work items go through the same registers (`submit_item`, `clear_items`,
`read_items`, with the torn-read rule for the completion count and its latched energy).

A line that goes away is reopened at its path by the link itself (protocols/links/serial.py, with
backoff) and one that could not be opened at boot is opened later with the same backoff, so a
board replugged while the node runs is read again without a restart; `health.reopens` counts both.
"""
from __future__ import annotations

import time
from abc import abstractmethod

from gridfree.flight.hardware.interfaces import DriverHealth, ItemRegisters, PowerBoard, Quantity, Switch
from gridfree.protocols.hwbus import HwBusDecoder, Op, Reg, Request, Response, Status
from gridfree.protocols.links import LinkError, open_link
from gridfree.protocols.links.base import Backoff

_REG = {q: Reg[q.name] for q in Quantity}  # Quantity and Reg are both named from the register map
_SWITCH = {s: Reg[f"{s.name}_SWITCH"] for s in Switch}
BACKOFF_REQUESTS = 20
TORN_READS = 3  # reads of (done, done energy) before a sweep gives up on a consistent pair


class RegisterBoard(PowerBoard):
    """A board read and written through its registers (protocols/registers.py): everything but the
    exchange of one request for its response, which `_transact` does (None: no answer)."""

    @abstractmethod
    def _transact(self, op: Op, reg: int, value: float = 0.0) -> Response | None: ...

    def read(self, q: Quantity) -> float | None:
        resp = self._transact(Op.READ, _REG[q])
        return resp.value if resp is not None and resp.status is Status.OK else None

    def read_many(self, quantities) -> dict:
        """One block read per run of consecutive registers."""
        regs = sorted((_REG[q], q) for q in quantities)
        out, run = {}, []
        for reg, q in regs + [(None, None)]:
            if run and (reg is None or reg != run[-1][0] + 1):
                resp = self._transact(Op.READ_BLOCK, run[0][0], len(run))
                ok = resp is not None and resp.status is Status.OK and len(resp.values) == len(run)
                for i, (_, rq) in enumerate(run):
                    out[rq] = resp.values[i] if ok else None
                run = []
            if reg is not None:
                run.append((reg, q))
        return out

    def set_switch(self, s: Switch, on: bool) -> bool:
        resp = self._transact(Op.WRITE, _SWITCH[s], 1 if on else 0)
        return resp is not None and resp.status is Status.OK

    def set_utilisation(self, fraction: float) -> bool:
        resp = self._transact(Op.WRITE, Reg.PAYLOAD_UTILISATION, fraction)
        return resp is not None and resp.status is Status.OK

    work_interface = True

    def _write(self, reg: int, value: float) -> bool:
        resp = self._transact(Op.WRITE, reg, value)
        return resp is not None and resp.status is Status.OK

    def _read_u32(self, reg: int) -> int | None:
        resp = self._transact(Op.READ, reg)
        return int(resp.value) if resp is not None and resp.status is Status.OK else None

    def submit_item(self, seq: int, kind: int, work_M: float) -> bool:
        """Kind and cost first, then the item's number; then `accepted` read back, which says
        whether the board took it (a full queue or a number not next is ignored by the board)."""
        if not (self._write(Reg.PAYLOAD_ITEM_KIND, int(kind)) and self._write(Reg.PAYLOAD_ITEM_WORK_M, work_M)):
            return False
        self._write(Reg.PAYLOAD_ITEM_SUBMIT, seq)  # a lost answer is settled by reading accepted
        return self._read_u32(Reg.PAYLOAD_ITEM_ACCEPTED) == seq

    def clear_items(self) -> bool:
        return self._write(Reg.PAYLOAD_QUEUE_CLEAR, 1)

    def read_items(self) -> ItemRegisters | None:
        """accepted .. busy energy in one block read, then `done` again: if it moved, an item
        completed between the two reads of the block and (done, done energy) may be torn, so the
        block is read again, at most TORN_READS times; after that the pair is None this sweep."""
        first = Reg.PAYLOAD_ITEM_ACCEPTED
        count = Reg.PAYLOAD_BUSY_ENERGY_MJ - first + 1
        accepted = busy = None
        for _ in range(TORN_READS):
            resp = self._transact(Op.READ_BLOCK, first, count)
            if resp is None or resp.status is not Status.OK or len(resp.values) != count:
                return ItemRegisters(accepted, None, None, busy)
            accepted, done, done_mJ, busy = (int(v) for v in resp.values)
            again = self._read_u32(Reg.PAYLOAD_ITEM_DONE)
            if again == done:
                return ItemRegisters(accepted, done, done_mJ, busy)
            if again is None:
                break
        return ItemRegisters(accepted, None, None, busy)


class RigSerialBoard(RegisterBoard):
    def __init__(self, url: str, timeout_s: float = 0.2, retries: int = 1):
        self.url, self.timeout_s, self.retries = url, timeout_s, retries
        self._health = DriverHealth()
        self.decoder = HwBusDecoder()
        self._seq = 0
        self._skip = 0  # requests to answer None without asking, while the board is not answering
        self._late_opens = 0  # opens that succeeded after the first one failed
        self._open_backoff = Backoff()
        self._open_error = ""
        self.link = None
        self._open()  # a line missing at boot is reported as failures on every request, and opened later

    def _open(self) -> bool:
        try:
            self.link = open_link(self.url)
        except LinkError as exc:
            self._health.errors += 1
            self._open_backoff.failed()
            self._open_error = str(exc)
            return False
        self._open_error = ""
        return True

    @property
    def health(self) -> DriverHealth:
        """The driver's counters, with the line's state as the link reports it now."""
        h, link = self._health, self.link
        if link is None:
            h.line_up, h.line_down_reason = False, self._open_error
            h.reopens = self._late_opens
        else:
            h.line_up, h.line_down_reason = link.stats.connected, link.down_reason
            h.reopens = self._late_opens + link.stats.reconnects
        return h

    def _transact(self, op: Op, reg: int, value: float = 0.0) -> Response | None:
        # A board that stopped answering is asked only every BACKOFF_REQUESTS-th time, so a dead
        # line costs the rate groups one timeout now and then, not one per reading.
        health = self._health
        if not health.ok and self._skip > 0:
            self._skip -= 1
            return None
        for _ in range(1 + self.retries):
            health.requests += 1
            if self.link is None:
                if not (self._open_backoff.due() and self._open()):
                    health.consecutive_failures += 1
                    return None
                self._late_opens += 1
            self._seq = (self._seq + 1) & 0xFF
            self.link.write(Request(op, self._seq, reg, value).pack())
            deadline = time.monotonic() + self.timeout_s
            while (left := deadline - time.monotonic()) > 0:
                for msg in self.decoder.feed(self.link.read(64, timeout=left)):
                    if isinstance(msg, Response) and msg.seq == self._seq and msg.reg == reg:
                        health.consecutive_failures = 0
                        return msg
            health.timeouts += 1
        health.consecutive_failures += 1
        self._skip = BACKOFF_REQUESTS
        return None

    def close(self) -> None:
        if self.link is not None:
            self.link.close()
