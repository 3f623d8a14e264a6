"""`gridfree cmd`, `tm` and `console` with the ground's keys, as an operator runs them: real key
material from `gridfree keys init`, a node's radio played by the test that checks every frame
with raw AES-GCM under the node's own keystore, and the ground's audit read back."""
from __future__ import annotations

import getpass
import json
import subprocess
import sys

import pytest

from tests.links.fake_sdls_node import FakeSdlsNode, node_radio


def gridfree(*args, timeout=60):
    return subprocess.run([sys.executable, "-m", "gridfree.protocols.cli", *args], capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def mission(tmp_path_factory):
    """A dictionary file and a mission's key directory, made as an operator makes them."""
    root = tmp_path_factory.mktemp("mission")
    assert gridfree("dict", "-o", str(root / "dictionary.json")).returncode == 0
    made = gridfree("keys", "init", str(root / "keys"))
    assert made.returncode == 0, made.stderr
    return root


def node_for(mission, **kw) -> FakeSdlsNode:
    """The node's radio with the node's keystore: its TC SA 1 checks frames, its TM SA seals."""
    return node_radio(mission / "keys", **kw)


def test_cmd_with_keys_sends_a_frame_the_node_checks_and_audits_it(mission):
    node = node_for(mission)
    keys = mission / "keys" / "ground"
    try:
        ok = gridfree("cmd", "--link", node.url, "--dict", str(mission / "dictionary.json"), "--keys", str(keys),
                      "node.SetMode", "mode=SAFE")
        assert ok.returncode == 0, ok.stderr
        assert ok.stdout.strip() == "node.SetMode: acceptance -> completion"
        assert "unauthenticated" not in ok.stderr
        (got,) = node.wait_frames(1)
        assert got.spi == 1 and got.packet is not None
        lines = [json.loads(x) for x in (keys / "audit.jsonl").read_text().splitlines()]
        sent = [x for x in lines if x["kind"] == "sent"]
        assert [(x["command"], x["args"], x["spi"], x["role"], x["operator"]) for x in sent][-1] == (
            "node.SetMode", {"mode": "SAFE"}, 1, "operator", getpass.getuser())
        mine = [x for x in lines if x["kind"] == "outcome" and x["request"] == sent[-1]["request"]]
        outcomes = {(x["stage"], x["ok"]) for x in mine}
        assert outcomes == {("acceptance", True), ("completion", True)}
    finally:
        node.close()


def test_cmd_arm_sends_node_arm_first_through_the_same_sa(mission, dictionary):
    node = node_for(mission)
    try:
        out = gridfree("cmd", "--link", node.url, "--dict", str(mission / "dictionary.json"),
                       "--keys", str(mission / "keys" / "ground"), "--arm", "node.Reboot")
        assert out.returncode == 0, out.stderr
        assert out.stdout.splitlines() == ["node.Arm: acceptance -> completion",
                                           "node.Reboot: acceptance -> completion"]
        got = node.wait_frames(2)
        arm = dictionary.command_by_name["node.Arm"]
        assert (got[0].tc.service, got[0].tc.subtype) == (arm.service, arm.subtype) and got[0].spi == got[1].spi == 1
        assert got[1].iv > got[0].iv
    finally:
        node.close()


def test_without_keys_the_frames_are_plain_and_the_operator_is_told(mission):
    node = FakeSdlsNode(None)
    try:
        out = gridfree("cmd", "--link", node.url, "--dict", str(mission / "dictionary.json"), "test.Ping")
        assert out.returncode == 0, out.stderr
        assert "unauthenticated link" in out.stderr and "--insecure" in out.stderr
        (got,) = node.wait_frames(1)
        assert got.tc is not None
    finally:
        node.close()


@pytest.mark.parametrize("tool", ["cmd", "tm", "console"])
def test_a_key_directory_that_is_not_one_is_one_line_and_exit_2(mission, tool):
    extra = ["test.Ping"] if tool == "cmd" else []
    for keydir, says in ((mission / "nowhere", "no such key directory"), (mission / "keys", "ground")):
        out = gridfree(tool, "--link", "tcp://127.0.0.1:1", "--dict", str(mission / "dictionary.json"),
                       "--keys", str(keydir), *extra)
        assert out.returncode == 2, out.stderr
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and says in lines[0] and "Traceback" not in out.stderr


def test_spi_without_keys_and_an_spi_the_keystore_lacks_are_refused(mission):
    d = str(mission / "dictionary.json")
    alone = gridfree("cmd", "--link", "tcp://127.0.0.1:1", "--dict", d, "--spi", "1", "test.Ping")
    assert alone.returncode == 2 and "--keys" in alone.stderr
    unknown = gridfree("cmd", "--link", "tcp://127.0.0.1:1", "--dict", d, "--keys", str(mission / "keys" / "ground"),
                       "--spi", "77", "test.Ping")
    assert unknown.returncode == 2 and "SPI 77" in unknown.stderr and len(unknown.stderr.strip().splitlines()) == 1


def test_tm_says_how_many_frames_failed_authentication_and_shows_none_of_them(mission):
    from gridfree.protocols.pus import PusTm

    for tm_key, warned in ((None, False), (bytes(32), True)):
        node = node_for(mission, tm_key=tm_key)
        tm = subprocess.Popen([sys.executable, "-m", "gridfree.protocols.cli", "tm", "--link", node.url,
                               "--dict", str(mission / "dictionary.json"), "--keys", str(mission / "keys" / "ground"),
                               "--seconds", "3"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            for i in range(3):
                node.send_tm(PusTm(apid=100, service=17, subtype=2, seq_count=i).pack())
            out, err = tm.communicate(timeout=30)
        finally:
            node.close()
        assert tm.returncode == 0, err
        assert ("3 TM frames failed authentication" in err) is warned, err

