"""The items a dictionary declares: telemetry channels, commands, events, parameters and
housekeeping packets, each with its id, name (qualified by component, ``power.BatteryVoltage``),
wire type, unit, limits and description.

Commands are PUS TC[8,1] "perform a function" with a 16-bit function id (the opcode) followed by
the arguments, except the standard PUS service requests (TC[17,1] and friends), which are
declared with their own service and subtype and no opcode.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import Any

from gridfree.protocols.dictionary.display import default_format
from gridfree.protocols.dictionary.wire import Field, WireType, fit_text, pack_fields, unpack_fields, wire_type

FUNCTION_SERVICE = 8  # PUS service 8, function management
FUNCTION_SUBTYPE = 1  # TC[8,1] perform a function


class Severity(IntEnum):
    """Event severities (F Prime), each sent as a PUS 5 subtype."""

    DIAGNOSTIC = 0
    ACTIVITY_LO = 1
    ACTIVITY_HI = 2
    WARNING_LO = 3
    WARNING_HI = 4
    FATAL = 5

    @property
    def pus_subtype(self) -> int:
        """TM[5,1] informative .. TM[5,4] high severity (ECSS-E-ST-70-41C §6.5)."""
        return {0: 1, 1: 1, 2: 1, 3: 2, 4: 3, 5: 4}[self]


@dataclass(frozen=True)
class Limits:
    """Alarm limits: red outside [red_low, red_high], yellow outside [yellow_low, yellow_high]."""

    red_low: float | None = None
    yellow_low: float | None = None
    yellow_high: float | None = None
    red_high: float | None = None

    def ordered(self) -> bool:
        chain = [v for v in (self.red_low, self.yellow_low, self.yellow_high, self.red_high) if v is not None]
        return all(a <= b for a, b in zip(chain, chain[1:]))

    def state(self, value: float) -> str:
        """'red', 'yellow' or 'green' for a value."""
        if (self.red_low is not None and value < self.red_low) or (self.red_high is not None and value > self.red_high):
            return "red"
        if (self.yellow_low is not None and value < self.yellow_low) or (
                self.yellow_high is not None and value > self.yellow_high):
            return "yellow"
        return "green"



@dataclass(frozen=True)
class Channel:
    id: int
    name: str
    type: str
    unit: str = ""
    description: str = ""
    limits: Limits | None = None
    enum: dict[str, int] | None = None
    #: "UTC" for an instant, in seconds since the Unix epoch, that the ground shows as a UTC date;
    #: None for everything else (a duration in seconds included).
    time_scale: str | None = None
    #: How the value is written for a person: a Python format spec for the number (".1f", "d",
    #: "016x"); None takes the default for the type and unit (see `display`). Enumerations,
    #: booleans and UTC instants have their own forms and declare none.
    format: str | None = None

    @property
    def component(self) -> str:
        return self.name.rpartition(".")[0]

    @property
    def display_format(self) -> str | None:
        """The format spec the value is shown with: the declared one, or the default for its
        type and unit; None for an enumeration, a boolean or a UTC instant."""
        kind = self.wire.kind
        if self.enum is not None or self.time_scale is not None or kind not in ("uint", "int", "float"):
            return None
        return self.format if self.format is not None else default_format(kind, self.unit)

    @property
    def wire(self) -> WireType:
        return wire_type(self.type)


@dataclass(frozen=True)
class Command:
    name: str
    opcode: int | None = None  # function id for TC[8,1]; None for standard PUS service requests
    service: int = FUNCTION_SERVICE
    subtype: int = FUNCTION_SUBTYPE
    arguments: tuple[Field, ...] = ()
    description: str = ""
    hazardous: bool = False  # needs an ARM command first, from the same security association
    raw: bool = False  # application data laid out by the PUS service itself (see description)
    #: The roles whose security associations may send it ("operator", "tenant"); commands from
    #: the node itself (schedule releases, event-actions) were authorised when they were stored.
    roles: tuple[str, ...] = ("operator",)

    @property
    def key(self) -> tuple:
        return (self.service, self.subtype, self.opcode)

    def encode_args(self, **values) -> bytes:
        """Application data of the TC: the opcode (for TC[8,1]) and the checked arguments."""
        head = struct.pack(">H", self.opcode) if self.opcode is not None else b""
        return head + pack_fields(self.arguments, values, self.name)

    def decode_args(self, data: bytes) -> dict:
        """Arguments from TC application data (opcode already removed); DecodeError if malformed,
        ValueError if a value is outside its declared range."""
        values = unpack_fields(self.arguments, data, self.name)
        for f in self.arguments:
            f.check(values[f.name], f"{self.name}.{f.name}")
        return values


@dataclass(frozen=True)
class Event:
    id: int
    name: str
    severity: Severity
    format: str = ""
    arguments: tuple[Field, ...] = ()
    description: str = ""

    def encode_args(self, **values) -> bytes:
        return pack_fields(self.arguments, values, self.name)

    def decode_args(self, data: bytes) -> dict:
        return unpack_fields(self.arguments, data, self.name)

    def fit(self, values: dict) -> dict:
        """`values` with each text cut to its field's octets: an event says as much of a reason
        as its record holds, where a command with text too long is refused."""
        sizes = {f.name: wire_type(f.type).size for f in self.arguments if wire_type(f.type).kind == "string"}
        return {k: fit_text(v, sizes[k]) if k in sizes and isinstance(v, str) else v for k, v in values.items()}

    def text(self, values: dict) -> str:
        try:
            return self.format.format(**{f.name: f.label(values.get(f.name)) for f in self.arguments})
        except (KeyError, IndexError, ValueError):
            return f"{self.name} {values}"


@dataclass(frozen=True)
class Parameter:
    id: int
    name: str
    type: str
    default: Any
    unit: str = ""
    description: str = ""
    min: float | None = None
    max: float | None = None
    #: A value that can hurt the spacecraft (a power or thermal threshold): setting it needs an
    #: ARM, as a hazardous command does.
    hazardous: bool = False

    @property
    def field(self) -> Field:
        return Field(self.name, self.type, self.unit, self.description, self.min, self.max)


@dataclass(frozen=True)
class HousekeepingPacket:
    sid: int
    name: str
    channels: tuple[str, ...]
    period_s: float = 1.0
    description: str = ""
