"""The hardware register protocol between the node's drivers and its boards (or the HIL rig that
emulates them) over a UART: small framed request/response messages, as a real EPS board speaks.

Frame::

    | 0xA5 0x5A | length (1) | body (length octets) | CRC-16/CCITT-FALSE over length+body (2) |

Request body:  | op (1) | seq (1) | register (2) | value (4, writes only) | count (1, block reads only) |
Response body: | op | 0x80 (1) | seq (1) | register (2) | status (1) | value (4) x count |

A block read (op 3) returns `count` consecutive registers in one exchange, as EPS boards offer for
housekeeping sweeps: on a UART every exchange costs a turnaround, so a sweep is one exchange.

Values are IEEE-754 float32 for analog registers and unsigned 32-bit for switches, big-endian, as
the register map (`protocols/registers.py`) declares each register; `Reg` is re-exported here.
The decoder is sans-IO and hunts for the sync word; the length is bounded (a body is at most 16
octets) and believed only once the CRC over it checks, so line noise costs one message, never a
stall. Each request carries a sequence number, so a late answer to an earlier request that timed
out cannot be mistaken for the answer to this one.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from typing import Final

from gridfree.native import crc16
from gridfree.protocols.registers import INTEGER_REGS, WRITABLE_REGS, Reg

__all__ = ["Op", "Status", "Reg", "INTEGER_REGS", "WRITABLE_REGS", "Request", "Response", "HwBusDecoder",
           "BusStats", "encode_value", "decode_value", "frame"]

SYNC: Final = b"\xa5\x5a"
MAX_BLOCK_REGISTERS: Final = 14
MAX_BODY_OCTETS: Final = 5 + 4 * MAX_BLOCK_REGISTERS
RESPONSE_FLAG: Final = 0x80


class Op(IntEnum):
    READ = 0x01
    WRITE = 0x02
    READ_BLOCK = 0x03


class Status(IntEnum):
    OK = 0
    UNKNOWN_REGISTER = 1
    READ_ONLY = 2
    BAD_VALUE = 3


def encode_value(reg: int, value: float) -> bytes:
    return struct.pack(">I", int(value)) if reg in INTEGER_REGS else struct.pack(">f", value)


def decode_value(reg: int, raw: bytes) -> float:
    return struct.unpack(">I", raw)[0] if reg in INTEGER_REGS else struct.unpack(">f", raw)[0]


def frame(body: bytes) -> bytes:
    head = bytes([len(body)]) + body
    return SYNC + head + crc16(head).to_bytes(2, "big")


@dataclass(frozen=True)
class Request:
    op: Op
    seq: int
    reg: int
    value: float = 0.0  # writes: the value; block reads: the register count

    def pack(self) -> bytes:
        body = struct.pack(">BBH", self.op, self.seq, self.reg)
        if self.op is Op.WRITE:
            body += encode_value(self.reg, self.value)
        elif self.op is Op.READ_BLOCK:
            body += bytes([int(self.value)])
        return frame(body)


@dataclass(frozen=True)
class Response:
    op: Op
    seq: int
    reg: int
    status: Status
    value: float = 0.0
    values: tuple = ()  # block reads

    def pack(self) -> bytes:
        head = struct.pack(">BBHB", self.op | RESPONSE_FLAG, self.seq, self.reg, self.status)
        if self.op is Op.READ_BLOCK:
            return frame(head + b"".join(encode_value(self.reg + i, v) for i, v in enumerate(self.values)))
        return frame(head + encode_value(self.reg, self.value))


@dataclass
class BusStats:
    messages: int = 0
    crc_errors: int = 0
    bytes_skipped: int = 0
    malformed: int = 0


class HwBusDecoder:
    """Bytes in, Requests or Responses out; never raises on bad input."""

    def __init__(self):
        self._buf = bytearray()
        self.stats = BusStats()

    def feed(self, data: bytes) -> list[Request | Response]:
        self._buf += data
        out, buf = [], self._buf
        while True:
            at = buf.find(SYNC)
            if at < 0:
                keep = 1 if buf[-1:] == SYNC[:1] else 0
                self.stats.bytes_skipped += len(buf) - keep
                del buf[: len(buf) - keep]
                return out
            if at:
                self.stats.bytes_skipped += at
                del buf[:at]
            if len(buf) < 3:
                return out
            n = buf[2]
            if n > MAX_BODY_OCTETS:
                self.stats.malformed += 1
                del buf[:1]
                continue
            if len(buf) < 3 + n + 2:
                return out
            head = bytes(buf[2:3 + n])
            if crc16(head) != int.from_bytes(buf[3 + n:5 + n], "big"):
                self.stats.crc_errors += 1
                del buf[:1]  # not a message after all: hunt from the next octet
                continue
            del buf[:5 + n]
            msg = self._parse(head[1:])
            if msg is None:
                self.stats.malformed += 1
            else:
                self.stats.messages += 1
                out.append(msg)

    @staticmethod
    def _parse(body: bytes) -> Request | Response | None:
        if len(body) < 4:
            return None
        op, seq, reg = struct.unpack_from(">BBH", body)
        try:
            if op & RESPONSE_FLAG:
                if (op & ~RESPONSE_FLAG) == Op.READ_BLOCK:
                    if len(body) < 5 or (len(body) - 5) % 4:
                        return None
                    values = tuple(decode_value(reg + i, body[5 + 4 * i:9 + 4 * i]) for i in range((len(body) - 5) // 4))
                    return Response(Op.READ_BLOCK, seq, reg, Status(body[4]), values=values)
                if len(body) != 9:
                    return None
                return Response(Op(op & ~RESPONSE_FLAG), seq, reg, Status(body[4]), decode_value(reg, body[5:9]))
            if op == Op.READ and len(body) == 4:
                return Request(Op.READ, seq, reg)
            if op == Op.READ_BLOCK and len(body) == 5 and 1 <= body[4] <= MAX_BLOCK_REGISTERS:
                return Request(Op.READ_BLOCK, seq, reg, body[4])
            if op == Op.WRITE and len(body) == 8:
                return Request(Op.WRITE, seq, reg, decode_value(reg, body[4:8]))
        except ValueError:
            return None
        return None
