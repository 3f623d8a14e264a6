"""PUS service 17, test (ECSS-E-ST-70-41C §6.17): are-you-alive and on-board connection tests."""
from __future__ import annotations

import struct
from enum import IntEnum

SERVICE = 17
_APID = struct.Struct(">H")


class Subtype(IntEnum):
    ARE_YOU_ALIVE = 1  # TC
    ARE_YOU_ALIVE_REPORT = 2  # TM
    CONNECTION_TEST = 3  # TC: APID of the on-board application to test
    CONNECTION_TEST_REPORT = 4  # TM: that APID


def pack_apid(apid: int) -> bytes:
    return _APID.pack(apid)


def unpack_apid(data: bytes) -> int:
    if len(data) != 2:
        raise ValueError(f"connection test needs a 2-octet APID, got {len(data)} octets")
    return _APID.unpack(data)[0]
