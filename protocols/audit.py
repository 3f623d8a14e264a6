"""The node's command audit, as stored on board and as downlinked: fixed-size records with CRC-32.

Node and ground share this module: the node writes the log file (``state_dir/audit.log``) and
sends parts of it down through PUS 13; the ground reads a dump with `decode_dump` and nothing else.

Log file: a 16-octet header (magic ``GFAU``, version, record size, the number of the file's first
record, CRC-32), then records of RECORD_OCTETS each. A record is, big-endian:

    seq u32 | time_s f64 | spi u16 | role u8 | tenant u16 | outcome u8 | code u16
    | name (NAME_OCTETS, UTF-8, NUL-padded) | reason (REASON_OCTETS, UTF-8, NUL-padded) | CRC-32

The CRC-32 (zlib's) covers every octet before it, so a record torn by a crash, or changed in
storage, is found. Records are numbered from 0 for the life of the node and never renumbered.

Dump (one PUS 13 transfer): a 16-octet header (magic ``GFAD``, version, record size, record count,
CRC-32), then that many records exactly as the log holds them.
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import Final

from gridfree.protocols.dictionary import fit_text

FILE_MAGIC: Final = b"GFAU"
DUMP_MAGIC: Final = b"GFAD"
VERSION: Final = 1
RECORD_OCTETS: Final = 256
NAME_OCTETS: Final = 48
REASON_OCTETS: Final = 184
HEADER_OCTETS: Final = 16
MAX_SEQ: Final = 0xFFFF_FFFF

#: Role and outcome codes on the wire (the Origin's role, the CommandAudit's outcome).
ROLES: Final = {"onboard": 0, "operator": 1, "tenant": 2, "unknown": 3}  # unknown: a frame naming no SA
OUTCOMES: Final = {"accepted": 1, "completed": 2, "failed": 3, "rejected": 4}
_ROLE_NAMES = {v: k for k, v in ROLES.items()}
_OUTCOME_NAMES = {v: k for k, v in OUTCOMES.items()}

_HEAD = struct.Struct(">IdHBHBH")  # seq, time_s, spi, role, tenant, outcome, code
_BODY_OCTETS = RECORD_OCTETS - 4
_CRC = struct.Struct(">I")
_FILE_HEAD = struct.Struct(">4sBBHI")  # magic, version, spare, record octets, first seq
_DUMP_HEAD = struct.Struct(">4sBBHI")  # magic, version, spare, record octets, record count
assert _HEAD.size + NAME_OCTETS + REASON_OCTETS + _CRC.size == RECORD_OCTETS
assert _FILE_HEAD.size + _CRC.size == HEADER_OCTETS == _DUMP_HEAD.size + _CRC.size


class AuditFormatError(ValueError):
    """Octets that are not an audit record, log header or dump (the message says which and why)."""


@dataclass(frozen=True)
class AuditRecord:
    seq: int
    time_s: float
    spi: int
    role: str  # a key of ROLES
    tenant: int
    name: str
    outcome: str  # a key of OUTCOMES
    code: int = 0
    reason: str = ""

    def pack(self) -> bytes:
        """The record's octets; texts are cut to their fields (UTF-8 safe), other values must fit."""
        if self.role not in ROLES or self.outcome not in OUTCOMES:
            raise ValueError(f"audit record: role {self.role!r} (one of {', '.join(ROLES)}), outcome "
                             f"{self.outcome!r} (one of {', '.join(OUTCOMES)})")
        head = _HEAD.pack(self.seq, self.time_s, self.spi, ROLES[self.role], self.tenant, OUTCOMES[self.outcome],
                          self.code)
        body = head + _text(self.name, NAME_OCTETS) + _text(self.reason, REASON_OCTETS)
        return body + _CRC.pack(zlib.crc32(body))

    @classmethod
    def unpack(cls, data: bytes, offset: int = 0) -> "AuditRecord":
        """The record at `offset`; AuditFormatError if fewer octets remain, its CRC-32 does not
        match, or a code is unknown (checked only after the CRC)."""
        if len(data) - offset < RECORD_OCTETS:
            raise AuditFormatError(f"audit record at {offset}: {max(0, len(data) - offset)} octets, "
                                   f"a record is {RECORD_OCTETS}")
        body = bytes(data[offset:offset + _BODY_OCTETS])
        (crc,) = _CRC.unpack_from(data, offset + _BODY_OCTETS)
        if zlib.crc32(body) != crc:
            raise AuditFormatError(f"audit record at {offset}: CRC-32 does not match")
        seq, time_s, spi, role, tenant, outcome, code = _HEAD.unpack_from(body)
        if role not in _ROLE_NAMES or outcome not in _OUTCOME_NAMES:
            raise AuditFormatError(f"audit record {seq}: role code {role}, outcome code {outcome} unknown")
        name = body[_HEAD.size:_HEAD.size + NAME_OCTETS]
        reason = body[_HEAD.size + NAME_OCTETS:]
        return cls(seq, time_s, spi, _ROLE_NAMES[role], tenant, _untext(name), _OUTCOME_NAMES[outcome], code,
                   _untext(reason))

    def text(self) -> str:
        """One line for a person: number, onboard time, who, what, and what became of it."""
        who = {"onboard": "onboard", "operator": f"operator (SPI {self.spi})",
               "tenant": f"tenant {self.tenant} (SPI {self.spi})",
               "unknown": f"unknown sender (SPI {self.spi})"}[self.role]
        why = f" ({self.code}): {self.reason}" if self.code or self.reason else ""
        return f"#{self.seq} t={self.time_s:.3f} {who} {self.name} {self.outcome}{why}"


