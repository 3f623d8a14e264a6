"""A tenant's ledger statement, cut on command and downlinked through PUS 13: the ground gets exactly
that tenant's entries with the right totals and the ledger's signed head, checks them with the
node's public key alone, and a damaged byte in the transfer does not pass."""
from gridfree.flight.core.modes import Mode
from gridfree.protocols.compute import JobSpec, Kind
from gridfree.ground.tokens.statement import check_statement
from gridfree.protocols.ledger import (
    HEADER_OCTETS, RECORD_OCTETS, STATEMENT_HEADER_OCTETS, Anchor, Kind as EntryKind, chain_hash, crc32, decode_entry,
    decode_record, key_ring, split_records,
)
from gridfree.protocols.ledger.verify import verify
from tests.compute.ground_link import link
from tests.power.test_power_manager import bench, run

MATMUL = JobSpec(31, 3, Kind.MATMUL, seed=5, size=128, batch=1, chunks=3)
TILES = JobSpec(32, 4, Kind.TILES, seed=6, size=0, batch=50, chunks=2, threshold=0.3)


def submit(ground, spec):
    return ground.send("compute.Submit", job_id=spec.job_id, tenant=spec.tenant, kind=spec.kind.name, seed=spec.seed,
                       size=spec.size, batch=spec.batch, chunks=spec.chunks, priority=1, deadline_unix_s=0.0,
                       threshold=spec.threshold, input_id=0)


def public_key(node):
    """The node's public key, all the ground gets (its signing key never leaves the node)."""
    return key_ring(node.compute.ledger.public_key)


def ledger_truth(node, keys):
    """What the full ledger file on board says, read and proved independently of the statement path."""
    data = (node.compute.dir / "tokens.ledger").read_bytes()
    records = list(split_records(data[HEADER_OCTETS:]))
    report = verify(records, keys, ledger_id="gridfree-node")
    assert report.ok, report.first_problems()
    return records, report


def test_a_statement_comes_down_with_exactly_the_tenants_entries_and_totals(tmp_path):
    truth, node = bench(tmp_path, soc=0.8, utilisation=0.0)
    ground = link(node)
    keys = public_key(node)
    node.modes.request(Mode.NOMINAL, "test")
    handles = [ground.send("compute.SetQuota", arm=True, tenant=t, tokens=1_000_000) for t in (3, 4)]
    handles += [submit(ground, MATMUL), submit(ground, TILES)]
    run(truth, node, 25.0)
    assert all(h.completed for h in handles) and node.compute.jobs_done == 2
    before = set(ground.completed_transfers)  # the two results

    statement = ground.send("compute.Statement", tenant=3, since_seq=0)
    run(truth, node, 3.0)
    assert statement.completed
    (tid,) = set(ground.completed_transfers) - before
    data = ground.completed_transfers[tid]
    assert data[:4] == b"GFST"

    report = check_statement(data, keys)
    assert report.ok, report.problems
    records, full = ledger_truth(node, keys)  # the STATEMENT entry and its HEAD are now the ledger's last
    tenant3 = [r for r in records if decode_entry(decode_record(r), keys).tenant == 3]
    assert [e.seq for e in report.entries] == [decode_entry(decode_record(r), keys).seq for r in tenant3]
    assert [e.kind for e in report.entries] == [EntryKind.QUOTA_SET, EntryKind.CHARGE, EntryKind.STATEMENT]
    assert data[STATEMENT_HEADER_OCTETS:] == b"".join(tenant3) + records[-1]  # the records exactly as stored
    # The HEAD it ends with anchors the whole ledger as it was: its count and head hash.
    assert report.anchor == Anchor(len(records), chain_hash(records[-1][:-4])) == full.anchor
    t3 = full.tenants[3]
    assert report.totals == (t3.energy_Wh, t3.work_units, t3.tokens) and report.totals_checked
    assert t3.tokens == node.compute.ledger.used(3) > 0 and t3.work_units == MATMUL.work_units() * MATMUL.chunks
    assert any(e.text.startswith("statement of tenant 3: 4 records") for e in ground.events)

    # A flipped byte anywhere is caught: in the header by its CRC, in a record by the record's CRC,
    # and, with that CRC made to match again, by the entry's signature.
    header = bytearray(data)
    header[6] ^= 0x01
    assert check_statement(bytes(header), keys).problems[0].startswith("not a readable statement")
    charge_at = STATEMENT_HEADER_OCTETS + RECORD_OCTETS
    flipped = bytearray(data)
    flipped[charge_at + 50] ^= 0x10  # the charge's tokens
    bad = check_statement(bytes(flipped), keys)
    assert not bad.ok and "record 1: record CRC-32" in bad.problems[0]
    entry = bytes(flipped[charge_at:charge_at + RECORD_OCTETS - 4])
    flipped[charge_at + RECORD_OCTETS - 4:charge_at + RECORD_OCTETS] = crc32(entry).to_bytes(4, "big")
    forged = check_statement(bytes(flipped), keys)
    assert not forged.ok and "record 1: Ed25519 signature" in forged.problems[0]
    assert "add up to" in forged.problems[1]  # without the charge the totals no longer hold


def test_a_statement_from_a_later_seq_is_checked_from_the_previous_statement(tmp_path):
    truth, node = bench(tmp_path, soc=0.8, utilisation=0.0)
    ground = link(node)
    keys = public_key(node)
    node.modes.request(Mode.NOMINAL, "test")
    ground.send("compute.SetQuota", arm=True, tenant=3, tokens=1_000_000)
    first = ground.send("compute.Statement", tenant=3, since_seq=0)
    run(truth, node, 2.0)
    since = node.compute.ledger.next_seq - 2  # the first statement's own entry, before its HEAD
    submit(ground, MATMUL)
    run(truth, node, 20.0)
    second = ground.send("compute.Statement", tenant=3, since_seq=since)
    refused = ground.send("compute.Statement", tenant=3, since_seq=10_000)
    run(truth, node, 3.0)
    assert first.completed and second.completed and node.compute.jobs_done == 1
    assert refused.failed and "since_seq 10000 outside" in refused.failure[1]
    data = ground.completed_transfers[max(ground.completed_transfers)]
    earlier = check_statement(ground.completed_transfers[min(ground.completed_transfers)], keys)
    report = check_statement(data, keys, [earlier.anchor])  # the ground kept the first statement's anchor
    assert report.ok, report.problems
    assert [e.kind for e in report.entries] == [EntryKind.STATEMENT, EntryKind.CHARGE, EntryKind.STATEMENT]
    assert report.totals_checked and report.totals[2] == node.compute.ledger.used(3)
    assert report.anchor.count > earlier.anchor.count
    # Given back the other way round, the first statement is one from a ledger that lost entries since.
    assert any("fewer than" in p for p in check_statement(ground.completed_transfers[min(ground.completed_transfers)],
                                                          keys, [report.anchor]).problems)
