"""The onboard compute token ledger: every job's energy and work, metered per tenant, on disk.

`TokenLedger` appends entries in the format of `gridfree.protocols.ledger` (fixed 156-octet
records: entry + CRC-32), each signed with the node's Ed25519 signing key, to one file, and returns
from an append only after the record is fsynced: an entry the caller has seen acknowledged survives
a crash or power loss at any instant. A failed write or fsync acknowledges nothing: the file is cut
back to where it was and the same sequence number is used again by the next append.

Chain head: a HEAD entry (the entry count and head hash, signed) goes in at every sequence number
that is `head_every - 1` modulo `head_every` (written with the entry after it, one write and one
fsync, so where HEADs are depends on the sequence number alone), right after every STATEMENT (so
every statement downlinked ends with one: that is how the ground gets the latest anchor), and at
close. The ground keeps the latest anchor and so finds a ledger cut short (`anchor.py`).

Opening a ledger verifies the whole file with the same `verify` the ground runs. A torn tail (a
record cut short by a crash mid-append, never acknowledged) is truncated and reported in
`recovery`; the chain then resumes from the last valid entry. Any other problem (an edited,
missing or foreign entry, a header that does not decode, another ledger's file) raises
`LedgerDamaged`, the one error opening a ledger raises for what the file holds: the node must not
extend a ledger it cannot prove, and the ground will see the same problem when it verifies the
file. With `salvage=True` the damage costs entries instead of the ledger: the damaged file is
kept whole beside it (`<name>.damaged-<n>`, for the ground to downlink and verify), the ledger
goes on from its longest prefix that verifies, and `salvaged` says what was lost. (The file side
of opening, locking and salvaging is `ledger_file.py`.)

Quotas: a tenant may use, net of refunds, at most the tokens of its latest QUOTA_SET. A tenant
without one has a quota of 0, so it runs nothing until the ground provisions it. `would_exceed`
answers before a job starts; `charge` refuses (QuotaExceeded, nothing written) a charge that would
take the tenant over.
"""
from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from gridfree.flight.compute.ledger_file import (LedgerDamaged, Salvage, create_if_missing, open_locked,
                                                 read_records, write_all)
from gridfree.flight.compute.ledger_file import salvage as salvage_file
from gridfree.protocols.ledger import (
    HEADER_OCTETS, RECORD_OCTETS, Anchor, Entry, Kind, chain_hash, decode_entry, decode_record, encode_entry,
    encode_record, fingerprint, genesis_hash, key_ring, split_records,
)
from gridfree.protocols.ledger.verify import ProblemKind, VerifyReport, verify
from gridfree.protocols.tariff import Tariff, tokens_for

DEFAULT_TARIFF = Tariff(tokens_per_Wh=10, tokens_per_unit=1)
HEAD_EVERY = 64  # entries between periodic HEADs: at most 63 entries can be cut off unanchored


class QuotaExceeded(Exception):
    """A charge that would take a tenant over its quota; nothing was written."""

    def __init__(self, tenant: int, tokens: int, quota: int | None, quota_left: int):
        why = "no quota is set" if quota is None else f"quota {quota}, {quota_left} left"
        super().__init__(f"tenant {tenant}: charging {tokens} tokens would exceed its quota ({why})")
        self.tenant, self.tokens, self.quota, self.quota_left = tenant, tokens, quota, quota_left


class ClockWentBackwards(ValueError):
    """An entry timed before the previous one: the ledger's times never go backwards."""


@dataclass(frozen=True)
class Balance:
    tenant: int
    energy_Wh: float
    work_units: int
    tokens_used: int  # net: charges minus refunds
    quota: int  # 0 until a quota is set
    quota_left: int  # quota - tokens_used; negative if the quota was lowered below what was used


class _Account:
    __slots__ = ("energy", "work_units", "tokens", "quota", "has_quota")

    def __init__(self):
        self.energy, self.work_units, self.tokens, self.quota, self.has_quota = Fraction(0), 0, 0, 0, False


