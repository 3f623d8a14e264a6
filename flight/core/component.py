"""`Component`: a unit of flight software that declares its whole interface once.

A subclass lists its telemetry channels, commands, events, parameters and housekeeping packets as
class attributes, with *local* names and ids (F Prime's model: the component owns the ids, the
topology gives each instance a base). The node qualifies them with the instance name and id base
(``power.BatteryVoltage``, base + local id) and that qualified set is what goes into the
dictionary, so there is no second place to keep in step.

Handlers are plain methods: a command ``SetMode`` is handled by ``cmd_SetMode(**args)``, which
returns normally for success or raises `CommandFailed` with a PUS 1 failure code and a reason.
What a component offers or needs from another goes through its declared `ports` (core/ports.py):
an input port ``readingsIn`` is handled by ``readingsIn_handler(value)``, an output port is called
with ``self.out("switchOut", value)``; the topology connects them.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from gridfree.flight.core.ports import Port, PortError, PortSet
from gridfree.protocols.dictionary import Channel, Command, Dictionary, Event, HousekeepingPacket, Parameter
from gridfree.protocols.services.verification import FailureCode

if TYPE_CHECKING:
    from gridfree.flight.core.context import NodeContext


class CommandFailed(Exception):
    """Raised by a command handler: becomes a PUS 1 failure report with this code and reason."""

    def __init__(self, code: FailureCode, reason: str):
        super().__init__(reason)
        self.code, self.reason = code, reason


@dataclass(frozen=True)
class Declarations:
    channels: tuple[Channel, ...]
    commands: tuple[Command, ...]
    events: tuple[Event, ...]
    parameters: tuple[Parameter, ...]
    housekeeping: tuple[HousekeepingPacket, ...]


def build_dictionary(version: str, decls: list[Declarations]) -> Dictionary:
    """One dictionary from the declarations of several components (or of one, for a tester)."""
    return Dictionary(version=version, channels=[x for d in decls for x in d.channels],
                      commands=[x for d in decls for x in d.commands], events=[x for d in decls for x in d.events],
                      parameters=[x for d in decls for x in d.parameters],
                      housekeeping=[x for d in decls for x in d.housekeeping])


class Component:
    channels: tuple[Channel, ...] = ()
    commands: tuple[Command, ...] = ()
    events: tuple[Event, ...] = ()
    parameters: tuple[Parameter, ...] = ()
    housekeeping: tuple[HousekeepingPacket, ...] = ()
    ports: tuple[Port, ...] = ()

    def __init__(self, name: str, id_base: int = 0):
        self.name = name
        self.id_base = id_base
        self.ctx: NodeContext | None = None
        self.port_set = PortSet(name, type(self).ports)

    # ---- declarations ---------------------------------------------------------------------------
    @classmethod
    def declare(cls, name: str, id_base: int) -> Declarations:
        """The class's declarations qualified for an instance called `name` with ids from `id_base`."""
        q = f"{name}.".__add__

        def opcode(c: Command):
            return None if c.opcode is None else id_base + c.opcode

        return Declarations(
            channels=tuple(dataclasses.replace(c, id=id_base + c.id, name=q(c.name)) for c in cls.channels),
            commands=tuple(dataclasses.replace(c, name=q(c.name), opcode=opcode(c)) for c in cls.commands),
            events=tuple(dataclasses.replace(e, id=id_base + e.id, name=q(e.name)) for e in cls.events),
            parameters=tuple(dataclasses.replace(p, id=id_base + p.id, name=q(p.name)) for p in cls.parameters),
            housekeeping=tuple(dataclasses.replace(h, sid=id_base + h.sid, name=q(h.name),
                                                   channels=tuple(ch if "." in ch else q(ch) for ch in h.channels))
                               for h in cls.housekeeping),
        )

    def declarations(self) -> Declarations:
        return type(self).declare(self.name, self.id_base)

    # ---- wiring ---------------------------------------------------------------------------------
    def attach(self, ctx: "NodeContext") -> None:
        """Called once by the node after the dictionary is built and before the first tick."""
        self.ctx = ctx

    def schedule(self) -> dict[str, list[Callable[[float], None]]]:
        """Rate-group name ("fast", "slow", "background") -> members. Default: none."""
        return {}

    def handler(self, local_command: str) -> Callable[..., Any] | None:
        return getattr(self, f"cmd_{local_command}", None)

    def input_port(self, name: str) -> tuple[Port, Callable[[Any], Any]]:
        """The declared input port `name` and the method that handles it."""
        port = self.port_set.port(name, "in")
        handler = getattr(self, port.handler_name, None)
        if handler is None:
            raise PortError(f"{type(self).__name__} declares input port {name!r} but has no {port.handler_name}")
        return port, handler

    def out(self, port: str, value: Any) -> Any:
        """Invoke output port `port` with `value` (checked against its declaration)."""
        return self.port_set.call(port, value)

    # ---- services for subclasses -----------------------------------------------------------------
    def tlm(self, local: str, value: Any) -> None:
        self.ctx.telemetry.write(f"{self.name}.{local}", value, self.ctx.clock.now())

    def log(self, local_event: str, **args: Any) -> None:
        self.ctx.events.emit(f"{self.name}.{local_event}", **args)

    def param(self, local: str) -> Any:
        return self.ctx.parameters.get(f"{self.name}.{local}")

    def stop(self) -> None:
        """Called once when the node shuts down."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"
