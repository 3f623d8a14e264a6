"""The compute token ledger: entry format, file format, tariff and the verifier.

The node meters every job it runs for a ground tenant in compute tokens and appends one entry per
event to an append-only, hash-chained, authenticated ledger. The node writes it
(`gridfree.flight.compute.ledger`), the ground checks it (`gridfree tokens verify`); both use only
this module, so the byte format below is the single definition. No I/O happens here.

Entry (ENTRY_OCTETS = 114, big-endian)::

    offset size  field
         0    1  format version, u8 = 1
         1    8  sequence number, u64: 0 for the first entry, then +1 per entry
         9    8  onboard time, f64 unix seconds (finite, non-decreasing along the ledger)
        17    2  key id, u16: which HMAC key signed this entry (keys rotate; ids are never reused)
        19    2  tenant id, u16
        21    4  job id, u32 (0 for entries that are not about a job)
        25    1  kind, u8: see `Kind`
        26    8  energy, f64 Wh (finite, >= 0)
        34    8  work units, u64
        42    8  tokens, i64 (signed: refunds are negative)
        50   32  chain hash of the previous entry (SHA-256), or the genesis hash for entry 0
        82   32  HMAC-SHA256 under key[key id] over octets 0..81, the previous hash included

    chain_hash(entry) = SHA-256 over all 114 octets (MAC included)
    genesis_hash(ledger_id) = SHA-256(b"gridfree compute token ledger v1" + 0x00 + ledger id UTF-8)

Every entry is bound to its predecessor by the previous hash and to its signer by the MAC, so an
edited entry fails its MAC, and a dropped, reordered or replayed entry breaks the sequence or the
chain. The first entry is bound to the ledger id, so an entry cannot move between ledgers.

What each kind means (checked on encoding and, after the MAC, on decoding)::

    CHARGE     job ran: energy >= 0, work units >= 0, tokens >= 0 charged to the tenant
    REFUND     tokens returned for a job: energy 0, work units 0, tokens <= 0
    QUOTA_SET  tenant's quota (cap on net tokens used) set to `tokens` >= 0; job 0, energy 0, units 0
    STATEMENT  a statement was cut: energy, work units and tokens carry the tenant's totals over
               all entries before this one, so the ground can check them; job 0

Record and file (what is stored on board and downlinked)::

    record = entry (114) + CRC-32 (zlib/ISO-HDLC, u32, over the entry) = RECORD_OCTETS = 118
    file   = header (HEADER_OCTETS = 72) + records

    header: magic b"GFTL" (4) | header version u8 = 1 | ledger id length u8 (1..62)
            | ledger id, UTF-8, NUL padded to 62 | CRC-32 over the 68 octets before it (u32)

Records are fixed-size, so no length field needs trusting: a file is cut into 118-octet records,
and a shorter last piece, or a last record that fails its CRC, is a torn tail left by a crash
mid-append. The CRC only catches accidents; the MAC is what proves an entry. The header's ledger
id length is read only after the header CRC has checked, and the id itself is proved by entry 0's
previous hash, which its MAC covers.

A statement for a tenant is the concatenation of that tenant's records (same framing), ending with
its STATEMENT entry; each record is checked on its own (`decode_statement`), and the full ledger
file, checked by `verify`, shows that no entry of the tenant is missing from it.

Statement transfer (how the node downlinks a statement through PUS 13, so the ground can tell it
from a job result, which starts b"GFRS")::

    header: magic b"GFST" (4) | version u8 = 1 | tenant u16 | since seq u64 | records u32
            | CRC-32 over the 19 octets before it (u32)                  = STATEMENT_HEADER_OCTETS = 23
    then `records` records of the tenant, as above, the last one its STATEMENT entry

The record count is believed only after the header CRC has checked, and only if the records that
follow are exactly that many. `check_statement` checks a transfer whole, never raising.
"""
from __future__ import annotations

import hashlib
import hmac
import math
import struct
import zlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from enum import Enum, IntEnum
from fractions import Fraction
from typing import Final

from gridfree.protocols.errors import CrcError, InvalidFieldError, ProtocolError, check_ranges

