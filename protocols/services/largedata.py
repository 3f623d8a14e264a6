"""PUS service 13, large packet transfer (ECSS-E-ST-70-41C §6.13).

A message too large for one packet goes down in parts: TM[13,1] first, TM[13,2] intermediate,
TM[13,3] last, each carrying the transaction id, the part's sequence number and the part. The
receiver reassembles in sequence order and knows a transfer is whole when the last part arrives
with no gap before it.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntEnum

from gridfree.protocols.dictionary import DecodeError

SERVICE = 13
_HEAD = struct.Struct(">HI")


class Subtype(IntEnum):
    FIRST_PART = 1
    INTERMEDIATE_PART = 2
    LAST_PART = 3
    ABORT = 16  # TC: abort a downlink transaction


def pack_part(transaction: int, seq: int, part: bytes) -> bytes:
    return _HEAD.pack(transaction, seq) + part


def unpack_part(data: bytes) -> tuple[int, int, bytes]:
    if len(data) < _HEAD.size:
        raise DecodeError(f"TM[13,x] part needs a {_HEAD.size}-octet header, got {len(data)}")
    tid, seq = _HEAD.unpack_from(data)
    return tid, seq, bytes(data[_HEAD.size:])


@dataclass
class Reassembly:
    """One transaction being received; `complete` once the last part closes a gap-free run."""

    transaction: int
    parts: dict[int, bytes] = field(default_factory=dict)
    last_seq: int | None = None
    duplicates: int = 0

    def add(self, subtype: int, seq: int, part: bytes) -> None:
        if subtype == Subtype.FIRST_PART and seq != 0:
            raise DecodeError(f"transaction {self.transaction}: first part numbered {seq}")
        if seq in self.parts:
            self.duplicates += 1
        self.parts[seq] = part
        if subtype == Subtype.LAST_PART:
            self.last_seq = seq

    @property
    def missing(self) -> list[int]:
        top = self.last_seq if self.last_seq is not None else max(self.parts, default=-1)
        return [s for s in range(top + 1) if s not in self.parts]

    @property
    def complete(self) -> bool:
        return self.last_seq is not None and not self.missing

    def data(self) -> bytes:
        return b"".join(self.parts[s] for s in range(self.last_seq + 1))