def _text(text: str, octets: int) -> bytes:
    return fit_text(text, octets).encode().ljust(octets, b"\0")


def _untext(field: bytes) -> str:
    return field.rstrip(b"\0").decode("utf-8", errors="replace")


def pack_file_header(first_seq: int) -> bytes:
    body = _FILE_HEAD.pack(FILE_MAGIC, VERSION, 0, RECORD_OCTETS, first_seq)
    return body + _CRC.pack(zlib.crc32(body))


def unpack_file_header(data: bytes) -> int:
    """The number of the log's first record; AuditFormatError if `data` does not start with a log
    header this software reads."""
    first_seq, _ = _checked_header(data, _FILE_HEAD, FILE_MAGIC, "audit log")
    return first_seq


def encode_dump(records: bytes) -> bytes:
    """A dump transfer of whole records (their octets as the log holds them)."""
    if len(records) % RECORD_OCTETS:
        raise ValueError(f"{len(records)} octets are not whole {RECORD_OCTETS}-octet audit records")
    body = _DUMP_HEAD.pack(DUMP_MAGIC, VERSION, 0, RECORD_OCTETS, len(records) // RECORD_OCTETS)
    return body + _CRC.pack(zlib.crc32(body)) + records


def decode_dump(data: bytes) -> list[AuditRecord]:
    """The records of a downlinked dump, each checked; AuditFormatError if the header is not a
    dump's, the count disagrees with the octets that follow, or any record fails its CRC."""
    count, _ = _checked_header(data, _DUMP_HEAD, DUMP_MAGIC, "audit dump")
    if len(data) - HEADER_OCTETS != count * RECORD_OCTETS:
        raise AuditFormatError(f"audit dump header counts {count} records; {len(data) - HEADER_OCTETS} octets "
                               f"follow ({count * RECORD_OCTETS} expected)")
    return [AuditRecord.unpack(data, HEADER_OCTETS + i * RECORD_OCTETS) for i in range(count)]


def _checked_header(data: bytes, fmt: struct.Struct, magic: bytes, what: str) -> tuple[int, int]:
    """(last field, version) of a 16-octet header after its CRC, magic, version and record size check."""
    if len(data) < HEADER_OCTETS:
        raise AuditFormatError(f"{what}: {len(data)} octets, its header alone is {HEADER_OCTETS}")
    (crc,) = _CRC.unpack_from(data, fmt.size)
    if zlib.crc32(bytes(data[:fmt.size])) != crc:
        raise AuditFormatError(f"{what}: header CRC-32 does not match")
    got_magic, version, _, record_octets, value = fmt.unpack_from(data)
    if got_magic != magic or version != VERSION or record_octets != RECORD_OCTETS:
        raise AuditFormatError(f"{what}: magic {got_magic!r} version {version} record size {record_octets}; this "
                               f"software reads {magic!r} version {VERSION} with {RECORD_OCTETS}-octet records")
    return value, version
