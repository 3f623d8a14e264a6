"""A node as its own process, commanded and watched over a real TCP link by the ground client."""
import os
import re
import signal
import struct
import subprocess
import sys
from pathlib import Path

from gridfree.ground.link.announce import read_announcement
from tests.keys import make_keys, operator
from gridfree.protocols.pus import PusTc
from gridfree.protocols.services.verification import FailureCode
from gridfree.protocols.tcframe import TcFrame, encode_cltu
from tests.integration.conftest import NodeProcess

MODES = {"BOOT": 0, "SAFE": 1, "NOMINAL": 2}


def test_ping_is_verified_through_every_stage(ground):
    h = ground.send("test.Ping").wait(10)
    assert h.stages == [("acceptance", True), ("start", True), ("completion", True)]
    assert ground.wait_until(lambda: ground.pongs == 1, 5)
    assert ground.hash_mismatch is False


def test_parameter_set_read_back_and_persisted_across_a_restart(tmp_path, dictionary):
    from gridfree.ground.link.client import GroundClient

    node = NodeProcess(tmp_path)
    try:
        with GroundClient(node.url, dictionary, security=operator(node.keys)) as g:
            assert g.send("params.Set", **{"events.ThrottleBurst": 42}).wait(10).completed
            assert g.send("params.Report", names=["events.ThrottleBurst"]).wait(10).completed
            assert g.wait_until(lambda: g.parameters.get("events.ThrottleBurst") == 42, 5)
    finally:
        node.stop()
    node = NodeProcess(tmp_path, port=node.port)  # same state directory: a reboot of the same node
    try:
        with GroundClient(node.url, dictionary, security=operator(node.keys)) as g:
            assert g.wait_until(lambda: g.value("node.BootCount") == 2, 15)
            assert g.send("params.Report", names=["events.ThrottleBurst"]).wait(10).completed
            assert g.wait_until(lambda: g.parameters.get("events.ThrottleBurst") == 42, 5)
    finally:
        node.stop()


def test_out_of_range_parameter_is_refused_and_nothing_changes(ground):
    import pytest

    with pytest.raises(ValueError, match="above the maximum"):
        ground.send("params.Set", **{"events.ThrottleBurst": 5000})  # the ground checks first...
    raw = struct.pack(">BHH", 1, ground.dictionary.parameter_by_name["events.ThrottleBurst"].id, 5000)
    h = ground.send_packet("params.Set", 20, 3, raw).wait(10)  # ...and so does the node
    assert h.failure[0] == FailureCode.ARGUMENT_OUT_OF_RANGE
    assert ground.send("params.Report", names=["events.ThrottleBurst"]).wait(10).completed
    assert ground.wait_until(lambda: ground.parameters.get("events.ThrottleBurst") == 5, 5)


def test_bad_commands_are_reported_or_counted_and_the_node_keeps_running(ground):
    unknown = ground.send_packet("no.Such", 8, 1, struct.pack(">H", 0x7777)).wait(10)
    assert unknown.failure[0] == FailureCode.UNKNOWN_COMMAND and unknown.stages == [("acceptance", False)]
    bad_arg = ground.send_packet("node.SetMode", 8, 1, struct.pack(">HB", 0x0001, 9)).wait(10)
    assert bad_arg.failure[0] == FailureCode.ARGUMENT_OUT_OF_RANGE
    hazardous = ground.send("node.Reboot").wait(10)
    assert hazardous.failure[0] == FailureCode.NOT_ARMED
    # A truncated TC frame inside a valid CLTU: rejected by its FECF, counted, nothing dispatched.
    frame = TcFrame(0x2A, 0, 0, PusTc(apid=100, service=17, subtype=1).pack()).pack()
    ground.link.write(encode_cltu(frame[:-3]))
    ground.link.write(b"\xeb\x90" + os.urandom(300))  # and plain garbage
    assert ground.wait_until(lambda: (ground.value("radio.FramesBad") or 0) >= 1, 10)
    assert ground.send("test.Ping").wait(10).completed
    assert ground.wait_until(lambda: ground.value("cmdDisp.CommandsRejected") == 3, 10)


