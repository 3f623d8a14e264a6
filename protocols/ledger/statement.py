"""Statements: a tenant's share of the ledger, and how the node downlinks one.

A statement for a tenant is the concatenation of that tenant's records (same framing), then its
STATEMENT entry and the HEAD entry the node appends right after it; each record is checked on its
own (`decode_statement`). The HEAD chains from the STATEMENT entry and carries the ledger's entry
count and head hash, signed: its anchor (`anchor.py`) lets the ground see a later statement cut
from a shorter (rolled-back) ledger, and a later full ledger cut short. The full ledger file,
checked by `gridfree.protocols.ledger.verify`, shows that no entry of the tenant is missing.

Statement transfer (how the node downlinks a statement through PUS 13, so the ground can tell it
from a job result, which starts b"GFRS")::

    header: magic b"GFST" (4) | version u8 = 2 | tenant u16 | since seq u64 | records u32
            | CRC-32 over the 19 octets before it (u32)                  = STATEMENT_HEADER_OCTETS = 23
    then `records` records of the tenant, as above, the last two its STATEMENT entry and a HEAD

Version 2 goes with entry format 2 (Ed25519 signatures, 156-octet records).

The record count is believed only after the header CRC has checked, and only if the records that
follow are exactly that many. The ground checks a transfer whole, never raising
(`gridfree.ground.tokens.statement.check_statement`).
"""
from __future__ import annotations

import struct
from typing import Final

from gridfree.protocols.errors import check_ranges
from gridfree.protocols.ledger.format import (CRC, RECORD_OCTETS, U16, U64, Entry, LedgerFormatError, LengthError,
                                              checked_header, crc32, decode_entry, decode_record, split_records)
from gridfree.protocols.ledger.signing import KeyRing

STATEMENT_MAGIC: Final = b"GFST"
STATEMENT_VERSION: Final = 2
_STATEMENT_BODY = struct.Struct(">4sBHQI")
STATEMENT_HEADER_OCTETS: Final = _STATEMENT_BODY.size + CRC.size  # 23


def decode_statement(data: bytes, keys: KeyRing) -> list[Entry]:
    """The entries of a downlinked statement, each checked (length, CRC, signature) on its own.

    A statement is a selection, so it cannot show its own completeness: compare it with the full
    ledger, checked by `verify`. Raises LedgerFormatError, CrcError or InvalidFieldError.
    """
    if len(data) % RECORD_OCTETS:
        raise LedgerFormatError(f"a statement is whole {RECORD_OCTETS}-octet records; got {len(data)} octets "
                                f"({len(data) % RECORD_OCTETS} left over)")
    return [decode_entry(decode_record(r), keys) for r in split_records(data)]



def encode_statement_transfer(tenant: int, since_seq: int, records: bytes) -> bytes:
    """A statement (the records `TokenLedger.statement` returns) behind its transfer header."""
    check_ranges(("tenant", tenant, U16), ("since_seq", since_seq, U64))
    if len(records) % RECORD_OCTETS:
        raise LengthError("a statement's records", (len(records) // RECORD_OCTETS + 1) * RECORD_OCTETS,
                          len(records))
    body = _STATEMENT_BODY.pack(STATEMENT_MAGIC, STATEMENT_VERSION, tenant, since_seq, len(records) // RECORD_OCTETS)
    return body + CRC.pack(crc32(body)) + records


def decode_statement_transfer(data: bytes) -> tuple[int, int, bytes]:
    """(tenant, since seq, records) of a statement transfer whose header checks; LedgerFormatError
    or CrcError if it is not one. The records themselves are not checked here."""
    version, tenant, since_seq, count = checked_header(data, _STATEMENT_BODY, STATEMENT_MAGIC, "statement",
                                                       "ledger statement")
    if version != STATEMENT_VERSION:
        raise LedgerFormatError(f"statement version {version}; this software reads {STATEMENT_VERSION}")
    records = bytes(data[STATEMENT_HEADER_OCTETS:])
    if count * RECORD_OCTETS != len(records):
        raise LedgerFormatError(f"statement header counts {count} records; {len(records)} octets follow "
                                f"({len(records) / RECORD_OCTETS:g} records)")
    return tenant, since_seq, records
