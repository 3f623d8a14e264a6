"""TokenLedger: quotas, refunds, statements, reopening, torn tails, fsync on every append."""
from __future__ import annotations

import errno
import os

import pytest

from gridfree.flight.compute.ledger import ClockWentBackwards, LedgerDamaged, QuotaExceeded, TokenLedger
from gridfree.protocols import ledger as L
from gridfree.protocols.ledger.verify import ProblemKind as P, VerifyReport, verify
from tests.tokens.conftest import (
    KEY, KEYS, LEDGER_ID, OTHER_KEY, PUBLIC, SAMPLE_ENTRIES, SAMPLE_TOTALS, TARIFF, read_ledger, with_fixed_crc,
    write_sample,
)


def open_ledger(path, **kw) -> TokenLedger:
    return TokenLedger(path, KEY, LEDGER_ID, tariff=TARIFF, **kw)


def verify_file(path, keys=KEYS) -> VerifyReport:
    ledger_id, records = L.parse_file(path.read_bytes())
    return verify(records, keys, ledger_id=ledger_id)


def test_a_tenant_without_a_quota_can_be_charged_nothing(tmp_path):
    path = tmp_path / "l.gftl"
    with open_ledger(path) as ledger:
        size = path.stat().st_size
        assert ledger.would_exceed(3, 1) and not ledger.would_exceed(3, 0)
        with pytest.raises(QuotaExceeded, match="tenant 3: charging 10 tokens would exceed its quota \\(no quota"):
            ledger.charge(3, 1, 1.0, 0, 5.0)
        assert (path.stat().st_size, ledger.next_seq, ledger.used(3)) == (size, 0, 0)


def test_charges_stop_at_the_quota_and_refunds_make_room(tmp_path):
    path = tmp_path / "l.gftl"
    with open_ledger(path) as ledger:
        ledger.set_quota(1, 100, 1.0)
        assert ledger.charge(1, 1, 9.0, 5, 2.0) == 95
        assert not ledger.would_exceed(1, 5) and ledger.would_exceed(1, 6)
        size = path.stat().st_size
        with pytest.raises(QuotaExceeded) as info:
            ledger.charge(1, 2, 0.0, 6, 3.0)
        assert (info.value.tenant, info.value.tokens, info.value.quota, info.value.quota_left) == (1, 6, 100, 5)
        assert path.stat().st_size == size and ledger.used(1) == 95  # the refused charge left no trace
        assert ledger.charge(1, 2, 0.0, 5, 3.0) == 5  # exactly up to the quota is allowed
        assert ledger.quota_left(1) == 0
        assert ledger.refund(1, 1, 20, 4.0) == 20
        assert (ledger.used(1), ledger.quota_left(1)) == (80, 20)
        ledger.set_quota(1, 50, 5.0)  # lowered below what was used: nothing more runs
        assert ledger.quota_left(1) == -30 and ledger.would_exceed(1, 0)  # already over: even 0 is refused
        with pytest.raises(QuotaExceeded, match="quota 50, -30 left"):
            ledger.charge(1, 3, 0.0, 0, 5.0)
        b = ledger.balance(1)
        assert (b.energy_Wh, b.work_units, b.tokens_used, b.quota, b.quota_left) == (9.0, 10, 80, 50, -30)
    assert verify_file(path).ok


def test_a_refund_never_exceeds_what_the_job_was_charged(tmp_path):
    with open_ledger(tmp_path / "l.gftl") as ledger:
        ledger.set_quota(1, 1000, 1.0)
        ledger.charge(1, 7, 3.0, 0, 2.0)  # 30 tokens
        ledger.refund(1, 7, 25, 3.0)
        with pytest.raises(ValueError, match="refund of 6 tokens exceeds the 5 charged"):
            ledger.refund(1, 7, 6, 4.0)
        with pytest.raises(ValueError, match="exceeds the 0 charged"):
            ledger.refund(1, 8, 1, 4.0)  # no such job
        with pytest.raises(ValueError, match="exceeds the 0 charged"):
            ledger.refund(2, 7, 1, 4.0)  # another tenant's job number
        with pytest.raises(ValueError, match="must be an int > 0"):
            ledger.refund(1, 7, -5, 4.0)
        assert ledger.used(1) == 5 and ledger.next_seq == 3