FORMAT_VERSION: Final = 1
HEADER_VERSION: Final = 1
MAGIC: Final = b"GFTL"
GENESIS_DOMAIN: Final = b"gridfree compute token ledger v1\x00"
MAX_LEDGER_ID_OCTETS: Final = 62
MIN_KEY_OCTETS: Final = 16  # RFC 2104: keys shorter than the hash's 32 octets weaken the MAC

_BODY = struct.Struct(">BQdHHIBdQq32s")  # octets 0..81, what the MAC covers
_HEADER_BODY = struct.Struct(f">4sBB{MAX_LEDGER_ID_OCTETS}s")
_STATEMENT_BODY = struct.Struct(">4sBHQI")
STATEMENT_MAGIC: Final = b"GFST"
STATEMENT_VERSION: Final = 1
_CRC = struct.Struct(">I")

MAC_OCTETS: Final = 32
HASH_OCTETS: Final = 32
ENTRY_OCTETS: Final = _BODY.size + MAC_OCTETS  # 114
RECORD_OCTETS: Final = ENTRY_OCTETS + _CRC.size  # 118
HEADER_OCTETS: Final = _HEADER_BODY.size + _CRC.size  # 72
STATEMENT_HEADER_OCTETS: Final = _STATEMENT_BODY.size + _CRC.size  # 23

U16, U32, U64, I64_MIN, I64_MAX = 0xFFFF, 0xFFFF_FFFF, 2**64 - 1, -(2**63), 2**63 - 1


class Kind(IntEnum):
    CHARGE = 1
    REFUND = 2
    QUOTA_SET = 3
    STATEMENT = 4


class LedgerFormatError(ProtocolError):
    """Octets that are not a ledger entry, record or header."""


class LengthError(LedgerFormatError):
    def __init__(self, what: str, expected_len: int, bytes_len: int):
        super().__init__(f"{what} must be exactly {expected_len} octets, got {bytes_len}")
        self.expected_len, self.bytes_len = expected_len, bytes_len


class UnknownKeyError(LedgerFormatError):
    def __init__(self, key_id: int):
        super().__init__(f"entry signed with key id {key_id}, which is not among the keys given")
        self.key_id = key_id


class MacError(LedgerFormatError):
    def __init__(self, key_id: int):
        super().__init__(f"HMAC-SHA256 under key id {key_id} does not match: entry edited, or signed with "
                         "another key")
        self.key_id = key_id


# ----------------------------------------------------------------------------------------------
# Entries
# ----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Entry:
    seq: int
    t_s: float
    key_id: int
    tenant: int
    job: int
    kind: Kind
    energy_Wh: float
    work_units: int
    tokens: int
    prev_hash: bytes
    mac: bytes = b""  # filled in by decode_entry; ignored by encode_entry, which computes it


def mac(key: bytes, message: bytes) -> bytes:
    """HMAC-SHA256 (RFC 2104 with SHA-256, as RFC 4231 tests it)."""
    return hmac.new(key, message, hashlib.sha256).digest()


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
    check_ranges(("seq", e.seq, U64), ("key_id", e.key_id, U16), ("tenant", e.tenant, U16),
                 ("job", e.job, U32), ("work_units", e.work_units, U64))
    if not I64_MIN <= e.tokens <= I64_MAX:
        raise InvalidFieldError("tokens", e.tokens, "must fit a signed 64-bit integer")
    if not math.isfinite(e.t_s):
        raise InvalidFieldError("t_s", e.t_s, "must be a finite time")
    if not (math.isfinite(e.energy_Wh) and e.energy_Wh >= 0):
        raise InvalidFieldError("energy_Wh", e.energy_Wh, "must be finite and >= 0")
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
    }
    for name, broken, requirement in rules[kind]:
        if broken:
            raise InvalidFieldError(name, getattr(e, name), requirement)


