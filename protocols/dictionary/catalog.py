"""The dictionary as a whole: items gathered, validated together, looked up by id and name, and
exported as versioned JSON with a SHA-256 content hash (the node reports the hash; the ground
loads the JSON and warns when the hashes differ).
"""
from __future__ import annotations

import hashlib
import json
import re
import struct
from dataclasses import dataclass, field
from typing import Any, Iterable

from gridfree.protocols.dictionary.items import (Channel, Command, Event, HousekeepingPacket, Limits, Parameter,
                                                 Severity)
from gridfree.protocols.dictionary.display import check_format
from gridfree.protocols.dictionary.wire import DecodeError, DictionaryError, Field, wire_type

#: Version 2 added each channel's display format; version 3 the roles that may send each command
#: and which parameters are hazardous. Older files (logs recorded before) still load, with default
#: formats, operator-only commands and no hazardous parameters, and keep the hash they were
#: written under.
FORMAT_VERSION = 3
READABLE_VERSIONS = (1, 2, 3)
#: The roles a command may name as its senders (the security associations' roles).
COMMAND_ROLES = ("operator", "tenant")
NAME_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z][A-Za-z0-9_]*)*$")


@dataclass
class Dictionary:
    version: str = "0"
    channels: list[Channel] = field(default_factory=list)
    commands: list[Command] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    parameters: list[Parameter] = field(default_factory=list)
    housekeeping: list[HousekeepingPacket] = field(default_factory=list)
    #: The JSON format the content (and so the hash) is written in: FORMAT_VERSION, or an older
    #: readable one for a dictionary loaded from an old file.
    format_version: int = FORMAT_VERSION

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
            if c.time_scale not in (None, "UTC") or (c.time_scale and c.type != "f64"):
                raise DictionaryError("channel", c.name, "time_scale is \"UTC\" on an f64 of unix seconds, or absent")
            if c.format is not None:
                if c.display_format is None:
                    raise DictionaryError("channel", c.name, "an enumeration, boolean or UTC instant takes no format")
                problem = check_format(c.format, c.wire.kind)
                if problem:
                    raise DictionaryError("channel", c.name, problem)
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
            if not isinstance(c.roles, tuple) or not c.roles or not set(c.roles) <= set(COMMAND_ROLES):
                raise DictionaryError("command", c.name, f"roles {c.roles!r}: a non-empty tuple of "
                                                         f"{', '.join(COMMAND_ROLES)}")
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
        formats, roles = self.format_version >= 2, self.format_version >= 3
        return {
            "format_version": self.format_version,
            "dictionary_version": self.version,
            "channels": [_channel_json(c, formats) for c in sorted(self.channels, key=lambda c: c.id)],
            "commands": [_command_json(c, roles) for c in sorted(self.commands,
                                                                  key=lambda c: (c.service, c.subtype, c.opcode or 0))],
            "events": [_event_json(e) for e in sorted(self.events, key=lambda e: e.id)],
            "parameters": [_parameter_json(p, roles) for p in sorted(self.parameters, key=lambda p: p.id)],
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
        version = doc.get("format_version")
        if isinstance(version, bool) or version not in READABLE_VERSIONS:
            raise DictionaryError("file", "(json)", f"format_version {version!r}, this gridfree reads "
                                                    f"{' and '.join(map(str, READABLE_VERSIONS))}")
        try:
            d = cls(
                version=str(doc["dictionary_version"]),
                channels=[_channel_from(x) for x in doc["channels"]],
                commands=[_command_from(x) for x in doc["commands"]],
                events=[_event_from(x) for x in doc["events"]],
                parameters=[_parameter_from(x) for x in doc["parameters"]],
                housekeeping=[_hk_from(x) for x in doc["housekeeping"]],
                format_version=version,
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


def _channel_json(c: Channel, formats: bool = True) -> dict:
    """The channel as JSON; from version 2 with the format it is shown with (declared or the
    default), so a tool reading the file needs no copy of gridfree's defaults."""
    limits = _drop_none(vars(c.limits)) if c.limits else None
    return _drop_none({"id": c.id, "name": c.name, "type": c.type, "unit": c.unit, "description": c.description,
                       "limits": limits, "enum": c.enum, "time_scale": c.time_scale,
                       "format": c.display_format if formats else None})


def _channel_from(x: dict) -> Channel:
    return Channel(x["id"], x["name"], x["type"], x.get("unit", ""), x.get("description", ""),
                   Limits(**x["limits"]) if x.get("limits") is not None else None,
                   dict(x["enum"]) if x.get("enum") is not None else None, x.get("time_scale"), x.get("format"))


def _command_json(c: Command, roles: bool = True) -> dict:
    """The command as JSON; from version 3 with the roles that may send it."""
    return _drop_none({"name": c.name, "opcode": c.opcode, "service": c.service, "subtype": c.subtype,
                       "arguments": [_field_json(f) for f in c.arguments], "description": c.description,
                       "hazardous": c.hazardous, "raw": c.raw, "roles": list(c.roles) if roles else None})


def _command_from(x: dict) -> Command:
    return Command(x["name"], x.get("opcode"), x["service"], x["subtype"],
                   tuple(_field_from(f) for f in x["arguments"]), x.get("description", ""), bool(x["hazardous"]),
                   bool(x["raw"]), tuple(x.get("roles", ("operator",))))


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


def _parameter_json(p: Parameter, hazard: bool = True) -> dict:
    """The parameter as JSON; from version 3 with whether setting it is hazardous."""
    default = p.default.hex() if isinstance(p.default, bytes) else p.default
    return _drop_none({"id": p.id, "name": p.name, "type": p.type, "default": default, "unit": p.unit,
                       "description": p.description, "min": p.min, "max": p.max,
                       "hazardous": p.hazardous if hazard else None})


def _parameter_from(x: dict) -> Parameter:
    default = bytes.fromhex(x["default"]) if x["type"].startswith("bytes[") else x["default"]
    return Parameter(x["id"], x["name"], x["type"], default, x.get("unit", ""), x.get("description", ""),
                     x.get("min"), x.get("max"), bool(x.get("hazardous", False)))


def _hk_json(h: HousekeepingPacket) -> dict:
    return {"sid": h.sid, "name": h.name, "channels": list(h.channels), "period_s": h.period_s,
            "description": h.description}


def _hk_from(x: dict) -> HousekeepingPacket:
    return HousekeepingPacket(x["sid"], x["name"], tuple(x["channels"]), x["period_s"], x.get("description", ""))
