"""PUS service 3, housekeeping (ECSS-E-ST-70-41C §6.3).

A housekeeping report TM[3,25] is a structure id (SID) followed by the values of that structure's
parameters in declared order; the layout itself lives in the dictionary, so the ground decodes a
report with the same declaration the node encoded it with.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

SERVICE = 3
_SID = struct.Struct(">H")
_SID_INTERVAL = struct.Struct(">HI")


class Subtype(IntEnum):
    ENABLE_PERIODIC = 5  # TC: N x SID
    DISABLE_PERIODIC = 6  # TC: N x SID
    REPORT_STRUCTURES = 9  # TC: N x SID -> TM[3,10]
    STRUCTURE_REPORT = 10
    HK_REPORT = 25  # TM: SID + parameter values
    GENERATE_ONE_SHOT = 27  # TC: N x SID
    MODIFY_INTERVAL = 31  # TC: N x (SID, interval in ms)


def pack_sids(sids: list[int]) -> bytes:
    return bytes([len(sids)]) + b"".join(_SID.pack(s) for s in sids)


def unpack_sids(data: bytes) -> list[int]:
    if not data:
        raise ValueError("SID list is empty: expected a count octet")
    n = data[0]
    if len(data) != 1 + 2 * n:
        raise ValueError(f"SID list declares {n} SIDs ({1 + 2 * n} octets) but has {len(data)} octets")
    return [_SID.unpack_from(data, 1 + 2 * i)[0] for i in range(n)]


def pack_intervals(pairs: list[tuple[int, int]]) -> bytes:
    return bytes([len(pairs)]) + b"".join(_SID_INTERVAL.pack(s, ms) for s, ms in pairs)


def unpack_intervals(data: bytes) -> list[tuple[int, int]]:
    if not data:
        raise ValueError("interval list is empty: expected a count octet")
    n = data[0]
    if len(data) != 1 + _SID_INTERVAL.size * n:
        raise ValueError(f"interval list declares {n} entries but has {len(data)} octets")
    return [_SID_INTERVAL.unpack_from(data, 1 + _SID_INTERVAL.size * i) for i in range(n)]


@dataclass(frozen=True)
class HkReport:
    sid: int
    values: bytes  # encoded by the dictionary's housekeeping packet declaration

    def pack(self) -> bytes:
        return _SID.pack(self.sid) + self.values

    @classmethod
    def unpack(cls, data: bytes) -> "HkReport":
        if len(data) < 2:
            raise ValueError(f"TM[3,25] needs a 2-octet SID, got {len(data)} octets")
        return cls(_SID.unpack_from(data)[0], bytes(data[2:]))
