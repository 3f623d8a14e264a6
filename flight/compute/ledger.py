"""The onboard compute token ledger: every job's energy and work, metered per tenant, on disk.

`TokenLedger` appends entries in the format of `gridfree.protocols.ledger` (fixed 118-octet
records: entry + CRC-32) to one file, and returns from an append only after the record is
fsynced: an entry the caller has seen acknowledged survives a crash or power loss at any instant.
A failed write or fsync acknowledges nothing: the file is cut back to where it was and the same
sequence number is used again by the next append.

Opening a ledger verifies the whole file with the same `verify` the ground runs. A torn tail (a
record cut short by a crash mid-append, never acknowledged) is truncated and reported in
`recovery`; the chain then resumes from the last valid entry. Any other problem (an edited,
missing or foreign entry, a header that does not decode, another ledger's file) raises
`LedgerDamaged`, the one error opening a ledger raises for what the file holds: the node must not
extend a ledger it cannot prove, and the ground will see the same problem when it verifies the
file. With `salvage=True` the damage costs entries instead of the ledger: the damaged file is
kept whole beside it (`<name>.damaged-<n>`, for the ground to downlink and verify), the ledger
goes on from its longest prefix that verifies, and `salvaged` says what was lost.

Quotas: a tenant may use, net of refunds, at most the tokens of its latest QUOTA_SET. A tenant
without one has a quota of 0, so it runs nothing until the ground provisions it. `would_exceed`
answers before a job starts; `charge` refuses (QuotaExceeded, nothing written) a charge that would
take the tenant over.
"""
from __future__ import annotations

import fcntl
import os
import threading
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from gridfree.flight.core.store import fsync_directory
from gridfree.protocols.errors import ProtocolError
from gridfree.protocols.ledger import (
    HEADER_OCTETS, MIN_KEY_OCTETS, RECORD_OCTETS, Entry, Kind, chain_hash, decode_entry, decode_header, decode_record,
    encode_entry, encode_header, encode_record, genesis_hash, split_records,
)
from gridfree.protocols.ledger.verify import ProblemKind, VerifyReport, verify
from gridfree.protocols.tariff import Tariff, tokens_for

DEFAULT_TARIFF = Tariff(tokens_per_Wh=10, tokens_per_unit=1)


class QuotaExceeded(Exception):
    """A charge that would take a tenant over its quota; nothing was written."""

    def __init__(self, tenant: int, tokens: int, quota: int | None, quota_left: int):
        why = "no quota is set" if quota is None else f"quota {quota}, {quota_left} left"
        super().__init__(f"tenant {tenant}: charging {tokens} tokens would exceed its quota ({why})")
        self.tenant, self.tokens, self.quota, self.quota_left = tenant, tokens, quota, quota_left


class LedgerDamaged(ValueError):
    """The ledger file is not a ledger this node can prove: it fails verification beyond a torn
    tail (`report` says how), or its header does not decode or names another ledger (`report` is
    None then)."""

    def __init__(self, path: Path, report: VerifyReport | None, reason: str = ""):
        if report is not None:
            reason = "ledger fails verification: " + "; ".join(str(p) for p in report.first_problems())
        super().__init__(f"{path}: {reason}")
        self.path, self.report = path, report


