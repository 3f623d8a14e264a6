"""The command audit on real files: every record acknowledged survives a kill -9 mid-append, a torn
tail is cut and counted, a damaged log is kept aside (never repaired, never overwritten) and the
node flies on, and what the ground gets from audit.Dump decodes to exactly what was recorded."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import pytest

from gridfree.flight.core.messages import CommandAudit, Origin
from gridfree.flight.core.services.audit import AuditComponent, AuditLog
from gridfree.flight.core.tester import ComponentTester
from gridfree.protocols.audit import (HEADER_OCTETS, RECORD_OCTETS, AuditFormatError, AuditRecord, decode_dump,
                                      encode_dump)
from gridfree.protocols.services.verification import FailureCode

T0 = 1_774_018_000.0
TENANT = Origin(0x101, "tenant", 1)
OPERATOR = Origin(1, "operator")


def audits(n: int, start: int = 0) -> list[CommandAudit]:
    return [CommandAudit(T0 + i, TENANT if i % 2 else OPERATOR, f"compute.Cancel{i}",
                         ("completed", "rejected", "failed")[i % 3], i % 3 and 15, f"reason {i} ✓")
            for i in range(start, start + n)]


def audit_tester(state_dir) -> ComponentTester:
    return ComponentTester(AuditComponent("audit", 0x00D0, state_dir=state_dir), t0=T0)


def recorded(path) -> list[AuditRecord]:
    data = path.read_bytes()
    return [AuditRecord.unpack(data, off) for off in range(HEADER_OCTETS, len(data) - RECORD_OCTETS + 1,
                                                               RECORD_OCTETS)]


def same(record: AuditRecord, audit: CommandAudit) -> bool:
    o = audit.origin
    return (record.time_s, record.spi, record.role, record.tenant, record.name, record.outcome, record.code,
            record.reason) == (audit.time_s, o.spi, o.role, o.tenant, audit.name, audit.outcome, audit.code,
                               audit.reason)


def test_records_survive_a_restart_and_come_down_whole_through_dump(tmp_path):
    t = audit_tester(tmp_path)
    sent = audits(5)
    for a in sent:
        t.send("recordIn", a)
    t.stop()
    t = audit_tester(tmp_path)  # a reboot: the log goes on numbering
    more = audits(3, start=5)
    for a in more:
        t.send("recordIn", a)
    t.run("slow", T0 + 1)
    assert t.tlm("AuditRecords") == 8 and t.tlm("AuditTornTails") == 0
    assert t.command("Dump", since_record=2).ok
    (dump,) = t.sent("downlinkOut")
    records = decode_dump(dump.data)
    assert [r.seq for r in records] == list(range(2, 8))
    assert all(same(r, a) for r, a in zip(records, (sent + more)[2:]))
    assert t.events("DumpQueued") == [{"first": 2, "last": 7, "transaction": 1}]


def test_a_dump_asks_for_records_the_log_holds(tmp_path):
    t = audit_tester(tmp_path)
    empty = t.command("Dump", since_record=0)
    assert (empty.ok, empty.code, "the log is empty" in empty.reason) == (False, FailureCode.BAD_ARGUMENT, True)
    t.send("recordIn", audits(1)[0])
    beyond = t.command("Dump", since_record=1)
    assert (beyond.ok, "holds 0..0" in beyond.reason) == (False, True)
    assert t.sent("downlinkOut") == []


def test_a_torn_tail_is_cut_and_counted(tmp_path):
    t = audit_tester(tmp_path)
    for a in audits(3):
        t.send("recordIn", a)
    t.stop()
    log = tmp_path / "audit.log"
    whole = log.read_bytes()
    log.write_bytes(whole[:-100])  # the third record's write interrupted
    t = audit_tester(tmp_path)
    assert t.tlm("AuditTornTails") == 1 and t.events("TornTailCut") == [{"octets": RECORD_OCTETS - 100}]
    assert t.tlm("AuditRecords") == 2
    t.send("recordIn", audits(1, start=9)[0])  # the next record takes the number the torn one never got
    assert [r.seq for r in recorded(log)] == [0, 1, 2] and recorded(log)[2].name == "compute.Cancel9"

    t.stop()
    data = bytearray(log.read_bytes())
    data[-10] ^= 0xFF  # the last record whole in length but not in content (a torn write after power loss)
    log.write_bytes(bytes(data))
    t = audit_tester(tmp_path)
    assert t.tlm("AuditTornTails") == 1 and t.tlm("AuditRecords") == 2
    assert len(log.read_bytes()) == HEADER_OCTETS + 2 * RECORD_OCTETS


@pytest.mark.parametrize("damage", ["middle record", "header"])
def test_a_damaged_log_is_kept_aside_and_a_new_one_numbers_on(tmp_path, damage):
    t = audit_tester(tmp_path)
    for a in audits(4):
        t.send("recordIn", a)
    t.stop()
    log = tmp_path / "audit.log"
    original = bytearray(log.read_bytes())
    original[HEADER_OCTETS + RECORD_OCTETS + 20 if damage == "middle record" else 2] ^= 0x01
    log.write_bytes(bytes(original))
    t = audit_tester(tmp_path)
    assert (tmp_path / "audit.log.damaged-1").read_bytes() == bytes(original)  # kept as found, for the ground
    (event,) = t.events("LogSetAside")
    assert event["kept"] == "audit.log.damaged-1" and event["first"] == 4
    assert t.tlm("AuditLogsSetAside") == 1
    t.send("recordIn", audits(1)[0])
    assert [r.seq for r in recorded(log)] == [4]  # no number is ever used twice
    t.stop()
    log.write_bytes(b"not an audit log at all")  # damaged again: the first copy set aside is not overwritten
    audit_tester(tmp_path)
    assert (tmp_path / "audit.log.damaged-1").read_bytes() == bytes(original)
    assert (tmp_path / "audit.log.damaged-2").read_bytes() == b"not an audit log at all"


def test_a_log_that_cannot_be_written_costs_records_not_the_node(tmp_path):
    (tmp_path / "audit.log").mkdir()  # in the way of the log file
    t = audit_tester(tmp_path)
    t.send("recordIn", audits(1)[0])
    t.send("recordIn", audits(1)[0])
    t.run("slow", T0 + 1)
    assert t.tlm("AuditRecordsLost") == 2
    (event,) = t.events("RecordsLost")
    assert event["count"] == 2 and "not open" in event["reason"]
    assert not t.command("Dump", since_record=0).ok


def test_every_acknowledged_record_survives_sigkill_mid_append(tmp_path):
    """A writer appends as fast as it can and says which records `append` returned for; it is killed
    at an arbitrary instant, three times over, each time mid-stream."""
    writer = textwrap.dedent(f"""
        import sys
        from gridfree.flight.core.messages import CommandAudit, Origin
        from gridfree.flight.core.services.audit import AuditLog
        log = AuditLog(sys.argv[1]).open()
        print("torn", log.torn_octets, flush=True)
        while True:
            seq = log.append(CommandAudit({T0} + log.next_seq, Origin(1, "operator"), "node.Reboot", "completed",
                                          0, "x" * (log.next_seq % 180)))
            print(seq, flush=True)
    """)
    path = tmp_path / "audit.log"
    acknowledged: list[int] = []
    for _ in range(3):
        child = subprocess.Popen([sys.executable, "-c", writer, str(path)], stdout=subprocess.PIPE, text=True)
        assert child.stdout.readline().startswith("torn ")
        while len(acknowledged) < 50 * (_ + 1):
            acknowledged.append(int(child.stdout.readline()))
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        acknowledged += [int(line) for line in child.stdout.read().split()]  # printed before the kill landed
        child.stdout.close()
        log = AuditLog(path).open()
        assert log.set_aside is None and log.next_seq >= acknowledged[-1] + 1
        log.close()
    records = recorded(path)
    assert [r.seq for r in records] == list(range(len(records)))
    held = {r.seq: r for r in records}
    assert all(held[s].reason == "x" * (s % 180) and held[s].time_s == T0 + s for s in acknowledged)


def test_the_ground_decoder_refuses_what_is_not_an_audit():
    records = b"".join(AuditRecord(i, T0, 1, "operator", 0, "cmdDisp.Noop", "completed").pack() for i in range(3))
    dump = bytearray(encode_dump(records))
    assert [r.seq for r in decode_dump(bytes(dump))] == [0, 1, 2]
    dump[HEADER_OCTETS + RECORD_OCTETS + 7] ^= 0x40
    with pytest.raises(AuditFormatError, match="CRC-32"):
        decode_dump(bytes(dump))
    with pytest.raises(AuditFormatError, match="counts 3 records"):
        decode_dump(encode_dump(records)[:-1])
    with pytest.raises(AuditFormatError, match="header"):
        decode_dump(b"GFAD")
    assert AuditRecord(0, T0, 0, "onboard", 0, "node.Reboot", "completed").text().startswith("#0 ")


def test_the_dispatchers_verdicts_land_in_the_log_with_who_sent_them(tmp_path):
    from gridfree.flight.core.dispatch import Dispatcher
    from gridfree.protocols.pus import PusTc

    audit = audit_tester(tmp_path)
    disp = Dispatcher("cmdDisp", 0x0010)
    d = ComponentTester(disp, t0=T0, apid=100)
    disp.route([disp])
    d.answer("auditOut", lambda a: audit.send("recordIn", a))
    noop = PusTc(100, 8, 1, (0x0011).to_bytes(2, "big")).pack()
    disp.execute(noop, OPERATOR)
    disp.execute(noop, TENANT)
    disp.execute(b"\x18\x64\xc0", OPERATOR)  # three octets: not a packet
    got = recorded(tmp_path / "audit.log")
    assert [(r.name, r.outcome, r.role, r.spi, r.tenant) for r in got] == [
        ("cmdDisp.Noop", "completed", "operator", 1, 0), ("cmdDisp.Noop", "rejected", "tenant", 0x101, 1),
        ("TC packet", "rejected", "operator", 1, 0)]
    assert got[1].code == FailureCode.NOT_AUTHORISED and "operator role" in got[1].reason
