"""PUS-C telemetry and telecommand packets (ECSS-E-ST-70-41C §7.4) with packet error control.

TM secondary header (7 octets + time)::

    | PUS version (4) = 2 | time reference status (4) | service (8) | subtype (8) |
    | message type counter (16) | destination id (16) | absolute time (CUC, 6 octets default) |

TC secondary header (5 octets)::

    | PUS version (4) = 2 | acknowledgement flags (4) | service (8) | subtype (8) | source id (16) |

Every packet ends with a CRC-16/CCITT-FALSE over everything before it (§7.4.3.1 packet error
control). `unpack` checks that CRC before it believes any field beyond the 6-octet primary header,
whose length field it needs to find the CRC in the first place. The construct specs below are the
readable definition, and the tests hold the hand-written code to them.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntFlag
from typing import Final

from construct import BitsInteger, BitStruct, Bytes, Checksum, Const, Flag, Int8ub, Int16ub, Int32ub, RawCopy, Struct, this

from gridfree.native import crc16
from gridfree.protocols.errors import check_ranges, BytesTooShortError, CrcError, InvalidFieldError
from gridfree.protocols.spacepacket import (
    PRIMARY_HEADER_LEN, MAX_DATA_FIELD_LEN, PacketType, SpacePacketHeader, SpacePacketHeaderSpec,
)

PUS_VERSION: Final = 2
PEC_LEN: Final = 2
TM_SEC_HEADER_LEN_NO_TIME: Final = 7
TC_SEC_HEADER_LEN: Final = 5

#: CCSDS epoch 1958-01-01T00:00:00 on the Unix seconds scale (CCSDS 301.0-B-4 §3.2.2). Onboard
#: time in gridfree is kept on the Unix scale; leap seconds are the time-correlation's business.
CCSDS_EPOCH_UNIX_S: Final = -378_691_200


class AckFlags(IntFlag):
    """TC acknowledgement flags: which PUS 1 reports the sender wants (§7.4.3.1)."""

    NONE = 0
    ACCEPTANCE = 0b0001
    START = 0b0010
    PROGRESS = 0b0100
    COMPLETION = 0b1000
    ALL = 0b1111


@dataclass(frozen=True)
class CucTime:
    """CCSDS unsegmented time code (CCSDS 301.0-B-4 §3.2), P-field implicit.

    `coarse` counts seconds from the epoch; `fine` counts 1/2**(8*fine_octets) of a second.
    The default 4+2 octets resolve ~15 µs and wrap after 136 years.
    """

    coarse: int
    fine: int = 0
    coarse_octets: int = 4
    fine_octets: int = 2

    def __post_init__(self):
        if not 1 <= self.coarse_octets <= 4 or not 0 <= self.fine_octets <= 3:
            raise InvalidFieldError("cuc_octets", (self.coarse_octets, self.fine_octets), "coarse 1..4, fine 0..3")
        if not 0 <= self.coarse < 1 << (8 * self.coarse_octets):
            raise InvalidFieldError("coarse", self.coarse, "does not fit the coarse octets")
        if not 0 <= self.fine < 1 << (8 * self.fine_octets):
            raise InvalidFieldError("fine", self.fine, "does not fit the fine octets")

    @property
    def length(self) -> int:
        return self.coarse_octets + self.fine_octets

    @classmethod
    def from_unix(cls, t_s: float, coarse_octets: int = 4, fine_octets: int = 2) -> "CucTime":
        since = t_s - CCSDS_EPOCH_UNIX_S
        if since < 0:
            raise InvalidFieldError("time", t_s, "before the CCSDS epoch 1958-01-01")
        coarse = int(since)
        fine = int(round((since - coarse) * (1 << (8 * fine_octets))))
        if fine >> (8 * fine_octets):  # rounding carried into the next second
            coarse, fine = coarse + 1, 0
        return cls(coarse, fine, coarse_octets, fine_octets)

    def to_unix(self) -> float:
        return CCSDS_EPOCH_UNIX_S + self.coarse + self.fine / (1 << (8 * self.fine_octets))

    def pack(self) -> bytes:
        return self.coarse.to_bytes(self.coarse_octets, "big") + self.fine.to_bytes(self.fine_octets, "big")

    @classmethod
    def unpack(cls, data: bytes, coarse_octets: int = 4, fine_octets: int = 2) -> "CucTime":
        n = coarse_octets + fine_octets
        if len(data) < n:
            raise BytesTooShortError(n, len(data), "CUC time")
        return cls(int.from_bytes(data[:coarse_octets], "big"),
                   int.from_bytes(data[coarse_octets:n], "big"), coarse_octets, fine_octets)


def _crc_spec(body_fields):
    """A whole packet as construct sees it: the body in RawCopy, then its CRC as a Checksum."""
    return Struct(
        "body" / RawCopy(Struct(*body_fields)),
        "pec" / Checksum(Int16ub, lambda data: crc16(data), this.body.data),
    )


PusTmSecHeaderSpec = Struct(
    "flags" / BitStruct("pus_version" / Const(PUS_VERSION, BitsInteger(4)), "time_ref_status" / BitsInteger(4)),
    "service" / Int8ub,
    "subtype" / Int8ub,
    "msg_counter" / Int16ub,
    "dest_id" / Int16ub,
    "time_coarse" / Int32ub,
    "time_fine" / Int16ub,
)

PusTcSecHeaderSpec = Struct(
    "flags" / BitStruct(
        "pus_version" / Const(PUS_VERSION, BitsInteger(4)),
        "ack_completion" / Flag, "ack_progress" / Flag, "ack_start" / Flag, "ack_acceptance" / Flag,
    ),
    "service" / Int8ub,
    "subtype" / Int8ub,
    "source_id" / Int16ub,
)

#: A whole PUS-C TM packet with the default 4+2 octet CUC time and its PEC.
PusTmSpec = _crc_spec([
    "primary" / SpacePacketHeaderSpec,
    "secondary" / PusTmSecHeaderSpec,
    "app_data" / Bytes(this.primary.data_len + 1 - PEC_LEN - TM_SEC_HEADER_LEN_NO_TIME - 6),
])
#: A whole PUS-C TC packet with its PEC.
PusTcSpec = _crc_spec([
    "primary" / SpacePacketHeaderSpec,
    "secondary" / PusTcSecHeaderSpec,
    "app_data" / Bytes(this.primary.data_len + 1 - PEC_LEN - TC_SEC_HEADER_LEN),
])

_TM_SEC = struct.Struct(">BBBHH")
_TC_SEC = struct.Struct(">BBBH")


def check_pec(packet: bytes) -> int:
    """Verify the packet error control of a whole packet; return its declared total length.

    Raises
    ------
    BytesTooShortError
        The buffer is shorter than the header or than the length the header declares.
    CrcError
        The CRC does not match (so no field but the primary header may be trusted).
    """
    header = SpacePacketHeader.unpack(packet)
    n = header.packet_len
    if len(packet) < n:
        raise BytesTooShortError(n, len(packet), "PUS packet")
    if n < PRIMARY_HEADER_LEN + PEC_LEN + 1:
        raise BytesTooShortError(PRIMARY_HEADER_LEN + PEC_LEN + 1, n, "PUS packet")
    carried = (packet[n - 2] << 8) | packet[n - 1]
    computed = crc16(memoryview(packet)[: n - 2])
    if carried != computed:
        raise CrcError(carried, computed, "packet error control")
    return n


def _with_header_and_pec(ptype: PacketType, apid: int, seq_count: int, body: bytes) -> bytes:
    """Primary header (unsegmented, secondary header present) + body + CRC-16 packet error control."""
    data_field_len = len(body) + PEC_LEN
    if data_field_len > MAX_DATA_FIELD_LEN:
        raise InvalidFieldError("app_data", len(body), "packet exceeds 65542 octets")
    packet = SpacePacketHeader(ptype, apid, seq_count, data_field_len - 1, True).pack() + body
    return packet + crc16(packet).to_bytes(2, "big")


def _checked(packet: bytes, ptype: PacketType, sec_header_octets: int) -> tuple[int, SpacePacketHeader]:
    """The checks both packet kinds share, in trust order: the PEC first, then the kind, the
    length the secondary header needs, and the PUS version. Returns (length, primary header)."""
    n = check_pec(packet)
    header = SpacePacketHeader.unpack(packet)
    what = f"PUS {ptype.name} packet"
    if header.packet_type is not ptype or not header.sec_header_flag:
        raise InvalidFieldError("packet_type", header.packet_type,
                                f"not a {what} (type {int(ptype)}, secondary header)")
    min_len = PRIMARY_HEADER_LEN + sec_header_octets + PEC_LEN
    if n < min_len:
        raise BytesTooShortError(min_len, n, what)
    version = packet[PRIMARY_HEADER_LEN] >> 4
    if version != PUS_VERSION:
        raise InvalidFieldError("pus_version", version, f"expected {PUS_VERSION} (PUS-C)")
    return n, header


@dataclass(frozen=True)
class PusTm:
    """A PUS-C telemetry packet (ECSS-E-ST-70-41C §7.4.3.1)."""

    apid: int
    service: int
    subtype: int
    app_data: bytes = b""
    seq_count: int = 0
    msg_counter: int = 0
    dest_id: int = 0
    time: CucTime = field(default_factory=lambda: CucTime(0))
    time_ref_status: int = 0

    def pack(self) -> bytes:
        check_ranges(("service", self.service, 255), ("subtype", self.subtype, 255),
                     ("msg_counter", self.msg_counter, 0xFFFF), ("dest_id", self.dest_id, 0xFFFF),
                     ("time_ref_status", self.time_ref_status, 15))
        body = (_TM_SEC.pack((PUS_VERSION << 4) | self.time_ref_status, self.service, self.subtype,
                             self.msg_counter, self.dest_id) + self.time.pack() + self.app_data)
        return _with_header_and_pec(PacketType.TM, self.apid, self.seq_count, body)

    @classmethod
    def unpack(cls, packet: bytes, coarse_octets: int = 4, fine_octets: int = 2) -> "PusTm":
        n, header = _checked(packet, PacketType.TM, TM_SEC_HEADER_LEN_NO_TIME + coarse_octets + fine_octets)
        flags, service, subtype, counter, dest = _TM_SEC.unpack_from(packet, PRIMARY_HEADER_LEN)
        t0 = PRIMARY_HEADER_LEN + TM_SEC_HEADER_LEN_NO_TIME
        time = CucTime.unpack(packet[t0:], coarse_octets, fine_octets)
        return cls(header.apid, service, subtype, bytes(packet[t0 + time.length: n - PEC_LEN]),
                   header.seq_count, counter, dest, time, flags & 0xF)


@dataclass(frozen=True)
class PusTc:
    """A PUS-C telecommand packet (ECSS-E-ST-70-41C §7.4.4.1)."""

    apid: int
    service: int
    subtype: int
    app_data: bytes = b""
    seq_count: int = 0
    source_id: int = 0
    ack: AckFlags = AckFlags.ALL

    def pack(self) -> bytes:
        check_ranges(("service", self.service, 255), ("subtype", self.subtype, 255),
                     ("source_id", self.source_id, 0xFFFF), ("ack", int(self.ack), 15))
        body = _TC_SEC.pack((PUS_VERSION << 4) | int(self.ack), self.service, self.subtype,
                            self.source_id) + self.app_data
        return _with_header_and_pec(PacketType.TC, self.apid, self.seq_count, body)

    @classmethod
    def unpack(cls, packet: bytes) -> "PusTc":
        n, header = _checked(packet, PacketType.TC, TC_SEC_HEADER_LEN)
        flags, service, subtype, source = _TC_SEC.unpack_from(packet, PRIMARY_HEADER_LEN)
        return cls(header.apid, service, subtype,
                   bytes(packet[PRIMARY_HEADER_LEN + TC_SEC_HEADER_LEN: n - PEC_LEN]),
                   header.seq_count, source, AckFlags(flags & 0xF))
