"""Every reader of a ledger file, fed mutated files whose CRCs (and, for a writer with the key
gone wrong, signatures) were fixed up so the bytes reach the parser: each answers with its documented
error or its report, never another exception, and damage costs entries, never the ledger."""
import random

import pytest

from gridfree.flight.compute.ledger import LedgerDamaged, TokenLedger
from gridfree.ground.tokens import cli
from gridfree.ground.tokens.statement import check_statement
from gridfree.protocols.errors import ProtocolError
from gridfree.protocols.ledger import (ENTRY_OCTETS, HEADER_OCTETS, RECORD_OCTETS, SIGNATURE_OCTETS, SIGNING_DOMAIN,
                                       crc32, encode_statement_transfer, parse_file, public_key_pem, sign)
from gridfree.protocols.ledger.verify import verify

from tests.tokens.conftest import KEY, KEYS, LEDGER_ID, PUBLIC, SAMPLE_ENTRIES, TARIFF, write_sample

BODY_OCTETS = ENTRY_OCTETS - SIGNATURE_OCTETS


def _refit(entry: bytearray, rng: random.Random) -> bytes:
    """The entry as a record: re-signed half the time (a writer with the key got it wrong: only the
    format's rules can tell), its CRC-32 always fixed (the disk did not change it)."""
    if rng.random() < 0.5:
        body = bytes(entry[:BODY_OCTETS])
        entry[BODY_OCTETS:] = sign(KEY, SIGNING_DOMAIN + body)
    return bytes(entry) + crc32(bytes(entry)).to_bytes(4, "big")


def mutate(good: bytes, rng: random.Random) -> tuple[bytes, int]:
    """A damaged copy of a ledger file, and the first record the damage touched."""
    header, body = bytearray(good[:HEADER_OCTETS]), good[HEADER_OCTETS:]
    records = [bytearray(body[i:i + ENTRY_OCTETS]) for i in range(0, len(body), RECORD_OCTETS)]
    how = rng.choice(("entry", "entry", "entry", "header", "cut", "drop", "swap", "garbage"))
    first = len(records)
    if how == "entry":
        first = rng.randrange(len(records))
        for _ in range(rng.choice((1, 2, 8))):
            at = rng.randrange(BODY_OCTETS)
            records[first][at] = rng.randrange(256) if rng.random() < 0.5 else records[first][at] ^ 1 << rng.randrange(8)
    elif how == "header":
        header[rng.randrange(4, HEADER_OCTETS - 4)] = rng.randrange(256)
        header[-4:] = crc32(bytes(header[:-4])).to_bytes(4, "big")
        first = 0
    elif how == "drop":
        first = rng.randrange(len(records))
        del records[first]
    elif how == "swap":
        first = rng.randrange(len(records) - 1)
        records[first], records[first + 1] = records[first + 1], records[first]
    out = bytes(header) + b"".join(_refit(r, rng) if k >= first else bytes(r) + body[k * RECORD_OCTETS + ENTRY_OCTETS:
                                                                                      (k + 1) * RECORD_OCTETS]
                                   for k, r in enumerate(records))
    if how == "cut":
        cut = rng.randrange(len(out))
        first = max(0, cut - HEADER_OCTETS) // RECORD_OCTETS
        out = out[:cut]
    elif how == "garbage":
        out += bytes(rng.randrange(256) for _ in range(rng.randrange(1, 300)))
    return out, first


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> bytes:
    return write_sample(tmp_path_factory.mktemp("ledger") / "node.gftl").read_bytes()


def test_the_shared_reader_and_verify_answer_every_damaged_file_with_their_own_errors(good):
    rng = random.Random(1601)
    problems = 0
    for _ in range(1500):
        data, _ = mutate(good, rng)
        try:
            ledger_id, records = parse_file(data)
        except ProtocolError:  # LedgerFormatError or CrcError: what parse_file documents
            continue
        report = verify(records, KEYS, ledger_id=ledger_id)  # documented never to raise
        problems += not report.ok
        assert report.entries_ok <= report.records
    assert problems > 500  # the damage reached the checks past the CRCs


def test_gridfree_tokens_verify_says_ok_or_failed_never_a_traceback(good, tmp_path, capsys):
    rng = random.Random(1602)
    keys = tmp_path / "ledger-public.pem"
    keys.write_bytes(public_key_pem(PUBLIC))
    path = tmp_path / "downlinked.gftl"
    codes = set()
    for _ in range(150):
        path.write_bytes(mutate(good, rng)[0])
        codes.add(cli.run(["verify", str(path), "--public-key", str(keys)]))
        out = capsys.readouterr().out.splitlines()
        assert out[-1] in ("OK", "FAILED") or out[-1].startswith("  ")
    assert codes <= {0, 1} and 1 in codes


def test_a_damaged_statement_transfer_is_a_report_of_problems(good):
    rng = random.Random(1603)
    body = good[HEADER_OCTETS:]
    damaged = 0
    for _ in range(800):
        data, _ = mutate(good, rng)
        records = data[HEADER_OCTETS:]
        transfer = bytearray(encode_statement_transfer(1, 0, records[:len(records) // RECORD_OCTETS * RECORD_OCTETS]))
        if rng.random() < 0.3:  # the transfer header too, its CRC fixed
            transfer[rng.randrange(4, 19)] = rng.randrange(256)
            transfer[19:23] = crc32(bytes(transfer[:19])).to_bytes(4, "big")
        report = check_statement(bytes(transfer), KEYS)
        damaged += not report.ok
    assert damaged > 400 and check_statement(encode_statement_transfer(1, 0, body), KEYS).records == SAMPLE_ENTRIES


def test_the_node_opens_a_damaged_ledger_with_its_one_error_or_salvages_the_prefix_that_verifies(good, tmp_path):
    """Without salvage: LedgerDamaged and the file untouched. With it: the damaged file kept whole
    beside the ledger, every entry before the damage kept, and the ledger appendable and proven."""
    rng = random.Random(1604)
    path = tmp_path / "node.gftl"
    for round_ in range(120):
        data, first = mutate(good, rng)
        path.write_bytes(data)
        try:
            TokenLedger(path, KEY, LEDGER_ID, tariff=TARIFF).close()
        except LedgerDamaged:
            assert path.read_bytes() == data
        with TokenLedger(path, KEY, LEDGER_ID, tariff=TARIFF, salvage=True) as ledger:
            kept = ledger.next_seq
            if ledger.salvaged is not None:
                assert ledger.salvaged.damaged_copy.read_bytes() == data
                assert ledger.salvaged.entries_kept == kept and kept >= min(first, SAMPLE_ENTRIES)
                pieces = -(-max(0, len(data) - HEADER_OCTETS) // RECORD_OCTETS)  # a torn tail is one
                assert ledger.salvaged.records_lost == pieces - kept  # 0 when only the header was damaged
                ledger.salvaged.damaged_copy.unlink()
            before = HEADER_OCTETS + min(kept, first) * RECORD_OCTETS  # a re-signed edit may verify: kept too
            assert path.read_bytes()[HEADER_OCTETS:before] == good[HEADER_OCTETS:before]
            ledger.set_quota(3, 10, 1000.0 + round_)
        _, records = parse_file(path.read_bytes())
        assert verify(records, KEYS, ledger_id=LEDGER_ID).ok