class TokenLedger:
    """An append-only, hash-chained, Ed25519-signed ledger file. Thread-safe; one writer per file (flock).

    Parameters
    ----------
    path : where the ledger lives; created (atomically, header only) if missing.
    signing_key : the node's Ed25519 key new entries are signed with (KEYDIR/ledger-signing.pem).
    ledger_id : the name entry 0 chains from; must match the file's.
    tariff : how energy and work units become tokens.
    old_public_keys : the public keys of earlier signing keys, to verify entries signed before a
        key rotation.
    head_every : a HEAD entry at every seq that is head_every - 1 modulo head_every (0: none but
        those after statements and at close).
    salvage : on damage, keep the damaged file aside and go on from the prefix that verifies
        (`salvaged` says what was lost) instead of raising LedgerDamaged.
    """

    def __init__(self, path: str | os.PathLike, signing_key: Ed25519PrivateKey, ledger_id: str, *,
                 tariff: Tariff = DEFAULT_TARIFF, old_public_keys: tuple[Ed25519PublicKey, ...] = (),
                 head_every: int = HEAD_EVERY, salvage: bool = False):
        if not isinstance(signing_key, Ed25519PrivateKey):
            raise TypeError(f"the ledger is signed with an Ed25519 private key, not {type(signing_key).__name__}")
        if isinstance(head_every, bool) or not isinstance(head_every, int) or head_every < 0:
            raise ValueError(f"head_every {head_every!r}: must be an int >= 0")
        self.path = Path(path)
        self._key, self.ledger_id, self.tariff, self.head_every = signing_key, ledger_id, tariff, head_every
        self.public_key = signing_key.public_key()
        self.key_fingerprint = fingerprint(self.public_key)
        self._keys = key_ring((*old_public_keys, self.public_key))
        self._last_kind: Kind | None = None
        self._lock = threading.Lock()
        self._accounts: dict[int, _Account] = {}
        self._job_tokens: dict[tuple[int, int], int] = {}  # (tenant, job) -> net tokens, for refunds
        self._next_seq, self._head, self._last_t = 0, genesis_hash(ledger_id), float("-inf")
        self.salvaged: Salvage | None = None
        create_if_missing(self.path, ledger_id)
        self._fd = open_locked(self.path)
        try:
            self.recovery = self._recover()
        except LedgerDamaged as exc:
            if not salvage:
                os.close(self._fd)
                raise
            self.salvaged = salvage_file(self._fd, self.path, ledger_id, self._keys, exc)
            os.close(self._fd)
            self._fd = open_locked(self.path)
            self.recovery = self._recover()
        except BaseException:
            os.close(self._fd)
            raise

    # -- opening -------------------------------------------------------------------------------

    def _recover(self) -> VerifyReport:
        records = read_records(self._fd, self.path, self.ledger_id)
        report = verify(split_records(records), self._keys, ledger_id=self.ledger_id)
        if set(report.problems) - {ProblemKind.TORN_TAIL}:
            raise LedgerDamaged(self.path, report)
        whole = report.torn_tail_at if report.torn_tail_at is not None else len(records) // RECORD_OCTETS
        if report.torn_tail_at is not None:
            os.ftruncate(self._fd, HEADER_OCTETS + whole * RECORD_OCTETS)
            os.fsync(self._fd)
        for i in range(whole):  # each one just proved by verify
            entry_bytes = decode_record(records[i * RECORD_OCTETS:(i + 1) * RECORD_OCTETS])
            self._apply(decode_entry(entry_bytes, None), entry_bytes)
        return report

    @property
    def torn_tail_octets(self) -> int:
        """Octets of a torn tail cut off when this ledger was opened (0 if the file was whole)."""
        return self.recovery.torn_tail_octets

    # -- appending -----------------------------------------------------------------------------

    def _apply(self, e: Entry, entry_bytes: bytes) -> None:
        a = self._accounts.setdefault(e.tenant, _Account())
        if e.kind is Kind.CHARGE:
            a.energy += Fraction(e.energy_Wh)
            a.work_units += e.work_units
            a.tokens += e.tokens
            self._job_tokens[e.tenant, e.job] = self._job_tokens.get((e.tenant, e.job), 0) + e.tokens
        elif e.kind is Kind.REFUND:
            a.tokens += e.tokens
            self._job_tokens[e.tenant, e.job] = self._job_tokens.get((e.tenant, e.job), 0) + e.tokens
        elif e.kind is Kind.QUOTA_SET:
            a.quota, a.has_quota = e.tokens, True
        self._next_seq = e.seq + 1
        self._head = chain_hash(entry_bytes)
        self._last_t = e.t_s
        self._last_kind = e.kind

    def _append(self, kind: Kind, tenant: int, job: int, energy_Wh: float, work_units: int, tokens: int,
                t: float, *, then_head: bool = False) -> Entry:
        """Sign, write, fsync, then (only then) count the entry, with a HEAD before it if its seq is a
        HEAD slot and one after it if `then_head`: one write, one fsync. Caller holds the lock."""
        if self._fd < 0:
            raise ValueError(f"{self.path}: ledger is closed")
        if t < self._last_t:
            raise ClockWentBackwards(f"t={t!r} is before the last entry's t={self._last_t!r}")
        signed: list[bytes] = []
        seq, prev = self._next_seq, self._head

        def add(kind: Kind, tenant: int = 0, job: int = 0, energy_Wh: float = 0.0, work_units: int = 0,
                tokens: int = 0) -> None:
            nonlocal seq, prev
            entry = Entry(seq, float(t), self.key_fingerprint, tenant, job, kind, float(energy_Wh), work_units,
                          tokens, prev)
            signed.append(encode_entry(entry, self._key))  # InvalidFieldError for out-of-range fields
            seq, prev = seq + 1, chain_hash(signed[-1])

        if kind is not Kind.HEAD and self.head_every and seq % self.head_every == self.head_every - 1:
            add(Kind.HEAD)
        add(kind, tenant, job, energy_Wh, work_units, tokens)
        if then_head:
            add(Kind.HEAD)
        offset = HEADER_OCTETS + self._next_seq * RECORD_OCTETS
        try:
            write_all(self._fd, b"".join(encode_record(b) for b in signed), offset)
            os.fsync(self._fd)
        except BaseException:
            try:  # nothing acknowledged: the file goes back to what it was
                os.ftruncate(self._fd, offset)
            except OSError:
                pass  # the next append writes over the same offset anyway
            raise
        decoded = [decode_entry(b, None) for b in signed]
        for e, entry_bytes in zip(decoded, signed):
            self._apply(e, entry_bytes)
        return decoded[-2] if then_head else decoded[-1]

    def charge(self, tenant: int, job: int, energy_Wh: float, work_units: int, t: float) -> int:
        """Charge a job's energy and work to a tenant at the ledger's tariff; the tokens charged.
        QuotaExceeded (and nothing written) if that would take the tenant over its quota."""
        tokens = tokens_for(energy_Wh, work_units, self.tariff)
        with self._lock:
            if self._would_exceed(tenant, tokens):
                a = self._accounts.get(tenant)
                raise QuotaExceeded(tenant, tokens, a.quota if a and a.has_quota else None, self._quota_left(tenant))
            self._append(Kind.CHARGE, tenant, job, energy_Wh, work_units, tokens, t)
        return tokens

    def refund(self, tenant: int, job: int, tokens: int, t: float) -> int:
        """Give back `tokens` (> 0) charged for a job, e.g. one lost to a node fault; at most what the
        job was charged, net of earlier refunds. The tokens refunded."""
        if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens <= 0:
            raise ValueError(f"refund of {tokens!r} tokens: must be an int > 0")
        with self._lock:
            charged = self._job_tokens.get((tenant, job), 0)
            if tokens > charged:
                raise ValueError(f"tenant {tenant} job {job}: refund of {tokens} tokens exceeds the {charged} "
                                 "charged (net of refunds)")
            self._append(Kind.REFUND, tenant, job, 0.0, 0, -tokens, t)
        return tokens

    def set_quota(self, tenant: int, tokens: int, t: float) -> None:
        """Cap the tenant's net token use at `tokens` from now on (already used tokens stay used)."""
        if isinstance(tokens, bool) or not isinstance(tokens, int) or tokens < 0:
            raise ValueError(f"quota of {tokens!r} tokens: must be an int >= 0")
        with self._lock:
            self._append(Kind.QUOTA_SET, tenant, 0, 0.0, 0, tokens, t)

    def statement(self, tenant: int, since_seq: int = 0, t: float | None = None) -> bytes:
        """Cut a statement for a tenant: append a STATEMENT entry carrying its totals (at time `t`,
        by default the last entry's time) and a HEAD after it, then return the tenant's records
        from `since_seq` on, that entry included, and the HEAD last, as stored (entry + CRC-32
        each), ready to downlink."""
        with self._lock:
            if not 0 <= since_seq <= self._next_seq:
                raise ValueError(f"since_seq {since_seq} outside 0..{self._next_seq}")
            if t is None and self._next_seq == 0:
                raise ValueError("an empty ledger has no last time: give the statement's time t")
            a = self._accounts.get(tenant) or _Account()
            self._append(Kind.STATEMENT, tenant, 0, float(a.energy), a.work_units, a.tokens,
                         self._last_t if t is None else t, then_head=True)
            start = HEADER_OCTETS + since_seq * RECORD_OCTETS
            data = os.pread(self._fd, HEADER_OCTETS + self._next_seq * RECORD_OCTETS - start, start)
        picked = []
        for record in split_records(data[:-RECORD_OCTETS]):  # proved at open or signed by us since
            e = decode_entry(decode_record(record), None)
            if e.tenant == tenant and e.kind is not Kind.HEAD:
                picked.append(record)
        return b"".join(picked) + data[-RECORD_OCTETS:]

    def append_head(self, t: float | None = None) -> Anchor | None:
        """Sign the chain head into the ledger (a HEAD entry at time `t`, by default the last
        entry's), unless the last entry already is one; the anchor of that HEAD, or None while
        the ledger is empty."""
        with self._lock:
            if self._next_seq and self._last_kind is not Kind.HEAD:
                self._append(Kind.HEAD, 0, 0, 0.0, 0, 0, self._last_t if t is None else t)
            return self._anchor()

    def _anchor(self) -> Anchor | None:
        return Anchor(self._next_seq, self._head) if self._next_seq else None

    @property
    def anchor(self) -> Anchor | None:
        """(entries, head hash) now; signed in the ledger only if the last entry is a HEAD."""
        with self._lock:
            return self._anchor()

    # -- queries -------------------------------------------------------------------------------

    def quote(self, energy_Wh: float, work_units: int) -> int:
        """Tokens a job with this energy and work would be charged."""
        return tokens_for(energy_Wh, work_units, self.tariff)

    def _quota_left(self, tenant: int) -> int:
        a = self._accounts.get(tenant)
        return 0 if a is None else a.quota - a.tokens

    def _would_exceed(self, tenant: int, tokens: int) -> bool:
        return tokens > self._quota_left(tenant)

    def would_exceed(self, tenant: int, tokens: int) -> bool:
        """Whether charging `tokens` more would take the tenant over its quota."""
        with self._lock:
            return self._would_exceed(tenant, tokens)

    def used(self, tenant: int) -> int:
        """Net tokens charged to the tenant (charges minus refunds)."""
        with self._lock:
            a = self._accounts.get(tenant)
            return 0 if a is None else a.tokens

    def quota_left(self, tenant: int) -> int:
        with self._lock:
            return self._quota_left(tenant)

    def balance(self, tenant: int) -> Balance:
        with self._lock:
            a = self._accounts.get(tenant) or _Account()
            return Balance(tenant, float(a.energy), a.work_units, a.tokens, a.quota, a.quota - a.tokens)

    def tenants(self) -> list[int]:
        with self._lock:
            return sorted(self._accounts)

    @property
    def next_seq(self) -> int:
        """The sequence number the next entry will get (= entries in the ledger)."""
        return self._next_seq

    @property
    def head_hash(self) -> bytes:
        """Chain hash of the last entry (the genesis hash while the ledger is empty)."""
        return self._head

    # -- lifetime ------------------------------------------------------------------------------

    def close(self) -> None:
        """Sign the head into the ledger (a HEAD, unless the last entry is one), then close."""
        with self._lock:
            if self._fd < 0:
                return
            try:
                if self._next_seq and self._last_kind is not Kind.HEAD:
                    self._append(Kind.HEAD, 0, 0, 0.0, 0, 0, self._last_t)
            finally:
                os.close(self._fd)  # releases the flock
                self._fd = -1

    def __enter__(self) -> TokenLedger:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
