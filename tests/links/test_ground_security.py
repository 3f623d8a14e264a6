"""The ground's side of SDLS: every TC frame it sends is one a node with the key accepts (checked
here with raw AES-GCM, not with the code that made it), IVs never repeat, across a restart too;
large uploads fit the smaller SDLS frame; hazardous commands go with their Arm through the same
SA; every command is in the ground's audit, with who sent it and what became of it. The key
material is real (`gridfree keys init`); the node's radio is played by the test."""
from __future__ import annotations

import os
from dataclasses import replace

import pytest

from gridfree.ground.keys.session import GroundSecurity
from gridfree.ground.link.audit import AUDIT_FILE, read_audit
from gridfree.ground.link.client import ARM_WINDOW_S, INSECURE_NOTE, GroundClient
from gridfree.protocols.keystore import KEYSTORE_FILE, Keystore
from gridfree.protocols.services import largedata as pus13
from tests.links.fake_sdls_node import FakeSdlsNode, ground_copy, init_mission, node_radio


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    return init_mission(tmp_path_factory.mktemp("mission"))


@pytest.fixture
def ground(keys, tmp_path):
    """This test's copy of the ground's key directory: its own IV counter and audit."""
    return ground_copy(keys, tmp_path)


def _client(node, dictionary, ground_dir):
    security = GroundSecurity.load(ground_dir) if ground_dir is not None else None
    client = GroundClient(node.url, dictionary, security=security).connect()
    assert client.wait_connected(10)
    return client


def test_every_frame_checks_with_raw_aes_gcm_and_the_command_inside_is_the_one_sent(ground, keys, dictionary):
    node = node_radio(keys)
    client = _client(node, dictionary, ground)
    try:
        handles = [client.send("test.Ping"), client.send("node.SetMode", mode="SAFE")]
        got = node.wait_frames(2)
        assert all(r.packet is not None for r in got), "a frame whose MAC does not check"
        assert [r.spi for r in got] == [1, 1]
        assert got[1].iv > got[0].iv >= 1
        cmd = dictionary.command_by_name["node.SetMode"]
        assert (got[1].tc.service, got[1].tc.subtype) == (cmd.service, cmd.subtype)
        assert got[1].tc.app_data == cmd.encode_args(mode="SAFE")
        assert client.security.tc_sa.key not in got[1].frame
        assert cmd.encode_args(mode="SAFE") not in got[1].frame[19:-18]  # encrypted
        assert all(h.wait(10).completed for h in handles)
    finally:
        client.close()
        node.close()


def test_authentication_only_sends_the_packet_in_clear_under_the_mac(ground, keys, dictionary):
    store = Keystore.load(ground / KEYSTORE_FILE)  # the operator's SA made authentication-only
    store.sas[1] = replace(store.sas[1], encrypt=False)
    store.save(ground / KEYSTORE_FILE)
    node = node_radio(keys, encrypt=False)
    client = _client(node, dictionary, ground)
    try:
        client.send("test.Ping").wait(10)
        (got,) = node.wait_frames(1)
        assert got.packet is not None and got.packet in got.frame
    finally:
        client.close()
        node.close()


def test_a_frame_under_another_key_does_not_check(ground, keys, dictionary):
    node = node_radio(keys, tc_key=bytes(32), answer=False)
    client = _client(node, dictionary, ground)
    try:
        client.send("test.Ping")
        (got,) = node.wait_frames(1)
        assert got.packet is None
    finally:
        client.close()
        node.close()


def test_ivs_never_repeat_across_a_new_client_on_the_same_key_directory(ground, keys, dictionary):
    node = node_radio(keys)
    seen = []
    try:
        for _ in range(2):  # the second client is the ground restarted: its IVs start after the first's
            client = _client(node, dictionary, ground)
            client.send("test.Ping").wait(10)
            client.close()
            seen = node.wait_frames(len(seen) + 1)
        ivs = [r.iv for r in seen]
        assert len(ivs) == 2 and ivs[1] > ivs[0]
    finally:
        node.close()


def test_a_large_upload_is_cut_into_parts_that_each_fit_an_sdls_frame(ground, keys, dictionary):
    node = node_radio(keys)
    client = _client(node, dictionary, ground)
    data = os.urandom(5000)
    try:
        tid = client.uplink(data, window=0)
        handles = client.uplinks[tid]
        got = node.wait_frames(len(handles))
        assert len(got) == len(handles) and all(r.packet is not None for r in got)
        assert max(len(r.frame) for r in got) == 1024  # parts as large as a TC frame with SDLS holds
        parts = [pus13.unpack_part(r.tc.app_data) for r in got]
        assert {t for t, _, _ in parts} == {tid}
        assert b"".join(part for _, _, part in sorted(parts, key=lambda p: p[1])) == data
        assert all(h.wait(10).completed for h in handles)
    finally:
        client.close()
        node.close()


def test_arm_true_sends_node_arm_through_the_same_sa_right_before_a_hazardous_command(ground, keys, dictionary):
    node = node_radio(keys)
    client = _client(node, dictionary, ground)
    arm, reboot = dictionary.command_by_name["node.Arm"], dictionary.command_by_name["node.Reboot"]
    try:
        h = client.send("node.Reboot", arm=True)
        got = node.wait_frames(2)
        assert [(r.tc.service, r.tc.subtype) for r in got] == [(arm.service, arm.subtype),
                                                               (reboot.service, reboot.subtype)]
        assert got[0].tc.app_data == arm.encode_args(window_s=ARM_WINDOW_S)
        assert got[0].spi == got[1].spi == 1 and got[0].iv < got[1].iv
        assert h.armed_by is not None and h.armed_by.name == "node.Arm"
        client.send("test.Ping", arm=True)  # not hazardous: no arm window opened for it
        got = node.wait_frames(3)
        assert len(got) == 3 and got[2].tc.service == dictionary.command_by_name["test.Ping"].service
    finally:
        client.close()
        node.close()