def test_reopening_restores_balances_and_continues_the_chain(tmp_path):
    path = write_sample(tmp_path / "l.gftl")
    with open_ledger(path) as ledger:
        assert ledger.recovery.ok and ledger.torn_tail_octets == 0
        assert ledger.next_seq == SAMPLE_ENTRIES
        for tenant, (energy, units, tokens, quota) in SAMPLE_TOTALS.items():
            b = ledger.balance(tenant)
            assert (b.energy_Wh, b.work_units, b.tokens_used, b.quota) == (energy, units, tokens, quota)
        assert ledger.head_hash == L.chain_hash(read_ledger(path).records[-1][:-4])
        ledger.refund(1, 5, 13, 200.0)  # job 5 of the first session, known again after the reopen
        assert ledger.charge(2, 9, 0.0, 3, 201.0) == 3
    report = verify_file(path)
    assert report.ok and report.head_seq == SAMPLE_ENTRIES + 2  # two entries and the closing HEAD
    assert report.tenants[1].tokens == SAMPLE_TOTALS[1][2] - 13


@pytest.mark.parametrize("tail", [b"\x00", bytes(range(60)), b"\xff" * (L.RECORD_OCTETS - 1), bytes(L.RECORD_OCTETS)])
def test_opening_truncates_a_torn_tail_reports_it_and_appends_after_it(tmp_path, tail):
    """A crash mid-append leaves part of a record, or a whole one that fails its CRC (zeros)."""
    path = write_sample(tmp_path / "l.gftl")
    whole = path.stat().st_size
    with open(path, "ab") as f:
        f.write(tail)
    with open_ledger(path) as ledger:
        assert set(ledger.recovery.problems) == {P.TORN_TAIL} and ledger.torn_tail_octets == len(tail)
        assert path.stat().st_size == whole and ledger.next_seq == SAMPLE_ENTRIES
        ledger.charge(1, 99, 0.1, 0, 300.0)
    report = verify_file(path)
    assert report.ok and report.head_seq == SAMPLE_ENTRIES + 1


def test_opening_refuses_a_ledger_it_cannot_prove(tmp_path):
    path = write_sample(tmp_path / "l.gftl")
    lf = read_ledger(path)
    lf.records[4] = with_fixed_crc(lf.records[4], 49, 0x01)
    lf.write()
    size = path.stat().st_size
    with pytest.raises(LedgerDamaged, match="edited at seq 4") as info:
        open_ledger(path)
    assert P.EDITED in info.value.report.problems
    assert path.stat().st_size == size  # nothing cut, nothing appended: the evidence stays for the ground


def test_opening_with_another_key_or_ledger_id_is_refused(tmp_path):
    path = write_sample(tmp_path / "l.gftl")
    with pytest.raises(LedgerDamaged, match="unknown_key at seq 0"):
        TokenLedger(path, OTHER_KEY, LEDGER_ID)
    with pytest.raises(ValueError, match="holds ledger 'gridfree-node-7', not 'gridfree-node-8'"):
        TokenLedger(path, KEY, "gridfree-node-8")
    with pytest.raises(TypeError, match="Ed25519 private key, not bytes"):
        TokenLedger(path, bytes(32), LEDGER_ID)  # no shared secret signs a ledger any more


def test_keys_rotate_and_old_entries_still_verify(tmp_path):
    path = write_sample(tmp_path / "l.gftl")
    with pytest.raises(LedgerDamaged, match="unknown_key"):
        TokenLedger(path, OTHER_KEY, LEDGER_ID)  # the old public key is needed to prove the old entries
    with TokenLedger(path, OTHER_KEY, LEDGER_ID, tariff=TARIFF, old_public_keys=(PUBLIC,)) as ledger:
        ledger.charge(2, 10, 1.0, 0, 400.0)
    new_public = OTHER_KEY.public_key()
    assert verify_file(path, keys=L.key_ring([PUBLIC, new_public])).ok
    only_new = verify_file(path, keys=new_public)
    assert only_new.counts == {P.UNKNOWN_KEY: SAMPLE_ENTRIES} and only_new.entries_ok == 2  # a charge, a HEAD


