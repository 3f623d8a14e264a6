"""`gridfree tokens verify LEDGER --key-file K`: prove a downlinked compute token ledger.
`gridfree tokens statement FILE --key-file K`: check a tenant's statement as downlinked on
`compute.Statement` (the PUS 13 transfer, reassembled).

The key file holds one key a line, ``key_id hexkey`` (decimal id, key in hex); blank lines and
lines starting with ``#`` are skipped. `verify` prints per-tenant totals over the authentic
entries, then OK, or the first problem of each kind with the sequence numbers involved.
`statement` prints the tenant's entries and the totals its STATEMENT entry carries, then OK, or
every problem found (a record whose CRC or MAC fails, an entry that is not the tenant's, totals
that the entries do not add up to).

Exit codes: 0 the ledger (statement) verifies; 1 it does not (or the file is not one); 2 usage
errors, an unreadable file or key file.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from gridfree.protocols.errors import ProtocolError
from gridfree.ground.tokens.statement import StatementReport, check_statement
from gridfree.protocols.ledger import MIN_KEY_OCTETS, parse_file
from gridfree.protocols.ledger.verify import VerifyReport, verify


class KeyFileError(ValueError):
    pass


def load_keys(path: str | Path) -> dict[int, bytes]:
    keys: dict[int, bytes] = {}
    for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        text = line.strip()
        if not text or text.startswith("#"):
            continue
        parts = text.split()
        where = f"{path}:{number}"
        if len(parts) != 2:
            raise KeyFileError(f"{where}: expected 'key_id hexkey', got {len(parts)} fields")
        try:
            key_id = int(parts[0], 10)
        except ValueError:
            raise KeyFileError(f"{where}: key id {parts[0]!r} is not a decimal integer") from None
        if not 0 <= key_id <= 0xFFFF:
            raise KeyFileError(f"{where}: key id {key_id} outside 0..65535")
        try:
            key = bytes.fromhex(parts[1])
        except ValueError:
            raise KeyFileError(f"{where}: key for id {key_id} is not hex") from None
        if len(key) < MIN_KEY_OCTETS:
            raise KeyFileError(f"{where}: key id {key_id} has {len(key)} octets; at least {MIN_KEY_OCTETS} needed")
        if key_id in keys:
            raise KeyFileError(f"{where}: key id {key_id} given twice")
        keys[key_id] = key
    if not keys:
        raise KeyFileError(f"{path}: no keys")
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


def _read(key_file: str, path: str) -> tuple[dict, bytes] | None:
    """The keys and the file to check, or None after saying on stderr which could not be read."""
    try:
        keys = load_keys(key_file)
    except OSError as exc:
        print(f"gridfree tokens: --key-file {key_file}: cannot read: {exc.strerror or exc}", file=sys.stderr)
        return None
    except UnicodeDecodeError:
        print(f"gridfree tokens: --key-file {key_file}: not a key file (not text); it holds lines "
              f"'key_id hexkey'", file=sys.stderr)
        return None
    except KeyFileError as exc:
        print(f"gridfree tokens: key file: {exc}", file=sys.stderr)
        return None
    try:
        return keys, Path(path).read_bytes()
    except OSError as exc:
        print(f"gridfree tokens: {path}: cannot read: {exc.strerror or exc}", file=sys.stderr)
        return None


def run_verify(a: argparse.Namespace) -> int:
    got = _read(a.key_file, a.ledger)
    if got is None:
        return 2
    keys, data = got
    try:
        ledger_id, records = parse_file(data)
    except ProtocolError as exc:
        print(f"{a.ledger}: not a readable ledger file: {exc}\nFAILED")
        return 1
    if a.ledger_id is not None and ledger_id != a.ledger_id:
        print(f"{a.ledger}: holds ledger {ledger_id!r}, not {a.ledger_id!r}\nFAILED")
        return 1
    report = verify(records, keys, ledger_id=ledger_id)
    print("\n".join(format_report(report)))
    return 0 if report.ok else 1


def format_statement(report: StatementReport) -> list[str]:
    lines = []
    if report.tenant is not None:
        lines.append(f"statement of tenant {report.tenant} from seq {report.since_seq}: {report.records} records, "
                     f"{len(report.entries)} authentic")
        lines.append(f"{'seq':>8} {'time_unix_s':>16} {'kind':<10} {'job':>10} {'energy_Wh':>14} {'work_units':>12} "
                     f"{'tokens':>12}")
        for e in report.entries:
            lines.append(f"{e.seq:>8} {e.t_s:>16.3f} {e.kind.name:<10} {e.job:>10} {e.energy_Wh:>14.6f} "
                         f"{e.work_units:>12} {e.tokens:>12}")
    if report.totals is not None:
        energy, units, tokens = report.totals
        checked = "checked" if report.totals_checked else "not checkable: no baseline in the statement"
        lines.append(f"totals: {energy:.6f} Wh, {units} work units, {tokens} tokens ({checked})")
    if report.ok:
        lines.append("OK")
    else:
        lines.append("FAILED")
        lines.extend(f"  {p}" for p in report.problems)
    return lines


def run_statement(a: argparse.Namespace) -> int:
    got = _read(a.key_file, a.statement)
    if got is None:
        return 2
    keys, data = got
    report = check_statement(data, keys)
    if a.tenant is not None and report.tenant is not None and report.tenant != a.tenant:
        report.problems.append(f"statement of tenant {report.tenant}, not {a.tenant}")
    print("\n".join(format_statement(report)))
    return 0 if report.ok else 1


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="gridfree tokens", description=command["help"])
    sub = parser.add_subparsers(dest="action", required=True)
    v = sub.add_parser("verify", help="check MACs, chain, sequence and times; print per-tenant totals",
                       description="Exit 0 if the ledger verifies, 1 if not, 2 on usage or I/O errors.")
    v.add_argument("ledger", help="ledger file as downlinked")
    v.add_argument("--key-file", required=True, help="lines 'key_id hexkey'")
    v.add_argument("--ledger-id", default=None, help="refuse a file that holds another ledger")
    s = sub.add_parser("statement", help="check a downlinked tenant statement: CRCs, MACs, totals; print its entries",
                       description="Exit 0 if the statement checks, 1 if not, 2 on usage or I/O errors.")
    s.add_argument("statement", help="statement transfer as downlinked (PUS 13, reassembled)")
    s.add_argument("--key-file", required=True, help="lines 'key_id hexkey'")
    s.add_argument("--tenant", type=int, default=None, help="refuse a statement of another tenant")
    try:
        a = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors, 0 on --help
        return int(exc.code or 0)
    return run_statement(a) if a.action == "statement" else run_verify(a)


command = {"help": "verify a downlinked compute token ledger or a tenant's statement", "run": run}
