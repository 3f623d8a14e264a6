"""`gridfree tokens verify`: what an operator sees, and the exit codes scripts rely on."""
from __future__ import annotations

import pytest

from gridfree.ground.tokens.cli import KeyFileError, command, load_keys, run
from tests.tokens.conftest import KEY, KEY_ID, SAMPLE_ENTRIES, with_fixed_crc

TOKENS_OFFSET = 42


@pytest.fixture
def key_file(tmp_path):
    path = tmp_path / "keys.txt"
    path.write_text(f"# provisioned 2026-01-12\n\n3 {'00' * 32}\n{KEY_ID} {KEY.hex()}\n")
    return path


def verify(capsys, *argv) -> tuple[int, str, str]:
    code = run(["verify", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_command_is_described_for_the_dispatcher():
    assert command["help"] == "verify a downlinked compute token ledger or a tenant's statement" and command["run"] is run


def test_a_good_ledger_prints_totals_and_ok(sample, key_file, capsys):
    code, out, _ = verify(capsys, sample.path, "--key-file", key_file)
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == (f"ledger 'gridfree-node-7': {SAMPLE_ENTRIES} records, {SAMPLE_ENTRIES} authentic entries "
                        "(seq 0..9)")
    assert lines[-1] == "OK"
    rows = {int(line.split()[0]): line.split()[1:] for line in lines[2:-1]}
    assert rows == {1: ["4.250000", "137", "175", "1000", "825"], 2: ["4.100000", "11", "52", "500", "448"]}


def test_an_edited_entry_fails_with_its_seq(sample, key_file, capsys):
    sample.records[6] = with_fixed_crc(sample.records[6], TOKENS_OFFSET + 7, 0x01)
    code, out, _ = verify(capsys, sample.write(), "--key-file", key_file)
    assert code == 1
    assert "FAILED" in out and "edited at seq 6, record 6: HMAC-SHA256 under key id 1 does not match" in out
    assert "OK" not in out.splitlines()


def test_a_dropped_entry_and_a_torn_tail_are_both_listed(sample, key_file, capsys):
    del sample.records[3]
    code, out, _ = verify(capsys, sample.write(tail=b"\x01" * 40), "--key-file", key_file)
    assert code == 1
    lines = out.splitlines()
    failed = next(i for i, line in enumerate(lines) if line.startswith("FAILED"))
    problems = [line.strip() for line in lines[failed + 1:]]
    assert problems == [
        "dropped at seq 3, record 3: seq 3 missing, never found (the file skips to seq 4 at record 3)",
        f"torn_tail at record {SAMPLE_ENTRIES - 1}: last record has 40 of 118 octets (after seq 9)",
    ]


def test_the_wrong_key_fails_every_entry(sample, key_file, tmp_path, capsys):
    other = tmp_path / "other-keys.txt"
    other.write_text(f"{KEY_ID} {'11' * 32}\n")
    code, out, _ = verify(capsys, sample.path, "--key-file", other)
    assert code == 1 and "edited at seq 0, record 0" in out and f"[{SAMPLE_ENTRIES} in all]" in out


def test_a_file_that_is_not_a_ledger_fails(tmp_path, key_file, capsys):
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00" * 500)
    code, out, _ = verify(capsys, junk, "--key-file", key_file)
    assert code == 1 and "not a readable ledger file" in out and "magic" in out


def test_a_ledger_id_other_than_expected_fails(sample, key_file, capsys):
    code, out, _ = verify(capsys, sample.path, "--key-file", key_file, "--ledger-id", "gridfree-node-8")
    assert code == 1 and "holds ledger 'gridfree-node-7', not 'gridfree-node-8'" in out
    assert verify(capsys, sample.path, "--key-file", key_file, "--ledger-id", "gridfree-node-7")[0] == 0


@pytest.mark.parametrize("content, message", [
    ("1 zz\n", "not hex"), ("1\n", "expected 'key_id hexkey'"), ("x 00\n", "not a decimal integer"),
    (f"70000 {'00' * 32}\n", "outside 0..65535"), ("1 0011\n", "at least 16"), ("# nothing\n", "no keys"),
    (f"1 {'00' * 32}\n1 {'11' * 32}\n", "given twice"),
])
def test_a_bad_key_file_is_a_usage_error(sample, tmp_path, capsys, content, message):
    keys = tmp_path / "keys.txt"
    keys.write_text(content)
    with pytest.raises(KeyFileError, match=message):
        load_keys(keys)
    code, out, err = verify(capsys, sample.path, "--key-file", keys)
    assert code == 2 and message in err and out == ""


def test_missing_files_and_arguments_are_usage_errors(sample, key_file, tmp_path, capsys):
    assert verify(capsys, tmp_path / "absent.gftl", "--key-file", key_file)[0] == 2
    assert verify(capsys, sample.path, "--key-file", tmp_path / "absent.txt")[0] == 2
    assert verify(capsys, sample.path)[0] == 2  # --key-file is required
    assert run([]) == 2 and run(["frobnicate"]) == 2
    assert run(["verify", "--help"]) == 0
    assert "--key-file" in capsys.readouterr().out


def test_load_keys_reads_ids_and_keys(key_file):
    assert load_keys(key_file) == {3: bytes(32), KEY_ID: KEY}
