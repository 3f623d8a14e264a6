"""Following commands the ground sent: one `CommandHandle` per TC, moved on by PUS 1 reports.

The tracker gives each TC its sequence count and remembers its request id; a verification
report the decoder found is matched to the handle by (APID, sequence count), and a waiter on
the handle wakes when the command completes or fails. No I/O: the live client encodes and
writes, the tracker only keeps count.

A handle keeps the command's life as an operator must be able to trust it, each step with the
ground time it was seen: QUEUED (made, not yet on the link), SENT (the link took the bytes) or
FAILED not sent (the link dropped them: no peer, a dead line), then ACCEPTED (TM[1,1]), STARTED
(TM[1,3]), COMPLETED (TM[1,7]) or FAILED at the stage the node names (TM[1,2], [1,4], [1,8])
with its failure code and reason, and TIMEOUT when a report the ack flags asked for is overdue.
The node sends a failure whatever the flags say, and the successes only where they ask.
"""
from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from gridfree.protocols.pus import AckFlags, PusTc
from gridfree.protocols.services.verification import FailureCode, RequestId, Subtype, VerificationReport

QUEUED, SENT, ACCEPTED, STARTED, PROGRESS, COMPLETED, FAILED, TIMEOUT = (
    "QUEUED", "SENT", "ACCEPTED", "STARTED", "PROGRESS", "COMPLETED", "FAILED", "TIMEOUT")
#: The stage a command fails at when the link, not the node, refused it.
NOT_SENT = "not sent"
#: The state a successful report moves a command to, by its PUS 1 stage.
STATE_OF_STAGE = {"acceptance": ACCEPTED, "start": STARTED, "progress": PROGRESS, "completion": COMPLETED}
#: The stages whose success reports each acknowledgement flag asks for, in the order they come.
ACK_OF_STAGE = (("acceptance", AckFlags.ACCEPTANCE), ("start", AckFlags.START),
                ("completion", AckFlags.COMPLETION))


def failure_name(code: int) -> str:
    """A failure code as the node's dictionary of codes names it (the number if it does not)."""
    return FailureCode(code).name if code in FailureCode._value2member_map_ else str(code)


@dataclass(frozen=True)
class Transition:
    """One step of a command's life, at the ground time (unix s) the ground saw it."""

    state: str
    time_s: float
    stage: str = ""  # the PUS 1 stage a report was about, or NOT_SENT
    detail: str = ""  # failure code and reason, why it was not sent, or what is overdue


@dataclass
class CommandHandle:
    name: str
    request: RequestId | None
    ack: AckFlags = AckFlags.ALL
    stages: list[tuple[str, bool]] = field(default_factory=list)  # (stage, ok)
    failure: tuple[int, str] | None = None
    not_sent: str | None = None  # why the link did not take the command
    armed_by: "CommandHandle | None" = None  # the node.Arm sent right before it (send(..., arm=True))
    transitions: list[Transition] = field(default_factory=list)
    _done: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self):
        if not self.transitions:
            self.transitions.append(Transition(QUEUED, time.time()))

    # ---- what it is now -----------------------------------------------------------------------
    @property
    def completed(self) -> bool:
        return ("completion", True) in self.stages

    @property
    def failed(self) -> bool:
        return self.failure is not None or self.not_sent is not None

    @property
    def final(self) -> bool:
        return self.completed or self.failed

    def lifecycle(self) -> tuple[Transition, ...]:
        """The transitions so far, oldest first (a copy: reports arrive on the reader thread)."""
        with self._lock:
            return tuple(self.transitions)

    @property
    def state(self) -> Transition:
        """The latest transition that says where the command is."""
        return self.lifecycle()[-1]

    def time_of(self, state: str) -> float | None:
        return next((t.time_s for t in self.lifecycle() if t.state == state), None)

    def expected_stage(self) -> str | None:
        """The stage whose report should come next (None once final, or when the ack flags ask
        for no more): what a timeout is about."""
        if self.final or self.not_sent is not None or self.time_of(SENT) is None:
            return None
        order = [stage for stage, _ in ACK_OF_STAGE]
        seen = [order.index(s) for s, _ in self.stages if s in order]
        after = max(seen) + 1 if seen else 0
        return next((stage for stage, flag in ACK_OF_STAGE[after:] if self.ack & flag), None)

    # ---- moving on ------------------------------------------------------------------------------
    def _add(self, t: Transition, at: int | None = None) -> None:
        with self._lock:
            if at is None:
                self.transitions.append(t)
            else:
                self.transitions.insert(at, t)

    def mark_sent(self, time_s: float | None = None) -> None:
        """The link took the bytes. Idempotent; placed right after QUEUED even when a fast node's
        first report was seen before the sender got round to saying so."""
        if self.time_of(SENT) is None and self.not_sent is None:
            self._add(Transition(SENT, time.time() if time_s is None else time_s), at=1)

    def mark_not_sent(self, reason: str, time_s: float | None = None) -> None:
        """The link dropped the command (or refused it): it failed before reaching the node."""
        if self.not_sent is None and self.time_of(SENT) is None:
            self.not_sent = reason
            self._add(Transition(FAILED, time.time() if time_s is None else time_s, NOT_SENT, reason))
            self._done.set()

    def mark_timeout(self, stage: str, waited_s: float, time_s: float | None = None) -> None:
        """No `stage` report after `waited_s`; a report that comes later still moves the command on."""
        self._add(Transition(TIMEOUT, time.time() if time_s is None else time_s, stage,
                             f"no {stage} report {waited_s:g} s after {self.state.state}"))

    def record(self, rep: VerificationReport, time_s: float | None = None) -> None:
        """A PUS 1 report about this command, seen by the ground at `time_s`."""
        t = time.time() if time_s is None else time_s
        stage, ok = rep.subtype.stage, not rep.subtype.failed
        self.stages.append((stage, ok))
        if ok:
            detail = f"step {rep.step}" if rep.step is not None else ""
            self._add(Transition(STATE_OF_STAGE[stage], t, stage, detail))
            if rep.subtype is Subtype.COMPLETION_OK:
                self._done.set()
            return
        self.failure = (int(rep.failure or 0), rep.failure_data.decode(errors="replace"))
        self._add(Transition(FAILED, t, stage, self.failure_text()))
        self._done.set()

    def wait(self, timeout: float = 10.0) -> "CommandHandle":
        """Until completion or failure (or the timeout); returns self for chaining."""
        self._done.wait(timeout)
        return self

    # ---- in words --------------------------------------------------------------------------------
    def failure_text(self) -> str:
        """The node's failure code by name and its reason, whole; or why it was not sent."""
        if self.not_sent is not None:
            return f"not sent: {self.not_sent}"
        if self.failure is None:
            return ""
        code, reason = self.failure
        return f"{failure_name(code)}: {reason}" if reason else failure_name(code)

    def state_label(self) -> str:
        """The state in a word or two: FAILED and TIMEOUT name their stage."""
        s = self.state
        return f"{s.state} ({s.stage})" if s.state in (FAILED, TIMEOUT) else s.state

    def describe(self) -> str:
        if self.not_sent is not None:
            return f"{self.name}: {self.failure_text()}"
        text = " -> ".join(f"{s}{'' if ok else ' FAILED'}" for s, ok in self.stages) or "no report yet"
        if self.failure:
            text += f" ({self.failure_text()})"
        return f"{self.name}: {text}"


