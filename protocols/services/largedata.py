"""PUS service 13, large packet transfer (ECSS-E-ST-70-41C §6.13).

A message too large for one packet goes down in parts: TM[13,1] first, TM[13,2] intermediate,
TM[13,3] last, each carrying the transaction id, the part's sequence number and the part. It goes
up the same way: TC[13,9] first, TC[13,10] intermediate, TC[13,11] last, with the same layout;
a receiver that gives up on an uplink says so in TM[13,16] (transaction id, failure reason).
Part 0 is the first part; a message that fits one part is sent as a last part numbered 0.

The receiver reassembles in sequence order, whatever order the parts arrive in, and knows a
transfer is whole when the last part is in and no part before it is missing. A part seen again
with the same content is a harmless duplicate; one that contradicts a part already held (other
content, other role, a number past the last part) is refused and changes nothing held.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Final

from gridfree.protocols.dictionary import DecodeError

SERVICE = 13
_HEAD = struct.Struct(">HI")
_ABORTION = struct.Struct(">HH")
PART_HEAD_OCTETS: Final = _HEAD.size


class Subtype(IntEnum):
    FIRST_PART = 1
    INTERMEDIATE_PART = 2
    LAST_PART = 3
    UPLINK_FIRST_PART = 9  # TC[13,9]
    UPLINK_INTERMEDIATE_PART = 10  # TC[13,10]
    UPLINK_LAST_PART = 11  # TC[13,11]
    ABORT = 16  # TC: abort a downlink transaction


#: TM[13,16], large packet uplink abortion report. TC and TM subtypes are numbered separately, so
#: it shares its number with our TC[13,16] (downlink abort).
UPLINK_ABORTION: Final = 16

_FIRST = {Subtype.FIRST_PART, Subtype.UPLINK_FIRST_PART}
_LAST = {Subtype.LAST_PART, Subtype.UPLINK_LAST_PART}


class UplinkFailure(IntEnum):
    """Why a receiver gave up on an uplink (the failure reason of TM[13,16])."""

    TOO_LARGE = 1  # more octets or parts than the receiver takes in one transfer
    TOO_MANY = 2  # the receiver already has as many transfers in progress as it takes
    TIMED_OUT = 3  # no part for the timeout: a gap never filled, or the last part never sent
    INCONSISTENT = 4  # a part contradicts one already received
    NO_CONSUMER = 5  # nothing on board takes this kind of data
    REJECTED = 6  # the consumer refused the data (its own header, CRC or rules)


class TransferTooLarge(DecodeError):
    """A part that would take a transfer past its receiver's bounds."""


def pack_part(transaction: int, seq: int, part: bytes) -> bytes:
    return _HEAD.pack(transaction, seq) + part


def unpack_part(data: bytes) -> tuple[int, int, bytes]:
    if len(data) < _HEAD.size:
        raise DecodeError(f"TM[13,x] part needs a {_HEAD.size}-octet header, got {len(data)}")
    tid, seq = _HEAD.unpack_from(data)
    return tid, seq, bytes(data[_HEAD.size:])


def uplink_parts(transaction: int, data: bytes, part_octets: int) -> list[tuple[Subtype, bytes]]:
    """(subtype, application data) of each TC[13,9..11] that carries `data` up, in order."""
    if not data:
        raise ValueError("nothing to uplink: a transfer carries at least one octet")
    if part_octets < 1:
        raise ValueError(f"part_octets must be >= 1, got {part_octets}")
    n = -(-len(data) // part_octets)
    out = []
    for seq in range(n):
        subtype = (Subtype.UPLINK_LAST_PART if seq == n - 1 else
                   Subtype.UPLINK_FIRST_PART if seq == 0 else Subtype.UPLINK_INTERMEDIATE_PART)
        out.append((subtype, pack_part(transaction, seq, data[seq * part_octets:(seq + 1) * part_octets])))
    return out


def pack_abortion(transaction: int, reason: UplinkFailure) -> bytes:
    return _ABORTION.pack(transaction, int(reason))


def unpack_abortion(data: bytes) -> tuple[int, int]:
    """(transaction id, failure reason) of a TM[13,16]; the reason is an int in case it is newer
    than this software's `UplinkFailure`."""
    if len(data) != _ABORTION.size:
        raise DecodeError(f"TM[13,16] is {_ABORTION.size} octets, got {len(data)}")
    return _ABORTION.unpack(data)


@dataclass
class Reassembly:
    """One transaction being received; `complete` once the last part closes a gap-free run.

    `max_octets` and `max_parts` bound what an untrusted sender can make the receiver hold (the
    part numbers included: a part numbered 2**32 - 1 must not cost a scan of 4 billion slots).
    """

    transaction: int
    parts: dict[int, bytes] = field(default_factory=dict)
    last_seq: int | None = None
    duplicates: int = 0
    octets: int = 0
    max_octets: int | None = None
    max_parts: int | None = None

    def add(self, subtype: int, seq: int, part: bytes) -> bool:
        """Hold one part: True if it was new, False for a duplicate of one held. DecodeError, and
        nothing held changes, for a part that contradicts the transfer; TransferTooLarge for one
        past the bounds."""
        tid, first, last = self.transaction, subtype in _FIRST, subtype in _LAST
        if first and seq != 0:
            raise DecodeError(f"transaction {tid}: first part numbered {seq}")
        if not first and not last and seq == 0:
            raise DecodeError(f"transaction {tid}: intermediate part numbered 0 (part 0 is the first)")
        held = self.parts.get(seq)
        if held is not None:
            if held != part or last != (seq == self.last_seq):
                raise DecodeError(f"transaction {tid}: part {seq} again, differing from the one received")
            self.duplicates += 1
            return False
        if last and self.last_seq is not None:
            raise DecodeError(f"transaction {tid}: a second last part ({seq}; the last is {self.last_seq})")
        if last and self.parts and max(self.parts) > seq:
            raise DecodeError(f"transaction {tid}: last part {seq}, yet part {max(self.parts)} was received")
        if not last and self.last_seq is not None and seq > self.last_seq:
            raise DecodeError(f"transaction {tid}: part {seq} after the last part {self.last_seq}")
        if self.max_parts is not None and seq >= self.max_parts:
            raise TransferTooLarge(f"transaction {tid}: part {seq}; at most {self.max_parts} parts are taken")
        if self.max_octets is not None and self.octets + len(part) > self.max_octets:
            raise TransferTooLarge(f"transaction {tid}: more than {self.max_octets} octets")
        self.parts[seq] = part
        self.octets += len(part)
        if last:
            self.last_seq = seq
        return True

    @property
    def missing(self) -> list[int]:
        top = self.last_seq if self.last_seq is not None else max(self.parts, default=-1)
        return [s for s in range(top + 1) if s not in self.parts]

    @property
    def complete(self) -> bool:
        # Every held part is numbered at most last_seq (add refuses the others), so a count will do.
        return self.last_seq is not None and len(self.parts) == self.last_seq + 1

    def data(self) -> bytes:
        return b"".join(self.parts[s] for s in range(self.last_seq + 1))
