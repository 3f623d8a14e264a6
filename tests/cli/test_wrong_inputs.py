"""Every `gridfree` subcommand given the mistakes users make: a missing or unknown argument, a path
that does not exist or is a directory where a file belongs (or the other way round), a file of the
wrong kind, a bad or negative number, an unknown name, a malformed link spec, nothing listening.

Each case runs the real command in a subprocess and expects what a user can act on: a non-zero
exit, no traceback, and one line on stderr saying what was wrong (argparse's usage block may come
before it for usage errors, whose line is then the last).
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gridfree.ground.archive import dictionaries
from gridfree.ground.archive.layout import Record
from gridfree.ground.archive.segment import SegmentWriter

#: Longest any one case may take: a wrong input is answered at once, never after a timeout.
CASE_TIMEOUT_S = 20
CMD = ["node.SetMode", "mode=SAFE"]

# (argv, exit code, what the error line must say); {placeholders} are filled in by `world`.
CASES = [
    (["no-such-command"], 2, "unknown command"),
    # dict
    (["dict", "--format", "yaml"], 2, "invalid choice: 'yaml'"),
    (["dict", "-o", "{dir}"], 2, "is a directory"),
    (["dict", "-o", "{file}/dictionary.json"], 2, "cannot write"),
    (["dict", "extra"], 2, "unrecognized arguments: extra"),
    # node
    (["node"], 2, "required: --config"),
    (["node", "--config", "{missing}.toml", "--no-supervise"], 2, "no such file"),
    (["node", "--config", "{missing}.toml"], 2, "no such file"),
    (["node", "--config", "{dir}", "--no-supervise"], 2, "is a directory"),
    (["node", "--config", "{file}", "--no-supervise"], 2, "notes.md"),
    # cmd
    (["cmd", *CMD], 2, "required: --link"),
    (["cmd", "--link", "127.0.0.1:5100", *CMD], 2, "write tcp://127.0.0.1:5100"),
    (["cmd", "--link", "tcp:/127.0.0.1:5100", *CMD], 2, "two slashes"),
    (["cmd", "--link", "http://127.0.0.1:5100", *CMD], 2, "not a web address"),
    (["cmd", "--link", "tcp://127.0.0.1:99999", *CMD], 2, "--link"),
    (["cmd", "--link", "/dev/no-such-gridfree-tty", *CMD], 2, "cannot open serial link"),
    (["cmd", "--link", "{nobody}", *CMD], 1, "connection refused"),
    (["cmd", "--link", "{nobody}", "--dict", "{file}", *CMD], 2, "not a gridfree dictionary JSON"),
    (["cmd", "--link", "{nobody}", "--dict", "{dir}", *CMD], 2, "is a directory"),
    (["cmd", "--link", "{nobody}", "--dict", "{missing}.json", *CMD], 2, "no such file"),
    (["cmd", "--link", "{nobody}", "node.SetMod", "mode=SAFE"], 2, "did you mean node.SetMode?"),
    (["cmd", "--link", "{nobody}", "node.SetMode", "mode=FLY"], 2, "not one of"),
    (["cmd", "--link", "{nobody}", "node.SetMode", "mood=SAFE"], 2, "unknown argument 'mood'"),
    (["cmd", "--link", "{nobody}", "node.SetMode", "SAFE"], 2, "name=value"),
    (["cmd", "--link", "{nobody}", "--timeout", "-1", *CMD], 2, "must be greater than 0"),
    (["cmd", "--link", "{nobody}", "--timeout", "soon", *CMD], 2, "'soon' is not a number"),
    (["cmd", "--link", "{nobody}", "--apid", "99999", *CMD], 2, "0..2047"),
    # tm
    (["tm"], 2, "required: --link"),
    (["tm", "--link", "{nobody}"], 1, "connection refused"),
    (["tm", "--link", "127.0.0.1:5100"], 2, "write tcp://127.0.0.1:5100"),
    (["tm", "--link", "http://127.0.0.1:5100"], 2, "not a web address"),
    (["tm", "--link", "{nobody}", "--channels", "power.SOC"], 2, "did you mean power.Soc?"),
    (["tm", "--link", "{nobody}", "--seconds", "-1"], 2, "must be greater than 0"),
    (["tm", "--link", "{nobody}", "--record", "{file}"], 2, "is a file, not a directory"),
    (["tm", "--link", "{nobody}", "--transfers", "{file}"], 2, "is a file, not a directory"),
    (["tm", "--link", "{nobody}", "--dict", "{file}"], 2, "not a gridfree dictionary JSON"),
    # rig
    (["rig"], 2, "required: action"),
    (["rig", "fly"], 2, "invalid choice: 'fly'"),
    (["rig", "run", "{missing}.toml"], 2, "no such file"),
    (["rig", "run", "{dir}"], 2, "is a directory"),
    (["rig", "run", "{file}"], 2, "not a scenario TOML file"),
    (["rig", "run", "{mars}"], 2, "unknown orbit preset 'mars'"),
    (["rig", "run", "{scenario}", "--hours", "-1"], 2, "must be greater than 0"),
    (["rig", "run", "{scenario}", "--out", "{file}"], 2, "is a file, not a directory"),
    (["rig", "serve", "--url", "127.0.0.1:5100"], 2, "write tcp://127.0.0.1:5100"),
    (["rig", "serve", "--url", "loop://", "--orbit", "mars"], 2, "unknown orbit preset 'mars'"),
    (["rig", "serve", "--url", "loop://", "--speed", "-1"], 2, "must be greater than 0"),
    (["rig", "serve", "--url", "loop://", "--seconds", "0"], 2, "must be greater than 0"),
    # bench
    (["bench", "no-such-group"], 2, "no benchmark group no-such-group"),
    # replay
    (["replay"], 2, "required: log"),
    (["replay", "{file}"], 2, "is a file, not an archive directory"),
    (["replay", "{missing}"], 2, "no such directory"),
    (["replay", "{dir}"], 2, "no recorded segments"),
    (["replay", "{log}", "--speed", "0"], 2, "a positive factor"),
    (["replay", "{log}", "--from", "yesterday"], 2, "neither ISO 8601"),
    (["replay", "{log}", "--from", "2030-01-01", "--to", "2020-01-01"], 2, "--from must be before --to"),
    (["replay", "{log}", "--channels", "power.SOC"], 2, "did you mean power.Soc?"),
    (["replay", "{log}", "--dict", "{file}"], 2, "not a gridfree dictionary JSON"),
    (["replay", "{log}", "--keys", "{missing}"], 2, "no such key directory"),
    # export
    (["export", "{log}"], 2, "required: -o"),
    (["export", "{log}", "-o", "{tmp}/x.npz", "--format", "csv"], 2, "names a .npz file but --format is csv"),
    (["export", "{log}", "-o", "{missing}/x.csv"], 2, "does not exist"),
    (["export", "{log}", "-o", "{file}/x.csv"], 2, "is not a directory"),
    (["export", "{log}", "-o", "{dir}"], 2, "is a directory"),
    (["export", "{log}", "-o", "{tmp}/x.csv", "--channels", "power.SOC"], 2, "did you mean power.Soc?"),
    (["export", "{log}", "-o", "{tmp}/x.csv", "--format", "xlsx"], 2, "invalid choice: 'xlsx'"),
    (["export", "{file}", "-o", "{tmp}/x.csv"], 2, "is a file, not an archive directory"),
    (["export", "{dir}", "-o", "{tmp}/x.csv"], 2, "no recorded segments"),
    (["export", "{log}", "-o", "{tmp}/x.csv", "--keys", "{file}"], 2, "not a directory"),
    # console
    (["console"], 2, "one of the arguments --link --replay is required"),
    (["console", "--link", "http://127.0.0.1:5100"], 2, "not a web address"),
    (["console", "--replay", "{file}"], 2, "is a file, not an archive directory"),
    (["console", "--replay", "{log}", "--dict", "{file}"], 2, "not a gridfree dictionary JSON"),
    (["console", "--link", "{nobody}", "--seconds", "-1"], 2, "must be greater than 0"),
    (["console", "--link", "{nobody}", "--speed", "10"], 2, "--speed is for --replay"),
    (["console", "--link", "{nobody}", "--screenshot", "{tmp}/c.png"], 2, "--screenshot needs --seconds"),
    (["console", "--replay", "{log}", "--seconds", "1", "--screenshot", "{missing}/c.png"], 2,
     "its folder does not exist"),
    (["console", "--link", "{nobody}", "--settings", "{dir}"], 2, "is a directory"),
    # demo
    (["demo", "--hours", "-1"], 2, "--hours"),
    (["demo", "--speed", "0", "--headless"], 2, "--speed"),
    # tokens
    (["tokens"], 2, "required: action"),
    # the ledger is signed with the node's Ed25519 key (issue 17): verifying needs its public key
    # (a PEM file), not a shared HMAC key file
    (["tokens", "verify", "{file}"], 2, "required: --public-key"),
    (["tokens", "verify", "{missing}", "--public-key", "{pem}"], 2, "cannot read"),
    (["tokens", "verify", "{dir}", "--public-key", "{pem}"], 2, "cannot read"),
    (["tokens", "verify", "{file}", "--public-key", "{missing}"], 2, "--public-key"),
    (["tokens", "verify", "{file}", "--public-key", "{file}"], 2, "not a PEM public key"),
    (["tokens", "statement", "{file}", "--public-key", "{pem}", "--tenant", "four"], 2, "invalid int value"),
    # keys
    (["keys"], 2, "required"),
    (["keys", "list", "{missing}"], 2, "no such key directory"),
    (["keys", "list", "{file}"], 2, "not a directory"),
    (["keys", "init", "{tmp}"], 2, "--force"),
    (["keys", "init", "{missing}/m"], 2, "no such directory"),
    (["keys", "init", "{missing}", "--tenants", "99"], 2, "out of 0..61"),
    (["keys", "otar", "{missing}", "--master", "1", "--key-id", "12"], 2, "no such key directory"),
    # the key directory of cmd, tm and console
    (["cmd", "--link", "{nobody}", "--keys", "{missing}", *CMD], 2, "no such key directory"),
    (["cmd", "--link", "{nobody}", "--spi", "0", *CMD], 2, "out of 1..65535"),
    (["tm", "--link", "{nobody}", "--keys", "{file}"], 2, "not a directory"),
    (["console", "--link", "{nobody}", "--keys", "{dir}"], 2, "no keystore here"),
    (["console", "--replay", "{log}", "--spi", "1"], 2, "--spi is for --link"),
    # sched-compare
    (["sched-compare", "--hours", "-1"], 2, "must be greater than 0"),
    (["sched-compare", "--hours", "a day"], 2, "is not a number"),
    (["sched-compare", "--plots", "{file}"], 2, "is a file, not a directory"),
    (["sched-compare", "--orbit", "800,sso"], 2, "expected ALT_KM,INC_DEG,LTAN_H"),
    (["sched-compare", "--orbit", "800km,sso,10.5"], 2, "must be numbers"),
    (["sched-compare", "--orbit", "80,53,12"], 2, "altitude 150-3000 km"),
    (["sched-compare", "--scenario", "{missing}"], 2, "cannot read the scenario"),
    (["sched-compare", "--workload", "batch"], 2, "invalid choice"),
]


@pytest.fixture(scope="module")
def closed_port():
    """A local port nothing listens on, held bound (not listening) for the whole module: a
    released port could be handed to a node another test starts meanwhile."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield s.getsockname()[1]


