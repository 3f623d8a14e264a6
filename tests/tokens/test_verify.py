"""verify() on a real ledger file written by TokenLedger, then tampered with as an adversary or an
accident would: each damage is reported as its own kind, at the sequence number involved, and
the entries that still verify are still counted."""
from __future__ import annotations

from fractions import Fraction

import pytest

from gridfree.protocols import ledger as L
from gridfree.protocols.ledger.verify import ProblemKind as P, VerifyReport, verify
from tests.tokens.conftest import (
    KEY, KEYS, LEDGER_ID, OTHER_KEY, PUBLIC, SAMPLE_ENTRIES, SAMPLE_TOTALS, with_crc, with_fixed_crc,
)

TOKENS_OFFSET = 48  # of the i64 tokens field inside an entry
KEY_OFFSET = 17  # of the 8-octet key fingerprint
BODY_OCTETS = 88  # what the signature covers (after the signing domain)
CHAIN_KINDS = {P.DROPPED, P.REORDERED, P.DUPLICATE}


def check(records, keys=KEYS, ledger_id=LEDGER_ID) -> VerifyReport:
    return verify(records, keys, ledger_id=ledger_id)


def totals(report):
    return {tenant: (t.energy_Wh, t.work_units, t.tokens, t.quota) for tenant, t in report.tenants.items()}


def test_an_untouched_ledger_verifies_with_its_totals(sample):
    ledger_id, records = L.parse_file(sample.path.read_bytes())
    report = check(records, ledger_id=ledger_id)
    assert report.ok, report.first_problems()
    assert (report.records, report.entries_ok, report.head_seq) == (SAMPLE_ENTRIES, SAMPLE_ENTRIES, 11)
    assert totals(report) == SAMPLE_TOTALS  # HEADs are about no tenant
    assert report.anchor == L.Anchor(SAMPLE_ENTRIES, L.chain_hash(sample.records[-1][:-4]))


@pytest.mark.parametrize("seq", range(SAMPLE_ENTRIES))
def test_an_edited_entry_is_reported_at_its_seq_and_only_there(sample, seq):
    records = list(sample.records)
    records[seq] = with_fixed_crc(records[seq], TOKENS_OFFSET + 7, 0x01)  # tokens +-1, CRC still right
    report = check(records)
    assert report.problems[P.EDITED].seq == seq and report.counts[P.EDITED] == 1
    assert "Ed25519 signature" in report.problems[P.EDITED].detail
    # Neither the entry before nor the one after is blamed for the break the edit makes in the chain.
    assert not set(report.problems) & (CHAIN_KINDS | {P.CORRUPT, P.TORN_TAIL})
    assert report.entries_ok == SAMPLE_ENTRIES - 1


def test_an_edited_entry_of_another_tenant_leaves_the_rest_proven(sample):
    records = list(sample.records)
    records[6] = with_fixed_crc(records[6], TOKENS_OFFSET + 7, 0x80)  # tenant 2's charge of 30
    report = check(records)
    assert set(report.problems) == {P.EDITED}
    e1, u1, tok1, q1 = SAMPLE_TOTALS[1]
    e2, u2, tok2, q2 = SAMPLE_TOTALS[2]
    assert totals(report) == {1: (e1, u1, tok1, q1), 2: (float(Fraction(1.0) + Fraction(0.1)), u2, tok2 - 30, q2)}


@pytest.mark.parametrize("dropped", range(SAMPLE_ENTRIES - 1))
def test_a_dropped_entry_is_reported_as_a_gap_at_its_seq(sample, dropped):
    records = sample.records[:dropped] + sample.records[dropped + 1:]
    report = check(records)
    p = report.problems[P.DROPPED]
    assert (p.seq, report.counts[P.DROPPED]) == (dropped, 1)
    assert f"seq {dropped} missing" in p.detail
    assert not set(report.problems) & {P.REORDERED, P.DUPLICATE, P.EDITED, P.TORN_TAIL}


def test_an_entry_replaced_by_an_authentic_one_breaks_the_chain(sample):
    """Same key, right seq, chained onto seq 2, valid signature (the node itself, rewriting), but not
    the entry that was there: the next entry's previous hash tells."""
    forged = L.Entry(3, 102.0, L.fingerprint(PUBLIC), 2, 2, L.Kind.CHARGE, 0.1, 1, 2,
                     L.chain_hash(sample.records[2][:-4]))
    records = list(sample.records)
    records[3] = L.encode_record(L.encode_entry(forged, KEY))
    report = check(records)
    assert set(report.problems) == {P.DROPPED}
    assert report.problems[P.DROPPED].seq == 4
    assert "previous hash of seq 4 is not the hash of seq 3" in report.problems[P.DROPPED].detail