def encode_entry(entry: Entry, key: bytes) -> bytes:
    """The 114 octets of `entry`, MAC'd with `key` (which must be the key of entry.key_id)."""
    _check_fields(entry)
    body = _BODY.pack(FORMAT_VERSION, entry.seq, entry.t_s, entry.key_id, entry.tenant, entry.job, entry.kind,
                      entry.energy_Wh, entry.work_units, entry.tokens, entry.prev_hash)
    return body + mac(key, body)


def entry_key_id(entry_bytes: bytes) -> int:
    """The key id an entry claims, unauthenticated (it only chooses which key checks the MAC)."""
    return int.from_bytes(entry_bytes[17:19], "big")


def decode_entry(entry_bytes: bytes, keys: Mapping[int, bytes] | None) -> Entry:
    """The entry in `entry_bytes`, after its length and then its MAC have checked.

    `keys` maps key ids to keys. Pass None explicitly to skip the MAC, for diagnostics only: what
    comes back is then unauthenticated. Raises LengthError, UnknownKeyError, MacError, or
    InvalidFieldError (an authentic entry that breaks the format's rules: a writer bug).
    """
    if len(entry_bytes) != ENTRY_OCTETS:
        raise LengthError("an entry", ENTRY_OCTETS, len(entry_bytes))
    body, tag = entry_bytes[:_BODY.size], entry_bytes[_BODY.size:]
    if keys is not None:
        key_id = entry_key_id(entry_bytes)
        key = keys.get(key_id)
        if key is None:
            raise UnknownKeyError(key_id)
        if not hmac.compare_digest(mac(key, body), tag):
            raise MacError(key_id)
    version, seq, t_s, key_id, tenant, job, kind, energy, units, tokens, prev = _BODY.unpack(body)
    if version != FORMAT_VERSION:
        raise InvalidFieldError("format version", version, f"this software reads version {FORMAT_VERSION}")
    entry = Entry(seq, t_s, key_id, tenant, job, kind, energy, units, tokens, prev, bytes(tag))
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
    return entry_bytes + _CRC.pack(crc32(entry_bytes))


def decode_record(record: bytes) -> bytes:
    """The entry octets of a record whose length and CRC-32 check."""
    if len(record) != RECORD_OCTETS:
        raise LengthError("a record", RECORD_OCTETS, len(record))
    entry_bytes = record[:ENTRY_OCTETS]
    (carried,) = _CRC.unpack_from(record, ENTRY_OCTETS)
    computed = crc32(entry_bytes)
    if carried != computed:
        raise CrcError(carried, computed, "record CRC-32")
    return bytes(entry_bytes)


def encode_header(ledger_id: str) -> bytes:
    raw = _ledger_id_octets(ledger_id)
    body = _HEADER_BODY.pack(MAGIC, HEADER_VERSION, len(raw), raw)
    return body + _CRC.pack(crc32(body))


def _checked_header(data: bytes, body: struct.Struct, magic: bytes, what: str, kind: str) -> tuple:
    """The fields after the magic of a header `body` followed by its CRC-32, checked in the order
    that gives the clearest error: length, magic, CRC (the fields are believed only after it)."""
    size = body.size + _CRC.size
    if len(data) < size:
        raise LengthError(f"a {what} header", size, len(data))
    fields = body.unpack_from(data)
    (carried,) = _CRC.unpack_from(data, body.size)
    if fields[0] != magic:
        raise LedgerFormatError(f"not a {kind}: magic {fields[0]!r}, expected {magic!r}")
    computed = crc32(bytes(data[:body.size]))
    if carried != computed:
        raise CrcError(carried, computed, f"{what} header CRC-32")
    return fields[1:]


def decode_header(data: bytes) -> str:
    """The ledger id of a file that starts with `data`; LedgerFormatError or CrcError if it is not one."""
    version, length, padded = _checked_header(data, _HEADER_BODY, MAGIC, "ledger file", "compute token ledger")
    if version != HEADER_VERSION:
        raise LedgerFormatError(f"ledger header version {version}; this software reads {HEADER_VERSION}")
    if not 1 <= length <= MAX_LEDGER_ID_OCTETS:
        raise LedgerFormatError(f"ledger id length {length} outside 1..{MAX_LEDGER_ID_OCTETS}")
    return padded[:length].decode("utf-8")


