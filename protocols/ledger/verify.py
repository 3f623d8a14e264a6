"""The proof of a whole ledger: every entry authentic, in sequence, chained, every STATEMENT's
totals equal to the entries before it, and nothing cut off before an anchor the ground holds.

Node and ground run the same proof: the node on its own file before it extends it (at boot,
`gridfree.flight.compute.ledger`), the ground on a downlinked copy (`gridfree tokens verify`). So
it is a shared contract and lives beside the format, not in either of them.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from fractions import Fraction

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gridfree.protocols.errors import CrcError, InvalidFieldError
from gridfree.protocols.ledger.anchor import Anchor
from gridfree.protocols.ledger.format import (RECORD_OCTETS, Entry, Kind, SignatureError, UnknownKeyError,
                                              chain_hash, decode_entry, decode_record, genesis_hash)
from gridfree.protocols.ledger.signing import KeyRing, key_ring

PublicKeys = KeyRing | Ed25519PublicKey | Iterable[Ed25519PublicKey]


class ProblemKind(Enum):
    EDITED = "edited entry (signature fails)"
    UNKNOWN_KEY = "entry signed with a key that is not among the public keys given"
    DROPPED = "dropped entry (sequence gap or chain break)"
    REORDERED = "reordered entries"
    DUPLICATE = "duplicated (replayed) entry"
    TORN_TAIL = "torn tail (partial last record)"
    CORRUPT = "corrupt record (CRC-32 fails)"
    MALFORMED = "malformed record or entry"
    TIME_BACKWARDS = "onboard time goes backwards"
    WRONG_LEDGER = "entry 0 does not chain from this ledger's genesis"
    TOTALS_MISMATCH = "statement totals differ from the entries"
    TRUNCATED = "fewer entries than an anchor the ground holds (entries cut off the end)"
    ANCHOR_MISMATCH = "the entry at an anchor's position is not the anchored one (ledger rewritten)"


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
    head_hash: bytes | None = None  # chain hash of the entry at head_seq
    torn_tail_at: int | None = None  # record index where the torn tail starts
    torn_tail_octets: int = 0
    problems: dict[ProblemKind, Problem] = field(default_factory=dict)  # the first of each kind
    counts: dict[ProblemKind, int] = field(default_factory=dict)
    tenants: dict[int, TenantTotals] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def anchor(self) -> Anchor | None:
        """(entries, head hash) of this ledger, for the ground to keep and give to later checks."""
        return None if self.head_seq is None else Anchor(self.head_seq + 1, self.head_hash)

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


def public_keys(keys: PublicKeys) -> KeyRing:
    """A key ring from a ring, one public key, or several."""
    return keys if isinstance(keys, Mapping) else key_ring(keys)


def verify(records: Iterable[bytes], keys: PublicKeys, *, ledger_id: str | None = None,
           anchors: Sequence[Anchor] = ()) -> VerifyReport:
    """Prove a ledger: each item of `records` is one record as stored (entry + CRC-32), in file order.

    Checks that the records are whole and their CRCs hold, each Ed25519 signature verifies under
    one of the public `keys`, the sequence runs from 0 without gap, repeat or reordering, each
    previous hash is the chain hash of the entry before it (the genesis hash of `ledger_id` for
    entry 0; unchecked when `ledger_id` is None), times never go backwards, each STATEMENT's totals
    equal the recomputed ones, and for each of `anchors` (what the ground held before) that the
    ledger reaches its count and has its head hash there. It never raises on bad input: it
    returns the first problem of each kind, how many there were, and per-tenant totals over the
    authentic entries. A short (or CRC-failing) last record is a torn tail; everything before it
    is still verified.
    """
    keys = public_keys(keys)
    report = VerifyReport(ledger_id=ledger_id, genesis_checked=ledger_id is not None)
    anchored = {a.count - 1: a for a in anchors}
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
            report.add(ProblemKind.UNKNOWN_KEY, position, claimed_seq, f"key {exc.key.hex()} (entry not checked)")
            untrusted(claimed_seq)
            continue
        except SignatureError as exc:
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

        held = anchored.get(s)
        if held is not None and h != held.head_hash:
            report.add(ProblemKind.ANCHOR_MISMATCH, position, s,
                       f"seq {s} hashes to {h.hex()[:16]}..., not to the head hash of anchor {held}: "
                       "the ledger was rewritten after the ground saw it")
        report.entries_ok += 1
        if report.head_seq is None or s > report.head_seq:
            report.head_seq, report.head_hash = s, h
        _account(report, e, position)

    for lo, hi, pos, jump in gaps.ranges:
        count = hi - lo + 1
        missing = f"seq {lo}" if lo == hi else f"seqs {lo}..{hi} ({count} entries)"
        report.add(ProblemKind.DROPPED, pos, lo, f"{missing} missing, never found (the file skips to seq {jump} "
                   f"at record {pos})", count)
    entries = 0 if report.head_seq is None else report.head_seq + 1
    held = max(anchors, key=lambda a: a.count, default=None)
    if held is not None and entries < held.count:
        report.add(ProblemKind.TRUNCATED, report.records, entries,
                   f"the ledger ends after {entries} entries; anchor {held.count}:{held.head_hash.hex()[:16]}... "
                   f"says it had {held.count}: {held.count - entries} cut off the end", held.count - entries)
    return report


def _after(report: VerifyReport) -> str:
    return " (no entry before it)" if report.head_seq is None else f" (after seq {report.head_seq})"


def _account(report: VerifyReport, e: Entry, position: int) -> None:
    if e.kind is Kind.HEAD:  # about the ledger, no tenant's
        return
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
