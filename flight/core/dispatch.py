"""Command dispatch with PUS service 1 verification.

Telecommands arrive from any thread (the radio's reader, the PUS 11 schedule) into a bounded queue
and are executed on the fast rate group, so every handler runs in the scheduler's thread and no
component needs locks. Each command goes through the stages the ground tracks:

acceptance: the packet checks (CRC, lengths), is for our APID, names a declared command, its
    arguments decode and lie in range, and a hazardous command was armed;
start and completion: the handler ran, or raised `CommandFailed` with a reason code.

Reports go down as TM[1,x] when the TC's acknowledgement flags ask for them; failures are always
reported, and every rejection is also counted in telemetry (cFS style), so a garbled uplink is
visible even when its request id is not. A TC that finds the queue full is refused with TM[1,2]
BUSY at the next tick (the reader thread never writes the downlink), so a flooding ground learns
which of its commands were never run; past MAX_BUSY_REPORTS pending refusals only the counter
grows, so a flood cannot turn into a downlink flood.
"""
from __future__ import annotations

import struct
import threading
from collections import deque

from gridfree.flight.core.component import CommandFailed, Component
from gridfree.flight.core.messages import ArmRequest, CommandExecuted, CommandPacket
from gridfree.flight.core.ports import InPort
from gridfree.protocols.dictionary import (Channel, Command, DecodeError, Event, Field, HousekeepingPacket, Severity,
                                           fit_text)
from gridfree.protocols.errors import CrcError, ProtocolError
from gridfree.protocols.pus import AckFlags, PusTc
from gridfree.protocols.services.verification import FailureCode, RequestId, Subtype, VerificationReport

