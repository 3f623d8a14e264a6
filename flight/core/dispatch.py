"""Command dispatch with PUS service 1 verification.

Telecommands arrive from any thread (the radio's reader, the PUS 11 schedule) into a bounded queue
and are executed on the fast rate group, so every handler runs in the scheduler's thread and no
component needs locks. Each command goes through the stages the ground tracks:

acceptance: the packet checks (CRC, lengths), is for our APID, names a declared command, its
    arguments decode and lie in range, the sender's role may send it (core/access.py), and a
    hazardous command was armed by the same security association;
start and completion: the handler ran, or raised `CommandFailed` with a reason code.

Every command keeps its Origin (the SDLS security association it came through, its role and
tenant) from the uplink to its handler: a handler that declares an `origin` keyword is given it.
An arm (node.Arm) belongs to the SA that sent it, lasts at most MAX_ARM_S and is spent by that SA's
next hazardous command; another SA's hazardous command does not find it. Commands from the node
itself (ONBOARD: schedule releases, event-actions) need no arm: they were judged, arm included,
when the ground stored them. Every command refused, completed or failed goes to the audit
(`auditOut`) with its origin, outcome, code and reason.

Reports go down as TM[1,x] when the TC's acknowledgement flags ask for them; failures are always
reported, and every rejection is also counted in telemetry (cFS style), so a garbled uplink is
visible even when its request id is not. A TC that finds the queue full is refused with TM[1,2]
BUSY at the next tick (the reader thread never writes the downlink), so a flooding ground learns
which of its commands were never run; past MAX_BUSY_REPORTS pending refusals only the counter
grows, so a flood cannot turn into a downlink flood.
"""
from __future__ import annotations

import inspect
import threading
from collections import deque

from gridfree.flight.core.access import AccessRules, Refused, Route, decode_tc
from gridfree.flight.core.component import CommandFailed, Component, Declarations, build_dictionary
from gridfree.flight.core.messages import ONBOARD, ArmRequest, CommandAudit, CommandExecuted, CommandPacket, Origin
from gridfree.flight.core.ports import InPort, OutPort
from gridfree.protocols.dictionary import (Channel, Command, Event, Field, HousekeepingPacket, Severity,
                                           fit_text)
from gridfree.protocols.pus import AckFlags
from gridfree.protocols.services.verification import FailureCode, RequestId, Subtype, VerificationReport

MAX_QUEUED_COMMANDS = 64
MAX_BUSY_REPORTS = 1024  # refusals waiting for their TM[1,2] (4 octets each)
REASON_OCTETS = 255  # a TM[1,x] failure reason: the whole text an operator needs, in one packet
EVENT_REASON_OCTETS = 128  # the same reason in the fixed-size event record (cut to fit by the event service)
MAX_ARM_S = 60.0  # an arm lasts seconds: whatever window an ArmRequest asks, never longer


