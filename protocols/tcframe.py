"""TC transfer frames (CCSDS 232.0-B-4) and CLTUs (CCSDS 231.0-B-4).

TC primary header (5 octets)::

    | version (2) = 00 | bypass (1) | control command (1) | spare (2) | spacecraft id (10) |
    | virtual channel id (6) | frame length (10) = octets - 1 | frame sequence number (8) |

then the data field and the FECF (CRC-16/CCITT-FALSE). gridfree sends one PUS TC packet per frame
and uses no segment header (MAP ids are not needed with one command source per VC); the frame
length field is compared with the octets received only after the FECF over them has checked.

A CLTU is the start sequence EB90, the frame in BCH(63,56) code blocks (the last filled with
0x55), and the tail sequence C5C5C5C5C5C5C579.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

from construct import BitStruct, BitsInteger, Const, Flag, Int16ub, Struct, Bytes, this

from gridfree.native import bch_encode, crc16
from gridfree.protocols.errors import check_ranges, BytesTooShortError, CrcError, InvalidFieldError

PRIMARY_HEADER_OCTETS: Final = 5
FECF_OCTETS: Final = 2
MAX_FRAME_OCTETS: Final = 1024
CLTU_START: Final = bytes.fromhex("EB90")
CLTU_TAIL: Final = bytes.fromhex("C5C5C5C5C5C5C579")
CLTU_FILL_OCTET: Final = 0x55
BCH_INFO_OCTETS: Final = 7

_HEADER = struct.Struct(">HHB")

TcFrameHeaderSpec = BitStruct(
    "version" / Const(0, BitsInteger(2)),
    "bypass_flag" / Flag,
    "control_command_flag" / Flag,
    "spare" / Const(0, BitsInteger(2)),
    "scid" / BitsInteger(10),
    "vcid" / BitsInteger(6),
    "frame_length" / BitsInteger(10),
    "seq_num" / BitsInteger(8),
)

TcFrameSpec = Struct(
    "header" / TcFrameHeaderSpec,
    "data" / Bytes(this.header.frame_length + 1 - PRIMARY_HEADER_OCTETS - FECF_OCTETS),
    "fecf" / Int16ub,
)


@dataclass(frozen=True)
class TcFrame:
    scid: int
    vcid: int
    seq_num: int
    data: bytes
    bypass: bool = True  # type-BD: expedited, no COP-1 sequence control
    control_command: bool = False

    def __post_init__(self):
        check_ranges(("scid", self.scid, 0x3FF), ("vcid", self.vcid, 63), ("seq_num", self.seq_num, 255))
        total = PRIMARY_HEADER_OCTETS + len(self.data) + FECF_OCTETS
        if total > MAX_FRAME_OCTETS:
            raise InvalidFieldError("data", len(self.data), f"frame of {total} octets exceeds {MAX_FRAME_OCTETS}")

    def pack(self) -> bytes:
        total = PRIMARY_HEADER_OCTETS + len(self.data) + FECF_OCTETS
        w0 = (int(self.bypass) << 13) | (int(self.control_command) << 12) | self.scid
        frame = _HEADER.pack(w0, (self.vcid << 10) | (total - 1), self.seq_num) + self.data
        return frame + crc16(frame).to_bytes(2, "big")

    @classmethod
    def unpack(cls, frame: bytes) -> "TcFrame":
        """Parse exactly one frame; the FECF is checked before the length field is believed.

        Raises
        ------
        CrcError
            The FECF over the received octets does not match.
        InvalidFieldError
            The (checked) length field disagrees with the octets received, or the version is not 0.
        """
        if len(frame) < PRIMARY_HEADER_OCTETS + FECF_OCTETS:
            raise BytesTooShortError(PRIMARY_HEADER_OCTETS + FECF_OCTETS, len(frame), "TC frame")
        carried, computed = int.from_bytes(frame[-2:], "big"), crc16(memoryview(frame)[:-2])
        if carried != computed:
            raise CrcError(carried, computed, "TC frame FECF")
        w0, w1, seq = _HEADER.unpack_from(frame)
        if w0 >> 14:
            raise InvalidFieldError("version", w0 >> 14, "TC transfer frame version must be 0")
        declared = (w1 & 0x3FF) + 1
        if declared != len(frame):
            raise InvalidFieldError("frame_length", declared, f"but {len(frame)} octets were received")
        return cls(w0 & 0x3FF, w1 >> 10, seq, bytes(frame[PRIMARY_HEADER_OCTETS:-FECF_OCTETS]),
                   bool(w0 >> 13 & 1), bool(w0 >> 12 & 1))


def encode_cltu(frame: bytes) -> bytes:
    """Wrap one TC frame in a CLTU: start sequence, BCH code blocks, tail sequence."""
    fill = -len(frame) % BCH_INFO_OCTETS
    return CLTU_START + bch_encode(bytes(frame) + bytes([CLTU_FILL_OCTET]) * fill) + CLTU_TAIL
