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


ROLES = ("operator", "tenant", "onboard", "unknown")  # unknown: a refused frame that names no SA


@dataclass(frozen=True)
class Origin:
    """Who sent a command: the SDLS security association it came through (`spi`), the role that SA
    belongs to and, for the tenant role, which tenant. ONBOARD is the node itself (a schedule
    release or an event-action, authorised when it was inserted or configured)."""

    spi: int
    role: str  # one of ROLES
    tenant: int = 0

    def __str__(self) -> str:
        who = f"tenant {self.tenant}" if self.role == "tenant" else self.role
        return f"{who} (SPI {self.spi})" if self.role != "onboard" else who


ONBOARD = Origin(0, "onboard")
INSECURE = Origin(0, "operator")  # a node run with --insecure: every uplinked frame is the operator's


@dataclass(frozen=True)
class CommandPacket:
    """A TC packet for dispatch, from the uplink (through SDLS), the schedule or an event-action."""

    packet: bytes
    origin: Origin = ONBOARD


@dataclass(frozen=True)
class UplinkFrame:
    """A TC frame off the radio (CLTU decoded, FECF good, our spacecraft and virtual channel), for
    the security component to check and open."""

    frame: bytes


@dataclass(frozen=True)
class TmProtection:
    """The SDLS protection the radio applies to every TM frame from now on (None: plain frames)."""

    protector: object | None


@dataclass(frozen=True)
class CommandAudit:
    """One line of the command audit: a command (or a frame that never became one) and its fate.
    `name` is the dictionary name when the packet named a command, else what was received
    ("TC frame", "TC[3,1]"); `outcome` is "accepted", "completed", "failed" or "rejected"."""

    time_s: float
    origin: Origin
    name: str
    outcome: str
    code: int = 0
    reason: str = ""


@dataclass(frozen=True)
class ArmRequest:
    """Allow one hazardous command within `window_s`, from the SA that sent the Arm only."""

    window_s: float
    origin: Origin = ONBOARD


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
    receiver answers False if it is not its kind, or raises `UplinkRejected` if it is but is bad
    (or not the sender's: `origin` is the SA every part of it came through)."""

    data: bytes
    origin: Origin = ONBOARD