class Dispatcher(Component):
    channels = (
        Channel(1, "CommandsAccepted", "u32", description="Commands that passed acceptance"),
        Channel(2, "CommandsRejected", "u32", description="Commands refused at acceptance"),
        Channel(3, "CommandsCompleted", "u32", description="Commands that completed"),
        Channel(4, "CommandsFailed", "u32", description="Commands that failed at start or completion"),
        Channel(5, "QueueOverflows", "u32", description="Commands refused BUSY because the queue was full"),
        Channel(6, "BusyUnreported", "u32", description="BUSY refusals beyond MAX_BUSY_REPORTS: counted, no TM[1,2]"),
    )
    housekeeping = (HousekeepingPacket(1, "Status", ("CommandsAccepted", "CommandsRejected", "CommandsCompleted",
                                                   "CommandsFailed", "QueueOverflows", "BusyUnreported"), 1.0,
                                       "Command dispatch"),)
    commands = (Command("Noop", opcode=0x01, description="Does nothing but count and verify"),)
    ports = (
        InPort("commandIn", CommandPacket, "a TC to verify and execute; False if the queue is full", returns=bool),
        InPort("armIn", ArmRequest, "arm the next hazardous command from the SA that sent the arm"),
        OutPort("auditOut", CommandAudit, "every command refused, completed or failed, to the audit"),
    )
    events = (
        Event(1, "Rejected", Severity.WARNING_LO, "command rejected ({code}): {reason}",
              (Field("code", "u16"), Field("reason", f"string[{EVENT_REASON_OCTETS}]"))),
        Event(2, "Failed", Severity.WARNING_HI, "{command} failed ({code}): {reason}",
              (Field("command", "string[32]"), Field("code", "u16"),
               Field("reason", f"string[{EVENT_REASON_OCTETS}]"))),
    )

    def __init__(self, name: str, id_base: int):
        super().__init__(name, id_base)
        self._queue: deque[tuple[bytes, Origin]] = deque()
        self._busy: deque[tuple[bytes, Origin]] = deque()  # request ids (4 octets) refused for a full queue
        self.busy_unreported = 0
        self._lock = threading.Lock()
        self.accepted = self.rejected = self.completed = self.failed = self.overflows = 0
        self._routes: dict[tuple, Route] = {}
        self.access = AccessRules(self._routes, build_dictionary("routes", []))
        self._arms: dict[Origin, float] = {}  # the SA that armed -> onboard time its arm ends

    def route(self, components: list[Component]) -> None:
        """Bind every declared command to its handler; a declared command without one is a
        build error, caught before flight rather than at the first uplink. The components'
        parameters are gathered too, so a TC[20,3] can be judged by the parameters it sets."""
        parameters = []
        for comp in components:
            decl = comp.declarations()
            parameters.extend(decl.parameters)
            for cmd in decl.commands:
                local = cmd.name.rpartition(".")[2]
                handler = comp.handler(local)
                if handler is None:
                    raise TypeError(f"{type(comp).__name__} declares command {local!r} but has no cmd_{local}")
                self._routes[cmd.key] = Route(cmd, handler, "origin" in inspect.signature(handler).parameters)
        self.access = AccessRules(self._routes, build_dictionary("routes", [Declarations((), (), (), tuple(
            parameters), ())]))

    def schedule(self):
        return {"fast": [self.tick]}

    def commandIn_handler(self, tc: CommandPacket) -> bool:
        """Called from any thread; the command runs at the next fast tick."""
        with self._lock:
            if len(self._queue) >= MAX_QUEUED_COMMANDS:
                self.overflows += 1
                if len(tc.packet) < 4 or len(self._busy) >= MAX_BUSY_REPORTS:
                    self.busy_unreported += 1
                else:
                    self._busy.append((bytes(tc.packet[:4]), tc.origin))
                return False
            self._queue.append((bytes(tc.packet), tc.origin))
            return True

    def armIn_handler(self, request: ArmRequest) -> None:
        now = self.ctx.clock.now()
        self._arms = {o: t for o, t in self._arms.items() if t >= now}
        self._arms[request.origin] = now + min(max(0.0, request.window_s), MAX_ARM_S)

    def armed(self, origin: Origin) -> bool:
        """Whether `origin` holds an arm in force now (for tests and housekeeping, spends nothing)."""
        return self._arms.get(origin, -1.0) >= self.ctx.clock.now()

    def tick(self, _t: float = 0.0) -> None:
        with self._lock:
            busy, self._busy = self._busy, deque()
        for head, origin in busy:
            self._reject(RequestId.of_packet(head), FailureCode.BUSY,
                         "command queue full: resend after the reports of those before it", origin, "TC packet")
        while True:
            with self._lock:
                if not self._queue:
                    break
                packet, origin = self._queue.popleft()
            self.execute(packet, origin)
        for local, value in (("CommandsAccepted", self.accepted), ("CommandsRejected", self.rejected),
                             ("CommandsCompleted", self.completed), ("CommandsFailed", self.failed),
                             ("QueueOverflows", self.overflows), ("BusyUnreported", self.busy_unreported)):
            self.tlm(local, value)

    # ---- one command ----------------------------------------------------------------------------
    def _report(self, subtype: Subtype, request: RequestId, failure=None, data: bytes = b"") -> None:
        self.ctx.downlink.send(1, subtype, VerificationReport(subtype, request, failure=failure,
                                                              failure_data=data).pack())

    def _audit(self, origin: Origin, name: str, outcome: str, code: int = 0, reason: str = "") -> None:
        self.out("auditOut", CommandAudit(self.ctx.clock.now(), origin, name, outcome, int(code), reason))

    def _reject(self, request: RequestId | None, code: FailureCode, reason: str, origin: Origin, name: str) -> None:
        self.rejected += 1
        if request is not None:
            self._report(Subtype.ACCEPTANCE_FAILED, request, code, fit_text(reason, REASON_OCTETS).encode())
        self.log("Rejected", code=int(code), reason=reason)
        self._audit(origin, name, "rejected", code, reason)

    def execute(self, packet: bytes, origin: Origin = ONBOARD) -> None:
        request = RequestId.of_packet(packet) if len(packet) >= 4 else None
        name = "TC packet"
        try:
            decoded = decode_tc(self._routes, packet, self.ctx.downlink.apid)
            cmd, args = decoded.route.command, decoded.args
            name = cmd.name
            self.access.authorise(cmd, args, origin)
            hazard = self.access.hazard(cmd, args, origin)
            if hazard is not None:
                self._spend_arm(hazard, origin)
        except Refused as exc:
            self._reject(request, exc.code, exc.reason, origin, name)
            return
        tc = decoded.tc
        self.accepted += 1
        if tc.ack & AckFlags.ACCEPTANCE:
            self._report(Subtype.ACCEPTANCE_OK, request)
        if tc.ack & AckFlags.START:
            self._report(Subtype.START_OK, request)
        try:
            if decoded.route.takes_origin:
                decoded.route.handler(**args, origin=origin)
            else:
                decoded.route.handler(**args)
        except CommandFailed as exc:
            self._fail(cmd, request, exc.code, exc.reason, origin)
            return
        except Exception as exc:  # noqa: BLE001 - a handler bug fails the command, not the node
            self._fail(cmd, request, FailureCode.EXECUTION_ERROR, f"{type(exc).__name__}: {exc}", origin)
            return
        self.completed += 1
        if tc.ack & AckFlags.COMPLETION:
            self._report(Subtype.COMPLETION_OK, request)
        self._audit(origin, cmd.name, "completed")
        self.ctx.bus.publish(CommandExecuted(cmd.name, True, 0, ""))

    def _spend_arm(self, hazard: str, origin: Origin) -> None:
        """One arm, one hazardous command, from the SA that armed; Refused (NOT_ARMED) otherwise."""
        if origin.role == "onboard":
            return
        now = self.ctx.clock.now()
        if self._arms.pop(origin, -1.0) >= now:
            return
        others = [o for o, t in self._arms.items() if t >= now]
        whose = f"; the arm in force belongs to another SA ({others[0]})" if others else ""
        raise Refused(FailureCode.NOT_ARMED, f"{hazard} is hazardous: {origin} must send node.Arm first{whose}")

    def _fail(self, cmd: Command, request: RequestId, code: int, reason: str, origin: Origin) -> None:
        self.failed += 1
        self._report(Subtype.COMPLETION_FAILED, request, code, fit_text(reason, REASON_OCTETS).encode())
        self.log("Failed", command=cmd.name, code=int(code), reason=reason)
        self._audit(origin, cmd.name, "failed", code, reason)
        self.ctx.bus.publish(CommandExecuted(cmd.name, False, int(code), reason))

    def cmd_Noop(self) -> None:
        pass
