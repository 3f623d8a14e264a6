"""Checking a downlinked statement on the ground with the node's public key alone: its header,
every record's CRC and Ed25519 signature, that every entry is the tenant's and in order, that its
totals add up, and that it ends with the signed HEAD whose anchor (entry count, head hash) the
ground keeps, so a later statement from a rolled-back ledger is found.

A statement is a selection of the ledger, so it cannot show that nothing was left out; the proof of
the whole ledger (`gridfree.protocols.ledger.verify`) does that.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from fractions import Fraction

from gridfree.protocols.errors import ProtocolError
from gridfree.protocols.ledger.anchor import Anchor, anchor_of, compare
from gridfree.protocols.ledger.format import Entry, Kind, chain_hash, decode_entry, decode_record, split_records
from gridfree.protocols.ledger.statement import decode_statement_transfer
from gridfree.protocols.ledger.verify import PublicKeys, public_keys


@dataclass
class StatementReport:
    tenant: int | None  # None: the header did not check
    since_seq: int | None
    records: int = 0
    entries: list[Entry] = field(default_factory=list)  # authentic entries of the tenant, in order
    totals: tuple[float, int, int] | None = None  # (energy Wh, work units, net tokens) of the last STATEMENT
    totals_checked: bool = False  # False when no baseline (seq 0 or an earlier statement) was in it
    anchor: Anchor | None = None  # the ledger's entry count and head hash from the closing HEAD
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def check_statement(data: bytes, keys: PublicKeys, anchors: Sequence[Anchor] = ()) -> StatementReport:
    """Check a downlinked statement transfer: its header, each record's CRC-32 and signature under
    one of the public `keys`, that every entry is the tenant's, from `since_seq` on, in sequence
    order, that it ends with the tenant's STATEMENT entry and the HEAD chained right after it, and
    that each STATEMENT's totals equal its baseline (zero for a statement from seq 0, else an
    earlier STATEMENT in it) plus the charges and refunds between them. Energy is summed exactly
    from zero; from an earlier statement's rounded total it agrees to 1e-12. Given `anchors` the
    ground held before for this ledger, a statement whose HEAD has fewer entries than one of them
    (or the same count and another head) is a rollback.

    A statement cannot show that no entry was left out: `verify` on the full ledger does that.
    """
    keys = public_keys(keys)
    try:
        tenant, since_seq, body = decode_statement_transfer(data)
    except ProtocolError as exc:
        return StatementReport(None, None, problems=[f"not a readable statement: {exc}"])
    report = StatementReport(tenant, since_seq)
    base: tuple[Fraction, int, int] | None = (Fraction(0), 0, 0) if since_seq == 0 else None
    exact = since_seq == 0
    energy, units, tokens = Fraction(0), 0, 0
    last_seq = None
    closing: tuple[Entry, bytes] | None = None  # the tenant's authentic STATEMENT entry, if the last so far
    head: tuple[Entry, bytes, bytes | None] | None = None  # a HEAD last, and the STATEMENT octets before it
    records = list(split_records(body))
    for position, record in enumerate(records):
        report.records += 1
        ended, closing, head = closing, None, None
        try:
            entry_bytes = decode_record(record)
            e = decode_entry(entry_bytes, keys)
        except ProtocolError as exc:
            report.problems.append(f"record {position}: {exc}")
            continue
        where = f"record {position} (seq {e.seq})"
        if e.kind is Kind.HEAD:
            if position != len(records) - 1:
                report.problems.append(f"{where}: a HEAD before the end of the statement")
            else:
                head = (e, entry_bytes, ended[1] if ended is not None and ended[0].seq == e.seq - 1 else None)
            continue
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
            closing = (e, entry_bytes)
    _close(report, tenant, head, anchors)
    return report


def _close(report: StatementReport, tenant: int, head: tuple[Entry, bytes, bytes | None] | None,
           anchors: Sequence[Anchor]) -> None:
    """The end of a statement: the tenant's STATEMENT, then the HEAD that chains from it (whose
    anchor is the ledger's count and head when the statement was cut), no lower than the anchors
    held before."""
    if head is None or head[2] is None:
        report.problems.append(f"does not end with tenant {tenant}'s STATEMENT entry and the HEAD after it")
        return
    e, entry_bytes, statement_bytes = head
    if e.prev_hash != chain_hash(statement_bytes):
        report.problems.append(f"the closing HEAD (seq {e.seq}) does not chain from the STATEMENT before it")
        return
    last = report.entries[-1]
    report.totals = (last.energy_Wh, last.work_units, last.tokens)
    report.anchor = anchor_of(e, entry_bytes)
    for held in anchors:
        why = compare(held, report.anchor)
        if why is not None:
            report.problems.append(why)
