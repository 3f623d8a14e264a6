"""The compute token ledger's entries, records and file: the byte format node and ground share.

The node meters every job it runs for a ground tenant in compute tokens and appends one entry per
event to an append-only, hash-chained ledger signed with the node's Ed25519 key. The node writes it
(`gridfree.flight.compute.ledger`), the ground checks it (`gridfree tokens verify`); both use only
this package, so the byte format below is the single definition. No I/O happens here. Beside it:
statements and their transfer (`statement.py`), the proof of a whole ledger, which the node runs
on its own file at boot and the ground on a downlinked one (`verify.py`), and the tariff that
turns energy and work into tokens (`gridfree.protocols.tariff`).

Entry (ENTRY_OCTETS = 152, big-endian)::

    offset size  field
         0    1  format version, u8 = 2
         1    8  sequence number, u64: 0 for the first entry, then +1 per entry
         9    8  onboard time, f64 unix seconds (finite, non-decreasing along the ledger)
        17    8  key fingerprint: which Ed25519 public key checks this entry (`signing.py`)
        25    2  tenant id, u16
        27    4  job id, u32 (0 for entries that are not about a job)
        31    1  kind, u8: see `Kind`
        32    8  energy, f64 Wh (finite, >= 0)
        40    8  work units, u64
        48    8  tokens, i64 (signed: refunds are negative)
        56   32  chain hash of the previous entry (SHA-256), or the genesis hash for entry 0
        88   64  Ed25519 signature (RFC 8032) by the node's signing key over
                 SIGNING_DOMAIN + octets 0..87, the previous hash included

    chain_hash(entry) = SHA-256 over all 152 octets (signature included)
    genesis_hash(ledger_id) = SHA-256(b"gridfree compute token ledger v1" + 0x00 + ledger id UTF-8)
    SIGNING_DOMAIN = b"gridfree compute token ledger entry v2" + 0x00 (nothing else this key
                     signs can pass for an entry)

Every entry is bound to its predecessor by the previous hash and to the node by its signature, so
an edited entry fails its signature, an entry signed by any other key fails it too (or names a key
the verifier does not hold), and a dropped, reordered or replayed entry breaks the sequence or the
chain. The first entry is bound to the ledger id. Only the public key is needed to check all this;
only the node can sign. Dropping entries from the end of the file leaves a shorter chain that
still checks: that is what HEAD entries and anchors are for.

What each kind means (checked on encoding and, after the signature, on decoding)::

    CHARGE     job ran: energy >= 0, work units >= 0, tokens >= 0 charged to the tenant
    REFUND     tokens returned for a job: energy 0, work units 0, tokens <= 0
    QUOTA_SET  tenant's quota (cap on net tokens used) set to `tokens` >= 0; job 0, energy 0, units 0
    STATEMENT  a statement was cut: energy, work units and tokens carry the tenant's totals over
               all entries before this one, so the ground can check them; job 0
    HEAD       the chain head, signed: its seq is the count of entries before it and its previous
               hash their head hash. Tenant 0, job 0, no energy, units or tokens. The node appends
               one every `head_every` entries, at close, and after each STATEMENT (so every
               statement ends with one). anchor(HEAD) = (seq + 1, chain_hash(HEAD)): a ground that
               holds an anchor finds a ledger cut short (fewer entries) or rewritten (another
               hash at that position), and a later statement with a lower count (a rollback).

Record and file (what is stored on board and downlinked)::

    record = entry (152) + CRC-32 (zlib/ISO-HDLC, u32, over the entry) = RECORD_OCTETS = 156
    file   = header (HEADER_OCTETS = 72) + records

    header: magic b"GFTL" (4) | header version u8 = 2 | ledger id length u8 (1..62)
            | ledger id, UTF-8, NUL padded to 62 | CRC-32 over the 68 octets before it (u32)

Records are fixed-size, so no length field needs trusting: a file is cut into 156-octet records,
and a shorter last piece, or a last record that fails its CRC, is a torn tail left by a crash
mid-append. The CRC only catches accidents; the signature is what proves an entry. The header's
ledger id length is read only after the header CRC has checked, and the id itself is proved by
entry 0's previous hash, which its signature covers. Header version 2 goes with entry format 2
(Ed25519); a version-1 (HMAC) file is refused, never misread.
"""
from __future__ import annotations

