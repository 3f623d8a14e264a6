"""Issue 17 end to end: real node processes with keys made by `gridfree keys init`, ground clients
on TCP. Only frames under the node's SAs command it, a recorded uplink replayed after a kill -9 is
refused, each tenant reaches only its own work, TM is authenticated, and the node's own audit
comes down naming who sent what."""
import os
import signal
import subprocess
import sys

from gridfree.ground.link.client import GroundClient
from gridfree.ground.link.announce import read_announcement
from gridfree.protocols.audit import decode_dump
from gridfree.protocols.config import LinkConfig
from gridfree.protocols.services.verification import FailureCode
from tests.integration.conftest import NodeProcess
from tests.keys import make_keys, operator, tenant

MATMUL = dict(kind="MATMUL", seed=5, size=64, batch=1, chunks=2, priority=1, deadline_unix_s=0.0, threshold=0.0,
              input_id=0)


def code(handle) -> int | None:
    return handle.failure[0] if handle.failure else None


def test_a_node_without_keys_refuses_to_start_and_says_how_to_make_them(tmp_path):
    cfg = tmp_path / "node.toml"
    cfg.write_text('[node]\nstate_dir = "state"\n[radio]\nurl = "tcp://127.0.0.1:0?listen=1"\n')
    run = subprocess.run([sys.executable, "-m", "gridfree.flight", "--config", str(cfg), "--no-supervise"],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and run.stdout == ""
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and "gridfree keys init" in lines[0] and "--insecure" in lines[0], run.stderr


def test_an_insecure_node_says_so_and_obeys_plain_frames(tmp_path, dictionary):
    cfg = tmp_path / "node.toml"
    cfg.write_text('[node]\nstate_dir = "state"\n[radio]\nurl = "tcp://127.0.0.1:0?listen=1"\n')
    proc = subprocess.Popen([sys.executable, "-m", "gridfree.flight", "--config", str(cfg), "--no-supervise",
                             "--insecure"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    try:
        node = read_announcement(proc.stdout)
        with GroundClient(node.radio, dictionary) as g:
            assert g.send("test.Ping").wait(10).completed
            assert g.wait_until(lambda: g.value("sec.Insecure") is True, 10)
            assert "unauthenticated" in g.security_note
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        _, err = proc.communicate(timeout=15)
    assert "INSECURE" in err


def test_only_frames_under_the_nodes_sas_command_it_and_its_telemetry_authenticates(node, ground, dictionary):
    assert ground.send("test.Ping").wait(10).completed
    assert ground.wait_until(lambda: ground.tm_auth.authenticated > 5, 10)
    auth = ground.tm_auth
    assert auth.checking and auth.failed == 0 and auth.recent_ok == auth.recent > 0
    before = ground.value("cmdDisp.CommandsCompleted")

    # A ground without keys: its plain frame is too short to hold the SDLS fields, or names no SA
    # (it reads the TM, unchecked).
    with GroundClient(node.url, dictionary, link_config=LinkConfig(sdls=True)) as plain:
        assert not plain.send("test.Ping").wait(3).final
        assert plain.wait_until(lambda: plain.tm_auth.unchecked > 0, 10)
    # A ground with another mission's keys: the SPI is known, the MAC is not.
    (node.workdir / "stranger").mkdir()
    stranger = make_keys(node.workdir / "stranger")
    with GroundClient(node.url, dictionary, security=operator(stranger)) as forger:
        assert not forger.send("test.Ping").wait(3).final
        assert forger.wait_until(lambda: forger.tm_auth.failed > 0, 10)  # and the node's TM fails its key
    assert ground.wait_until(lambda: ground.value("sec.RejectedLength") + ground.value("sec.RejectedUnknownSpi") >= 1
                             and ground.value("sec.RejectedMac") >= 1, 10)
    assert ground.value("cmdDisp.CommandsCompleted") == before  # neither ping ran


def test_a_recorded_uplink_replayed_after_a_kill_9_is_refused(tmp_path, dictionary):
    node = NodeProcess(tmp_path)
    sent: list[bytes] = []
    try:
        with GroundClient(node.url, dictionary, security=operator(node.keys)) as g:
            write = g.link.write
            g.link.write = lambda data: (sent.append(bytes(data)), write(data))[1]
            assert g.send("test.Ping").wait(10).completed
        os.killpg(node.proc.pid, signal.SIGKILL)  # no chance to save anything on the way down
        node.proc.wait(10)
    finally:
        node.stop()
    again = NodeProcess(tmp_path, port=node.port, keys=node.keys)  # same state and keys
    try:
        with GroundClient(again.url, dictionary, security=operator(again.keys)) as g:
            assert g.wait_until(lambda: g.value("sec.FramesAccepted") is not None, 15)
            completed = g.value("cmdDisp.CommandsCompleted")
            for cltu in sent:
                g.link.write(cltu)  # the recording, verbatim
            assert g.wait_until(lambda: g.value("sec.RejectedReplay") == len(sent), 10)
            assert g.send("test.Ping").wait(10).completed  # the ground's own next IV still works
            assert g.wait_until(lambda: g.value("cmdDisp.CommandsCompleted") == completed + 1, 10)
    finally:
        again.stop()


def test_each_tenant_reaches_only_its_own_work_and_the_audit_names_who_sent_what(node, ground, dictionary):
    for t in (1, 2):
        assert ground.send("compute.SetQuota", arm=True, tenant=t, tokens=10_000_000).wait(10).completed
    with GroundClient(node.url, dictionary, security=tenant(node.keys, 1)) as one, \
            GroundClient(node.url, dictionary, security=tenant(node.keys, 2)) as two:
        assert one.send("compute.Submit", job_id=7, tenant=1, **MATMUL).wait(10).completed
        assert two.send("compute.Submit", job_id=8, tenant=2, **MATMUL).wait(10).completed

        stolen = two.send("compute.Cancel", job_id=7).wait(10)  # tenant 2 at tenant 1's job
        assert stolen.failed and "no job 7 of tenant 2" in stolen.failure[1]
        posing = two.send("compute.Submit", job_id=9, tenant=1, **MATMUL).wait(10)
        assert code(posing) == FailureCode.NOT_AUTHORISED
        snooping = two.send("compute.Statement", tenant=1, since_seq=0).wait(10)
        assert code(snooping) == FailureCode.NOT_AUTHORISED
        mode = one.send("node.SetMode", mode="SAFE").wait(10)
        assert code(mode) == FailureCode.NOT_AUTHORISED and "tenant 1" in mode.failure[1]
        assert one.send("compute.Cancel", job_id=7).wait(10).completed  # its own job

    dump = ground.send("audit.Dump", since_record=0).wait(10)
    assert dump.completed
    assert ground.wait_until(lambda: ground.completed_transfers, 15)
    records = decode_dump(next(iter(ground.completed_transfers.values())))
    seen = {(r.name, r.outcome, r.role, r.tenant) for r in records}
    assert ("compute.SetQuota", "completed", "operator", 0) in seen
    assert ("compute.Cancel", "failed", "tenant", 2) in seen
    assert ("node.SetMode", "rejected", "tenant", 1) in seen
    assert ("compute.Cancel", "completed", "tenant", 1) in seen
    assert [r.seq for r in records] == list(range(records[0].seq, records[0].seq + len(records)))
