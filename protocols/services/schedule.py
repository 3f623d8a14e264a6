"""PUS service 11, time-based scheduling (ECSS-E-ST-70-41C §6.11).

TC[11,4] inserts activities, each a release time (CUC) followed by a whole TC packet (which
delimits itself by its own length field, checked by its own CRC when it is released); TC[11,5]
deletes activities by request id (APID, sequence count); TM[11,10] lists them.
"""
from __future__ import annotations

import struct
from enum import IntEnum

from gridfree.protocols.dictionary import DecodeError
from gridfree.protocols.pus import CucTime
from gridfree.protocols.spacepacket import PRIMARY_HEADER_LEN, packet_len_at

SERVICE = 11
_REQ = struct.Struct(">HH")
CUC_OCTETS = 6


class Subtype(IntEnum):
    ENABLE = 1
    DISABLE = 2
    RESET = 3
    INSERT = 4
    DELETE = 5
    DETAIL_REPORT = 10  # TM
    REPORT_ALL = 16  # TC -> TM[11,10]


MAX_ACTIVITIES_PER_REPORT = 255  # the count is one octet


def pack_activities(activities: list[tuple[float, bytes]]) -> bytes:
    if len(activities) > MAX_ACTIVITIES_PER_REPORT:
        raise ValueError(f"{len(activities)} activities: one TC[11,4]/TM[11,10] holds at most "
                         f"{MAX_ACTIVITIES_PER_REPORT}")
    out = bytes([len(activities)])
    for release_s, packet in activities:
        out += CucTime.from_unix(release_s).pack() + packet
    return out


def unpack_activities(data: bytes) -> list[tuple[float, bytes]]:
    if not data:
        raise DecodeError("activity list is empty: expected a count octet")
    out, pos = [], 1
    for i in range(data[0]):
        if len(data) - pos < CUC_OCTETS + PRIMARY_HEADER_LEN:
            raise DecodeError(f"activity {i}: truncated")
        release = CucTime.unpack(data[pos:pos + CUC_OCTETS]).to_unix()
        pos += CUC_OCTETS
        n = packet_len_at(data, pos)
        if len(data) - pos < n:
            raise DecodeError(f"activity {i}: packet claims {n} octets, {len(data) - pos} left")
        out.append((release, bytes(data[pos:pos + n])))
        pos += n
    if pos != len(data):
        raise DecodeError(f"{len(data) - pos} unexpected trailing octets")
    return out


def pack_request_ids(ids: list[tuple[int, int]]) -> bytes:
    return bytes([len(ids)]) + b"".join(_REQ.pack(a, s) for a, s in ids)


def unpack_request_ids(data: bytes) -> list[tuple[int, int]]:
    if not data or len(data) != 1 + _REQ.size * data[0]:
        raise DecodeError(f"request id list malformed ({len(data)} octets)")
    return [_REQ.unpack_from(data, 1 + _REQ.size * i) for i in range(data[0])]