@pytest.mark.parametrize("first", range(SAMPLE_ENTRIES - 1))
def test_swapped_entries_are_reported_as_reordered_not_dropped(sample, first):
    records = list(sample.records)
    records[first], records[first + 1] = records[first + 1], records[first]
    report = check(records)
    assert report.problems[P.REORDERED].seq == first
    assert f"seq {first} comes after seq {first + 1}" in report.problems[P.REORDERED].detail
    assert not set(report.problems) & {P.DROPPED, P.EDITED, P.DUPLICATE, P.TIME_BACKWARDS}
    assert report.entries_ok == SAMPLE_ENTRIES


def test_a_swap_that_keeps_the_statement_in_place_keeps_the_totals(sample):
    records = list(sample.records)
    records[3], records[4] = records[4], records[3]
    report = check(records)
    assert set(report.problems) == {P.REORDERED}
    assert totals(report) == SAMPLE_TOTALS


@pytest.mark.parametrize("kept", [1, 17, L.ENTRY_OCTETS, L.RECORD_OCTETS - 1])
def test_a_torn_tail_is_reported_and_the_prefix_still_verified(sample, kept):
    data = sample.path.read_bytes()
    _, records = L.parse_file(data[:len(data) - L.RECORD_OCTETS + kept])
    report = check(records)
    assert set(report.problems) == {P.TORN_TAIL}
    assert (report.torn_tail_at, report.torn_tail_octets) == (SAMPLE_ENTRIES - 1, kept)
    assert "after seq 10" in report.problems[P.TORN_TAIL].detail
    assert report.entries_ok == SAMPLE_ENTRIES - 1
    assert totals(report) == SAMPLE_TOTALS  # only the closing HEAD was torn


def test_a_torn_tail_before_a_charge_leaves_that_charge_out(sample):
    data = sample.path.read_bytes()
    _, records = L.parse_file(data[:len(data) - 2 * L.RECORD_OCTETS + 5])
    report = check(records)
    assert set(report.problems) == {P.TORN_TAIL} and "after seq 9" in report.problems[P.TORN_TAIL].detail
    assert totals(report)[2] == (4.0, 10, 50, 500)  # without seq 10, tenant 2's 0.1 Wh, 1 unit, 2 tokens
    assert totals(report)[1] == SAMPLE_TOTALS[1]


def test_a_crc_error_mid_file_is_corruption_not_a_torn_tail(sample):
    records = list(sample.records)
    damaged = bytearray(records[6])  # tenant 2's, so tenant 1's statement still adds up
    damaged[30] ^= 0xFF
    records[6] = bytes(damaged)
    report = check(records)
    assert set(report.problems) == {P.CORRUPT}  # its neighbours are not blamed for the chain break
    assert report.problems[P.CORRUPT].position == 6
    assert report.entries_ok == SAMPLE_ENTRIES - 1


def test_another_public_key_proves_nothing(sample):
    report = check(sample.records, keys=OTHER_KEY.public_key())
    assert set(report.problems) == {P.UNKNOWN_KEY}
    assert (report.problems[P.UNKNOWN_KEY].seq, report.counts[P.UNKNOWN_KEY]) == (0, SAMPLE_ENTRIES)
    assert L.fingerprint(PUBLIC).hex() in report.problems[P.UNKNOWN_KEY].detail
    assert report.entries_ok == 0 and report.tenants == {}


def resigned(record: bytes, key, claim=None) -> bytes:
    """`record` with its tokens raised by 1000 and signed again with `key`, naming `claim` (a key
    fingerprint; by default `key`'s own), the CRC made to match: a forgery by whoever holds `key`."""
    body = bytearray(record[:BODY_OCTETS])
    tokens = int.from_bytes(body[TOKENS_OFFSET:TOKENS_OFFSET + 8], "big", signed=True) + 1000
    body[TOKENS_OFFSET:TOKENS_OFFSET + 8] = tokens.to_bytes(8, "big", signed=True)
    body[KEY_OFFSET:KEY_OFFSET + 8] = claim or L.fingerprint(key.public_key())
    return with_crc(bytes(body) + L.sign(key, L.SIGNING_DOMAIN + bytes(body)))


def test_an_entry_resigned_with_another_key_is_found_with_the_public_key_alone(sample):
    records = list(sample.records)
    records[6] = resigned(records[6], OTHER_KEY)  # honest about its key: not the node's
    report = check(records, keys=PUBLIC)
    assert set(report.problems) == {P.UNKNOWN_KEY} and report.problems[P.UNKNOWN_KEY].seq == 6
    records[6] = resigned(sample.records[6], OTHER_KEY, claim=L.fingerprint(PUBLIC))  # claims the node's key
    report = check(records, keys=PUBLIC)
    assert set(report.problems) == {P.EDITED} and report.problems[P.EDITED].seq == 6
    assert report.entries_ok == SAMPLE_ENTRIES - 1  # and the forged tokens are not counted
    assert report.tenants[2].tokens == SAMPLE_TOTALS[2][2] - 30
    # A whole ledger forged under another key proves nothing either: only the node's key signs.
    forged = [resigned(r, OTHER_KEY, claim=L.fingerprint(PUBLIC)) for r in sample.records]
    assert check(forged, keys=PUBLIC).counts == {P.EDITED: SAMPLE_ENTRIES}


