"""PUS service 1, request verification (ECSS-E-ST-70-41C §6.1).

Every telecommand is answered by reports naming it by its *request ID*: the first four octets of
its packet primary header (version, type, secondary-header flag, APID, sequence flags and count),
so the ground can match reports to the commands it sent without a separate id.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

SERVICE = 1


class Subtype(IntEnum):
    ACCEPTANCE_OK = 1
    ACCEPTANCE_FAILED = 2
    START_OK = 3
    START_FAILED = 4
    PROGRESS_OK = 5
    PROGRESS_FAILED = 6
    COMPLETION_OK = 7
    COMPLETION_FAILED = 8

    @property
    def failed(self) -> bool:
        return self % 2 == 0

    @property
    def stage(self) -> str:
        return ("acceptance", "start", "progress", "completion")[(self - 1) // 2]


class FailureCode(IntEnum):
    """Failure notice codes (mission-specific in the standard; these are gridfree's)."""

    ILLEGAL_APID = 1
    INCOMPLETE_OR_BAD_LENGTH = 2
    BAD_CHECKSUM = 3
    ILLEGAL_SERVICE = 4
    ILLEGAL_SUBTYPE = 5
    UNKNOWN_COMMAND = 6
    BAD_ARGUMENT = 7
    ARGUMENT_OUT_OF_RANGE = 8
    NOT_ARMED = 9  # hazardous command without a preceding ARM
    WRONG_MODE = 10
    EXECUTION_ERROR = 11
    BUSY = 12
    TIMEOUT = 13
    AUTHENTICATION_FAILED = 14
    NOT_AUTHORISED = 15  # the sender's role may not send this command, or not for that tenant


_REQ = struct.Struct(">HH")
_FAIL = struct.Struct(">H")
_STEP = struct.Struct(">H")


@dataclass(frozen=True)
class RequestId:
    """The packet-id and sequence-control words of the telecommand being verified."""

    packet_id: int  # version(3) | type(1) | sec-hdr flag(1) | APID(11)
    seq_ctrl: int  # sequence flags(2) | sequence count(14)

    @classmethod
    def of_packet(cls, tc_packet: bytes) -> "RequestId":
        return cls(*_REQ.unpack_from(tc_packet))

    @property
    def apid(self) -> int:
        return self.packet_id & 0x7FF

    @property
    def seq_count(self) -> int:
        return self.seq_ctrl & 0x3FFF

    def pack(self) -> bytes:
        return _REQ.pack(self.packet_id, self.seq_ctrl)


@dataclass(frozen=True)
class VerificationReport:
    subtype: Subtype
    request: RequestId
    step: int | None = None  # progress reports only
    failure: FailureCode | int | None = None  # failure reports only
    failure_data: bytes = b""

    def pack(self) -> bytes:
        out = self.request.pack()
        if self.subtype in (Subtype.PROGRESS_OK, Subtype.PROGRESS_FAILED):
            out += _STEP.pack(self.step or 0)
        if self.subtype.failed:
            out += _FAIL.pack(int(self.failure or 0)) + self.failure_data
        return out

    @classmethod
    def unpack(cls, subtype: int, data: bytes) -> "VerificationReport":
        subtype = Subtype(subtype)
        if len(data) < _REQ.size:
            raise ValueError(f"TM[1,{subtype}] needs >= {_REQ.size} octets, got {len(data)}")
        request = RequestId(*_REQ.unpack_from(data))
        pos, step, failure = _REQ.size, None, None
        if subtype in (Subtype.PROGRESS_OK, Subtype.PROGRESS_FAILED):
            if len(data) < pos + 2:
                raise ValueError(f"TM[1,{subtype}] is missing its step id")
            (step,) = _STEP.unpack_from(data, pos)
            pos += 2
        if subtype.failed:
            if len(data) < pos + 2:
                raise ValueError(f"TM[1,{subtype}] is missing its failure code")
            (code,) = _FAIL.unpack_from(data, pos)
            failure = FailureCode(code) if code in FailureCode._value2member_map_ else code
            pos += 2
        return cls(subtype, request, step, failure, bytes(data[pos:]))