@pytest.fixture(scope="module")
def world(tmp_path_factory, dictionary, closed_port) -> dict[str, str]:
    """The things the cases name: a dictionary, a small archive, files of the wrong kind."""
    tmp = tmp_path_factory.mktemp("wrong")
    (tmp / "dictionary.json").write_text(dictionary.to_json())
    notes = tmp / "notes.md"
    notes.write_text("# Notes\n\nA page of prose, not a configuration.\n")
    (tmp / "empty").mkdir()
    log = tmp / "log"
    log.mkdir()
    dictionaries.store(log, dictionary)
    with SegmentWriter(log, dictionary.hash, durable=False) as w:
        w.append(Record(1_774_008_000.0, 0, 0, b"\x00" * 16))  # not a frame: decodes to nothing
    (tmp / "mars.toml").write_text('name = "mars"\norbit = "mars"\nduration_h = 0.01\n')
    (tmp / "ok.toml").write_text('name = "ok"\norbit = "iss500"\nduration_h = 0.01\n')
    pem = tmp / "ledger-public.pem"
    pem.write_bytes(Ed25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    return {"tmp": str(tmp), "file": str(notes), "dir": str(tmp / "empty"), "missing": str(tmp / "no-such"),
            "log": str(log), "mars": str(tmp / "mars.toml"), "scenario": str(tmp / "ok.toml"),
            "pem": str(pem), "nobody": f"tcp://127.0.0.1:{closed_port}",
            "dictionary": str(tmp / "dictionary.json")}


def gridfree(argv: list[str], world: dict[str, str]) -> subprocess.CompletedProcess:
    env = dict(os.environ, GRIDFREE_DICT=world["dictionary"], QT_QPA_PLATFORM="offscreen")
    return subprocess.run([sys.executable, "-m", "gridfree.protocols.cli", *argv], capture_output=True, text=True,
                          timeout=CASE_TIMEOUT_S, env=env, cwd=world["tmp"], stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("argv, code, says", CASES, ids=[" ".join(c[0]) for c in CASES])
def test_a_wrong_input_gets_one_line_saying_what_was_wrong(argv, code, says, world):
    proc = gridfree([a.format(**world) for a in argv], world)
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == code, proc.stderr
    assert lines, "nothing on stderr"
    if lines[0].startswith("usage:"):  # argparse: the usage block, then its one error line
        assert code == 2 and ": error: " in lines[-1], proc.stderr
    else:
        assert len(lines) == 1, proc.stderr
    assert says.lower() in lines[-1].lower(), proc.stderr


def test_every_subcommand_is_tried_with_wrong_inputs():
    from importlib.metadata import entry_points

    tried = {argv[0] for argv, _, _ in CASES}
    assert {ep.name for ep in entry_points(group="gridfree.commands")} <= tried


def test_export_of_an_unknown_channel_writes_nothing(world):
    out = Path(world["tmp"]) / "nothing.csv"
    proc = gridfree(["export", world["log"], "-o", str(out), "--channels", "power.Soc,power.SOC"], world)
    assert proc.returncode == 2 and not out.exists()


def test_export_takes_its_format_from_the_file_name(world):
    import numpy as np

    out = Path(world["tmp"]) / "telemetry.npz"
    proc = gridfree(["export", world["log"], "-o", str(out)], world)
    assert proc.returncode == 0, proc.stderr
    with np.load(out) as npz:  # a zip numpy reads, not CSV text under an .npz name
        assert npz.files == []


def test_tm_to_a_node_that_is_not_there_leaves_no_directories_behind(world):
    record, transfers = Path(world["tmp"]) / "new" / "rec", Path(world["tmp"]) / "saved"
    proc = gridfree(["tm", "--link", world["nobody"], "--record", str(record), "--transfers", str(transfers)], world)
    assert proc.returncode == 1 and "connection refused" in proc.stderr.lower()
    assert not (Path(world["tmp"]) / "new").exists() and not transfers.exists()