@dataclass(frozen=True)
class Salvage:
    """What opening a damaged ledger with salvage=True cost."""

    damaged_copy: Path  # the damaged file, kept whole
    entries_kept: int  # the prefix that verifies, which the ledger goes on from
    records_lost: int  # records of the damaged file not in the ledger any more (a torn tail counts one)
    reason: str  # the LedgerDamaged message


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
    """An append-only, hash-chained, HMAC'd ledger file. Thread-safe; one writer per file (flock).

    Parameters
    ----------
    path : where the ledger lives; created (atomically, header only) if missing.
    key_id, key : the HMAC key new entries are signed with (provisioned before launch).
    ledger_id : the name entry 0 chains from; must match the file's.
    tariff : how energy and work units become tokens.
    old_keys : earlier keys {key_id: key}, to verify entries signed before a key rotation.
    salvage : on damage, keep the damaged file aside and go on from the prefix that verifies
        (`salvaged` says what was lost) instead of raising LedgerDamaged.
    """

    def __init__(self, path: str | os.PathLike, key_id: int, key: bytes, ledger_id: str, *,
                 tariff: Tariff = DEFAULT_TARIFF, old_keys: dict[int, bytes] | None = None, salvage: bool = False):
        if len(key) < MIN_KEY_OCTETS:
            raise ValueError(f"HMAC key id {key_id} has {len(key)} octets; at least {MIN_KEY_OCTETS} are needed")
        if not 0 <= key_id <= 0xFFFF:
            raise ValueError(f"key_id {key_id} outside 0..65535")
        self.path = Path(path)
        self.key_id, self._key, self.ledger_id, self.tariff = key_id, bytes(key), ledger_id, tariff
        self._keys = {**(old_keys or {}), key_id: self._key}
        self._lock = threading.Lock()
        self._accounts: dict[int, _Account] = {}
        self._job_tokens: dict[tuple[int, int], int] = {}  # (tenant, job) -> net tokens, for refunds
        self._next_seq, self._head, self._last_t = 0, genesis_hash(ledger_id), float("-inf")
        self.salvaged: Salvage | None = None
        self._create_if_missing()
        self._open_locked()
        try:
            self.recovery = self._recover()
        except LedgerDamaged as exc:
            if not salvage:
                os.close(self._fd)
                raise
            self.salvaged = self._salvage(exc)
            os.close(self._fd)
            self._open_locked()
            self.recovery = self._recover()
        except BaseException:
            os.close(self._fd)
            raise

    # -- opening -------------------------------------------------------------------------------

    def _create_if_missing(self) -> None:
        """Header written to a temporary file, fsynced, then linked into place: a crash leaves either
        no ledger or a whole header, never half of one."""
        if self.path.exists():
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            _write_all(fd, encode_header(self.ledger_id), 0)
            os.fsync(fd)
        finally:
            os.close(fd)
        try:
            os.link(tmp, self.path)  # unlike rename, never replaces a ledger created meanwhile
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
        fsync_directory(self.path.parent)

    def _open_locked(self) -> None:
        self._fd = os.open(self.path, os.O_RDWR)
        try:
            fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self._fd)
            raise RuntimeError(f"{self.path}: ledger is open in another TokenLedger") from None

    def _read(self) -> bytes:
        """The records after a header that decodes and names this ledger; LedgerDamaged if not."""
        data = os.pread(self._fd, os.fstat(self._fd).st_size, 0)
        try:
            file_id = decode_header(data)
        except ProtocolError as exc:
            raise LedgerDamaged(self.path, None, f"not a readable ledger header: {exc}") from None
        if file_id != self.ledger_id:
            raise LedgerDamaged(self.path, None, f"holds ledger {file_id!r}, not {self.ledger_id!r}")
        return data[HEADER_OCTETS:]

    def _salvage(self, damage: LedgerDamaged) -> Salvage:
        """Keep the damaged file whole beside the ledger, then replace the ledger by its longest
        prefix that verifies (after a header of this ledger). A crash part way leaves the damaged
        file in place, to be salvaged again at the next open."""
        data = os.pread(self._fd, os.fstat(self._fd).st_size, 0)
        records = data[HEADER_OCTETS:]  # under a damaged header too: entry 0's genesis proves whose they are
        keep = len(records) // RECORD_OCTETS
        while keep:
            report = verify(split_records(records[:keep * RECORD_OCTETS]), self._keys, ledger_id=self.ledger_id)
            if report.ok:
                break
            keep = min(keep - 1, min(p.position for p in report.problems.values()))
        n = 0
        while (copy := self.path.with_name(f"{self.path.name}.damaged-{n}")).exists():
            n += 1
        os.link(self.path, copy)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.salvage")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            _write_all(fd, encode_header(self.ledger_id) + records[:keep * RECORD_OCTETS], 0)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        fsync_directory(self.path.parent)
        lost = -(-max(0, len(data) - HEADER_OCTETS) // RECORD_OCTETS) - keep
        return Salvage(copy, keep, lost, str(damage))

    def _recover(self) -> VerifyReport:
        records = self._read()
        report = verify(split_records(records), self._keys, ledger_id=self.ledger_id)
        if set(report.problems) - {ProblemKind.TORN_TAIL}:
            raise LedgerDamaged(self.path, report)
        whole = report.torn_tail_at if report.torn_tail_at is not None else len(records) // RECORD_OCTETS
        if report.torn_tail_at is not None:
            os.ftruncate(self._fd, HEADER_OCTETS + whole * RECORD_OCTETS)
            os.fsync(self._fd)
        for i in range(whole):
            entry_bytes = decode_record(records[i * RECORD_OCTETS:(i + 1) * RECORD_OCTETS])
            self._apply(decode_entry(entry_bytes, self._keys), entry_bytes)
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

    def _append(self, kind: Kind, tenant: int, job: int, energy_Wh: float, work_units: int, tokens: int,
                t: float) -> Entry:
        """Write, fsync, then (only then) count the entry. Caller holds the lock."""
        if self._fd < 0:
            raise ValueError(f"{self.path}: ledger is closed")
        if t < self._last_t:
            raise ClockWentBackwards(f"t={t!r} is before the last entry's t={self._last_t!r}")
        entry = Entry(self._next_seq, float(t), self.key_id, tenant, job, kind, float(energy_Wh), work_units,
                      tokens, self._head)
        entry_bytes = encode_entry(entry, self._key)  # InvalidFieldError for out-of-range fields
        offset = HEADER_OCTETS + self._next_seq * RECORD_OCTETS
        try:
            _write_all(self._fd, encode_record(entry_bytes), offset)
            os.fsync(self._fd)
        except BaseException:
            try:  # nothing acknowledged: the file goes back to what it was
                os.ftruncate(self._fd, offset)
            except OSError:
                pass  # the next append writes over the same offset anyway
            raise
        e = decode_entry(entry_bytes, None)
        self._apply(e, entry_bytes)
        return e

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
        by default the last entry's time), then return the tenant's records from `since_seq` on,
        that entry included, as stored (entry + CRC-32 each), ready to downlink."""
        with self._lock:
            if not 0 <= since_seq <= self._next_seq:
                raise ValueError(f"since_seq {since_seq} outside 0..{self._next_seq}")
            if t is None and self._next_seq == 0:
                raise ValueError("an empty ledger has no last time: give the statement's time t")
            a = self._accounts.get(tenant) or _Account()
            self._append(Kind.STATEMENT, tenant, 0, float(a.energy), a.work_units, a.tokens,
                         self._last_t if t is None else t)
            start = HEADER_OCTETS + since_seq * RECORD_OCTETS
            data = os.pread(self._fd, HEADER_OCTETS + self._next_seq * RECORD_OCTETS - start, start)
        picked = []
        for record in split_records(data):
            entry_bytes = decode_record(record)
            if decode_entry(entry_bytes, self._keys).tenant == tenant:
                picked.append(record)
        return b"".join(picked)

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
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)  # releases the flock
                self._fd = -1

    def __enter__(self) -> TokenLedger:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _write_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        n = os.pwrite(fd, view, offset)
        view, offset = view[n:], offset + n

