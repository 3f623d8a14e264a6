"""The `gridfree` console script as a user meets it: a real subprocess, its text and exit codes."""
import subprocess
import sys

import pytest


def gridfree(*args, check=False):
    return subprocess.run(
        [sys.executable, "-m", "gridfree.protocols.cli", *args],
        capture_output=True, text=True, timeout=120, check=check,
    )


def test_help_lists_every_registered_command():
    from importlib.metadata import entry_points

    out = gridfree("--help", check=True).stdout
    registered = {ep.name for ep in entry_points(group="gridfree.commands")}
    assert {"bench", "dict"} <= registered
    for name in registered:
        assert f"\n  {name} " in out, f"{name} missing from --help:\n{out}"


def test_version_matches_the_installed_distribution():
    from importlib.metadata import version

    assert gridfree("--version", check=True).stdout.strip() == f"gridfree {version('gridfree')}"


@pytest.mark.parametrize("argv", [["no-such-command"], ["--frobnicate"]])
def test_unknown_command_is_a_one_line_usage_error(argv):
    proc = gridfree(*argv)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.count("\n") == 1 and "unknown command" in proc.stderr and "gridfree --help" in proc.stderr


@pytest.mark.parametrize("typo, meant", [("dcit", "dict"), ("consol", "console"), ("replya", "replay")])
def test_a_misspelt_command_is_answered_with_the_closest_names(typo, meant):
    proc = gridfree(typo)
    assert proc.returncode == 2 and f"did you mean {meant}" in proc.stderr


def test_bench_rejects_an_unknown_group_naming_the_known_ones():
    proc = gridfree("bench", "nonexistent-group")
    assert proc.returncode != 0
    assert "no benchmark group nonexistent-group" in proc.stderr
    assert "native" in proc.stderr
