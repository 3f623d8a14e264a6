"""Wire types and typed fields: how a dictionary item's values become octets and back.

Every value the dictionary declares (a command or event argument, a parameter, a housekeeping
channel) has a wire type: a big-endian scalar, a fixed-length string or length-prefixed bytes.
A `Field` adds a name, a unit, a range and optional enum labels, and checks a value before it is
packed; decoding never trusts a length it has not bounded by the octets present.
"""
from __future__ import annotations

import math
import re
import struct
from dataclasses import dataclass
from typing import Any


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


def fit_text(text: str, octets: int) -> str:
    """`text` cut to at most `octets` octets of UTF-8, never through a character: how the node
    fits what it says (event text, failure reasons) into the room the wire gives it."""
    return text.encode()[:octets].decode(errors="ignore")


def wire_type(name: str) -> WireType:
    """u8..u64, i8..i64, f32, f64, bool, string[N] (fixed), bytes[N] (at most N, u16-prefixed)."""
    if name in SCALARS:
        return SCALARS[name]
    m = _SIZED.match(name or "")
    if m and 0 < int(m.group(2)) <= 65535:
        return WireType(name, m.group(1), int(m.group(2)))
    raise ValueError(f"unknown type {name!r} (known: {', '.join(SCALARS)}, string[N], bytes[N])")



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


def pack_fields(fields: tuple[Field, ...], values: dict, where: str) -> bytes:
    unknown = set(values) - {f.name for f in fields}
    if unknown:
        raise ValueError(f"{where}: unknown argument {sorted(unknown)[0]!r} (expected {[f.name for f in fields]})")
    out = b""
    for f in fields:
        if f.name not in values:
            raise ValueError(f"{where}: missing argument {f.name!r}")
        out += f.wire.pack(f.check(values[f.name], f"{where}.{f.name}"))
    return out


def unpack_fields(fields: tuple[Field, ...], data: bytes, where: str, exact: bool = True) -> dict:
    values, pos = {}, 0
    for f in fields:
        try:
            values[f.name], pos = f.wire.unpack(data, pos)
        except DecodeError as exc:
            raise DecodeError(f"{where}.{f.name}: {exc}") from None
    if exact and pos != len(data):
        raise DecodeError(f"{where}: {len(data) - pos} unexpected trailing octets")
    return values