import hashlib
import math
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, replace
from enum import IntEnum
from typing import Final

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gridfree.protocols.errors import CrcError, InvalidFieldError, ProtocolError, check_ranges
from gridfree.protocols.ledger.signing import (FINGERPRINT_OCTETS, SIGNATURE_OCTETS, KeyRing, fingerprint, sign,
                                               signature_valid)

FORMAT_VERSION: Final = 2
HEADER_VERSION: Final = 2
MAGIC: Final = b"GFTL"
GENESIS_DOMAIN: Final = b"gridfree compute token ledger v1\x00"
MAX_LEDGER_ID_OCTETS: Final = 62
SIGNING_DOMAIN: Final = b"gridfree compute token ledger entry v2\x00"

_BODY = struct.Struct(f">BQd{FINGERPRINT_OCTETS}sHIBdQq32s")  # octets 0..87, what the signature covers
_HEADER_BODY = struct.Struct(f">4sBB{MAX_LEDGER_ID_OCTETS}s")
CRC = struct.Struct(">I")

HASH_OCTETS: Final = 32
ENTRY_OCTETS: Final = _BODY.size + SIGNATURE_OCTETS  # 152
RECORD_OCTETS: Final = ENTRY_OCTETS + CRC.size  # 156
HEADER_OCTETS: Final = _HEADER_BODY.size + CRC.size  # 72

U16, U32, U64, I64_MIN, I64_MAX = 0xFFFF, 0xFFFF_FFFF, 2**64 - 1, -(2**63), 2**63 - 1


class Kind(IntEnum):
    CHARGE = 1
    REFUND = 2
    QUOTA_SET = 3
    STATEMENT = 4
    HEAD = 5


class LedgerFormatError(ProtocolError):
    """Octets that are not a ledger entry, record or header."""


class LengthError(LedgerFormatError):
    def __init__(self, what: str, expected_len: int, bytes_len: int):
        super().__init__(f"{what} must be exactly {expected_len} octets, got {bytes_len}")
        self.expected_len, self.bytes_len = expected_len, bytes_len


class UnknownKeyError(LedgerFormatError):
    def __init__(self, key: bytes):
        super().__init__(f"entry signed with key {key.hex()}, which is not among the public keys given")
        self.key = key


class SignatureError(LedgerFormatError):
    def __init__(self, key: bytes):
        super().__init__(f"Ed25519 signature under key {key.hex()} does not verify: entry edited, or signed with "
                         "another key")
        self.key = key


# ----------------------------------------------------------------------------------------------
# Entries
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    seq: int
    t_s: float
    key: bytes  # fingerprint of the public key that checks it (signing.fingerprint)
    tenant: int
    job: int
    kind: Kind
    energy_Wh: float
    work_units: int
    tokens: int
    prev_hash: bytes
    signature: bytes = b""  # filled in by decode_entry; ignored by encode_entry, which signs


def chain_hash(entry_bytes: bytes) -> bytes:
    """SHA-256 of a whole encoded entry; the next entry carries it as its previous hash."""
    if len(entry_bytes) != ENTRY_OCTETS:
        raise LengthError("an entry", ENTRY_OCTETS, len(entry_bytes))
    return hashlib.sha256(entry_bytes).digest()


def genesis_hash(ledger_id: str) -> bytes:
    """The previous hash of entry 0 of the ledger named `ledger_id`."""
    return hashlib.sha256(GENESIS_DOMAIN + _ledger_id_octets(ledger_id)).digest()


def _ledger_id_octets(ledger_id: str) -> bytes:
    raw = ledger_id.encode("utf-8")
    if not 1 <= len(raw) <= MAX_LEDGER_ID_OCTETS or b"\x00" in raw:
        raise InvalidFieldError("ledger_id", ledger_id, f"must be 1..{MAX_LEDGER_ID_OCTETS} UTF-8 octets, no NUL")
    return raw


