"""CCSDS space packets (Blue Book CCSDS 133.0-B-2, §4.1).

The 6-octet primary header::

    | version (3) | type (1) | sec. hdr flag (1) | APID (11) |
    | sequence flags (2) | sequence count (14) |
    | packet data length (16) = octets in the data field - 1 |

`SpacePacketHeaderSpec` is the readable construct definition; `SpacePacketHeader` packs and
unpacks by hand with `struct` because the header is parsed for every packet on the hot path, and
the tests check the two agree bit for bit.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

from construct import BitsInteger, BitStruct, Enum as CEnum, Flag

from gridfree.protocols.errors import check_ranges, BytesTooShortError, InvalidFieldError

PRIMARY_HEADER_LEN: Final = 6
APID_MASK: Final = 0x7FF
MAX_APID: Final = 0x7FF
IDLE_APID: Final = 0x7FF  # CCSDS 133.0-B-2 §4.1.3.3.4.4: APID of idle packets
SEQ_COUNT_MASK: Final = 0x3FFF
MAX_DATA_FIELD_LEN: Final = 65536
MAX_PACKET_LEN: Final = PRIMARY_HEADER_LEN + MAX_DATA_FIELD_LEN  # 65542
IDLE_FILL_OCTET: Final = 0x55

_HEADER = struct.Struct(">HHH")


class PacketType(IntEnum):
    TM = 0
    TC = 1


class SequenceFlags(IntEnum):
    CONTINUATION = 0b00
    FIRST_SEGMENT = 0b01
    LAST_SEGMENT = 0b10
    UNSEGMENTED = 0b11


SpacePacketHeaderSpec = BitStruct(
    "version" / BitsInteger(3),
    "packet_type" / CEnum(BitsInteger(1), PacketType),
    "sec_header_flag" / Flag,
    "apid" / BitsInteger(11),
    "seq_flags" / CEnum(BitsInteger(2), SequenceFlags),
    "seq_count" / BitsInteger(14),
    "data_len" / BitsInteger(16),
)


@dataclass(frozen=True)
class SpacePacketHeader:
    """The primary header. `data_len` is the standard's field: data-field octets minus one."""

    packet_type: PacketType
    apid: int
    seq_count: int
    data_len: int
    sec_header_flag: bool = True
    seq_flags: SequenceFlags = SequenceFlags.UNSEGMENTED
    version: int = 0

    def __post_init__(self):
        check_ranges(("apid", self.apid, MAX_APID), ("seq_count", self.seq_count, SEQ_COUNT_MASK),
                     ("data_len", self.data_len, 0xFFFF), ("version", self.version, 7))

    @property
    def packet_len(self) -> int:
        """Total octets of the packet this header starts."""
        return PRIMARY_HEADER_LEN + self.data_len + 1

    @property
    def packet_id(self) -> int:
        return (self.version << 13) | (self.packet_type << 12) | (self.sec_header_flag << 11) | self.apid

    @property
    def seq_ctrl(self) -> int:
        return (self.seq_flags << 14) | self.seq_count

    def pack(self) -> bytes:
        return _HEADER.pack(self.packet_id, self.seq_ctrl, self.data_len)

    @classmethod
    def unpack(cls, data: bytes, offset: int = 0) -> "SpacePacketHeader":
        """Parse the header at `offset`.

        Raises
        ------
        BytesTooShortError
            Fewer than 6 octets are available.
        """
        if len(data) - offset < PRIMARY_HEADER_LEN:
            raise BytesTooShortError(PRIMARY_HEADER_LEN, len(data) - offset, "space packet header")
        pid, psc, dlen = _HEADER.unpack_from(data, offset)
        return cls(
            packet_type=PacketType((pid >> 12) & 1),
            apid=pid & APID_MASK,
            seq_count=psc & SEQ_COUNT_MASK,
            data_len=dlen,
            sec_header_flag=bool((pid >> 11) & 1),
            seq_flags=SequenceFlags(psc >> 14),
            version=pid >> 13,
        )


def packet_len_at(data, offset: int = 0) -> int:
    """Declared total length of the packet starting at `offset` (an *untrusted* number)."""
    return PRIMARY_HEADER_LEN + ((data[offset + 4] << 8) | data[offset + 5]) + 1


@dataclass(frozen=True)
class SpacePacket:
    header: SpacePacketHeader
    data: bytes

    def pack(self) -> bytes:
        if len(self.data) != self.header.data_len + 1:
            raise InvalidFieldError("data", len(self.data), f"header declares {self.header.data_len + 1} octets")
        return self.header.pack() + self.data

    @classmethod
    def build(cls, packet_type: PacketType, apid: int, seq_count: int, data: bytes,
              sec_header_flag: bool = True) -> "SpacePacket":
        if not 1 <= len(data) <= MAX_DATA_FIELD_LEN:
            raise InvalidFieldError("data", len(data), f"data field must be 1..{MAX_DATA_FIELD_LEN} octets")
        header = SpacePacketHeader(packet_type, apid, seq_count, len(data) - 1, sec_header_flag)
        return cls(header, bytes(data))

    @classmethod
    def unpack(cls, data: bytes) -> "SpacePacket":
        header = SpacePacketHeader.unpack(data)
        if len(data) < header.packet_len:
            raise BytesTooShortError(header.packet_len, len(data), "space packet")
        return cls(header, bytes(data[PRIMARY_HEADER_LEN:header.packet_len]))


def idle_packet(length: int, seq_count: int = 0) -> bytes:
    """An idle packet of `length` total octets (>= 7): APID 0x7FF, no secondary header, fill 0x55."""
    if not PRIMARY_HEADER_LEN + 1 <= length <= MAX_PACKET_LEN:
        raise InvalidFieldError("length", length, f"idle packet must be {PRIMARY_HEADER_LEN + 1}..{MAX_PACKET_LEN} octets")
    header = SpacePacketHeader(PacketType.TM, IDLE_APID, seq_count & SEQ_COUNT_MASK,
                               length - PRIMARY_HEADER_LEN - 1, sec_header_flag=False)
    return header.pack() + bytes([IDLE_FILL_OCTET]) * (length - PRIMARY_HEADER_LEN)