def split_records(data: bytes) -> Iterator[bytes]:
    """Cut the octets after the header into records; the last piece may be short (a torn tail)."""
    view = memoryview(data)
    for start in range(0, len(view), RECORD_OCTETS):
        yield bytes(view[start:start + RECORD_OCTETS])


def parse_file(data: bytes) -> tuple[str, Iterator[bytes]]:
    """(ledger id, records) of a whole ledger file held in memory."""
    return decode_header(data), split_records(data[HEADER_OCTETS:])


# ----------------------------------------------------------------------------------------------
# Tariff
# ----------------------------------------------------------------------------------------------

def _rational(name: str, value) -> Fraction:
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Fraction)):
        raise TypeError(f"tariff {name}: an int, a decimal string or a Fraction, got {value!r}")
    # A float is read as the decimal it prints as (0.1 means 1/10), not its binary expansion.
    rate = Fraction(repr(value)) if isinstance(value, float) else Fraction(value)
    if rate < 0:
        raise ValueError(f"tariff {name} must be >= 0, got {value!r}")
    return rate


@dataclass(frozen=True)
class Tariff:
    """Tokens per Wh of energy and per work unit, held as exact fractions.

    `tokens_for` computes energy_Wh * tokens_per_Wh + work_units * tokens_per_unit exactly (the
    energy taken at its exact binary value, the rates as the decimals written) and rounds to the
    nearest whole token, halves up. Node and ground therefore get the same integer on any machine.
    """

    tokens_per_Wh: Fraction
    tokens_per_unit: Fraction

    def __post_init__(self):
        object.__setattr__(self, "tokens_per_Wh", _rational("tokens_per_Wh", self.tokens_per_Wh))
        object.__setattr__(self, "tokens_per_unit", _rational("tokens_per_unit", self.tokens_per_unit))


def tokens_for(energy_Wh: float, work_units: int, tariff: Tariff) -> int:
    """Tokens charged for a job that used `energy_Wh` and `work_units` (see `Tariff` for the rule)."""
    if not (math.isfinite(energy_Wh) and energy_Wh >= 0):
        raise ValueError(f"energy_Wh must be finite and >= 0, got {energy_Wh!r}")
    if isinstance(work_units, bool) or not isinstance(work_units, int) or work_units < 0:
        raise ValueError(f"work_units must be an int >= 0, got {work_units!r}")
    exact = Fraction(energy_Wh) * tariff.tokens_per_Wh + work_units * tariff.tokens_per_unit
    return math.floor(exact + Fraction(1, 2))


# ----------------------------------------------------------------------------------------------
# Verification
# ----------------------------------------------------------------------------------------------

class ProblemKind(Enum):
    EDITED = "edited entry (MAC fails)"
    UNKNOWN_KEY = "entry signed with an unknown key id"
    DROPPED = "dropped entry (sequence gap or chain break)"
    REORDERED = "reordered entries"
    DUPLICATE = "duplicated (replayed) entry"
    TORN_TAIL = "torn tail (partial last record)"
    CORRUPT = "corrupt record (CRC-32 fails)"
    MALFORMED = "malformed record or entry"
    TIME_BACKWARDS = "onboard time goes backwards"
    WRONG_LEDGER = "entry 0 does not chain from this ledger's genesis"
    TOTALS_MISMATCH = "statement totals differ from the entries"


@dataclass(frozen=True)
class Problem:
    kind: ProblemKind
    position: int  # record index in the file (0 = first record after the header)
    seq: int | None  # the sequence number involved, when one is known
    detail: str

    def __str__(self) -> str:
        where = f"seq {self.seq}, record {self.position}" if self.seq is not None else f"record {self.position}"
        return f"{self.kind.name.lower()} at {where}: {self.detail}"


@dataclass
class TenantTotals:
    """What a tenant used, recomputed from authentic entries. energy is summed exactly (as fractions),
    so the total does not depend on the order of addition."""

    energy: Fraction = Fraction(0)
    work_units: int = 0
    tokens: int = 0  # net: charges minus refunds
    quota: int | None = None  # None: no QUOTA_SET seen
    charges: int = 0
    refunds: int = 0
    _quota_seq: int = -1

    @property
    def energy_Wh(self) -> float:
        return float(self.energy)

    @property
    def quota_left(self) -> int | None:
        return None if self.quota is None else self.quota - self.tokens


