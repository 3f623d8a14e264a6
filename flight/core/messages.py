"""Messages of the node's core services: the values that cross their ports and the software bus.

They live apart from the components that send or take them, so a component that sends a command,
queues a transfer or reacts to an event imports these values, never the other component.
"""
from __future__ import annotations

from dataclasses import dataclass

from gridfree.protocols.dictionary import Severity


@dataclass(frozen=True)
class CommandExecuted:
    """Bus message after every command, for on-board consumers and tests."""

    name: str
    ok: bool
    code: int
    reason: str


@dataclass(frozen=True)
class CommandPacket:
    """A TC packet for dispatch, from the uplink, the schedule or an event-action."""

    packet: bytes


@dataclass(frozen=True)
class ArmRequest:
    """Allow one hazardous command within `window_s`."""

    window_s: float


@dataclass(frozen=True)
class EventOccurred:
    """Bus message for every event raised on board."""

    name: str
    id: int
    severity: Severity
    args: dict
    time_s: float
    sent: bool


class UplinkRejected(Exception):
    """Raised by an uplink consumer that refuses a complete transfer; the message says why."""


@dataclass(frozen=True)
class LargeDataDownlink:
    """Data for the ground through PUS 13 (a result, a statement): queued whole, sent in parts."""

    data: bytes


@dataclass(frozen=True)
class UplinkedData:
    """A complete PUS 13 uplink, offered to the component that takes its kind of data. The
    receiver answers False if it is not its kind, or raises `UplinkRejected` if it is but is bad."""

    data: bytes
