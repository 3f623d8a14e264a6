"""The node in-process on the lockstep clock: rates, throttling, monitoring and stores, exactly."""
import struct

import pytest

from gridfree.flight.app.config import ConfigError, NodeConfig, load_toml
from gridfree.flight.app.node import Node
from gridfree.flight.core.clock import J2000_UNIX_S
from gridfree.flight.core.modes import Mode
from gridfree.protocols.pus import PusTc, PusTm
from gridfree.protocols.services.events import EventReport
from gridfree.protocols.services.housekeeping import HkReport

TOML = """
[node]
apid = 100
clock = "lockstep"
state_dir = "{state}"
{extra}
"""


def make_node(tmp_path, extra=""):
    path = tmp_path / "node.toml"
    path.write_text(TOML.format(state=tmp_path / "state", extra=extra))
    packets = []
    node = Node(NodeConfig.load(path), tm_sink=lambda vc, p: packets.append(PusTm.unpack(p)))
    node.start(open_radio=False)
    return node, packets


def tc(node, name, **args):
    cmd = node.dictionary.command_by_name[name]
    return PusTc(apid=100, service=cmd.service, subtype=cmd.subtype, app_data=cmd.encode_args(**args)).pack()


def of(packets, service, subtype):
    return [p for p in packets if (p.service, p.subtype) == (service, subtype)]


def test_housekeeping_follows_its_declared_periods_exactly(tmp_path):
    node, packets = make_node(tmp_path)
    node.step_to(J2000_UNIX_S + 10.0)
    sids = [HkReport.unpack(p.app_data).sid for p in of(packets, 3, 25)]
    health = node.dictionary.hk_by_name["node.Health"].sid
    params = node.dictionary.hk_by_name["params.Status"].sid
    assert sids.count(health) == 11  # 1 Hz over [0, 10] s inclusive
    assert sids.count(params) == 2  # 0.1 Hz: at 0 and 10 s
    times = [p.time.to_unix() - J2000_UNIX_S for p in of(packets, 3, 25) if HkReport.unpack(p.app_data).sid == health]
    assert times == pytest.approx([float(i) for i in range(11)], abs=1e-4)


def test_changing_a_period_and_disabling_a_packet(tmp_path):
    node, packets = make_node(tmp_path)
    sid = node.dictionary.hk_by_name["node.Health"].sid
    node.submit(tc(node, "hk.ModifyInterval", count=1, sid=sid, interval_ms=200))
    node.step_to(J2000_UNIX_S + 2.0)
    fast = [p for p in of(packets, 3, 25) if HkReport.unpack(p.app_data).sid == sid]
    assert len(fast) >= 9  # 5 Hz after the first tick
    node.submit(tc(node, "hk.DisablePeriodic", count=1, sid=sid))
    node.step_to(J2000_UNIX_S + 2.1)
    before = len([p for p in of(packets, 3, 25) if HkReport.unpack(p.app_data).sid == sid])
    node.step_to(J2000_UNIX_S + 5.0)
    after = len([p for p in of(packets, 3, 25) if HkReport.unpack(p.app_data).sid == sid])
    assert after == before


def test_an_event_storm_is_throttled_per_event(tmp_path):
    node, packets = make_node(tmp_path)
    node.step_to(J2000_UNIX_S + 0.5)
    packets.clear()
    bad = PusTc(apid=100, service=8, subtype=1, app_data=struct.pack(">H", 0x7777)).pack()
    for _ in range(50):
        node.submit(bad)
    node.step_to(J2000_UNIX_S + 0.6)
    rejected_id = node.dictionary.event_by_name["cmdDisp.Rejected"].id
    reports = [EventReport.unpack(p.subtype, p.app_data) for p in packets if p.service == 5]
    assert sum(r.event_id == rejected_id for r in reports) == 5  # ThrottleBurst default
    assert node.events.throttled == 45
    assert len(of(packets, 1, 2)) == 50  # every command still gets its failure report


def test_monitoring_needs_consecutive_failures_and_fires_the_action(tmp_path):
    extra = """
[[monitoring]]
id = 7
channel = "cmdDisp.CommandsRejected"
high = 0.5
repetitions = 3

[[event_action]]
event = "monitor.AboveHigh"
command = "node.SetMode"
args = { mode = "SAFE" }
"""
    node, packets = make_node(tmp_path, extra)
    node.modes.request(Mode.NOMINAL, "test")
    node.submit(PusTc(apid=100, service=8, subtype=1, app_data=struct.pack(">H", 0x7777)).pack())
    t0 = J2000_UNIX_S
    node.step_to(t0 + 0.15)  # two fast ticks with the violation
    assert node.modes.mode is Mode.NOMINAL
    node.step_to(t0 + 0.35)  # third consecutive failure: event, then the action next tick
    assert node.modes.mode is Mode.SAFE
    node.step_to(t0 + 0.45)
    assert node.telemetry.read("monitor.ActionsFired") == 1


def test_a_corrupt_parameter_store_means_defaults_and_an_event(tmp_path):
    node, _ = make_node(tmp_path)
    node.params.set("events.ThrottleBurst", 9)
    store = tmp_path / "state" / "parameters.bin"
    raw = bytearray(store.read_bytes())
    raw[-2] ^= 0x40
    store.write_bytes(bytes(raw))
    node2, packets = make_node(tmp_path)
    assert node2.params.get("events.ThrottleBurst") == 5
    assert any(text[1] == "params.StoreCorrupt" for text in node2.events.log_ring)


def test_configuration_errors_name_file_and_key(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text('[node]\napid = "one hundred"\n')
    with pytest.raises(ConfigError, match=r"bad.toml: \[node\] apid: expected int"):
        NodeConfig.load(path)
    path.write_text('[node]\napid = 100\n[radio]\nurl = "tcp://x:1"\nspeed = 9600\n')
    with pytest.raises(ConfigError, match=r"\[radio\] speed: unknown key"):
        NodeConfig.load(path)
    path.write_text('[node]\napid = 100\n[[event_action]]\nevent = "monitor.AboveHigh"\ncommand = "node.Fly"\n')
    with pytest.raises(ConfigError, match="no command 'node.Fly'"):
        Node(NodeConfig.load(path))
    path.write_text("[node\n")
    with pytest.raises(ConfigError, match="syntax"):
        load_toml(path)


def test_lockstep_runs_a_day_of_idle_node_without_waiting(tmp_path):
    node, packets = make_node(tmp_path)
    ran = node.step_to(J2000_UNIX_S + 3600.0)
    assert ran == 36001 + 3601 + 361  # fast, slow and background ticks of an hour
    assert node.telemetry.read("node.UptimeS") == 3600