@dataclass
class VerifyReport:
    ledger_id: str | None
    genesis_checked: bool
    records: int = 0  # records looked at, a torn tail included
    entries_ok: int = 0  # authentic, well-formed, first-seen entries (counted in the totals)
    head_seq: int | None = None  # highest authentic sequence number
    torn_tail_at: int | None = None  # record index where the torn tail starts
    torn_tail_octets: int = 0
    problems: dict[ProblemKind, Problem] = field(default_factory=dict)  # the first of each kind
    counts: dict[ProblemKind, int] = field(default_factory=dict)
    tenants: dict[int, TenantTotals] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    def add(self, kind: ProblemKind, position: int, seq: int | None, detail: str, count: int = 1) -> None:
        """Count a problem; keep it if it is the first of its kind in file order (a gap is only known
        to be a drop at the end, yet it may come before a chain break found on the way)."""
        first = self.problems.get(kind)
        if first is None or position < first.position:
            self.problems[kind] = Problem(kind, position, seq, detail)
        self.counts[kind] = self.counts.get(kind, 0) + count

    def first_problems(self) -> list[Problem]:
        """The first problem of each kind, in file order."""
        return sorted(self.problems.values(), key=lambda p: (p.position, p.kind.name))


class _Gaps:
    """Sequence numbers skipped so far, as [lo, hi, position, jump] ranges (the record at `position`
    jumped to seq `jump`); a late arrival is taken out of its range."""

    def __init__(self):
        self.ranges: list[list[int]] = []

    def open(self, lo: int, hi: int, position: int) -> None:
        self.ranges.append([lo, hi, position, hi + 1])

    def take(self, seq: int) -> bool:
        for i, (lo, hi, pos, jump) in enumerate(self.ranges):
            if lo <= seq <= hi:
                self.ranges[i:i + 1] = [[a, b, pos, jump] for a, b in ((lo, seq - 1), (seq + 1, hi)) if a <= b]
                return True
        return False


