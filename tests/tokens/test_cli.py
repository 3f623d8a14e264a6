"""`gridfree tokens verify`: what an operator or a tenant sees, with the node's public key alone,
and the exit codes scripts rely on."""
from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import serialization

from gridfree.ground.tokens.cli import command, load_public_keys, run
from gridfree.protocols import ledger as L
from tests.tokens.conftest import KEY, OTHER_KEY, PUBLIC, SAMPLE_ENTRIES, with_fixed_crc

TOKENS_OFFSET = 48


def pem(tmp_path, key, name="ledger-public.pem"):
    path = tmp_path / name
    path.write_bytes(L.public_key_pem(key))
    return path


@pytest.fixture
def key_file(tmp_path):
    return pem(tmp_path, PUBLIC)


def verify(capsys, *argv) -> tuple[int, str, str]:
    code = run(["verify", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_command_is_described_for_the_dispatcher():
    assert command["help"] == "verify a downlinked compute token ledger or a tenant's statement" and command["run"] is run


def test_a_good_ledger_prints_totals_its_anchor_and_ok(sample, key_file, capsys):
    code, out, _ = verify(capsys, sample.path, "--public-key", key_file)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == (f"ledger 'gridfree-node-7': {SAMPLE_ENTRIES} records, {SAMPLE_ENTRIES} authentic entries "
                        f"(seq 0..{SAMPLE_ENTRIES - 1})")
    assert lines[-1] == "OK"
    assert lines[-2] == f"anchor {SAMPLE_ENTRIES}:{L.chain_hash(sample.records[-1][:-4]).hex()}"
    rows = {int(line.split()[0]): line.split()[1:] for line in lines[2:-2]}
    assert rows == {1: ["4.250000", "137", "175", "1000", "825"], 2: ["4.100000", "11", "52", "500", "448"]}


def test_an_edited_entry_fails_with_its_seq(sample, key_file, capsys):
    sample.records[6] = with_fixed_crc(sample.records[6], TOKENS_OFFSET + 7, 0x01)
    code, out, _ = verify(capsys, sample.write(), "--public-key", key_file)
    assert code == 1
    assert "FAILED" in out and "edited at seq 6, record 6: Ed25519 signature under key" in out
    assert "OK" not in out.splitlines()


def test_a_dropped_entry_and_a_torn_tail_are_both_listed(sample, key_file, capsys):
    del sample.records[3]
    code, out, _ = verify(capsys, sample.write(tail=b"\x01" * 40), "--public-key", key_file)
    assert code == 1
    lines = out.splitlines()
    failed = next(i for i, line in enumerate(lines) if line.startswith("FAILED"))
    problems = [line.strip() for line in lines[failed + 1:]]
    assert problems == [
        "dropped at seq 3, record 3: seq 3 missing, never found (the file skips to seq 4 at record 3)",
        f"torn_tail at record {SAMPLE_ENTRIES - 1}: last record has 40 of {L.RECORD_OCTETS} octets "
        f"(after seq {SAMPLE_ENTRIES - 1})",
    ]


def test_a_ledger_cut_short_fails_against_the_anchor_the_ground_holds(sample, key_file, capsys):
    """Dropping the last entries leaves a chain that checks: only the anchor tells."""
    code, out, _ = verify(capsys, sample.path, "--public-key", key_file)
    anchor = out.splitlines()[-2].split()[1]
    truncated = sample.write(sample.records[:7])
    code, out, _ = verify(capsys, truncated, "--public-key", key_file)
    assert code == 0  # without the anchor, nothing shows
    code, out, _ = verify(capsys, truncated, "--public-key", key_file, "--anchor", anchor)
    assert code == 1
    assert (f"truncated at seq 7, record 7: the ledger ends after 7 entries; anchor {SAMPLE_ENTRIES}:"
            f"{anchor.split(':')[1][:16]}... says it had {SAMPLE_ENTRIES}: 5 cut off the end") in out


def test_the_wrong_public_key_proves_no_entry(sample, tmp_path, capsys):
    code, out, _ = verify(capsys, sample.path, "--public-key", pem(tmp_path, OTHER_KEY.public_key(), "other.pem"))
    assert code == 1 and "unknown_key at seq 0, record 0" in out and f"[{SAMPLE_ENTRIES} in all]" in out


def test_a_file_that_is_not_a_ledger_fails(tmp_path, key_file, capsys):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00" * 500)
    code, out, _ = verify(capsys, junk, "--public-key", key_file)
    assert code == 1 and "not a readable ledger file" in out and "magic" in out


def test_a_ledger_id_other_than_expected_fails(sample, key_file, capsys):
    code, out, _ = verify(capsys, sample.path, "--public-key", key_file, "--ledger-id", "gridfree-node-8")
    assert code == 1 and "holds ledger 'gridfree-node-7', not 'gridfree-node-8'" in out
    assert verify(capsys, sample.path, "--public-key", key_file, "--ledger-id", "gridfree-node-7")[0] == 0


def test_the_signing_key_is_refused_where_the_public_key_belongs(sample, tmp_path, capsys):
    """A verifier never needs the private key; given it by mistake, it says so and stops."""
    private = tmp_path / "ledger-signing.pem"
    private.write_bytes(KEY.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    code, out, err = verify(capsys, sample.path, "--public-key", private)
    assert code == 2 and out == "" and "holds a private key; give the public key" in err


@pytest.mark.parametrize("content, message", [
    (b"", "not a PEM public key"), (b"1 " + b"00" * 32 + b"\n", "not a PEM public key"),
    (b"\xff\xfe", "not a PEM public key"), (b"x" * 5000, "too large"),
])
def test_a_bad_public_key_file_is_a_usage_error(sample, tmp_path, capsys, content, message):
    keys = tmp_path / "k.pem"
    keys.write_bytes(content)
    with pytest.raises(ValueError, match=message):
        load_public_keys([str(keys)])
    code, out, err = verify(capsys, sample.path, "--public-key", keys)
    assert code == 2 and message in err and out == "" and len(err.splitlines()) == 1


@pytest.mark.parametrize("anchor", ["12", "12:abcd", "x:" + "00" * 32, "0:" + "00" * 32, "-1:" + "00" * 32])
def test_a_malformed_anchor_is_a_usage_error(sample, key_file, capsys, anchor):
    code, out, err = verify(capsys, sample.path, "--public-key", key_file, f"--anchor={anchor}")
    assert code == 2 and out == "" and "--anchor" in err and len(err.splitlines()) == 1


def test_missing_files_and_arguments_are_usage_errors(sample, key_file, tmp_path, capsys):
    assert verify(capsys, tmp_path / "absent.gftl", "--public-key", key_file)[0] == 2
    code, _, err = verify(capsys, sample.path, "--public-key", tmp_path / "absent.pem")
    assert code == 2 and "--public-key" in err and "cannot read" in err
    assert verify(capsys, sample.path, "--public-key", tmp_path)[0] == 2  # a directory
    assert verify(capsys, sample.path)[0] == 2  # --public-key is required: there is no default key
    assert run([]) == 2 and run(["frobnicate"]) == 2
    assert run(["verify", "--help"]) == 0
    assert "--public-key" in capsys.readouterr().out


def test_several_public_keys_verify_a_ledger_signed_across_a_rotation(tmp_path, capsys):
    from gridfree.flight.compute.ledger import TokenLedger
    path = tmp_path / "l.gftl"
    with TokenLedger(path, KEY, "rotated") as ledger:
        ledger.set_quota(1, 10, 1.0)
    with TokenLedger(path, OTHER_KEY, "rotated", old_public_keys=(PUBLIC,)) as ledger:
        ledger.set_quota(2, 10, 2.0)
    old, new = pem(tmp_path, PUBLIC, "old.pem"), pem(tmp_path, OTHER_KEY.public_key(), "new.pem")
    assert verify(capsys, path, "--public-key", new, "--public-key", old)[0] == 0
    assert verify(capsys, path, "--public-key", new)[0] == 1
