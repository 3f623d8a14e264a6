"""Anchors: the entry count and head hash the node signs into HEAD entries and the ground keeps.
A hash chain cut short still checks; given the latest anchor it held, the ground finds the cut, a
rewritten history, and a statement from a ledger rolled back since an earlier one. Every check
here gets the node's public key only."""
from __future__ import annotations

import pytest

from gridfree.flight.compute.ledger import TokenLedger
from gridfree.ground.tokens.statement import check_statement
from gridfree.protocols import ledger as L
from gridfree.protocols.ledger.verify import ProblemKind as P, verify
from tests.tokens.conftest import (
    KEY, LEDGER_ID, OTHER_KEY, PUBLIC, SAMPLE_ENTRIES, TARIFF, read_ledger, with_crc, write_sample,
)

BODY_OCTETS = L.ENTRY_OCTETS - L.SIGNATURE_OCTETS


def check(records, anchors=()):
    return verify(records, PUBLIC, ledger_id=LEDGER_ID, anchors=anchors)


def test_a_ledger_cut_short_checks_without_the_anchor_and_fails_with_it(sample):
    anchor = check(sample.records).anchor
    assert anchor == L.Anchor(SAMPLE_ENTRIES, L.chain_hash(sample.records[-1][:-4]))
    for keep in range(SAMPLE_ENTRIES):
        cut = sample.records[:keep]
        assert check(cut).ok  # what every hash chain alone allows
        report = check(cut, [anchor])
        assert set(report.problems) == {P.TRUNCATED}
        assert report.counts[P.TRUNCATED] == SAMPLE_ENTRIES - keep
        assert f"ends after {keep} entries" in report.problems[P.TRUNCATED].detail
    assert check(sample.records, [anchor]).ok


def test_an_earlier_anchor_holds_as_the_ledger_grows(tmp_path, sample):
    anchor = check(sample.records).anchor
    with TokenLedger(sample.path, KEY, LEDGER_ID, tariff=TARIFF) as ledger:
        ledger.charge(1, 20, 0.5, 5, 500.0)
    report = check(read_ledger(sample.path).records, [anchor, L.Anchor(3, L.chain_hash(sample.records[2][:-4]))])
    assert report.ok and report.anchor.count == SAMPLE_ENTRIES + 2


def test_a_history_rewritten_by_the_key_holder_fails_at_the_anchor(tmp_path, sample):
    """The node (or whoever took its key) writes a different ledger of the same length under the
    same id: everything checks, the chain included, except against the anchor the ground kept."""
    anchor = check(sample.records).anchor
    other = tmp_path / "rewritten.gftl"
    with TokenLedger(other, KEY, LEDGER_ID, tariff=TARIFF) as ledger:
        ledger.set_quota(1, 1000, 100.0)
        while ledger.next_seq < SAMPLE_ENTRIES - 1:
            ledger.charge(1, ledger.next_seq, 0.1, 1, 101.0)
    records = read_ledger(other).records
    assert len(records) == SAMPLE_ENTRIES and check(records).ok
    report = check(records, [anchor])
    assert set(report.problems) == {P.ANCHOR_MISMATCH}
    assert report.problems[P.ANCHOR_MISMATCH].seq == SAMPLE_ENTRIES - 1


def test_anchors_parse_from_the_text_the_cli_prints():
    anchor = L.Anchor(7, bytes(range(32)))
    assert L.Anchor.parse(str(anchor)) == anchor and L.Anchor.parse(f"  {anchor}\n") == anchor
    for text in ("7", "7:" + "0" * 63, "0:" + "0" * 64, "7:" + "g" * 64, "", "7:" + "0" * 64 + ":1"):
        with pytest.raises(ValueError, match="COUNT:HEADHASH"):
            L.Anchor.parse(text)
    with pytest.raises(ValueError, match=r"outside 1\.\."):
        L.Anchor(2**64, bytes(32))


# -- statements --------------------------------------------------------------------------------

def cut(path, tenant: int, t: float, since_seq: int = 0) -> bytes:
    with TokenLedger(path, KEY, LEDGER_ID, tariff=TARIFF) as ledger:
        return L.encode_statement_transfer(tenant, since_seq, ledger.statement(tenant, since_seq, t))


def test_a_statement_from_a_rolled_back_ledger_is_found_with_the_anchor_of_an_earlier_one(tmp_path):
    path = write_sample(tmp_path / "node.gftl")
    saved = path.read_bytes()  # what the node could roll back to
    first = check_statement(cut(path, 1, 200.0), PUBLIC)
    later = check_statement(cut(path, 1, 201.0), PUBLIC, [first.anchor])
    assert first.ok and later.ok and later.anchor.count == first.anchor.count + 2
    path.write_bytes(saved)  # the node's ledger rolled back to before the first statement
    rolled = check_statement(cut(path, 1, 202.0), PUBLIC, [first.anchor])
    assert rolled.anchor.count == first.anchor.count  # same length, another head: rewritten
    assert len(rolled.problems) == 1 and "the ledger was rewritten" in rolled.problems[0]
    path.write_bytes(saved)
    rolled = check_statement(cut(path, 2, 202.0), PUBLIC, [later.anchor])
    assert not rolled.ok and "fewer than the" in rolled.problems[-1] and "entries were dropped" in rolled.problems[-1]


def resign(record: bytes, key, claim: bytes | None = None) -> bytes:
    body = bytearray(record[:BODY_OCTETS])
    body[17:25] = claim or L.fingerprint(key.public_key())
    return with_crc(bytes(body) + L.sign(key, L.SIGNING_DOMAIN + bytes(body)))


def test_a_statement_resigned_with_another_key_fails_with_the_public_key_alone(tmp_path):
    data = cut(write_sample(tmp_path / "node.gftl"), 2, 200.0)
    head, records = data[:L.STATEMENT_HEADER_OCTETS], list(L.split_records(data[L.STATEMENT_HEADER_OCTETS:]))
    assert check_statement(data, PUBLIC).ok
    for claim in (None, L.fingerprint(PUBLIC)):  # honest about the forger's key, or claiming the node's
        forged = head + b"".join(resign(r, OTHER_KEY, claim) for r in records)
        report = check_statement(forged, PUBLIC)
        assert not report.ok and report.entries == [] and report.anchor is None
        assert len([p for p in report.problems if p.startswith("record ")]) == len(records)
        word = "not among the public keys given" if claim is None else "Ed25519 signature"
        assert all(word in p for p in report.problems[:len(records)])
    assert check_statement(forged, OTHER_KEY.public_key()).problems  # the forger's key claims the node's: no use


def test_a_statement_must_end_with_its_head_chained_to_its_statement_entry(tmp_path):
    data = cut(write_sample(tmp_path / "node.gftl"), 2, 200.0)
    records = list(L.split_records(data[L.STATEMENT_HEADER_OCTETS:]))

    def transfer(rs):
        return L.encode_statement_transfer(2, 0, b"".join(rs))

    without_head = check_statement(transfer(records[:-1]), PUBLIC)
    assert "does not end with tenant 2's STATEMENT entry and the HEAD after it" in without_head.problems[-1]
    # Another HEAD of the same ledger (the periodic one at seq 9 of the sample), authentic but not this one's.
    sample_head = read_ledger(tmp_path / "node.gftl").records[9]
    swapped = check_statement(transfer(records[:-1] + [sample_head]), PUBLIC)
    assert not swapped.ok and swapped.anchor is None
    early = check_statement(transfer([records[-1]] + records), PUBLIC)
    assert "a HEAD before the end of the statement" in early.problems[0]