def test_the_audit_has_a_line_per_command_sent_with_operator_sa_and_outcome(ground, keys, dictionary):
    import getpass

    set_mode = dictionary.command_by_name["node.SetMode"]
    node = node_radio(keys, refuse={(set_mode.service, set_mode.subtype)})
    client = _client(node, dictionary, ground)
    try:
        ok = client.send("test.Ping").wait(10)
        refused = client.send("node.SetMode", mode="NOMINAL").wait(10)
        assert ok.completed and refused.failed
        lines = read_audit(ground / AUDIT_FILE)
        sent = [x for x in lines if x["kind"] == "sent"]
        assert [x["command"] for x in sent] == ["test.Ping", "node.SetMode"]
        assert sent[1]["args"] == {"mode": "NOMINAL"}
        assert all(x["operator"] == getpass.getuser() and x["spi"] == 1 and x["role"] == "operator" for x in sent)
        assert all(x["time_utc"].endswith("Z") for x in lines)
        req = sent[1]["request"]
        assert req == f"{refused.request.apid}/{refused.request.seq_count}"
        outcome = [x for x in lines if x["kind"] == "outcome" and x["request"] == req]
        assert [(x["stage"], x["ok"]) for x in outcome] == [("acceptance", False)]
        assert outcome[0]["reason"] == "refused by the test" and outcome[0]["code"] == 5
        done = [x for x in lines if x["kind"] == "outcome" and x["request"] == sent[0]["request"]]
        assert [(x["stage"], x["ok"]) for x in done] == [("acceptance", True), ("completion", True)]
        assert (ground / AUDIT_FILE).stat().st_mode & 0o077 == 0
    finally:
        client.close()
        node.close()


def test_an_audit_that_cannot_be_written_stops_the_command_before_it_leaves(ground, keys, dictionary):
    from gridfree.ground.link.audit import AuditError

    node = node_radio(keys)
    client = _client(node, dictionary, ground)
    try:
        (ground / AUDIT_FILE).unlink()
        (ground / AUDIT_FILE).mkdir()  # unwritable even for root, as a full or read-only disk would be
        with pytest.raises(AuditError, match="audit"):
            client.send("test.Ping")
        assert node.wait_frames(1, timeout_s=0.5) == []
    finally:
        client.close()
        node.close()


def test_without_security_frames_are_plain_and_the_client_says_the_link_is_unauthenticated(dictionary, caplog):
    node = FakeSdlsNode(None)
    client = _client(node, dictionary, None)
    try:
        assert client.security_note == INSECURE_NOTE and not client.authenticated
        with caplog.at_level("WARNING"):
            client.send("test.Ping").wait(10)
            client.send("test.Ping").wait(10)
        assert sum(INSECURE_NOTE in r.getMessage() for r in caplog.records) == 1  # said once, at the first
        got = node.wait_frames(2)
        assert got[0].tc is not None and got[0].tc.service == dictionary.command_by_name["test.Ping"].service
    finally:
        client.close()
        node.close()


def test_a_command_too_large_for_an_sdls_frame_is_refused_before_anything_is_sent(ground, keys, dictionary):
    node = node_radio(keys)
    client = _client(node, dictionary, ground)
    try:
        big = client.tc_data_octets
        with pytest.raises(ValueError, match="do not fit"):
            client.send_packet("lds.UplinkFirstPart", 13, 9, bytes(big))
        assert node.wait_frames(1, timeout_s=0.3) == [] and read_audit(ground / AUDIT_FILE) == []
    finally:
        client.close()
        node.close()


def test_telemetry_is_verified_under_the_tm_sa_and_frames_under_another_key_are_refused(ground, keys, dictionary):
    for node_tm_key, verified in ((None, True), (bytes(32), False)):
        node = node_radio(keys, tm_key=node_tm_key)
        client = _client(node, dictionary, ground)
        try:
            h = client.send("test.Ping")
            node.wait_frames(1)
            stats = client.stats
            if verified:
                assert h.wait(10).completed and stats.auth_ok >= 1 and stats.auth_failed == 0
                assert "telemetry verified" in client.security_note and client.tm_auth.verified is True
            else:  # the reports were sent, but under a key the ground does not hold: never believed
                assert client.wait_until(lambda: client.stats.auth_failed >= 1, 10)
                assert not h.wait(0.5).stages and stats.auth_ok == 0 and client.tm_auth.verified is False
        finally:
            client.close()
            node.close()


def test_a_command_the_closed_link_refuses_is_audited_as_not_sent(ground, keys, dictionary):
    node = node_radio(keys)
    client = _client(node, dictionary, ground)
    client.close()
    try:
        with pytest.raises(OSError):
            client.send("test.Ping")
        last = read_audit(ground / AUDIT_FILE)[-2:]
        assert [(x["kind"], x["command"]) for x in last] == [("sent", "test.Ping"), ("not sent", "test.Ping")]
        assert last[0]["request"] == last[1]["request"] and last[1]["reason"]
    finally:
        node.close()
