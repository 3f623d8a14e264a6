"""`ComponentTester`: one component alone, as F Prime's generated testers drive theirs.

The tester gives the component everything a node would (clock, bus, modes, a dictionary of its own
declarations, telemetry, events, parameters, a downlink) and nothing else: every output port is a
stub that records what was sent and answers what the test says. A test puts typed values in
through input ports, sends commands by name and runs rate-group members at chosen times, then
asserts telemetry, events, downlinked packets and port outputs. No threads, no other components,
no sleeping: the clock is a lockstep clock the test sets.

    t = ComponentTester(ThermalManager("thermal", 0x0300))
    t.send("readingsIn", EpsReadings.of(10.0, {Quantity.BATTERY_TEMP_C: 2.0}, {}))
    t.run("slow", 10.0)
    assert t.sent("switchOut") == [SwitchCommand(Switch.HEATER, True)]
    assert t.events("HeaterSwitched")[0]["state"] == "on"
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from gridfree.flight.core.bus import SoftwareBus
from gridfree.flight.core.clock import LockstepClock
from gridfree.flight.core.component import CommandFailed, Component, build_dictionary
from gridfree.flight.core.context import NodeContext, TelemetryDb
from gridfree.flight.core.modes import Mode, ModeMachine
from gridfree.flight.core.ports import InPort
from gridfree.protocols.dictionary import DecodeError, Dictionary
from gridfree.protocols.services.verification import FailureCode


_DEFAULT = object()


@dataclass(frozen=True)
class Downlinked:
    service: int
    subtype: int
    data: bytes
    vc: int


@dataclass(frozen=True)
class CommandResult:
    ok: bool
    code: int = 0
    reason: str = ""


class EventRecorder:
    """Records events after checking their arguments against the declaration (as the node's
    event service encodes them)."""

    def __init__(self, dictionary: Dictionary):
        self._d = dictionary
        self.log: list[tuple[str, dict]] = []

    def emit(self, name: str, **args: Any) -> bool:
        event = self._d.event_by_name[name]
        args = event.fit(args)
        event.encode_args(**args)
        self.log.append((name, args))
        return True


class _Parameters:
    def __init__(self, dictionary: Dictionary):
        self._d = dictionary
        self.values = {p.name: p.default for p in dictionary.parameters}

    def get(self, name: str) -> Any:
        return self.values[name]

    def set(self, name: str, value: Any) -> None:
        self.values[name] = self._d.parameter_by_name[name].field.check(value, name)


class _Downlink:
    def __init__(self, apid: int):
        self.apid = apid
        self.sent: list[Downlinked] = []

    def send(self, service: int, subtype: int, data: bytes, vc: int = 0) -> None:
        self.sent.append(Downlinked(service, subtype, bytes(data), vc))


def component_dictionary(component: Component) -> Dictionary:
    """The component's own declarations as a dictionary; housekeeping packets that name another
    component's channels are left out (that component is not here)."""
    d = component.declarations()
    names = {c.name for c in d.channels}
    return build_dictionary("tester", [dataclasses.replace(
        d, housekeeping=tuple(h for h in d.housekeeping if set(h.channels) <= names))])


