"""`gridfree tokens verify LEDGER --public-key PEM [--anchor COUNT:HEADHASH]`: prove a downlinked
compute token ledger. `gridfree tokens statement FILE --public-key PEM [--anchor ...]`: check a
tenant's statement as downlinked on `compute.Statement` (the PUS 13 transfer, reassembled).

Both need only the node's Ed25519 public key (ledger-public.pem, as `gridfree keys init` writes
it; give --public-key again for keys the node used before a rotation), never anything that could
sign. `verify` prints per-tenant totals over the authentic entries, then OK, or the first problem
of each kind with the sequence numbers involved. `statement` prints the tenant's entries and the
totals its STATEMENT entry carries, then OK, or every problem found (a record whose CRC or
signature fails, an entry that is not the tenant's, totals that the entries do not add up to, a
missing closing HEAD). Both print the ledger's anchor (``anchor COUNT:HEADHASH``): keep the latest
and give it back with --anchor, and a ledger cut short or a statement from a rolled-back ledger
fails.

Exit codes: 0 the ledger (statement) verifies; 1 it does not (or the file is not one); 2 usage
errors, an unreadable file or key file, an anchor that is not COUNT:HEADHASH.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from gridfree.ground.tokens.statement import StatementReport, check_statement
from gridfree.protocols.errors import ProtocolError
from gridfree.protocols.ledger import MAX_PEM_OCTETS, Anchor, key_ring, parse_file, public_key_from_pem
from gridfree.protocols.ledger.verify import VerifyReport, verify


def load_public_keys(paths: list[str]) -> list[Ed25519PublicKey]:
    """The Ed25519 public keys in PEM files; ValueError (one line naming the file) if one is not."""
    keys = []
    for path in paths:
        with open(path, "rb") as f:
            data = f.read(MAX_PEM_OCTETS + 1)
        keys.append(public_key_from_pem(data, f"--public-key {path}"))
    return keys


def format_report(report: VerifyReport) -> list[str]:
    span = f"seq 0..{report.head_seq}" if report.head_seq is not None else "no entries"
    lines = [f"ledger {report.ledger_id!r}: {report.records} records, {report.entries_ok} authentic entries "
             f"({span})"]
    if report.tenants:
        lines.append(f"{'tenant':>6} {'energy_Wh':>14} {'work_units':>12} {'tokens':>12} {'quota':>12} "
                     f"{'quota_left':>12}")
        for tenant, t in sorted(report.tenants.items()):
            quota = "-" if t.quota is None else str(t.quota)
            left = "-" if t.quota_left is None else str(t.quota_left)
            lines.append(f"{tenant:>6} {t.energy_Wh:>14.6f} {t.work_units:>12} {t.tokens:>12} {quota:>12} {left:>12}")
    if report.anchor is not None:
        lines.append(f"anchor {report.anchor}")
    if report.ok:
        lines.append("OK")
    else:
        lines.append("FAILED: first problem of each kind, in file order"
                     + (" (the totals count only entries that verify)"
                        if report.tenants else ""))
        for p in report.first_problems():
            n = report.counts.get(p.kind, 1)
            lines.append(f"  {p}" + (f" [{n} in all]" if n > 1 else ""))
    return lines


def _read(a: argparse.Namespace, path: str) -> tuple[dict, list[Anchor], bytes] | None:
    """The key ring, the anchors held and the file to check, or None after saying on stderr what
    could not be read."""
    try:
        keys = key_ring(load_public_keys(a.public_key))
    except OSError as exc:
        print(f"gridfree tokens: --public-key {exc.filename}: cannot read: {exc.strerror or exc}", file=sys.stderr)
        return None
    except ValueError as exc:
        print(f"gridfree tokens: {exc}", file=sys.stderr)
        return None
    try:
        anchors = [Anchor.parse(text) for text in a.anchor]
    except ValueError as exc:
        print(f"gridfree tokens: --anchor: {exc}", file=sys.stderr)
        return None
    try:
        return keys, anchors, Path(path).read_bytes()
    except OSError as exc:
        print(f"gridfree tokens: {path}: cannot read: {exc.strerror or exc}", file=sys.stderr)
        return None


def run_verify(a: argparse.Namespace) -> int:
    got = _read(a, a.ledger)
    if got is None:
        return 2
    keys, anchors, data = got
    try:
        ledger_id, records = parse_file(data)
    except ProtocolError as exc:
        print(f"{a.ledger}: not a readable ledger file: {exc}\nFAILED")
        return 1
    if a.ledger_id is not None and ledger_id != a.ledger_id:
        print(f"{a.ledger}: holds ledger {ledger_id!r}, not {a.ledger_id!r}\nFAILED")
        return 1
    report = verify(records, keys, ledger_id=ledger_id, anchors=anchors)
    print("\n".join(format_report(report)))
    return 0 if report.ok else 1


def format_statement(report: StatementReport) -> list[str]:
    lines = []
    if report.tenant is not None:
        head = report.anchor is not None  # the closing HEAD checked and chains from the STATEMENT
        lines.append(f"statement of tenant {report.tenant} from seq {report.since_seq}: {report.records} records, "
                     f"{len(report.entries) + head} authentic")
        lines.append(f"{'seq':>8} {'time_unix_s':>16} {'kind':<10} {'job':>10} {'energy_Wh':>14} {'work_units':>12} "
                     f"{'tokens':>12}")
        for e in report.entries:
            lines.append(f"{e.seq:>8} {e.t_s:>16.3f} {e.kind.name:<10} {e.job:>10} {e.energy_Wh:>14.6f} "
                         f"{e.work_units:>12} {e.tokens:>12}")
    if report.totals is not None:
        energy, units, tokens = report.totals
        checked = "checked" if report.totals_checked else "not checkable: no baseline in the statement"
        lines.append(f"totals: {energy:.6f} Wh, {units} work units, {tokens} tokens ({checked})")
    if report.anchor is not None:
        lines.append(f"anchor {report.anchor}")
    if report.ok:
        lines.append("OK")
    else:
        lines.append("FAILED")
        lines.extend(f"  {p}" for p in report.problems)
    return lines


def run_statement(a: argparse.Namespace) -> int:
    got = _read(a, a.statement)
    if got is None:
        return 2
    keys, anchors, data = got
    report = check_statement(data, keys, anchors)
    if a.tenant is not None and report.tenant is not None and report.tenant != a.tenant:
        report.problems.append(f"statement of tenant {report.tenant}, not {a.tenant}")
    print("\n".join(format_statement(report)))
    return 0 if report.ok else 1


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="gridfree tokens", description=command["help"])
    sub = parser.add_subparsers(dest="action", required=True)
    v = sub.add_parser("verify", help="check signatures, chain, sequence, times and anchors; print per-tenant totals",
                       description="Exit 0 if the ledger verifies, 1 if not, 2 on usage or I/O errors.")
    v.add_argument("ledger", help="ledger file as downlinked")
    _key_arguments(v)
    v.add_argument("--ledger-id", default=None, help="refuse a file that holds another ledger")
    s = sub.add_parser("statement", help="check a downlinked tenant statement: CRCs, signatures, totals; print its "
                       "entries",
                       description="Exit 0 if the statement checks, 1 if not, 2 on usage or I/O errors.")
    s.add_argument("statement", help="statement transfer as downlinked (PUS 13, reassembled)")
    _key_arguments(s)
    s.add_argument("--tenant", type=int, default=None, help="refuse a statement of another tenant")
    try:
        a = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    return run_statement(a) if a.action == "statement" else run_verify(a)


def _key_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--public-key", required=True, action="append", metavar="PEM",
                   help="the node's Ed25519 public key (ledger-public.pem); again for earlier keys")
    p.add_argument("--anchor", action="append", default=[], metavar="COUNT:HEADHASH",
                   help="the latest anchor held for this ledger (printed by an earlier verify or statement)")


command = {"help": "verify a downlinked compute token ledger or a tenant's statement", "run": run}
