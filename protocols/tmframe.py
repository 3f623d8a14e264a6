"""TM transfer frames (CCSDS 132.0-B-3) and the attached sync marker (CCSDS 131.0-B-4 §9).

Primary header (6 octets)::

    | version (2) = 00 | spacecraft id (10) | virtual channel id (3) | OCF flag (1) |
    | master channel frame count (8) | virtual channel frame count (8) |
    | sec. hdr flag (1) | sync flag (1) | packet order (1) | segment length id (2) = 11 |
    | first header pointer (11) |

then the data field, an optional 4-octet operational control field, and the frame error control
field: CRC-16/CCITT-FALSE over everything before it. Frames are fixed length on a given physical
channel, so no length field exists to be corrupted.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

from construct import BitStruct, BitsInteger, Bytes, Const, Flag, Int16ub, Struct

from gridfree.native import crc16
from gridfree.protocols.errors import check_ranges, BytesTooShortError, CrcError, InvalidFieldError

ASM: Final = bytes.fromhex("1ACFFC1D")
PRIMARY_HEADER_OCTETS: Final = 6
FHP_NO_PACKET_START: Final = 0x7FF  # no packet header starts in this frame's data field
FHP_IDLE: Final = 0x7FE  # the data field holds only idle data
SEGMENT_LENGTH_ID: Final = 0b11  # "no segmentation" for packet data (§4.1.2.7.5)

_HEADER = struct.Struct(">HBBH")

TmFrameHeaderSpec = BitStruct(
    "version" / Const(0, BitsInteger(2)),
    "scid" / BitsInteger(10),
    "vcid" / BitsInteger(3),
    "ocf_flag" / Flag,
    "mc_count" / BitsInteger(8),
    "vc_count" / BitsInteger(8),
    "sec_header_flag" / Flag,
    "sync_flag" / Flag,
    "packet_order_flag" / Flag,
    "segment_length_id" / BitsInteger(2),
    "fhp" / BitsInteger(11),
)


def tm_frame_spec(frame_octets: int, ocf: bool = False, fecf: bool = True):
    """The whole frame as a construct Struct, for a given fixed length."""
    data_octets = frame_octets - PRIMARY_HEADER_OCTETS - (4 if ocf else 0) - (2 if fecf else 0)
    fields = ["header" / TmFrameHeaderSpec, "data" / Bytes(data_octets)]
    if ocf:
        fields.append("ocf" / Bytes(4))
    if fecf:
        fields.append("fecf" / Int16ub)
    return Struct(*fields)


@dataclass(frozen=True)
class TmFrameHeader:
    scid: int
    vcid: int
    mc_count: int
    vc_count: int
    fhp: int
    ocf_flag: bool = False
    sync_flag: bool = False
    sec_header_flag: bool = False

    def __post_init__(self):
        check_ranges(("scid", self.scid, 0x3FF), ("vcid", self.vcid, 7), ("mc_count", self.mc_count, 255),
                     ("vc_count", self.vc_count, 255), ("fhp", self.fhp, 0x7FF))

    def pack(self) -> bytes:
        w0 = (self.scid << 4) | (self.vcid << 1) | int(self.ocf_flag)
        dfs = (int(self.sec_header_flag) << 15) | (int(self.sync_flag) << 14) | (SEGMENT_LENGTH_ID << 11) | self.fhp
        return _HEADER.pack(w0, self.mc_count, self.vc_count, dfs)

    @classmethod
    def unpack(cls, data: bytes) -> "TmFrameHeader":
        if len(data) < PRIMARY_HEADER_OCTETS:
            raise BytesTooShortError(PRIMARY_HEADER_OCTETS, len(data), "TM frame header")
        w0, mc, vc, dfs = _HEADER.unpack_from(data)
        if w0 >> 14:
            raise InvalidFieldError("version", w0 >> 14, "TM transfer frame version must be 0")
        return cls((w0 >> 4) & 0x3FF, (w0 >> 1) & 7, mc, vc, dfs & 0x7FF, bool(w0 & 1),
                   bool(dfs >> 14 & 1), bool(dfs >> 15))


@dataclass(frozen=True)
class TmFrame:
    header: TmFrameHeader
    data: bytes
    ocf: bytes | None = None

    def pack(self, fecf: bool = True) -> bytes:
        if self.ocf is not None and len(self.ocf) != 4:
            raise InvalidFieldError("ocf", self.ocf, "the OCF is 4 octets")
        frame = self.header.pack() + self.data + (self.ocf or b"")
        return frame + crc16(frame).to_bytes(2, "big") if fecf else frame

    @classmethod
    def unpack(cls, frame: bytes, fecf: bool = True) -> "TmFrame":
        """Parse one frame (ASM removed); the FECF is checked before any field is believed.

        Raises
        ------
        CrcError
            The FECF does not match.
        """
        trailer = 2 if fecf else 0
        if len(frame) < PRIMARY_HEADER_OCTETS + trailer + 1:
            raise BytesTooShortError(PRIMARY_HEADER_OCTETS + trailer + 1, len(frame), "TM frame")
        if fecf:
            carried, computed = int.from_bytes(frame[-2:], "big"), crc16(memoryview(frame)[:-2])
            if carried != computed:
                raise CrcError(carried, computed, "TM frame FECF")
        header = TmFrameHeader.unpack(frame)
        end = len(frame) - trailer
        if header.ocf_flag:
            return cls(header, bytes(frame[PRIMARY_HEADER_OCTETS:end - 4]), bytes(frame[end - 4:end]))
        return cls(header, bytes(frame[PRIMARY_HEADER_OCTETS:end]))
