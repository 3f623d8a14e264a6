"""The dictionary: the single source of truth for commands, telemetry, events, parameters and
housekeeping packets.

Items are declared next to the flight code that owns them (names are qualified by component,
``power.BatteryVoltage``, as F Prime's dictionaries do), gathered into a `Dictionary` that
validates them as a whole, and exported as versioned JSON with a SHA-256 content hash. The node
reports that hash in housekeeping; the ground loads the JSON and warns when the hashes differ.
Node and ground encode and decode command arguments, event arguments, parameter values and
housekeeping reports with the same code below, so they cannot drift apart.

Commands are PUS TC[8,1] "perform a function" with a 16-bit function id (the opcode) followed by
the arguments, except the standard PUS service requests (TC[17,1] and friends), which are
declared with their own service and subtype and no opcode.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
import struct
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Iterable

FORMAT_VERSION = 1
FUNCTION_SERVICE = 8  # PUS service 8, function management
FUNCTION_SUBTYPE = 1  # TC[8,1] perform a function
NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*$")


class DictionaryError(ValueError):
    """A declaration or a dictionary file is wrong; the message names the item."""

    def __init__(self, kind: str, name: str, problem: str):
        super().__init__(f"{kind} {name!r}: {problem}")
        self.kind, self.name, self.problem = kind, name, problem


class DecodeError(ValueError):
    """Bytes (from a link or a file) do not decode with the declaration they claim."""


# ---- wire types ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class WireType:
    """A big-endian fixed-size scalar, a fixed-length string, or bytes of bounded length."""

    name: str
    kind: str  # "uint", "int", "float", "bool", "string", "bytes"
    size: int  # octets; for "bytes" the maximum, carried behind a u16 length
    fmt: str = ""  # struct format of fixed-size scalars

    @property
    def fixed(self) -> bool:
        return self.kind != "bytes"

    @property
    def bits(self) -> int:
        return 8 * self.size

    def range(self) -> tuple[float, float]:
        if self.kind == "uint":
            return 0, (1 << self.bits) - 1
        if self.kind == "int":
            return -(1 << (self.bits - 1)), (1 << (self.bits - 1)) - 1
        if self.kind == "float":
            return (-3.4028234663852886e38, 3.4028234663852886e38) if self.size == 4 else (-math.inf, math.inf)
        return 0, 1

    def check(self, value: Any, where: str) -> Any:
        if self.kind in ("uint", "int"):
            if isinstance(value, bool) or not isinstance(value, int):
                raise ValueError(f"{where}: expected an integer for {self.name}, got {value!r}")
            lo, hi = self.range()
            if not lo <= value <= hi:
                raise ValueError(f"{where}: {value} does not fit {self.name} ({lo}..{hi})")
        elif self.kind == "float":
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"{where}: expected a number for {self.name}, got {value!r}")
            value = float(value)
        elif self.kind == "bool":
            if not isinstance(value, bool):
                raise ValueError(f"{where}: expected true/false, got {value!r}")
        elif self.kind == "string":
            if not isinstance(value, str) or len(value.encode()) > self.size:
                raise ValueError(f"{where}: expected text of at most {self.size} octets, got {value!r}")
        elif self.kind == "bytes":
            if not isinstance(value, (bytes, bytearray)) or len(value) > self.size:
                raise ValueError(f"{where}: expected at most {self.size} octets, got {value!r}")
            value = bytes(value)
        return value

    def pack(self, value: Any) -> bytes:
        if self.kind == "string":
            return value.encode().ljust(self.size, b"\0")
        if self.kind == "bytes":
            return struct.pack(">H", len(value)) + value
        return struct.pack(">" + self.fmt, value)

    def unpack(self, data: bytes, offset: int) -> tuple[Any, int]:
        """(value, new offset); raises DecodeError on short or malformed input."""
        if self.kind == "bytes":
            if len(data) - offset < 2:
                raise DecodeError(f"{self.name}: missing length")
            (n,) = struct.unpack_from(">H", data, offset)
            if n > self.size or len(data) - offset - 2 < n:
                raise DecodeError(f"{self.name}: length {n} exceeds the maximum {self.size} or the data")
            return bytes(data[offset + 2: offset + 2 + n]), offset + 2 + n
        if len(data) - offset < self.size:
            raise DecodeError(f"{self.name}: needs {self.size} octets, {len(data) - offset} left")
        if self.kind == "string":
            raw = bytes(data[offset: offset + self.size]).rstrip(b"\0")
            try:
                return raw.decode(), offset + self.size
            except UnicodeDecodeError:
                raise DecodeError(f"{self.name}: not UTF-8") from None
        (value,) = struct.unpack_from(">" + self.fmt, data, offset)
        return (bool(value) if self.kind == "bool" else value), offset + self.size


SCALARS = {t.name: t for t in [
    WireType("u8", "uint", 1, "B"), WireType("u16", "uint", 2, "H"), WireType("u32", "uint", 4, "I"),
    WireType("u64", "uint", 8, "Q"), WireType("i8", "int", 1, "b"), WireType("i16", "int", 2, "h"),
    WireType("i32", "int", 4, "i"), WireType("i64", "int", 8, "q"), WireType("f32", "float", 4, "f"),
    WireType("f64", "float", 8, "d"), WireType("bool", "bool", 1, "?"),
]}
_SIZED = re.compile(r"^(string|bytes)\[(\d+)\]$")


def wire_type(name: str) -> WireType:
    """u8..u64, i8..i64, f32, f64, bool, string[N] (fixed), bytes[N] (at most N, u16-prefixed)."""
    if name in SCALARS:
        return SCALARS[name]
    m = _SIZED.match(name or "")
    if m and 0 < int(m.group(2)) <= 65535:
        return WireType(name, m.group(1), int(m.group(2)))
    raise ValueError(f"unknown type {name!r} (known: {', '.join(SCALARS)}, string[N], bytes[N])")


# ---- declarations -------------------------------------------------------------------------------

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
class Field:
    """A typed, ranged value: a command argument or an event argument."""

    name: str
    type: str
    unit: str = ""
    description: str = ""
    min: float | None = None
    max: float | None = None
    enum: dict[str, int] | None = None  # label -> value, over an integer type

    @property
    def wire(self) -> WireType:
        return wire_type(self.type)

    def check(self, value: Any, where: str) -> Any:
        if self.enum is not None and isinstance(value, str):
            if value not in self.enum:
                raise ValueError(f"{where}: {value!r} is not one of {sorted(self.enum)}")
            value = self.enum[value]
        value = self.wire.check(value, where)
        if self.enum is not None and value not in self.enum.values():
            raise ValueError(f"{where}: {value} is not a value of {sorted(self.enum)}")
        if self.min is not None and value < self.min:
            raise ValueError(f"{where}: {value} is below the minimum {self.min}{self.unit and ' ' + self.unit}")
        if self.max is not None and value > self.max:
            raise ValueError(f"{where}: {value} is above the maximum {self.max}{self.unit and ' ' + self.unit}")
        return value

    def label(self, value: Any) -> Any:
        if self.enum is not None:
            for k, v in self.enum.items():
                if v == value:
                    return k
        return value


def _pack_fields(fields: tuple[Field, ...], values: dict, where: str) -> bytes:
    unknown = set(values) - {f.name for f in fields}
    if unknown:
        raise ValueError(f"{where}: unknown argument {sorted(unknown)[0]!r} (expected {[f.name for f in fields]})")
    out = b""
    for f in fields:
        if f.name not in values:
            raise ValueError(f"{where}: missing argument {f.name!r}")
        out += f.wire.pack(f.check(values[f.name], f"{where}.{f.name}"))
    return out


def _unpack_fields(fields: tuple[Field, ...], data: bytes, where: str, exact: bool = True) -> dict:
    values, pos = {}, 0
    for f in fields:
        try:
            values[f.name], pos = f.wire.unpack(data, pos)
        except DecodeError as exc:
            raise DecodeError(f"{where}.{f.name}: {exc}") from None
    if exact and pos != len(data):
        raise DecodeError(f"{where}: {len(data) - pos} unexpected trailing octets")
    return values


@dataclass(frozen=True)
class Channel:
    id: int
    name: str
    type: str
    unit: str = ""
    description: str = ""
    limits: Limits | None = None
    enum: dict[str, int] | None = None

    @property
    def component(self) -> str:
        return self.name.rpartition(".")[0]

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
    hazardous: bool = False  # needs an ARM command first
    raw: bool = False  # application data laid out by the PUS service itself (see description)

    @property
    def key(self) -> tuple:
        return (self.service, self.subtype, self.opcode)

    def encode_args(self, **values) -> bytes:
        """Application data of the TC: the opcode (for TC[8,1]) and the checked arguments."""
        head = struct.pack(">H", self.opcode) if self.opcode is not None else b""
        return head + _pack_fields(self.arguments, values, self.name)

    def decode_args(self, data: bytes) -> dict:
        """Arguments from TC application data (opcode already removed); DecodeError if malformed,
        ValueError if a value is outside its declared range."""
        values = _unpack_fields(self.arguments, data, self.name)
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
        return _pack_fields(self.arguments, values, self.name)

    def decode_args(self, data: bytes) -> dict:
        return _unpack_fields(self.arguments, data, self.name)

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


# ---- the dictionary -----------------------------------------------------------------------------

@dataclass
class Dictionary:
    version: str = "0"
    channels: list[Channel] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    parameters: list[Parameter] = field(default_factory=list)
    housekeeping: list[HousekeepingPacket] = field(default_factory=list)

    def __post_init__(self):
        self._validate()
        self.channel_by_name = {c.name: c for c in self.channels}
        self.channel_by_id = {c.id: c for c in self.channels}
        self.command_by_name = {c.name: c for c in self.commands}
        self.command_by_key = {c.key: c for c in self.commands}
        self.event_by_name = {e.name: e for e in self.events}
        self.event_by_id = {e.id: e for e in self.events}
        self.parameter_by_name = {p.name: p for p in self.parameters}
        self.parameter_by_id = {p.id: p for p in self.parameters}
        self.hk_by_sid = {h.sid: h for h in self.housekeeping}
        self.hk_by_name = {h.name: h for h in self.housekeeping}
        self._hk_structs = {h.sid: struct.Struct(">" + "".join(self.channel_by_name[c].wire.fmt for c in h.channels))
                            for h in self.housekeeping}
        self.hash = "sha256:" + hashlib.sha256(_canonical(self._content())).hexdigest()

    # -- validation: every problem names its item --------------------------------------------------
    def _validate(self) -> None:
        def unique(kind, items, key, what):
            seen = {}
            for item in items:
                k = key(item)
                if k in seen:
                    raise DictionaryError(kind, item.name, f"duplicate {what} {k!r} (also used by {seen[k]!r})")
                seen[k] = item.name

        def check_name(kind, name):
            if not isinstance(name, str) or not NAME_RE.match(name):
                raise DictionaryError(kind, str(name), "names are dotted identifiers such as power.BatteryVoltage")

        def check_id(kind, name, value, top):
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= top:
                raise DictionaryError(kind, name, f"id {value!r} must be an integer 0..{top}")

        def check_type(kind, name, type_name, allow_variable=True):
            try:
                wt = wire_type(type_name)
            except ValueError as exc:
                raise DictionaryError(kind, name, str(exc)) from None
            if not allow_variable and not wt.fixed:
                raise DictionaryError(kind, name, f"type {type_name} has no fixed size")
            return wt

        def check_fields(kind, name, fields):
            unique(f"{kind} {name} argument", fields, lambda f: f.name, "name")
            for f in fields:
                wt = check_type(kind, f"{name}.{f.name}", f.type)
                if f.enum is not None:
                    if wt.kind not in ("uint", "int") or not f.enum:
                        raise DictionaryError(kind, f"{name}.{f.name}", "an enum needs an integer type and values")
                    for label, v in f.enum.items():
                        try:
                            wt.check(v, label)
                        except ValueError as exc:
                            raise DictionaryError(kind, f"{name}.{f.name}", str(exc)) from None
                if f.min is not None and f.max is not None and f.min > f.max:
                    raise DictionaryError(kind, f"{name}.{f.name}", f"min {f.min} > max {f.max}")

        for c in self.channels:
            check_name("channel", c.name)
            check_id("channel", c.name, c.id, 0xFFFF)
            check_type("channel", c.name, c.type, allow_variable=False)
            if c.limits is not None and not c.limits.ordered():
                raise DictionaryError("channel", c.name, "limits must be red_low <= yellow_low <= yellow_high <= red_high")
        unique("channel", self.channels, lambda c: c.id, "id")
        unique("channel", self.channels, lambda c: c.name, "name")
        for c in self.commands:
            check_name("command", c.name)
            if c.opcode is not None:
                check_id("command", c.name, c.opcode, 0xFFFF)
            check_id("command", c.name, c.service, 255)
            check_id("command", c.name, c.subtype, 255)
            check_fields("command", c.name, c.arguments)
        unique("command", self.commands, lambda c: c.name, "name")
        unique("command", self.commands, lambda c: c.key, "service/subtype/opcode")
        for e in self.events:
            check_name("event", e.name)
            check_id("event", e.name, e.id, 0xFFFF)
            if not isinstance(e.severity, Severity):
                raise DictionaryError("event", e.name, f"unknown severity {e.severity!r}")
            check_fields("event", e.name, e.arguments)
        unique("event", self.events, lambda e: e.id, "id")
        unique("event", self.events, lambda e: e.name, "name")
        for p in self.parameters:
            check_name("parameter", p.name)
            check_id("parameter", p.name, p.id, 0xFFFF)
            check_type("parameter", p.name, p.type)
            try:
                p.field.check(p.default, p.name)
            except ValueError as exc:
                raise DictionaryError("parameter", p.name, f"default: {exc}") from None
        unique("parameter", self.parameters, lambda p: p.id, "id")
        unique("parameter", self.parameters, lambda p: p.name, "name")
        names = {c.name for c in self.channels}
        for h in self.housekeeping:
            check_name("housekeeping packet", h.name)
            check_id("housekeeping packet", h.name, h.sid, 0xFFFF)
            if not h.channels:
                raise DictionaryError("housekeeping packet", h.name, "has no channels")
            for ch in h.channels:
                if ch not in names:
                    raise DictionaryError("housekeeping packet", h.name, f"names unknown channel {ch!r}")
            if not h.period_s > 0:
                raise DictionaryError("housekeeping packet", h.name, f"period {h.period_s} s must be > 0")
        unique("housekeeping packet", self.housekeeping, lambda h: h.sid, "SID")
        unique("housekeeping packet", self.housekeeping, lambda h: h.name, "name")

    # -- housekeeping reports ------------------------------------------------------------------------
    def encode_hk(self, sid: int, values: dict) -> bytes:
        """Report values of housekeeping packet `sid`, in declared order (without the SID)."""
        h = self.hk_by_sid[sid]
        return self._hk_structs[sid].pack(*(values[c] for c in h.channels))

    def decode_hk(self, sid: int, data: bytes) -> dict:
        h = self.hk_by_sid.get(sid)
        if h is None:
            raise DecodeError(f"unknown housekeeping SID {sid}")
        s = self._hk_structs[sid]
        if len(data) != s.size:
            raise DecodeError(f"{h.name}: {len(data)} octets, the declaration needs {s.size}")
        values = s.unpack(data)
        return {c: (bool(v) if self.channel_by_name[c].wire.kind == "bool" else v) for c, v in zip(h.channels, values)}

    def encode_parameter(self, name: str, value: Any) -> bytes:
        p = self.parameter_by_name[name]
        return p.field.wire.pack(p.field.check(value, name))

    def decode_parameter(self, pid: int, data: bytes, offset: int = 0) -> tuple[Parameter, Any, int]:
        p = self.parameter_by_id.get(pid)
        if p is None:
            raise DecodeError(f"unknown parameter id {pid}")
        value, end = p.field.wire.unpack(data, offset)
        return p, value, end

    # -- export ----------------------------------------------------------------------------------
    def _content(self) -> dict:
        return {
            "format_version": FORMAT_VERSION,
            "dictionary_version": self.version,
            "channels": [_channel_json(c) for c in sorted(self.channels, key=lambda c: c.id)],
            "commands": [_command_json(c) for c in sorted(self.commands, key=lambda c: (c.service, c.subtype, c.opcode or 0))],
            "events": [_event_json(e) for e in sorted(self.events, key=lambda e: e.id)],
            "parameters": [_parameter_json(p) for p in sorted(self.parameters, key=lambda p: p.id)],
            "housekeeping": [_hk_json(h) for h in sorted(self.housekeeping, key=lambda h: h.sid)],
        }

    def to_json(self) -> str:
        return json.dumps({**self._content(), "hash": self.hash}, indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> "Dictionary":
        """Load an exported dictionary. Every field is checked and the hash verified: a file that
        was edited by hand, truncated or produced by another format version is refused."""
        try:
            doc = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise DictionaryError("file", "(json)", f"not valid JSON: {exc}") from None
        if not isinstance(doc, dict):
            raise DictionaryError("file", "(json)", "top level must be an object")
        if doc.get("format_version") != FORMAT_VERSION:
            raise DictionaryError("file", "(json)", f"format_version {doc.get('format_version')!r}, "
                                                    f"this gridfree reads {FORMAT_VERSION}")
        try:
            d = cls(
                version=str(doc["dictionary_version"]),
                channels=[_channel_from(x) for x in doc["channels"]],
                commands=[_command_from(x) for x in doc["commands"]],
                events=[_event_from(x) for x in doc["events"]],
                parameters=[_parameter_from(x) for x in doc["parameters"]],
                housekeeping=[_hk_from(x) for x in doc["housekeeping"]],
            )
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            if isinstance(exc, DictionaryError):
                raise
            raise DictionaryError("file", "(json)", f"malformed entry: {type(exc).__name__}: {exc}") from None
        if doc.get("hash") != d.hash:
            raise DictionaryError("file", "(json)", f"content hash {doc.get('hash')!r} does not match the "
                                                    f"content ({d.hash}): the file was changed after export")
        return d

    def items(self) -> Iterable:
        yield from self.channels
        yield from self.commands
        yield from self.events
        yield from self.parameters
        yield from self.housekeeping


def _canonical(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def _drop_none(d: dict) -> dict:
    return {k: v for k, v in d.items() if v is not None}


def _field_json(f: Field) -> dict:
    return _drop_none({"name": f.name, "type": f.type, "unit": f.unit, "description": f.description,
                       "min": f.min, "max": f.max, "enum": f.enum})


def _field_from(x: dict) -> Field:
    return Field(x["name"], x["type"], x.get("unit", ""), x.get("description", ""), x.get("min"), x.get("max"),
                 dict(x["enum"]) if x.get("enum") is not None else None)


def _channel_json(c: Channel) -> dict:
    limits = _drop_none(vars(c.limits)) if c.limits else None
    return _drop_none({"id": c.id, "name": c.name, "type": c.type, "unit": c.unit, "description": c.description,
                       "limits": limits, "enum": c.enum})


def _channel_from(x: dict) -> Channel:
    return Channel(x["id"], x["name"], x["type"], x.get("unit", ""), x.get("description", ""),
                   Limits(**x["limits"]) if x.get("limits") is not None else None,
                   dict(x["enum"]) if x.get("enum") is not None else None)


def _command_json(c: Command) -> dict:
    return _drop_none({"name": c.name, "opcode": c.opcode, "service": c.service, "subtype": c.subtype,
                       "arguments": [_field_json(f) for f in c.arguments], "description": c.description,
                       "hazardous": c.hazardous, "raw": c.raw})


def _command_from(x: dict) -> Command:
    return Command(x["name"], x.get("opcode"), x["service"], x["subtype"],
                   tuple(_field_from(f) for f in x["arguments"]), x.get("description", ""), bool(x["hazardous"]),
                   bool(x["raw"]))


def _event_json(e: Event) -> dict:
    return {"id": e.id, "name": e.name, "severity": e.severity.name, "format": e.format,
            "arguments": [_field_json(f) for f in e.arguments], "description": e.description}


def _event_from(x: dict) -> Event:
    try:
        severity = Severity[x["severity"]]
    except KeyError:
        raise DictionaryError("event", str(x.get("name")), f"unknown severity {x.get('severity')!r}") from None
    return Event(x["id"], x["name"], severity, x.get("format", ""), tuple(_field_from(f) for f in x["arguments"]),
                 x.get("description", ""))


def _parameter_json(p: Parameter) -> dict:
    default = p.default.hex() if isinstance(p.default, bytes) else p.default
    return _drop_none({"id": p.id, "name": p.name, "type": p.type, "default": default, "unit": p.unit,
                       "description": p.description, "min": p.min, "max": p.max})


def _parameter_from(x: dict) -> Parameter:
    default = bytes.fromhex(x["default"]) if x["type"].startswith("bytes[") else x["default"]
    return Parameter(x["id"], x["name"], x["type"], default, x.get("unit", ""), x.get("description", ""),
                     x.get("min"), x.get("max"))


def _hk_json(h: HousekeepingPacket) -> dict:
    return {"sid": h.sid, "name": h.name, "channels": list(h.channels), "period_s": h.period_s,
            "description": h.description}


def _hk_from(x: dict) -> HousekeepingPacket:
    return HousekeepingPacket(x["sid"], x["name"], tuple(x["channels"]), x["period_s"], x.get("description", ""))