def verify(records: Iterable[bytes], keys: Mapping[int, bytes], *, ledger_id: str | None = None) -> VerifyReport:
    """Prove a ledger: each item of `records` is one record as stored (entry + CRC-32), in file order.

    Checks that the records are whole and their CRCs hold, each MAC is valid under a known key, the
    sequence runs from 0 without gap, repeat or reordering, each previous hash is the chain hash of
    the entry before it (the genesis hash of `ledger_id` for entry 0; unchecked when `ledger_id` is
    None), times never go backwards, and each STATEMENT's totals equal the recomputed ones. It
    never raises on bad input: it returns the first problem of each kind, how many there were,
    and per-tenant totals over the authentic entries. A short (or CRC-failing) last record is a
    torn tail; everything before it is still verified.
    """
    report = VerifyReport(ledger_id=ledger_id, genesis_checked=ledger_id is not None)
    genesis = genesis_hash(ledger_id) if ledger_id is not None else None
    seen: set[int] = set()
    gaps = _Gaps()
    untrusted_slots: set[int] = set()  # seqs whose record could not be authenticated
    hashes: dict[int, tuple[bytes, float]] = {}  # seq -> (chain hash, t) not yet claimed by seq + 1
    claims: dict[int, tuple[bytes, float, int]] = {}  # seq -> (prev hash, t, position) from seq + 1
    expected = 0

    def untrusted(claimed: int | None) -> None:
        """A record in the sequence whose content cannot be trusted: it takes the slot it claims
        if that slot is open, else the next one, so the entries around it are not also blamed."""
        nonlocal expected
        if claimed is not None and claimed == expected:
            slot = claimed
        elif claimed is not None and claimed not in seen and gaps.take(claimed):
            slot = claimed
        else:
            slot = expected
        if slot == expected:
            expected += 1
        untrusted_slots.add(slot)

    def link(prev_seq: int, prev_hash_claimed: bytes, t: float, seq: int, position: int,
             actual: tuple[bytes, float]) -> None:
        actual_hash, prev_t = actual
        if actual_hash != prev_hash_claimed:
            report.add(ProblemKind.DROPPED, position, seq,
                       f"chain break: previous hash of seq {seq} is not the hash of seq {prev_seq} "
                       "(an entry was removed or replaced)")
        if t < prev_t:
            report.add(ProblemKind.TIME_BACKWARDS, position, seq,
                       f"t={t!r} of seq {seq} is before t={prev_t!r} of seq {prev_seq}")

    items = iter(records)
    item = next(items, None)
    position = -1
    while item is not None:
        following = next(items, None)
        position += 1
        report.records += 1
        last = following is None
        record, item = item, following

        if len(record) != RECORD_OCTETS:
            if last and len(record) < RECORD_OCTETS:
                report.torn_tail_at, report.torn_tail_octets = position, len(record)
                report.add(ProblemKind.TORN_TAIL, position, None,
                           f"last record has {len(record)} of {RECORD_OCTETS} octets{_after(report)}")
            else:
                report.add(ProblemKind.MALFORMED, position, None,
                           f"record of {len(record)} octets; records are {RECORD_OCTETS}")
                untrusted(None)
            continue
        try:
            entry_bytes = decode_record(record)
        except CrcError as exc:
            if last:
                report.torn_tail_at, report.torn_tail_octets = position, len(record)
                report.add(ProblemKind.TORN_TAIL, position, None,
                           f"last record fails its CRC-32, a write cut short{_after(report)}")
            else:
                report.add(ProblemKind.CORRUPT, position, None, str(exc))
                untrusted(None)
            continue

        claimed_seq = int.from_bytes(entry_bytes[1:9], "big")
        try:
            e = decode_entry(entry_bytes, keys)
        except UnknownKeyError as exc:
            report.add(ProblemKind.UNKNOWN_KEY, position, claimed_seq, f"key id {exc.key_id} (entry not checked)")
            untrusted(claimed_seq)
            continue
        except MacError as exc:
            report.add(ProblemKind.EDITED, position, claimed_seq, str(exc))
            untrusted(claimed_seq)
            continue
        except InvalidFieldError as exc:
            report.add(ProblemKind.MALFORMED, position, claimed_seq, f"authentic entry breaks the format: {exc}")
            untrusted(claimed_seq)
            continue

        s = e.seq
        if s in seen:
            report.add(ProblemKind.DUPLICATE, position, s, f"seq {s} appears again (replayed entry); not counted")
            continue
        if s == expected:
            expected += 1
        elif s > expected:
            gaps.open(expected, s - 1, position)
            expected = s + 1
        elif gaps.take(s):
            report.add(ProblemKind.REORDERED, position, s,
                       f"seq {s} comes after seq {expected - 1} in the file")
        else:  # an untrusted record was given this slot; this one is authentic, so it is out of place
            report.add(ProblemKind.REORDERED, position, s, f"seq {s} comes after seq {expected - 1} in the file")
        seen.add(s)
        h = chain_hash(entry_bytes)

        # The link back to s - 1 (or to the genesis) and the link forward to s + 1.
        if s == 0:
            if genesis is not None and e.prev_hash != genesis:
                report.add(ProblemKind.WRONG_LEDGER, position, 0,
                           f"previous hash of seq 0 is not the genesis hash of ledger {ledger_id!r}")
        elif s - 1 in hashes:
            link(s - 1, e.prev_hash, e.t_s, s, position, hashes.pop(s - 1))
        elif s - 1 not in untrusted_slots and s - 1 not in seen:
            claims[s - 1] = (e.prev_hash, e.t_s, position)
        if s in claims:
            claimed_prev, t_next, pos_next = claims.pop(s)
            link(s, claimed_prev, t_next, s + 1, pos_next, (h, e.t_s))
        else:
            hashes[s] = (h, e.t_s)

        report.entries_ok += 1
        report.head_seq = s if report.head_seq is None else max(report.head_seq, s)
        _account(report, e, position)

    for lo, hi, pos, jump in gaps.ranges:
        count = hi - lo + 1
        missing = f"seq {lo}" if lo == hi else f"seqs {lo}..{hi} ({count} entries)"
        report.add(ProblemKind.DROPPED, pos, lo, f"{missing} missing, never found (the file skips to seq {jump} "
                   f"at record {pos})", count)
    return report


