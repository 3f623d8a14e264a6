"""Checking a downlinked statement on the ground: its header, every record's CRC and MAC, that
every entry is the tenant's and in order, and that its totals add up.

A statement is a selection of the ledger, so it cannot show that nothing was left out; the proof of
the whole ledger (`gridfree.protocols.ledger.verify`) does that.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction

from gridfree.protocols.errors import ProtocolError
from gridfree.protocols.ledger.format import Entry, Kind, decode_entry, decode_record, split_records
from gridfree.protocols.ledger.statement import decode_statement_transfer


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
