"""`gridfree cmd`, `gridfree tm` and `gridfree bench --json` as an operator runs them."""
import json
import subprocess
import sys

from tests.integration.conftest import NodeProcess
from tests.keys import operator


def gridfree(*args, timeout=60):
    return subprocess.run([sys.executable, "-m", "gridfree.protocols.cli", *args], capture_output=True, text=True,
                          timeout=timeout)


def test_cmd_and_tm_against_a_live_node(tmp_path):
    dict_path = tmp_path / "dictionary.json"
    assert gridfree("dict", "-o", str(dict_path)).returncode == 0
    node = NodeProcess(tmp_path)
    keys = ("--keys", str(node.keys.ground))  # the node has keys: the operator's ground half (issue 17)
    try:
        # SetMode is hazardous since issue 17: it goes with its node.Arm (--arm) through the same SA
        ok = gridfree("cmd", "--link", node.url, "--dict", str(dict_path), *keys, "--arm", "node.SetMode",
                      "mode=NOMINAL")
        assert ok.returncode == 0, ok.stderr
        assert ok.stdout.splitlines() == ["node.Arm: acceptance -> start -> completion",
                                          "node.SetMode: acceptance -> start -> completion"]
        refused = gridfree("cmd", "--link", node.url, "--dict", str(dict_path), *keys, "node.Reboot")
        assert refused.returncode == 1
        # an arm belongs to the SA that sent it (issue 17), so the refusal names the SA that must send it
        assert ("acceptance FAILED (NOT_ARMED: node.Reboot is hazardous: operator (SPI 1) must send node.Arm first)"
                in refused.stdout)
        bad = gridfree("cmd", "--link", node.url, "--dict", str(dict_path), *keys, "node.SetMode", "mode=FLYING")
        assert bad.returncode == 2 and "not one of" in bad.stderr
        tm = gridfree("tm", "--link", node.url, "--dict", str(dict_path), *keys, "--channels", "node.Mode",
                      "--seconds", "2.5")
        assert tm.returncode == 0
        lines = [l for l in tm.stdout.splitlines() if " node.Mode = " in l]
        assert lines and all(l.endswith("node.Mode = NOMINAL") for l in lines)
    finally:
        node.stop()


def test_tm_rejects_unknown_channels_and_missing_dictionary(tmp_path):
    missing = gridfree("tm", "--link", "tcp://127.0.0.1:1", "--dict", str(tmp_path / "none.json"))
    assert missing.returncode != 0 and "cannot read dictionary" in missing.stderr


def test_bench_json_has_the_documented_keys():
    proc = gridfree("bench", "--json", "native", timeout=300)
    assert proc.returncode == 0, proc.stderr
    figures = json.loads(proc.stdout)
    assert {"crc16_vs_binascii", "crc16_MBps"} <= set(figures)
    assert all(isinstance(v, float) for v in figures.values())


def test_tm_saves_downlinked_transfers_for_the_tenant_and_the_auditor(tmp_path, dictionary):
    """A live node sends a test pattern and a ledger statement down through PUS 13; the saver
    `gridfree tm --transfers` uses writes each whole, and `gridfree tokens statement` checks the
    statement file it wrote."""
    from gridfree.flight.core.services.largedata import known_pattern
    from gridfree.ground.link.terminal import transfer_saver
    from gridfree.ground.link.client import GroundClient

    node = NodeProcess(tmp_path)
    out = tmp_path / "transfers"
    try:
        with GroundClient(node.url, dictionary, security=operator(node.keys)) as g:
            g.subscribe(transfer_saver(out))
            assert g.send("lds.DownlinkTestPattern", size_bytes=5000).wait().completed
            assert g.send("compute.Statement", tenant=4, since_seq=0).wait().completed
            assert g.wait_until(lambda: len(list(out.glob("*.bin"))) == 2, timeout=20)
    finally:
        node.stop()
    (pattern,), (statement,) = out.glob("*-data.bin"), out.glob("*-statement.bin")
    assert pattern.read_bytes() == known_pattern(5000)
    # the ledger is signed with the node's Ed25519 key: the tenant needs only its public key
    public = node.keys.root / "ledger-public.pem"
    checked = gridfree("tokens", "statement", str(statement), "--public-key", str(public))
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "statement of tenant 4" in checked.stdout and checked.stdout.rstrip().endswith("OK")