def test_a_replayed_entry_is_a_duplicate_and_not_counted_twice(sample):
    records = sample.records[:6] + [sample.records[3]] + sample.records[6:]
    report = check(records)
    assert set(report.problems) == {P.DUPLICATE}
    assert (report.problems[P.DUPLICATE].seq, report.problems[P.DUPLICATE].position) == (3, 6)
    assert totals(report) == SAMPLE_TOTALS


def test_a_ledger_presented_under_another_id_fails_at_genesis(sample):
    report = check(sample.records, ledger_id="gridfree-node-8")
    assert set(report.problems) == {P.WRONG_LEDGER} and report.problems[P.WRONG_LEDGER].seq == 0
    assert check(sample.records, ledger_id=None).ok  # without an id, genesis is simply not checked


def chain(specs, key=KEY, ledger_id=LEDGER_ID):
    """Records for (t, tenant, job, kind, energy, units, tokens) tuples, chained from genesis."""
    prev, out = L.genesis_hash(ledger_id), []
    for seq, (t, tenant, job, kind, energy, units, tokens) in enumerate(specs):
        entry = L.Entry(seq, t, L.fingerprint(key.public_key()), tenant, job, kind, energy, units, tokens, prev)
        entry_bytes = L.encode_entry(entry, key)
        prev = L.chain_hash(entry_bytes)
        out.append(L.encode_record(entry_bytes))
    return out


def test_time_going_backwards_is_reported_at_the_later_seq():
    records = chain([(10.0, 1, 0, L.Kind.QUOTA_SET, 0.0, 0, 50), (12.0, 1, 1, L.Kind.CHARGE, 1.0, 0, 10),
                     (11.5, 1, 2, L.Kind.CHARGE, 1.0, 0, 10)])
    report = check(records)
    assert set(report.problems) == {P.TIME_BACKWARDS} and report.problems[P.TIME_BACKWARDS].seq == 2


def test_a_statement_whose_totals_do_not_add_up_is_reported():
    records = chain([(10.0, 1, 0, L.Kind.QUOTA_SET, 0.0, 0, 50), (11.0, 1, 1, L.Kind.CHARGE, 1.0, 3, 13),
                     (12.0, 1, 0, L.Kind.STATEMENT, 1.0, 3, 12)])
    report = check(records)
    assert set(report.problems) == {P.TOTALS_MISMATCH} and report.problems[P.TOTALS_MISMATCH].seq == 2
    assert "13 tokens" in report.problems[P.TOTALS_MISMATCH].detail


def test_several_kinds_each_report_their_first_occurrence(sample):
    records = list(sample.records)
    records[2] = with_fixed_crc(records[2], TOKENS_OFFSET + 7, 0x01)
    records[7] = with_fixed_crc(records[7], TOKENS_OFFSET + 7, 0x01)
    del records[4]
    report = check(records + [b"\x00" * 9])
    assert report.problems[P.EDITED].seq == 2 and report.counts[P.EDITED] == 2
    assert report.problems[P.DROPPED].seq == 4
    assert report.problems[P.TORN_TAIL].position == SAMPLE_ENTRIES - 1
    assert [p.kind for p in report.first_problems()] == [P.EDITED, P.DROPPED, P.TOTALS_MISMATCH, P.TORN_TAIL]


def test_an_empty_ledger_verifies():
    assert check([]).ok and check([]).head_seq is None and check([]).anchor is None


def test_a_run_of_dropped_entries_is_one_gap_counted_in_full(sample):
    report = check(sample.records[:3] + sample.records[6:])
    assert report.problems[P.DROPPED].seq == 3 and report.counts[P.DROPPED] == 3
    assert "seqs 3..5 (3 entries) missing" in report.problems[P.DROPPED].detail


def test_an_entry_moved_far_is_reordered_and_the_gap_it_left_is_not_a_drop(sample):
    records = sample.records[:2] + sample.records[3:] + sample.records[2:3]
    report = check(records)
    assert P.DROPPED not in report.problems and P.EDITED not in report.problems
    assert report.problems[P.REORDERED].seq == 2 and report.problems[P.REORDERED].position == SAMPLE_ENTRIES - 1