def _after(report: VerifyReport) -> str:
    return " (no entry before it)" if report.head_seq is None else f" (after seq {report.head_seq})"


def _account(report: VerifyReport, e: Entry, position: int) -> None:
    t = report.tenants.setdefault(e.tenant, TenantTotals())
    if e.kind is Kind.CHARGE:
        t.energy += Fraction(e.energy_Wh)
        t.work_units += e.work_units
        t.tokens += e.tokens
        t.charges += 1
    elif e.kind is Kind.REFUND:
        t.tokens += e.tokens
        t.refunds += 1
    elif e.kind is Kind.QUOTA_SET:
        if e.seq > t._quota_seq:
            t.quota, t._quota_seq = e.tokens, e.seq
    elif e.kind is Kind.STATEMENT:
        if (e.energy_Wh, e.work_units, e.tokens) != (float(t.energy), t.work_units, t.tokens):
            report.add(ProblemKind.TOTALS_MISMATCH, position, e.seq,
                       f"tenant {e.tenant}: statement says {e.energy_Wh!r} Wh, {e.work_units} units, "
                       f"{e.tokens} tokens; the entries add up to {float(t.energy)!r} Wh, {t.work_units} units, "
                       f"{t.tokens} tokens")


def statement_totals(entries: Iterable[Entry]) -> tuple[float, int, int]:
    """(energy Wh, work units, net tokens) over CHARGE and REFUND entries, energy summed exactly."""
    energy, units, tokens = Fraction(0), 0, 0
    for e in entries:
        if e.kind is Kind.CHARGE:
            energy += Fraction(e.energy_Wh)
            units += e.work_units
            tokens += e.tokens
        elif e.kind is Kind.REFUND:
            tokens += e.tokens
    return float(energy), units, tokens


def decode_statement(data: bytes, keys: Mapping[int, bytes]) -> list[Entry]:
    """The entries of a downlinked statement, each checked (length, CRC, MAC) on its own.

    A statement is a selection, so it cannot show its own completeness: compare it with the full
    ledger, checked by `verify`. Raises LedgerFormatError, CrcError or InvalidFieldError.
    """
    if len(data) % RECORD_OCTETS:
        raise LedgerFormatError(f"a statement is whole {RECORD_OCTETS}-octet records; got {len(data)} octets "
                                f"({len(data) % RECORD_OCTETS} left over)")
    return [decode_entry(decode_record(r), keys) for r in split_records(data)]


# ----------------------------------------------------------------------------------------------
# Statements as downlinked
# ----------------------------------------------------------------------------------------------

