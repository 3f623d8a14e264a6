"""Following commands the ground sent: one `CommandHandle` per TC, moved on by PUS 1 reports.

The tracker gives each TC its sequence count and remembers its request id; a verification
report the decoder found is matched to the handle by (APID, sequence count), and a waiter on
the handle wakes when the command completes or fails. No I/O: the live client encodes and
writes, the tracker only keeps count.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

from gridfree.protocols.pus import AckFlags, PusTc
from gridfree.protocols.services.verification import FailureCode, RequestId, Subtype, VerificationReport


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


class CommandTracker:
    """Sequence counts out, verification reports in, a handle for each command between."""

    def __init__(self, apid: int, source_id: int):
        self.apid, self.source_id = apid, source_id
        self._seq = 0
        self._pending: dict[tuple[int, int], CommandHandle] = {}
        self._lock = threading.Lock()

    def packet(self, name: str, service: int, subtype: int, data: bytes,
               ack: AckFlags = AckFlags.ALL) -> tuple[bytes, CommandHandle]:
        """The TC packet for one command, and the handle that will follow it."""
        with self._lock:
            seq = self._seq
            self._seq = (self._seq + 1) & 0x3FFF
            packet = PusTc(apid=self.apid, service=service, subtype=subtype, app_data=data, seq_count=seq,
                           source_id=self.source_id, ack=ack).pack()
            handle = CommandHandle(name, RequestId.of_packet(packet))
            self._pending[(self.apid, seq)] = handle
        return packet, handle

    def report(self, rep: VerificationReport) -> CommandHandle | None:
        """Move the reported command's handle on; None for a report on no command of ours."""
        with self._lock:
            handle = self._pending.get((rep.request.apid, rep.request.seq_count))
        if handle is None:
            return None
        handle.stages.append((rep.subtype.stage, not rep.subtype.failed))
        if rep.subtype.failed:
            handle.failure = (int(rep.failure or 0), rep.failure_data.decode(errors="replace"))
        if rep.subtype.failed or rep.subtype is Subtype.COMPLETION_OK:
            handle._done.set()
        return handle
