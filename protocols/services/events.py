"""PUS service 5, event reporting (ECSS-E-ST-70-41C §6.5).

The severity is the subtype: 1 informative, 2 low, 3 medium, 4 high severity anomaly. The data is
the event definition id followed by its auxiliary data, laid out by the dictionary.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

SERVICE = 5
_ID = struct.Struct(">H")


class Subtype(IntEnum):
    INFORMATIVE = 1
    LOW_SEVERITY = 2
    MEDIUM_SEVERITY = 3
    HIGH_SEVERITY = 4
    ENABLE = 5  # TC: N x event id
    DISABLE = 6  # TC: N x event id
    REPORT_DISABLED = 7  # TC -> TM[5,8]
    DISABLED_LIST = 8


@dataclass(frozen=True)
class EventReport:
    severity: Subtype
    event_id: int
    aux: bytes = b""

    def pack(self) -> bytes:
        return _ID.pack(self.event_id) + self.aux

    @classmethod
    def unpack(cls, subtype: int, data: bytes) -> "EventReport":
        severity = Subtype(subtype)
        if severity > Subtype.HIGH_SEVERITY:
            raise ValueError(f"TM[5,{subtype}] is not an event report")
        if len(data) < 2:
            raise ValueError(f"TM[5,{subtype}] needs a 2-octet event id, got {len(data)} octets")
        return cls(severity, _ID.unpack_from(data)[0], bytes(data[2:]))


def pack_ids(ids: list[int]) -> bytes:
    return bytes([len(ids)]) + b"".join(_ID.pack(i) for i in ids)


def unpack_ids(data: bytes) -> list[int]:
    if not data or len(data) != 1 + 2 * data[0]:
        raise ValueError(f"event id list malformed ({len(data)} octets)")
    return [_ID.unpack_from(data, 1 + 2 * i)[0] for i in range(data[0])]
