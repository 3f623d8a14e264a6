"""The ledger file on disk: created atomically, opened under an exclusive lock, read back, and
salvaged when it cannot be proved (cut back to its longest prefix that verifies). `TokenLedger`
(ledger.py) keeps the accounts and the chain and decides what is written; this module only
moves the octets.
"""
from __future__ import annotations

import fcntl
import os
from dataclasses import dataclass
from pathlib import Path

from gridfree.flight.core.store import fsync_directory
from gridfree.protocols.errors import ProtocolError
from gridfree.protocols.ledger import HEADER_OCTETS, RECORD_OCTETS, KeyRing, decode_header, encode_header, split_records
from gridfree.protocols.ledger.verify import VerifyReport, verify


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


def create_if_missing(path: Path, ledger_id: str) -> None:
    """Header written to a temporary file, fsynced, then linked into place: a crash leaves either
    no ledger or a whole header, never half of one."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        write_all(fd, encode_header(ledger_id), 0)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # unlike rename, never replaces a ledger created meanwhile
    except FileExistsError:
        pass
    finally:
        os.unlink(tmp)
    fsync_directory(path.parent)


def open_locked(path: Path) -> int:
    """The file open read-write under an exclusive flock: one writer per ledger."""
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise RuntimeError(f"{path}: ledger is open in another TokenLedger") from None
    return fd


def read_records(fd: int, path: Path, ledger_id: str) -> bytes:
    """The records after a header that decodes and names this ledger; LedgerDamaged if not."""
    data = os.pread(fd, os.fstat(fd).st_size, 0)
    try:
        file_id = decode_header(data)
    except ProtocolError as exc:
        raise LedgerDamaged(path, None, f"not a readable ledger header: {exc}") from None
    if file_id != ledger_id:
        raise LedgerDamaged(path, None, f"holds ledger {file_id!r}, not {ledger_id!r}")
    return data[HEADER_OCTETS:]


def salvage(fd: int, path: Path, ledger_id: str, keys: KeyRing, damage: LedgerDamaged) -> Salvage:
    """Keep the damaged file whole beside the ledger, then replace the ledger by its longest
    prefix that verifies (after a header of this ledger). A crash part way leaves the damaged
    file in place, to be salvaged again at the next open."""
    data = os.pread(fd, os.fstat(fd).st_size, 0)
    records = data[HEADER_OCTETS:]  # under a damaged header too: entry 0's genesis proves whose they are
    keep = len(records) // RECORD_OCTETS
    while keep:
        report = verify(split_records(records[:keep * RECORD_OCTETS]), keys, ledger_id=ledger_id)
        if report.ok:
            break
        keep = min(keep - 1, min(p.position for p in report.problems.values()))
    n = 0
    while (copy := path.with_name(f"{path.name}.damaged-{n}")).exists():
        n += 1
    os.link(path, copy)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.salvage")
    out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        write_all(out, encode_header(ledger_id) + records[:keep * RECORD_OCTETS], 0)
        os.fsync(out)
    finally:
        os.close(out)
    os.replace(tmp, path)
    fsync_directory(path.parent)
    lost = -(-max(0, len(data) - HEADER_OCTETS) // RECORD_OCTETS) - keep
    return Salvage(copy, keep, lost, str(damage))


def write_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        n = os.pwrite(fd, view, offset)
        view, offset = view[n:], offset + n

