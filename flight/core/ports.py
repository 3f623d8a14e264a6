"""Ports: what one component offers another, declared beside its commands and telemetry.

F Prime's model. An output port is a typed call a component makes without knowing who answers it;
an input port is a typed handler a component offers; the node's topology (flight/app/topology.py)
connects them. What crosses a port is a frozen dataclass, so the receiver holds a snapshot of what
the sender knew at that moment, never a live view of another component's state. A component
therefore never reads another's attributes, and a test drives one component alone by calling its
input ports and recording its output ports (flight/core/tester.py).

Declaring::

    ports = (
        InPort("readingsIn", EpsReadings, "the latest EPS readings, every fast tick"),
        OutPort("switchOut", SwitchCommand, "load switching", returns=bool),
    )

An input port ``readingsIn`` is handled by the method ``readingsIn_handler(value)``. An output port
is invoked with ``self.out("switchOut", SwitchCommand(...))``: with one connection it returns what
the handler returned; a port declared ``fan_out=True`` calls every connection in topology order
and returns None. Calling an unconnected port that returns a value is a wiring error (raised); an
unconnected notification port does nothing, so a node may leave an observer out.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable


class PortError(TypeError):
    """A port used against its declaration: an undeclared name, a wrong type, a bad connection."""


@dataclass(frozen=True)
class Port:
    name: str
    direction: str  # "in" or "out"
    type: type
    description: str = ""
    returns: type | None = None  # what a call through the port gives back (None: a notification)
    fan_out: bool = False  # an output port that may be connected to several input ports

    @property
    def handler_name(self) -> str:
        return f"{self.name}_handler"


def InPort(name: str, type_: type, description: str = "", *, returns: type | None = None) -> Port:  # noqa: N802
    return Port(name, "in", type_, description, returns)


def OutPort(name: str, type_: type, description: str = "", *, returns: type | None = None,  # noqa: N802
            fan_out: bool = False) -> Port:
    if fan_out and returns is not None:
        raise PortError(f"output port {name!r}: a fan-out port cannot return a value")
    return Port(name, "out", type_, description, returns, fan_out)


class PortSet:
    """The output side of one component instance: its connections, and the checked call."""

    def __init__(self, owner: str, declared: tuple[Port, ...]):
        self.owner = owner
        self.declared = {p.name: p for p in declared}
        if len(self.declared) != len(declared):
            raise PortError(f"{owner}: a port name is declared twice")
        # output port name -> (its declaration, the handlers connected to it, in topology order)
        self._outputs: dict[str, tuple[Port, list[Callable[[Any], Any]]]] = {
            p.name: (p, []) for p in declared if p.direction == "out"}

    def port(self, name: str, direction: str) -> Port:
        p = self.declared.get(name)
        if p is None or p.direction != direction:
            have = sorted(n for n, q in self.declared.items() if q.direction == direction)
            raise PortError(f"{self.owner} has no {direction}put port {name!r} (it has: {', '.join(have) or 'none'})")
        return p

    def connect(self, name: str, target: Port, handler: Callable[[Any], Any], where: str) -> None:
        p = self.port(name, "out")
        if not issubclass(p.type, target.type):
            raise PortError(f"{self.owner}.{name} sends {p.type.__name__}, {where} takes {target.type.__name__}")
        if p.returns is None and target.returns is not None:
            raise PortError(f"{self.owner}.{name} expects nothing back, {where} returns {target.returns.__name__}")
        if p.returns is not None and (target.returns is None or not issubclass(target.returns, p.returns)):
            got = "nothing" if target.returns is None else target.returns.__name__
            raise PortError(f"{self.owner}.{name} expects {p.returns.__name__} back, {where} returns {got}")
        targets = self._outputs[name][1]
        if targets and not p.fan_out:
            raise PortError(f"{self.owner}.{name} is connected twice but is not a fan-out port")
        targets.append(handler)

    def connected(self, name: str) -> bool:
        return bool(self._outputs[self.port(name, "out").name][1])

    def call(self, name: str, value: Any) -> Any:
        try:  # the rate groups call ports thousands of times a second: one lookup, then the targets
            port, targets = self._outputs[name]
        except KeyError:
            self.port(name, "out")  # raises, naming the ports there are
            raise
        if not isinstance(value, port.type):
            raise PortError(f"{self.owner}.{name} takes {port.type.__name__}, got {type(value).__name__}")
        if port.fan_out:
            for handler in targets:
                handler(value)
            return None
        if targets:
            return targets[0](value)
        if port.returns is not None:
            raise PortError(f"{self.owner}.{name} is not connected")
        return None