def test_monitoring_rule_trips_safe_mode_with_an_event(ground):
    assert ground.send("node.SetMode", mode="NOMINAL", arm=True).wait(10).completed
    assert ground.wait_until(lambda: ground.value("node.Mode") == MODES["NOMINAL"], 10)
    # The PMON judges rejections by their rate (more than 5 in 10 s), not by the count since boot.
    for _ in range(5):
        assert ground.send_packet("no.Such", 8, 1, struct.pack(">H", 0x7777)).wait(10).failure
    assert ground.send("test.Ping").wait(10).completed  # a tick later: still NOMINAL
    assert ground.value("node.Mode") == MODES["NOMINAL"]
    for _ in range(2):
        ground.send_packet("no.Such", 8, 1, struct.pack(">H", 0x7777))
    assert ground.wait_until(lambda: ground.value("node.Mode") == MODES["SAFE"], 10)
    texts = [e.text for e in ground.events]
    assert any(re.search(r"PMON 1: [67]\.000 above 5\.500", t) for t in texts), texts
    assert any(t.startswith("mode NOMINAL -> SAFE") for t in texts), texts


def test_a_hung_component_is_found_and_restarted(ground):
    assert ground.send("node.Arm", window_s=30).wait(10).completed
    assert ground.send("radio.InjectHang").wait(10).completed
    # The uplink thread now blocks on the next data it reads: this ping is swallowed by it.
    ground.send("test.Ping")
    assert ground.wait_until(lambda: any(e.event and e.event.name == "health.ComponentHung" for e in ground.events), 20)
    assert ground.send("test.Ping").wait(10).completed  # a fresh uplink thread reads again
    assert ground.wait_until(lambda: (ground.value("health.Restarts") or 0) >= 1, 10)


def test_supervisor_restarts_a_hung_node_process(tmp_path, dictionary):
    from gridfree.ground.link.client import GroundClient

    node = NodeProcess(tmp_path, supervised=True, watchdog_s=2.0)
    try:
        children = Path(f"/proc/{node.proc.pid}/task/{node.proc.pid}/children").read_text().split()
        assert len(children) == 1
        os.kill(int(children[0]), signal.SIGSTOP)  # the flight process hangs, but still exists
        assert node.wait_banners(2, 30), "supervisor did not restart the node"
        with GroundClient(node.url, dictionary, security=operator(node.keys)) as g:
            assert g.wait_until(lambda: g.value("node.BootCount") == 2, 15)
            assert g.value("node.ResetCause") == dictionary.channel_by_name["node.ResetCause"].enum["HEARTBEAT_LOST"]
            assert g.send("test.Ping").wait(10).completed
    finally:
        node.stop()


def test_a_commanded_reboot_needs_arming_and_comes_back_with_its_cause(tmp_path, dictionary):
    from gridfree.ground.link.client import GroundClient

    node = NodeProcess(tmp_path, supervised=True)
    try:
        with GroundClient(node.url, dictionary, security=operator(node.keys)) as g:
            assert g.send("node.Arm", window_s=10).wait(10).completed
            assert g.send("node.Reboot").wait(10).completed
            assert node.wait_banners(2, 30)
            assert g.wait_until(lambda: g.value("node.BootCount") == 2, 20)  # the client reconnected by itself
            assert g.value("node.ResetCause") == dictionary.channel_by_name["node.ResetCause"].enum["COMMANDED_REBOOT"]
    finally:
        node.stop()


