"""PUS service 9, time management (ECSS-E-ST-70-41C §6.9).

TM[9,2] carries the on-board time as CUC. The ground correlates it with the receive time of the
frame that carried it; the correction goes back up as an offset, because flight software must
never step the host clock underneath running rate groups.
"""
from __future__ import annotations

import struct
from enum import IntEnum

SERVICE = 9
_RATE = struct.Struct(">B")
_OFFSET = struct.Struct(">q")  # microseconds


class Subtype(IntEnum):
    SET_REPORT_RATE = 1  # TC: exponential rate: one report every 2**n seconds
    CUC_TIME_REPORT = 2  # TM: rate exponent + CUC time
    CORRELATE = 128  # TC (mission-specific): apply a signed clock offset in microseconds


MAX_RATE_EXPONENT = 16


def pack_rate(exponent: int) -> bytes:
    if not 0 <= exponent <= MAX_RATE_EXPONENT:
        raise ValueError(f"time report rate exponent must be 0..{MAX_RATE_EXPONENT}, got {exponent}")
    return _RATE.pack(exponent)


def unpack_rate(data: bytes) -> int:
    if len(data) != 1 or data[0] > MAX_RATE_EXPONENT:
        raise ValueError(f"TC[9,1] needs one octet 0..{MAX_RATE_EXPONENT}, got {bytes(data).hex()}")
    return data[0]


def pack_offset_us(offset_us: int) -> bytes:
    return _OFFSET.pack(offset_us)


def unpack_offset_us(data: bytes) -> int:
    if len(data) != _OFFSET.size:
        raise ValueError(f"TC[9,128] needs an 8-octet signed offset, got {len(data)} octets")
    return _OFFSET.unpack(data)[0]