def _check_fields(e: Entry) -> None:
    """The range and meaning rules of the module docstring; InvalidFieldError for the first broken."""
    check_ranges(("seq", e.seq, U64), ("tenant", e.tenant, U16),
                 ("job", e.job, U32), ("work_units", e.work_units, U64))
    if not I64_MIN <= e.tokens <= I64_MAX:
        raise InvalidFieldError("tokens", e.tokens, "must fit a signed 64-bit integer")
    if not math.isfinite(e.t_s):
        raise InvalidFieldError("t_s", e.t_s, "must be a finite time")
    if not (math.isfinite(e.energy_Wh) and e.energy_Wh >= 0):
        raise InvalidFieldError("energy_Wh", e.energy_Wh, "must be finite and >= 0")
    if len(e.key) != FINGERPRINT_OCTETS:
        raise InvalidFieldError("key", e.key.hex(), f"must be a {FINGERPRINT_OCTETS}-octet key fingerprint")
    if len(e.prev_hash) != HASH_OCTETS:
        raise InvalidFieldError("prev_hash", e.prev_hash.hex(), f"must be {HASH_OCTETS} octets")
    try:
        kind = Kind(e.kind)
    except ValueError:
        raise InvalidFieldError("kind", e.kind, f"must be one of {[k.name for k in Kind]}") from None
    rules = {  # kind: (field, broken?, what the kind requires)
        Kind.CHARGE: [("tokens", e.tokens < 0, "a CHARGE charges tokens >= 0")],
        Kind.REFUND: [("tokens", e.tokens > 0, "a REFUND returns tokens: <= 0"),
                      ("energy_Wh", e.energy_Wh != 0, "a REFUND carries no energy"),
                      ("work_units", e.work_units != 0, "a REFUND carries no work units")],
        Kind.QUOTA_SET: [("tokens", e.tokens < 0, "a quota is >= 0 tokens"),
                         ("job", e.job != 0, "a QUOTA_SET is about no job (0)"),
                         ("energy_Wh", e.energy_Wh != 0, "a QUOTA_SET carries no energy"),
                         ("work_units", e.work_units != 0, "a QUOTA_SET carries no work units")],
        Kind.STATEMENT: [("job", e.job != 0, "a STATEMENT is about no job (0)")],
        Kind.HEAD: [("tenant", e.tenant != 0, "a HEAD is about no tenant (0)"),
                    ("job", e.job != 0, "a HEAD is about no job (0)"),
                    ("energy_Wh", e.energy_Wh != 0, "a HEAD carries no energy"),
                    ("work_units", e.work_units != 0, "a HEAD carries no work units"),
                    ("tokens", e.tokens != 0, "a HEAD carries no tokens")],
    }
    for name, broken, requirement in rules[kind]:
        if broken:
            raise InvalidFieldError(name, getattr(e, name), requirement)


def encode_entry(entry: Entry, key: Ed25519PrivateKey) -> bytes:
    """The 152 octets of `entry`, signed with `key`, whose fingerprint entry.key must be."""
    _check_fields(entry)
    if entry.key != fingerprint(key.public_key()):
        raise InvalidFieldError("key", entry.key.hex(), "must be the fingerprint of the key that signs the entry")
    body = _BODY.pack(FORMAT_VERSION, entry.seq, entry.t_s, entry.key, entry.tenant, entry.job, entry.kind,
                      entry.energy_Wh, entry.work_units, entry.tokens, entry.prev_hash)
    return body + sign(key, SIGNING_DOMAIN + body)


def entry_key(entry_bytes: bytes) -> bytes:
    """The key fingerprint an entry claims, unauthenticated (it only chooses which key checks it)."""
    return bytes(entry_bytes[17:17 + FINGERPRINT_OCTETS])


def decode_entry(entry_bytes: bytes, keys: KeyRing | None) -> Entry:
    """The entry in `entry_bytes`, after its length and then its signature have checked.

    `keys` maps fingerprints to public keys (`signing.key_ring`). Pass None explicitly to skip the
    signature, for diagnostics or an entry already proved: what comes back is then unauthenticated.
    Raises LengthError, UnknownKeyError, SignatureError, or InvalidFieldError (an authentic entry
    that breaks the format's rules: a writer bug).
    """
    if len(entry_bytes) != ENTRY_OCTETS:
        raise LengthError("an entry", ENTRY_OCTETS, len(entry_bytes))
    body, signature = bytes(entry_bytes[:_BODY.size]), bytes(entry_bytes[_BODY.size:])
    if keys is not None:
        claimed = entry_key(entry_bytes)
        public = keys.get(claimed)
        if public is None:
            raise UnknownKeyError(claimed)
        if not signature_valid(public, SIGNING_DOMAIN + body, signature):
            raise SignatureError(claimed)
    version, seq, t_s, key, tenant, job, kind, energy, units, tokens, prev = _BODY.unpack(body)
    if version != FORMAT_VERSION:
        raise InvalidFieldError("format version", version, f"this software reads version {FORMAT_VERSION}")
    entry = Entry(seq, t_s, key, tenant, job, kind, energy, units, tokens, prev, signature)
    _check_fields(entry)  # kind included, so Kind(kind) below cannot fail
    return replace(entry, kind=Kind(kind))