class ComponentTester:
    def __init__(self, component: Component, *, t0: float = 0.0, apid: int = 100,
                 parameters: dict[str, Any] | None = None, answers: dict[str, Any] | None = None):
        self.component = component
        self.clock = LockstepClock(t0)
        self.bus = SoftwareBus()
        self.dictionary = component_dictionary(component)
        self.telemetry = TelemetryDb(self.dictionary)
        self._events = EventRecorder(self.dictionary)
        self.parameters = _Parameters(self.dictionary)
        for local, value in (parameters or {}).items():
            self.parameters.set(f"{component.name}.{local}", value)
        self.downlink = _Downlink(apid)
        self.modes = ModeMachine(self.clock.now, self.bus.publish)
        self.ctx = NodeContext(self.clock, self.bus, self.dictionary, self.telemetry, self._events, self.parameters,
                               self.downlink, self.modes)
        self._sent: dict[str, list] = {}
        self._answers: dict[str, Any] = dict(answers or {})
        for port in component.ports:
            if port.direction == "out":
                self._stub(port)
        component.attach(self.ctx)

    # ---- output ports: recorded, answered -----------------------------------------------------------
    def _stub(self, port) -> None:
        sent = self._sent.setdefault(port.name, [])

        def stub(value):
            sent.append(value)
            answer = self._answers.get(port.name, _DEFAULT)
            if answer is _DEFAULT:  # a board that confirms, a queue that numbers what it takes
                return True if port.returns is bool else (len(sent) if port.returns is int else None)
            if isinstance(answer, BaseException):
                raise answer
            return answer(value) if callable(answer) else answer

        self.component.port_set.connect(port.name, InPort(port.name, port.type, returns=port.returns), stub,
                                        "the tester")

    def answer(self, port: str, answer: Any) -> None:
        """What the stub on output port `port` answers from now on: a value, a function of what was
        sent, or an exception to raise."""
        self._answers[port] = answer

    def sent(self, port: str) -> list:
        """Everything the component sent through output port `port`, oldest first."""
        return self._sent[port]

    # ---- inputs -------------------------------------------------------------------------------------
    def send(self, port: str, value: Any) -> Any:
        """Call input port `port` as a connected component would."""
        decl, handler = self.component.input_port(port)
        if not isinstance(value, decl.type):
            raise TypeError(f"{port} takes {decl.type.__name__}, got {type(value).__name__}")
        return handler(value)

    def command(self, local: str, **args: Any) -> CommandResult:
        """Send command `local` with its arguments encoded and decoded as on the wire, and its
        outcome as the dispatcher would report it (arming is the dispatcher's, not tested here)."""
        cmd = self.dictionary.command_by_name[f"{self.component.name}.{local}"]
        try:
            if cmd.raw:
                decoded = {"data": args["data"]}
            else:  # a TC[8,1] function's application data starts with its function id
                wire = cmd.encode_args(**args)
                decoded = cmd.decode_args(wire[2:] if cmd.opcode is not None else wire)
        except DecodeError as exc:
            return CommandResult(False, int(FailureCode.BAD_ARGUMENT), str(exc))
        except ValueError as exc:
            return CommandResult(False, int(FailureCode.ARGUMENT_OUT_OF_RANGE), str(exc))
        try:
            self.component.handler(local)(**decoded)
        except CommandFailed as exc:
            return CommandResult(False, int(exc.code), exc.reason)
        except Exception as exc:  # noqa: BLE001 - as the dispatcher: a handler bug fails the command
            return CommandResult(False, int(FailureCode.EXECUTION_ERROR), f"{type(exc).__name__}: {exc}")
        return CommandResult(True)

    def run(self, group: str, t: float) -> None:
        """Run the component's members of rate group `group` at onboard time `t`."""
        self.clock.set(t)
        for member in self.component.schedule().get(group, []):
            member(t)

    def enter_mode(self, mode: Mode) -> None:
        """Walk the mode machine to `mode` by request, as the ground would (guards may refuse)."""
        if mode is Mode.SAFE:
            self.modes.fall_to_safe("tester")
            return
        if self.modes.mode is Mode.BOOT:
            self.modes.request(Mode.SAFE, "tester")
        self.modes.request(mode, "tester")

    def set_parameter(self, local: str, value: Any) -> None:
        self.parameters.set(f"{self.component.name}.{local}", value)

    # ---- outputs ------------------------------------------------------------------------------------
    def tlm(self, local: str) -> Any:
        return self.telemetry.read(f"{self.component.name}.{local}")

    def events(self, local: str | None = None) -> list[dict]:
        """The arguments of every event `local` raised (all events' (name, args) if None)."""
        if local is None:
            return list(self._events.log)
        name = f"{self.component.name}.{local}"
        return [args for n, args in self._events.log if n == name]

    def downlinked(self, service: int | None = None) -> list[Downlinked]:
        return [d for d in self.downlink.sent if service is None or d.service == service]

    def stop(self) -> None:
        self.component.stop()