MAX_QUEUED_COMMANDS = 64
MAX_BUSY_REPORTS = 1024  # refusals waiting for their TM[1,2] (4 octets each)
REASON_OCTETS = 255  # a TM[1,x] failure reason: the whole text an operator needs, in one packet
EVENT_REASON_OCTETS = 128  # the same reason in the fixed-size event record (cut to fit by the event service)


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
        InPort("armIn", ArmRequest, "arm the next hazardous command"),
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
        self._queue: deque[bytes] = deque()
        self._busy: deque[bytes] = deque()  # request ids (4 octets) refused for a full queue
        self.busy_unreported = 0
        self._lock = threading.Lock()
        self.accepted = self.rejected = self.completed = self.failed = self.overflows = 0
        self._routes: dict[tuple, tuple[Command, object]] = {}
        self.armed_until = 0.0

    def route(self, components: list[Component]) -> None:
        """Bind every declared command to its handler; a declared command without one is a
        build error, caught before flight rather than at the first uplink."""
        for comp in components:
            for cmd in comp.declarations().commands:
                local = cmd.name.rpartition(".")[2]
                handler = comp.handler(local)
                if handler is None:
                    raise TypeError(f"{type(comp).__name__} declares command {local!r} but has no cmd_{local}")
                self._routes[cmd.key] = (cmd, handler)

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
                    self._busy.append(bytes(tc.packet[:4]))
                return False
            self._queue.append(bytes(tc.packet))
            return True

    def armIn_handler(self, request: ArmRequest) -> None:
        self.armed_until = self.ctx.clock.now() + request.window_s

    def tick(self, _t: float = 0.0) -> None:
        with self._lock:
            busy, self._busy = self._busy, deque()
        for head in busy:
            self.rejected += 1
            self._report(Subtype.ACCEPTANCE_FAILED, RequestId.of_packet(head), FailureCode.BUSY,
                         b"command queue full: resend after the reports of those before it")
        while True:
            with self._lock:
                if not self._queue:
                    break
                packet = self._queue.popleft()
            self.execute(packet)
        for local, value in (("CommandsAccepted", self.accepted), ("CommandsRejected", self.rejected),
                             ("CommandsCompleted", self.completed), ("CommandsFailed", self.failed),
                             ("QueueOverflows", self.overflows), ("BusyUnreported", self.busy_unreported)):
            self.tlm(local, value)

    # ---- one command ----------------------------------------------------------------------------
    def _report(self, subtype: Subtype, request: RequestId, failure=None, data: bytes = b"") -> None:
        self.ctx.downlink.send(1, subtype, VerificationReport(subtype, request, failure=failure,
                                                              failure_data=data).pack())

    def _reject(self, request: RequestId | None, code: FailureCode, reason: str) -> None:
        self.rejected += 1
        if request is not None:
            self._report(Subtype.ACCEPTANCE_FAILED, request, code, fit_text(reason, REASON_OCTETS).encode())
        self.log("Rejected", code=int(code), reason=reason)

    def execute(self, packet: bytes) -> None:
        request = RequestId.of_packet(packet) if len(packet) >= 4 else None
        try:
            tc = PusTc.unpack(packet)
        except ProtocolError as exc:
            code = FailureCode.BAD_CHECKSUM if isinstance(exc, CrcError) else FailureCode.INCOMPLETE_OR_BAD_LENGTH
            self._reject(request, code, str(exc))
            return
        if tc.apid != self.ctx.downlink.apid:
            self._reject(request, FailureCode.ILLEGAL_APID, f"APID {tc.apid} is not this node's")
            return
        data, opcode = tc.app_data, None
        if (tc.service, tc.subtype) == (8, 1):
            if len(data) < 2:
                self._reject(request, FailureCode.INCOMPLETE_OR_BAD_LENGTH, "TC[8,1] without a function id")
                return
            (opcode,) = struct.unpack_from(">H", data)
            data = data[2:]
        route = self._routes.get((tc.service, tc.subtype, opcode))
        if route is None:
            what = f"TC[{tc.service},{tc.subtype}]" + (f" function {opcode:#06x}" if opcode is not None else "")
            self._reject(request, FailureCode.UNKNOWN_COMMAND, f"no command {what}")
            return
        cmd, handler = route
        try:
            args = {"data": data} if cmd.raw else cmd.decode_args(data)
        except DecodeError as exc:
            self._reject(request, FailureCode.BAD_ARGUMENT, str(exc))
            return
        except ValueError as exc:
            self._reject(request, FailureCode.ARGUMENT_OUT_OF_RANGE, str(exc))
            return
        if cmd.hazardous:
            if self.ctx.clock.now() > self.armed_until:
                self._reject(request, FailureCode.NOT_ARMED, f"{cmd.name} is hazardous: send node.Arm first")
                return
            self.armed_until = 0.0  # one arm, one hazardous command
        self.accepted += 1
        if tc.ack & AckFlags.ACCEPTANCE:
            self._report(Subtype.ACCEPTANCE_OK, request)
        if tc.ack & AckFlags.START:
            self._report(Subtype.START_OK, request)
        try:
            handler(**args)
        except CommandFailed as exc:
            self._fail(cmd, request, exc.code, exc.reason)
            return
        except Exception as exc:  # noqa: BLE001 - a handler bug fails the command, not the node
            self._fail(cmd, request, FailureCode.EXECUTION_ERROR, f"{type(exc).__name__}: {exc}")
            return
        self.completed += 1
        if tc.ack & AckFlags.COMPLETION:
            self._report(Subtype.COMPLETION_OK, request)
        self.ctx.bus.publish(CommandExecuted(cmd.name, True, 0, ""))

    def _fail(self, cmd: Command, request: RequestId, code: int, reason: str) -> None:
        self.failed += 1
        self._report(Subtype.COMPLETION_FAILED, request, code, fit_text(reason, REASON_OCTETS).encode())
        self.log("Failed", command=cmd.name, code=int(code), reason=reason)
        self.ctx.bus.publish(CommandExecuted(cmd.name, False, int(code), reason))

    def cmd_Noop(self) -> None:
        pass
