"""PUS service 20, on-board parameter management (ECSS-E-ST-70-41C §6.20).

TC[20,1] asks for N parameter ids; TM[20,2] and TC[20,3] carry N x (id, value), each value in the
type the dictionary declares for that id, so only a side holding the dictionary can lay them out.
"""
from __future__ import annotations

import struct
from enum import IntEnum
from typing import Any

from gridfree.protocols.dictionary import DecodeError, Dictionary

SERVICE = 20
_ID = struct.Struct(">H")


class Subtype(IntEnum):
    REPORT_VALUES = 1  # TC: N x id
    VALUE_REPORT = 2  # TM: N x (id, value)
    SET_VALUES = 3  # TC: N x (id, value)


def pack_ids(d: Dictionary, names: list[str]) -> bytes:
    return bytes([len(names)]) + b"".join(_ID.pack(d.parameter_by_name[n].id) for n in names)


def unpack_ids(d: Dictionary, data: bytes) -> list[str]:
    if not data or len(data) != 1 + 2 * data[0]:
        raise DecodeError(f"TC[20,1] parameter id list malformed ({len(data)} octets)")
    names = []
    for i in range(data[0]):
        (pid,) = _ID.unpack_from(data, 1 + 2 * i)
        if pid not in d.parameter_by_id:
            raise DecodeError(f"unknown parameter id {pid}")
        names.append(d.parameter_by_id[pid].name)
    return names


def pack_values(d: Dictionary, values: dict[str, Any]) -> bytes:
    """N x (id, value); values are range-checked against their declarations."""
    out = bytes([len(values)])
    for name, value in values.items():
        if name not in d.parameter_by_name:
            raise ValueError(f"unknown parameter {name!r}")
        out += _ID.pack(d.parameter_by_name[name].id) + d.encode_parameter(name, value)
    return out


def unpack_values(d: Dictionary, data: bytes) -> dict[str, Any]:
    if not data:
        raise DecodeError("parameter value list is empty: expected a count octet")
    values, pos = {}, 1
    for _ in range(data[0]):
        if len(data) - pos < 2:
            raise DecodeError("parameter value list truncated")
        (pid,) = _ID.unpack_from(data, pos)
        p, value, pos = d.decode_parameter(pid, data, pos + 2)
        values[p.name] = value
    if pos != len(data):
        raise DecodeError(f"{len(data) - pos} unexpected trailing octets after {data[0]} parameters")
    return values