class UplinkError(RuntimeError):
    """A large-data uplink stopped: one of its parts failed or went unanswered."""

    def __init__(self, transaction: int, why: str):
        super().__init__(f"uplink {transaction}: {why}")
        self.transaction = transaction


class WriteWatch:
    """A link's write counters around one send: whether the command's bytes went out.

    A link drops what it cannot write (no peer on TCP, a line gone on serial) and counts it
    rather than raising, as a radio out of view loses its downlink; the ground must not then
    say a command was sent. Made before the send, asked after it.
    """

    def __init__(self, client: Any):
        self.client = client
        self.link = getattr(client, "link", None)
        stats = getattr(self.link, "stats", None)
        self._dropped = getattr(stats, "dropped_writes", None)
        #: Why nothing can be sent at all (a client whose link was never opened, or is closed).
        self.unconnected: str | None = None
        where = getattr(client, "url", "the link")
        if hasattr(client, "link") and self.link is None:
            self.unconnected = f"not connected to {where}"
        elif getattr(self.link, "closed", False):
            self.unconnected = f"the link to {where} is closed"

    def lost(self) -> str | None:
        """Why the command did not leave the ground, or None if the link took it."""
        stats = getattr(self.link, "stats", None)
        if self._dropped is None or stats is None or stats.dropped_writes == self._dropped:
            return None
        why = getattr(self.link, "last_error", "") or ""
        where = getattr(self.client, "url", "the link")
        return f"the link dropped it: no peer at {where}" + (f" ({why})" if why else "")


class CommandTracker:
    """Sequence counts out, verification reports in, a handle for each command between."""

    def __init__(self, apid: int, source_id: int):
        self.apid, self.source_id = apid, source_id
        # A random start: the node's PUS 1 reports go to every ground client in view, and two that
        # both counted from 0 would each take the other's reports for their own.
        self._seq = random.randrange(0x4000)
        self._pending: dict[tuple[int, int], CommandHandle] = {}
        self._lock = threading.Lock()

    def packet(self, name: str, service: int, subtype: int, data: bytes,
               ack: AckFlags = AckFlags.ALL) -> tuple[bytes, CommandHandle]:
        """The TC packet for one command, and the handle that will follow it (QUEUED)."""
        with self._lock:
            seq = self._seq
            self._seq = (self._seq + 1) & 0x3FFF
            packet = PusTc(apid=self.apid, service=service, subtype=subtype, app_data=data, seq_count=seq,
                           source_id=self.source_id, ack=ack).pack()
            handle = CommandHandle(name, RequestId.of_packet(packet), ack)
            self._pending[(self.apid, seq)] = handle
        return packet, handle

    def find(self, rep: VerificationReport) -> CommandHandle | None:
        """The handle of the command a report is about; None for a report on no command of ours."""
        with self._lock:
            return self._pending.get((rep.request.apid, rep.request.seq_count))

    def report(self, rep: VerificationReport) -> CommandHandle | None:
        """Move the reported command's handle on; None for a report on no command of ours."""
        handle = self.find(rep)
        if handle is not None:
            handle.record(rep)
        return handle