def test_time_tagged_commands_survive_a_restart_and_are_released(tmp_path, dictionary):
    from gridfree.ground.link.client import GroundClient

    node = NodeProcess(tmp_path)
    try:
        with GroundClient(node.url, dictionary, security=operator(node.keys)) as g:
            assert g.wait_until(lambda: "node.UptimeS" in g.latest, 15)
            now = g.latest["node.UptimeS"].time_s
            insert, (ping,) = g.schedule([(now + 6.0, "test.Ping", {})])
            assert insert.wait(10).completed
            assert g.wait_until(lambda: g.value("schedule.Activities") == 1, 15)
            # Listed back exactly as uplinked, and a deleted activity is gone.
            _, (extra,) = g.schedule([(now + 600.0, "cmdDisp.Noop", {})])
            assert g.send("schedule.Delete", handles=[extra]).wait(10).completed
            assert g.send("schedule.ReportAll").wait(10).completed
            assert g.wait_until(lambda: g.schedule_report is not None, 10)
            ((release, packet),) = g.schedule_report
            assert abs(release - (now + 6.0)) < 1e-4 and (int.from_bytes(packet[2:4], "big") & 0x3FFF) == ping.request.seq_count
    finally:
        node.stop()
    node = NodeProcess(tmp_path, port=node.port)
    try:
        with GroundClient(node.url, dictionary, security=operator(node.keys)) as g:
            assert g.wait_until(lambda: g.pongs == 1, 20), "scheduled ping never released after the restart"
            assert g.wait_until(lambda: g.value("schedule.Released") == 1 and g.value("schedule.Activities") == 0, 15)
    finally:
        node.stop()


def test_large_data_comes_down_in_parts_and_reassembles_exactly(ground):
    assert ground.send("lds.DownlinkTestPattern", size_bytes=25_500).wait(10).completed
    assert ground.wait_until(lambda: len(ground.completed_transfers) == 1, 20)
    (data,) = ground.completed_transfers.values()
    # The documented test pattern, computed here independently of the flight code.
    assert data == bytes((i * 7 + (i >> 8)) & 0xFF for i in range(25_500))
    assert ground.wait_until(lambda: ground.value("lds.PartsSent") == 26, 10)


def test_a_lockstep_node_process_is_stepped_from_outside(tmp_path, dictionary):
    from gridfree.flight.core.clock import J2000_UNIX_S
    from gridfree.ground.link.client import GroundClient
    from gridfree.protocols.links import open_link

    cfg = tmp_path / "node.toml"
    keys = make_keys(tmp_path)
    cfg.write_text('[node]\napid = 100\nclock = "lockstep"\nstate_dir = "state"\n[security]\nkeys = "keys/node"\n'
                   '[radio]\nurl = "tcp://127.0.0.1:0?listen=1"\n[clock]\nurl = "tcp://127.0.0.1:0?listen=1"\n')
    proc = subprocess.Popen([sys.executable, "-m", "gridfree.flight", "--config", str(cfg), "--no-supervise"],
                            stdout=subprocess.PIPE, text=True)
    try:
        node = read_announcement(proc.stdout)
        radio_url, clock_url = node.radio, node.clock
        with GroundClient(radio_url, dictionary, security=operator(keys)) as g, open_link(clock_url) as clock:
            g.wait_until(lambda: g.link.stats.connected, 10)
            # Two simulated minutes in 0.5 s steps, each acknowledged before the next is sent; the
            # first step is the node's boot time.
            for k in range(0, 241):
                step = struct.pack(">d", J2000_UNIX_S + 0.5 * k)
                clock.write(step)
                got = b""
                while len(got) < 8:
                    got += clock.read(8 - len(got), timeout=5)
                assert got == step
            assert g.wait_until(lambda: g.value("node.UptimeS") == 120, 10)
            assert abs(g.latest["node.UptimeS"].time_s - (J2000_UNIX_S + 120)) < 1e-3  # onboard time is simulated
    finally:
        proc.terminate()
        proc.wait(10)
        proc.stdout.close()


def test_a_tenant_input_goes_up_paced_by_verified_parts_and_is_stored(ground):
    from gridfree.protocols.compute import TenantInput

    from gridfree.flight.core.dispatch import MAX_QUEUED_COMMANDS

    data = TenantInput(3, 1, bytes(range(256)) * 600).pack()  # ~160 parts: more than the node queues at once
    tid = ground.uplink(data)  # window of 16 parts: waits for verification as it goes
    handles = ground.uplinks[tid]
    assert len(handles) > 2 * MAX_QUEUED_COMMANDS and all(h.wait(10).completed for h in handles)
    assert ground.wait_until(lambda: ground.value("compute.InputsStored") == 1, 10)
    assert ground.value("cmdDisp.QueueOverflows") == 0 and ground.uplink_aborts == {}