# ----------------------------------------------------------------------------------------------
# Records, header, file
# ----------------------------------------------------------------------------------------------

def crc32(data: bytes) -> int:
    return zlib.crc32(data) & 0xFFFF_FFFF


def encode_record(entry_bytes: bytes) -> bytes:
    if len(entry_bytes) != ENTRY_OCTETS:
        raise LengthError("an entry", ENTRY_OCTETS, len(entry_bytes))
    return entry_bytes + CRC.pack(crc32(entry_bytes))


def decode_record(record: bytes) -> bytes:
    """The entry octets of a record whose length and CRC-32 check."""
    if len(record) != RECORD_OCTETS:
        raise LengthError("a record", RECORD_OCTETS, len(record))
    entry_bytes = record[:ENTRY_OCTETS]
    (carried,) = CRC.unpack_from(record, ENTRY_OCTETS)
    computed = crc32(entry_bytes)
    if carried != computed:
        raise CrcError(carried, computed, "record CRC-32")
    return bytes(entry_bytes)


def encode_header(ledger_id: str) -> bytes:
    raw = _ledger_id_octets(ledger_id)
    body = _HEADER_BODY.pack(MAGIC, HEADER_VERSION, len(raw), raw)
    return body + CRC.pack(crc32(body))


def checked_header(data: bytes, body: struct.Struct, magic: bytes, what: str, kind: str) -> tuple:
    """The fields after the magic of a header `body` followed by its CRC-32, checked in the order
    that gives the clearest error: length, magic, CRC (the fields are believed only after it)."""
    size = body.size + CRC.size
    if len(data) < size:
        raise LengthError(f"a {what} header", size, len(data))
    fields = body.unpack_from(data)
    (carried,) = CRC.unpack_from(data, body.size)
    if fields[0] != magic:
        raise LedgerFormatError(f"not a {kind}: magic {fields[0]!r}, expected {magic!r}")
    computed = crc32(bytes(data[:body.size]))
    if carried != computed:
        raise CrcError(carried, computed, f"{what} header CRC-32")
    return fields[1:]


def decode_header(data: bytes) -> str:
    """The ledger id of a file that starts with `data`; LedgerFormatError or CrcError if it is not one."""
    version, length, padded = checked_header(data, _HEADER_BODY, MAGIC, "ledger file", "compute token ledger")
    if version != HEADER_VERSION:
        raise LedgerFormatError(f"ledger header version {version}; this software reads {HEADER_VERSION}")
    if not 1 <= length <= MAX_LEDGER_ID_OCTETS:
        raise LedgerFormatError(f"ledger id length {length} outside 1..{MAX_LEDGER_ID_OCTETS}")
    raw, padding = padded[:length], padded[length:]
    if b"\x00" in raw or padding.strip(b"\x00"):  # the CRC checked, so the writer was wrong, not the line
        raise LedgerFormatError("ledger id holds a NUL, or its padding is not all NUL")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise LedgerFormatError(f"ledger id is not UTF-8 (octet {exc.start})") from None


def split_records(data: bytes) -> Iterator[bytes]:
    """Cut the octets after the header into records; the last piece may be short (a torn tail)."""
    view = memoryview(data)
    for start in range(0, len(view), RECORD_OCTETS):
        yield bytes(view[start:start + RECORD_OCTETS])


def parse_file(data: bytes) -> tuple[str, Iterator[bytes]]:
    """(ledger id, records) of a whole ledger file held in memory."""
    return decode_header(data), split_records(data[HEADER_OCTETS:])
