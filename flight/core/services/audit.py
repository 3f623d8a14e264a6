"""The command audit: every command the node refused, completed or failed, and every uplinked frame
the security component refused, in a crash-safe append-only log the ground can downlink.

The log (``state_dir/audit.log``, format in protocols/audit.py) holds fixed-size records with a
CRC-32 each. A record is written whole and fsynced before `recordIn` returns, so a record that was
acknowledged survives a kill -9 or a power cut. At open, a torn tail (a part-written record, or
whole records at the end whose CRC fails: the write a crash interrupted) is cut off and counted;
a file that is damaged anywhere else (its header, or a bad record followed by good ones) is never
repaired or overwritten: it is kept aside as ``audit.log.damaged-<n>`` for the ground, and a new
log starts, numbering on from the records the damaged one held, so no number is ever reused.
Nothing here stops the node: a log that cannot be written costs the records (counted, and an
event says why), never a command.

`recordIn` is called from the dispatcher (scheduler thread) and the security component (the
radio's reader thread), so the log is locked; telemetry and events go out on the slow tick only.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

from gridfree.flight.core.component import CommandFailed, Component
from gridfree.flight.core.messages import CommandAudit, LargeDataDownlink
from gridfree.flight.core.ports import InPort, OutPort
from gridfree.flight.core.store import fsync_directory, replace_durably
from gridfree.protocols.audit import (HEADER_OCTETS, MAX_SEQ, RECORD_OCTETS, AuditFormatError, AuditRecord,
                                      encode_dump, pack_file_header, unpack_file_header)
from gridfree.protocols.dictionary import Channel, Command, Event, Field, HousekeepingPacket, Severity
from gridfree.protocols.services.verification import FailureCode

MAX_DUMP_RECORDS = 4096  # 1 MiB per dump: the ground asks again from the next record


class AuditLog:
    """The append-only file. `open` repairs what a crash can do and sets aside what it cannot."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        self.first_seq = 0
        self.next_seq = 0
        self.torn_octets = 0  # cut from the end at open
        self.set_aside: tuple[Path, str] | None = None  # (where, why) if the file found was damaged
        self._fd: int | None = None

    @property
    def count(self) -> int:
        return self.next_seq - self.first_seq

    def open(self) -> "AuditLog":
        """Open (or create) the log; OSError only if the directory cannot be written at all."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        first = 0
        if self.path.exists():
            data = self.path.read_bytes()
            try:
                first, good, torn = self._scan(data)
            except AuditFormatError as exc:
                first = _next_seq_after(data)
                self.set_aside = (self._put_aside(), str(exc))
            else:
                self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND)
                if torn:
                    os.ftruncate(self._fd, HEADER_OCTETS + good * RECORD_OCTETS)
                    os.fsync(self._fd)
                    self.torn_octets = torn
                self.first_seq, self.next_seq = first, first + good
                return self
        replace_durably(self.path, pack_file_header(first))  # a header is never torn: written aside, renamed
        self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND)
        self.first_seq = self.next_seq = first
        return self

    @staticmethod
    def _scan(data: bytes) -> tuple[int, int, int]:
        """(first seq, good records, torn octets at the end); AuditFormatError if damaged
        elsewhere than at the end."""
        first = unpack_file_header(data)
        whole = (len(data) - HEADER_OCTETS) // RECORD_OCTETS
        good = 0
        for i in range(whole):
            if _record_ok(data, i, first + i):
                if good < i:
                    raise AuditFormatError(f"record {first + good} damaged, record {first + i} after it is good")
                good += 1
        return first, good, len(data) - HEADER_OCTETS - good * RECORD_OCTETS

    def _put_aside(self) -> Path:
        n = 1
        while (aside := self.path.with_name(f"{self.path.name}.damaged-{n}")).exists():
            n += 1
        os.replace(self.path, aside)
        fsync_directory(self.path.parent)
        return aside

    def append(self, audit: CommandAudit) -> int:
        """Write one record whole and fsync it; its number. OSError (nothing half-kept) if not."""
        if self._fd is None:
            raise OSError("the audit log is not open")
        if self.next_seq > MAX_SEQ:
            raise OSError(f"the audit log has numbered {MAX_SEQ + 1} records; no number is left")
        o = audit.origin
        record = AuditRecord(self.next_seq, audit.time_s, o.spi, o.role, o.tenant, audit.name, audit.outcome,
                             audit.code, audit.reason).pack()
        try:
            view = memoryview(record)
            while view:
                view = view[os.write(self._fd, view):]
            os.fsync(self._fd)
        except OSError:
            try:  # a part-written record would be cut at the next open anyway; cut it now
                os.ftruncate(self._fd, HEADER_OCTETS + self.count * RECORD_OCTETS)
            except OSError:
                pass
            raise
        self.next_seq += 1
        return self.next_seq - 1

    def read(self, since_seq: int, max_records: int) -> bytes:
        """The octets of up to `max_records` records from number `since_seq` (within the log)."""
        start = max(since_seq, self.first_seq)
        n = max(0, min(max_records, self.next_seq - start))
        return os.pread(self._fd, n * RECORD_OCTETS, HEADER_OCTETS + (start - self.first_seq) * RECORD_OCTETS)

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


def _record_ok(data: bytes, index: int, seq: int) -> bool:
    try:
        return AuditRecord.unpack(data, HEADER_OCTETS + index * RECORD_OCTETS).seq == seq
    except AuditFormatError:
        return False


def _next_seq_after(data: bytes) -> int:
    """The number a new log starts at after a damaged one: past every record it still holds."""
    last = -1
    for offset in range(HEADER_OCTETS, len(data) - RECORD_OCTETS + 1, RECORD_OCTETS):
        try:
            last = max(last, AuditRecord.unpack(data, offset).seq)
        except AuditFormatError:
            continue
    return min(last + 1, MAX_SEQ)


class AuditComponent(Component):
    channels = (
        Channel(1, "AuditRecords", "u32", description="Records numbered in the command audit (since the first log)"),
        Channel(2, "AuditTornTails", "u16", description="Torn records cut from the audit log's end at boot (a crash "
                                                        "during an append)"),
        Channel(3, "AuditRecordsLost", "u32", description="Audit records that could not be written since boot"),
        Channel(4, "AuditLogsSetAside", "u16", description="Damaged audit logs kept aside since boot"),
    )
    housekeeping = (HousekeepingPacket(1, "Status", ("AuditRecords", "AuditTornTails", "AuditRecordsLost",
                                                     "AuditLogsSetAside"), 10.0, "Command audit"),)
    commands = (
        Command("Dump", opcode=0x01, arguments=(Field("since_record", "u32", description="first record to send"),),
                description=f"Downlink audit records from this number (at most {MAX_DUMP_RECORDS}) through PUS 13"),
    )
    events = (
        Event(1, "LogSetAside", Severity.WARNING_HI, "audit log damaged ({reason}); kept as {kept}, a new log "
              "starts at record {first}", (Field("reason", "string[80]"), Field("kept", "string[40]"),
                                          Field("first", "u32"))),
        Event(2, "TornTailCut", Severity.WARNING_LO, "audit log: {octets} octets of a torn record cut from its end",
              (Field("octets", "u32", "B"),)),
        Event(3, "RecordsLost", Severity.WARNING_HI, "{count} audit records not written: {reason}",
              (Field("count", "u32"), Field("reason", "string[80]"))),
        Event(4, "DumpQueued", Severity.ACTIVITY_LO, "audit records {first}..{last} queued, transfer {transaction}",
              (Field("first", "u32"), Field("last", "u32"), Field("transaction", "u16"))),
    )
    ports = (
        InPort("recordIn", CommandAudit, "a command's fate (dispatcher), a refused frame (security)"),
        OutPort("downlinkOut", LargeDataDownlink, "audit dumps down (PUS 13)", returns=int),
    )

    def __init__(self, name: str, id_base: int, *, state_dir: str | os.PathLike):
        super().__init__(name, id_base)
        self.log_file = AuditLog(Path(state_dir) / "audit.log")
        self._lock = threading.Lock()
        self.torn_tails = self.set_aside = 0
        self.lost = self._lost_unreported = 0
        self._lost_reason = ""

    def attach(self, ctx) -> None:
        super().attach(ctx)
        try:
            self.log_file.open()
        except OSError as exc:  # no log: every record is lost and counted, the node flies on
            self._lost_reason = f"log unusable: {exc}"
        if self.log_file.set_aside is not None:
            where, why = self.log_file.set_aside
            self.set_aside += 1
            self.log("LogSetAside", reason=why, kept=where.name, first=self.log_file.first_seq)
        if self.log_file.torn_octets:
            self.torn_tails += 1
            self.log("TornTailCut", octets=self.log_file.torn_octets)
        self.tick()

    def recordIn_handler(self, audit: CommandAudit) -> None:  # noqa: N802
        with self._lock:
            try:
                self.log_file.append(audit)
            except (OSError, ValueError) as exc:
                self.lost += 1
                self._lost_unreported += 1
                self._lost_reason = f"{type(exc).__name__}: {exc}"

    def schedule(self):
        return {"slow": [self.tick]}

    def tick(self, _t: float = 0.0) -> None:
        with self._lock:
            records, lost, unreported = self.log_file.next_seq, self.lost, self._lost_unreported
            self._lost_unreported = 0
        if unreported:
            self.log("RecordsLost", count=unreported, reason=self._lost_reason)
        self.tlm("AuditRecords", records)
        self.tlm("AuditTornTails", self.torn_tails)
        self.tlm("AuditRecordsLost", lost)
        self.tlm("AuditLogsSetAside", self.set_aside)

    def cmd_Dump(self, since_record: int) -> None:
        with self._lock:
            f = self.log_file
            if since_record >= f.next_seq or not f.count:
                holds = f"holds {f.first_seq}..{f.next_seq - 1}" if f.count else "is empty"
                raise CommandFailed(FailureCode.BAD_ARGUMENT, f"no audit record {since_record}: the log {holds}")
            try:
                records = f.read(since_record, MAX_DUMP_RECORDS)
            except OSError as exc:
                raise CommandFailed(FailureCode.EXECUTION_ERROR, f"audit log unreadable: {exc}") from None
        first = max(since_record, f.first_seq)
        tid = self.out("downlinkOut", LargeDataDownlink(encode_dump(records)))
        self.log("DumpQueued", first=first, last=first + len(records) // RECORD_OCTETS - 1, transaction=tid)

    def stop(self) -> None:
        with self._lock:
            self.log_file.close()