def encode_statement_transfer(tenant: int, since_seq: int, records: bytes) -> bytes:
    """A statement (the records `TokenLedger.statement` returns) behind its transfer header."""
    check_ranges(("tenant", tenant, U16), ("since_seq", since_seq, U64))
    if len(records) % RECORD_OCTETS:
        raise LengthError("a statement's records", (len(records) // RECORD_OCTETS + 1) * RECORD_OCTETS,
                          len(records))
    body = _STATEMENT_BODY.pack(STATEMENT_MAGIC, STATEMENT_VERSION, tenant, since_seq, len(records) // RECORD_OCTETS)
    return body + _CRC.pack(crc32(body)) + records


def decode_statement_transfer(data: bytes) -> tuple[int, int, bytes]:
    """(tenant, since seq, records) of a statement transfer whose header checks; LedgerFormatError
    or CrcError if it is not one. The records themselves are not checked here."""
    version, tenant, since_seq, count = _checked_header(data, _STATEMENT_BODY, STATEMENT_MAGIC, "statement",
                                                       "ledger statement")
    if version != STATEMENT_VERSION:
        raise LedgerFormatError(f"statement version {version}; this software reads {STATEMENT_VERSION}")
    records = bytes(data[STATEMENT_HEADER_OCTETS:])
    if count * RECORD_OCTETS != len(records):
        raise LedgerFormatError(f"statement header counts {count} records; {len(records)} octets follow "
                                f"({len(records) / RECORD_OCTETS:g} records)")
    return tenant, since_seq, records


@dataclass
class StatementReport:
    tenant: int | None  # None: the header did not check
    since_seq: int | None
    records: int = 0
    entries: list[Entry] = field(default_factory=list)  # authentic entries of the tenant, in order
    totals: tuple[float, int, int] | None = None  # (energy Wh, work units, net tokens) of the last STATEMENT
    totals_checked: bool = False  # False when no baseline (seq 0 or an earlier statement) was in it
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_statement(data: bytes, keys: Mapping[int, bytes]) -> StatementReport:
    """Check a downlinked statement transfer: its header, each record's CRC-32 and MAC, that every
    entry is the tenant's, from `since_seq` on, in sequence order, that it ends with the tenant's
    STATEMENT entry, and that each STATEMENT's totals equal its baseline (zero for a statement from
    seq 0, else an earlier STATEMENT in it) plus the charges and refunds between them. Energy is
    summed exactly from zero; from an earlier statement's rounded total it agrees to 1e-12.

    A statement cannot show that no entry was left out: `verify` on the full ledger does that.
    """
    try:
        tenant, since_seq, body = decode_statement_transfer(data)
    except ProtocolError as exc:
        return StatementReport(None, None, problems=[f"not a readable statement: {exc}"])
    report = StatementReport(tenant, since_seq)
    base: tuple[Fraction, int, int] | None = (Fraction(0), 0, 0) if since_seq == 0 else None
    exact = since_seq == 0
    energy, units, tokens = Fraction(0), 0, 0
    last_seq = None
    ended = False  # the last record is an authentic STATEMENT entry of the tenant
    for position, record in enumerate(split_records(body)):
        report.records += 1
        ended = False
        try:
            e = decode_entry(decode_record(record), keys)
        except ProtocolError as exc:
            report.problems.append(f"record {position}: {exc}")
            continue
        where = f"record {position} (seq {e.seq})"
        if e.tenant != tenant:
            report.problems.append(f"{where}: an entry of tenant {e.tenant} in tenant {tenant}'s statement")
            continue
        if e.seq < since_seq:
            report.problems.append(f"{where}: before the statement's start, seq {since_seq}")
            continue
        if last_seq is not None and e.seq <= last_seq:
            report.problems.append(f"{where}: after seq {last_seq} (reordered or repeated)")
            continue
        last_seq = e.seq
        report.entries.append(e)
        if e.kind is Kind.CHARGE:
            energy, units, tokens = energy + Fraction(e.energy_Wh), units + e.work_units, tokens + e.tokens
        elif e.kind is Kind.REFUND:
            tokens += e.tokens
        elif e.kind is Kind.STATEMENT:
            if base is not None:
                want = (float(base[0] + energy), base[1] + units, base[2] + tokens)
                same_energy = (want[0] == e.energy_Wh if exact else
                               math.isclose(want[0], e.energy_Wh, rel_tol=1e-12, abs_tol=1e-12))
                if not same_energy or want[1:] != (e.work_units, e.tokens):
                    report.problems.append(
                        f"{where}: statement says {e.energy_Wh!r} Wh, {e.work_units} units, {e.tokens} tokens; "
                        f"the entries add up to {want[0]!r} Wh, {want[1]} units, {want[2]} tokens")
                report.totals_checked = True
            base, exact = (Fraction(e.energy_Wh), e.work_units, e.tokens), False
            energy, units, tokens = Fraction(0), 0, 0
            ended = True
    if ended:
        last = report.entries[-1]
        report.totals = (last.energy_Wh, last.work_units, last.tokens)
    else:
        report.problems.append(f"does not end with tenant {tenant}'s STATEMENT entry")
    return report