def test_only_one_writer_at_a_time(tmp_path):
    path = tmp_path / "l.gftl"
    with open_ledger(path):
        with pytest.raises(RuntimeError, match="open in another TokenLedger"):
            open_ledger(path)
    open_ledger(path).close()  # released on close


def test_times_never_go_backwards(tmp_path):
    with open_ledger(tmp_path / "l.gftl") as ledger:
        ledger.set_quota(1, 100, 10.0)
        with pytest.raises(ClockWentBackwards, match="before the last entry"):
            ledger.charge(1, 1, 1.0, 0, 9.5)
        ledger.charge(1, 1, 1.0, 0, 10.0)  # equal times are fine
        assert ledger.next_seq == 2


def test_every_append_is_fsynced_before_it_returns(tmp_path, monkeypatch):
    """SIGKILL leaves the page cache alive, so the kill test cannot see a missing fsync: watch them."""
    path = tmp_path / "l.gftl"
    with open_ledger(path) as ledger:
        synced, real_fsync = [], os.fsync

        def fsync(fd):
            real_fsync(fd)
            synced.append((os.path.realpath(f"/proc/self/fd/{fd}"), os.fstat(fd).st_size))

        monkeypatch.setattr(os, "fsync", fsync)
        ledger.set_quota(1, 100, 1.0)
        ledger.charge(1, 1, 1.0, 0, 2.0)
        ledger.statement(1, 0, 3.0)  # the STATEMENT and its HEAD: one write, one fsync
        header = L.HEADER_OCTETS
        assert synced == [(str(path.resolve()), header + n * L.RECORD_OCTETS) for n in (1, 2, 4)]


def test_a_failed_fsync_acknowledges_nothing_and_the_retry_reuses_the_seq(tmp_path, monkeypatch):
    path = tmp_path / "l.gftl"
    with open_ledger(path) as ledger:
        ledger.set_quota(1, 100, 1.0)
        size = path.stat().st_size

        def failing_fsync(fd):
            raise OSError(errno.EIO, "Input/output error")

        with monkeypatch.context() as m:
            m.setattr(os, "fsync", failing_fsync)
            with pytest.raises(OSError, match="Input/output"):
                ledger.charge(1, 1, 1.0, 0, 2.0)
        assert (path.stat().st_size, ledger.next_seq, ledger.used(1)) == (size, 1, 0)
        assert ledger.charge(1, 1, 1.0, 0, 2.0) == 10
    report = verify_file(path)
    assert report.ok and report.head_seq == 2 and report.tenants[1].tokens == 10  # seq 2: the closing HEAD


def test_a_statement_is_the_tenants_records_ending_with_its_totals_and_the_head(tmp_path):
    path = write_sample(tmp_path / "l.gftl")
    with open_ledger(path) as ledger:
        ledger.charge(1, 11, 0.2, 0, 300.0)
        data = ledger.statement(1, since_seq=4)
        anchor = ledger.anchor
    entries = L.decode_statement(data, KEYS)
    assert [(e.seq, e.kind) for e in entries] == [
        (4, L.Kind.CHARGE), (5, L.Kind.REFUND), (7, L.Kind.CHARGE), (8, L.Kind.STATEMENT), (12, L.Kind.CHARGE),
        (13, L.Kind.STATEMENT), (14, L.Kind.HEAD)]  # the HEADs at 9 and 11 are no tenant's
    assert {e.tenant for e in entries[:-1]} == {1}
    head = entries[-1]  # the ledger's count and head hash when the statement was cut
    assert (head.seq, head.prev_hash) == (14, L.chain_hash(list(L.split_records(data))[-2][:-4]))
    assert anchor == L.Anchor(15, L.chain_hash(data[-L.RECORD_OCTETS:-4]))
    # The full ledger, verified, holds exactly these records at these seqs, and agrees with the totals.
    lf = read_ledger(path)
    records = L.split_records(data)
    assert all(r == lf.records[e.seq] for r, e in zip(records, entries))
    report = verify_file(path)
    assert report.ok
    last = entries[-2]
    t1 = report.tenants[1]
    assert (last.energy_Wh, last.work_units, last.tokens) == (t1.energy_Wh, t1.work_units, t1.tokens)
    assert (last.tokens, last.t_s) == (SAMPLE_TOTALS[1][2] + 2, 300.0)


