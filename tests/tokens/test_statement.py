"""`gridfree tokens statement`: a tenant's statement as the node downlinks it (the transfer the
compute manager queues on `compute.Statement`), checked record by record and in its totals."""
from __future__ import annotations

import pytest

from gridfree.flight.compute.ledger import TokenLedger
from gridfree.ground.tokens.cli import run
from gridfree.ground.tokens.statement import check_statement
from gridfree.protocols.ledger import (
    RECORD_OCTETS, STATEMENT_HEADER_OCTETS, LedgerFormatError, decode_statement_transfer, encode_statement_transfer,
    public_key_pem,
)
from tests.tokens.conftest import KEY, KEYS, LEDGER_ID, PUBLIC, SAMPLE_TOTALS, TARIFF, with_fixed_crc, write_sample


@pytest.fixture
def key_file(tmp_path):
    """The node's public key, as `gridfree keys init` publishes it: all a tenant holds."""
    path = tmp_path / "ledger-public.pem"
    path.write_bytes(public_key_pem(PUBLIC))
    return path


def cut(tmp_path, tenant: int, since_seq: int = 0) -> bytes:
    """Statement of `tenant` from the sample ledger (whose entries conftest lists), as downlinked."""
    path = write_sample(tmp_path / "node.gftl")
    with TokenLedger(path, KEY, LEDGER_ID, tariff=TARIFF) as ledger:
        return encode_statement_transfer(tenant, since_seq, ledger.statement(tenant, since_seq, 200.0))


def statement(capsys, tmp_path, data: bytes, *argv) -> tuple[int, list[str]]:
    path = tmp_path / "statement.bin"
    path.write_bytes(data)
    code = run(["statement", str(path), *map(str, argv)])
    return code, capsys.readouterr().out.splitlines()


def test_a_good_statement_lists_the_tenants_entries_and_checked_totals(tmp_path, key_file, capsys):
    code, lines = statement(capsys, tmp_path, cut(tmp_path, 2), "--public-key", key_file, "--tenant", 2)
    assert code == 0 and lines[-1] == "OK"
    assert lines[0] == "statement of tenant 2 from seq 0: 6 records, 6 authentic"
    rows = [line.split() for line in lines[2:-3]]
    # Tenant 2's entries in the sample: quota (seq 1), charges at seqs 3, 6, 10, then the statement
    # (seq 12) and the HEAD after it (seq 13: the ledger had 14 entries).
    assert [(int(r[0]), r[2], int(r[6])) for r in rows] == [(1, "QUOTA_SET", 500), (3, "CHARGE", 20), (6, "CHARGE", 30),
                                                            (10, "CHARGE", 2), (12, "STATEMENT", 52)]
    energy, units, tokens, _ = SAMPLE_TOTALS[2]
    assert lines[-3] == f"totals: {energy:.6f} Wh, {units} work units, {tokens} tokens (checked)"
    assert lines[-2].startswith("anchor 14:") and len(lines[-2]) == len("anchor 14:") + 64


def test_a_flipped_byte_fails_the_record_it_is_in(tmp_path, key_file, capsys):
    data = bytearray(cut(tmp_path, 1))
    data[STATEMENT_HEADER_OCTETS + 2 * RECORD_OCTETS + 30] ^= 0x04  # in the third record's entry
    code, lines = statement(capsys, tmp_path, bytes(data), "--public-key", key_file)
    assert code == 1 and "FAILED" in lines
    assert lines[lines.index("FAILED") + 1].strip().startswith("record 2: record CRC-32")


def test_an_edited_entry_with_a_matching_crc_fails_its_signature_and_the_totals(tmp_path, key_file, capsys):
    data = cut(tmp_path, 1)
    records = data[STATEMENT_HEADER_OCTETS:]
    second = slice(RECORD_OCTETS, 2 * RECORD_OCTETS)
    edited = records[:second.start] + with_fixed_crc(records[second], 49, 0x01) + records[second.stop:]
    code, lines = statement(capsys, tmp_path, data[:STATEMENT_HEADER_OCTETS] + edited, "--public-key", key_file)
    problems = [line.strip() for line in lines[lines.index("FAILED") + 1:]]
    assert code == 1 and problems[0].startswith("record 1: Ed25519 signature under key")
    assert "the entries add up to" in problems[1]


def test_a_statement_of_another_tenant_or_cut_short_is_refused(tmp_path, key_file, capsys):
    data = cut(tmp_path, 1)
    code, lines = statement(capsys, tmp_path, data, "--public-key", key_file, "--tenant", 2)
    assert code == 1 and "statement of tenant 1, not 2" in lines[-1]
    code, lines = statement(capsys, tmp_path, data[:-RECORD_OCTETS], "--public-key", key_file)
    assert code == 1 and "not a readable statement" in lines[-1] and "counts 8 records; 1092 octets follow" in lines[-1]
    with pytest.raises(LedgerFormatError, match="magic"):
        decode_statement_transfer(b"GFRS" + data[4:])  # a job result's magic is not a statement's


def test_the_ledger_file_and_the_statement_agree_on_the_totals(tmp_path):
    report = check_statement(cut(tmp_path, 1), KEYS)
    energy, units, tokens, _ = SAMPLE_TOTALS[1]
    assert report.ok and report.totals == (energy, units, tokens) and report.totals_checked
    # The sample already holds a statement of tenant 1 (seq 8): from there on, only the new one is checkable.
    later = check_statement(cut(tmp_path / "again", 1, since_seq=8), KEYS)
    assert later.ok and [e.seq for e in later.entries] == [8, 12] and later.totals_checked
    assert later.anchor.count == 14  # the HEAD after the new STATEMENT
