"""The ground's own audit of what it sent: which operator account, through which SA, what command.

The node keeps an audit of what it received; the ground keeps one of what it sent, so that a
command on board can be traced to the person and the key that sent it, and a command that never
arrived can be shown to have left. One JSON object per line in KEYDIR/audit.jsonl, appended and
fsynced before the command's bytes go on the link (a crash after the write loses no line; a
crash between the line and the link leaves a "sent" line without outcome, which is the truth as
far as the ground can know it). PUS 1 reports about an audited command add outcome lines.

Lines (all times UTC, ISO 8601 with milliseconds):
    {"kind": "sent", "time_utc", "operator", "spi", "role", "sa", "command", "args", "request"}
    {"kind": "outcome", "time_utc", "request", "command", "stage", "ok", "code", "reason"}
    {"kind": "not sent", "time_utc", "request", "command", "reason"}   (the link dropped it)
`request` is "APID/sequence count", the PUS 1 request id the node's reports quote; `spi` and
`role` are null on an unauthenticated (insecure) link. Bytes arguments are written in hex.
"""
from __future__ import annotations

import enum
import getpass
import json
import os
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from gridfree.protocols.services.verification import RequestId, VerificationReport

AUDIT_FILE = "audit.jsonl"


class AuditError(OSError):
    """The audit file cannot be opened or written: nothing may be sent unaudited."""


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def request_text(request: RequestId | None) -> str | None:
    return None if request is None else f"{request.apid}/{request.seq_count}"


def _json_value(value: Any) -> Any:
    """Arguments as JSON can hold them: bytes in hex, enums by name, anything else as text."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value).hex()
    if isinstance(value, enum.Enum):
        return value.name
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    if hasattr(value, "request") and hasattr(value, "name"):  # a CommandHandle (schedule.Delete names them)
        return {"command": value.name, "request": request_text(value.request)}
    return str(value)


def operator_account() -> str:
    """The operating-system account of whoever runs this ground process."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER: still say who, as a uid
        return f"uid {os.getuid()}"


class GroundAudit:
    """Append-only audit lines in one file, each flushed and fsynced before `sent` returns."""

    def __init__(self, path: str | os.PathLike, *, spi: int | None, role: str | None, sa: str):
        self.path = Path(path)
        self.spi, self.role, self.sa = spi, role, sa
        self.operator = operator_account()
        self.lines = 0
        self.commands = 0  # "sent" lines written by this object
        self._lock = threading.Lock()
        self._append(b"")  # a key directory the audit cannot be written in is known before any send

    @classmethod
    def for_security(cls, security: Any) -> "GroundAudit":
        """The audit in the key directory of `security` (a GroundSecurity), naming its TC SA."""
        return cls(Path(security.keydir) / AUDIT_FILE, spi=security.tc_sa.spi, role=sa_role(security),
                   sa=security.origin_text)

    def _write(self, record: dict) -> None:
        line = json.dumps(record, default=_json_value, separators=(",", ":"), ensure_ascii=False) + "\n"
        with self._lock:
            self._append(line.encode("utf-8"))
            self.lines += 1

    def _append(self, data: bytes) -> None:
        """One write with O_APPEND (a line is never interleaved with another process's), then
        fsync; the file is opened for each line, so there is nothing to close and nothing a
        client that is closed and reconnected could find shut."""
        try:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                if data:
                    os.write(fd, data)
                    os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as exc:
            raise AuditError(f"cannot write the ground audit {self.path}: {exc.strerror or exc}") from None

    def sent(self, name: str, args: dict, request: RequestId | None) -> None:
        """A command about to go on the link (called before its bytes are written)."""
        self._write({"kind": "sent", "time_utc": utc_now(), "operator": self.operator, "spi": self.spi,
                     "role": self.role, "sa": self.sa, "command": name, "args": args,
                     "request": request_text(request)})
        self.commands += 1

    def outcome(self, name: str, report: VerificationReport) -> None:
        """A PUS 1 report about a command this audit saw sent."""
        ok = not report.subtype.failed
        self._write({"kind": "outcome", "time_utc": utc_now(), "request": request_text(report.request),
                     "command": name, "stage": report.subtype.stage, "ok": ok,
                     "code": None if ok else int(report.failure or 0),
                     "reason": "" if ok else report.failure_data.decode(errors="replace")})

    def not_sent(self, name: str, request: RequestId | None, reason: str) -> None:
        self._write({"kind": "not sent", "time_utc": utc_now(), "request": request_text(request),
                     "command": name, "reason": reason})


def sa_role(security: Any) -> str:
    """The role of the SA a GroundSecurity sends through ("operator", "tenant 3"), from its
    `role` if it has one, else from its origin text ("operator, SPI 1")."""
    role = getattr(security, "role", None)
    if isinstance(role, str) and role:
        tenant = getattr(security, "tenant", 0)
        return f"{role} {tenant}" if role == "tenant" and tenant else role
    return str(security.origin_text).split(",")[0].strip()


def read_audit(path: str | os.PathLike) -> list[dict]:
    """Every line of an audit file, parsed (a torn last line, from a crash mid-write, is left out)."""
    out = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        try:
            out.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return out