def test_a_tampered_statement_is_refused(tmp_path):
    path = write_sample(tmp_path / "l.gftl")
    with open_ledger(path) as ledger:
        data = bytearray(ledger.statement(2, 0))
    with pytest.raises(L.LedgerFormatError, match="whole 156-octet records"):
        L.decode_statement(bytes(data[:-1]), KEYS)
    data[L.RECORD_OCTETS: 2 * L.RECORD_OCTETS] = with_fixed_crc(bytes(data[L.RECORD_OCTETS: 2 * L.RECORD_OCTETS]),
                                                                 49, 0x01)
    with pytest.raises(L.SignatureError):
        L.decode_statement(bytes(data), KEYS)


def kinds(path) -> list[L.Kind]:
    return [L.decode_entry(L.decode_record(r), KEYS).kind for r in read_ledger(path).records]


def test_a_head_is_signed_in_every_head_every_entries_with_the_entry_after_it(tmp_path, monkeypatch):
    path = tmp_path / "l.gftl"
    with open_ledger(path, head_every=4) as ledger:
        ledger.set_quota(1, 10**6, 1.0)
        fsyncs, real_fsync = [], os.fsync
        monkeypatch.setattr(os, "fsync", lambda fd: (fsyncs.append(fd), real_fsync(fd)))
        for job in range(7):
            ledger.charge(1, job, 0.1, 1, 2.0 + job)
        monkeypatch.undo()
        assert len(fsyncs) == 7  # the HEADs went with the charges after them, one fsync each
        assert ledger.next_seq == 10 and ledger.used(1) == 7 * 2
    H, C = L.Kind.HEAD, L.Kind.CHARGE
    assert kinds(path) == [L.Kind.QUOTA_SET, C, C, H, C, C, C, H, C, C, H]  # seqs 3 and 7, and 10 at close
    report = verify_file(path)
    assert report.ok and report.tenants[1].tokens == 14 and set(report.tenants) == {1}


def test_close_signs_the_head_once_and_append_head_returns_its_anchor(tmp_path):
    path = tmp_path / "l.gftl"
    open_ledger(path).close()  # an empty ledger has no head to sign
    assert read_ledger(path).records == []
    with open_ledger(path) as ledger:
        assert ledger.anchor is None and ledger.append_head(1.0) is None
        ledger.set_quota(1, 5, 1.0)
        anchor = ledger.append_head()
        assert anchor == ledger.anchor == L.Anchor(2, ledger.head_hash)
        assert ledger.append_head() == anchor  # the last entry is a HEAD already: nothing written
    with open_ledger(path):
        pass  # nothing appended since: close writes no second HEAD
    assert kinds(path) == [L.Kind.QUOTA_SET, L.Kind.HEAD]
    assert verify_file(path).anchor == anchor


def test_a_failed_head_at_close_still_closes_and_acknowledges_nothing(tmp_path, monkeypatch):
    path = tmp_path / "l.gftl"
    ledger = open_ledger(path)
    ledger.set_quota(1, 5, 1.0)
    size = path.stat().st_size

    def failing_fsync(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError, match="No space"):
        ledger.close()
    monkeypatch.undo()
    assert path.stat().st_size == size
    with open_ledger(path) as again:  # the lock was released: the file is usable, the head signed now
        assert again.next_seq == 1
    assert kinds(path) == [L.Kind.QUOTA_SET, L.Kind.HEAD]
