"""The node in-process on the lockstep clock: rates, throttling, monitoring and stores, exactly."""
import struct

import pytest

from gridfree.flight.app.config import ConfigError, NodeConfig, load_toml
from gridfree.flight.app.node import Node
from gridfree.flight.core.clock import J2000_UNIX_S
from gridfree.flight.core.modes import Mode, TransitionRefused
from gridfree.protocols.pus import PusTc, PusTm
from gridfree.protocols.services.events import EventReport
from gridfree.protocols.services.housekeeping import HkReport

TOML = """
[node]
apid = 100
clock = "lockstep"
state_dir = "{state}"

[power]
battery = false  # no board: a development host
{extra}
"""


def make_node(tmp_path, extra=""):
    path = tmp_path / "node.toml"
    path.write_text(TOML.format(state=tmp_path / "state", extra=extra))
    packets = []
    node = Node(NodeConfig.load(path), tm_sink=lambda vc, p: packets.append(PusTm.unpack(p)), insecure=True)
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
        Node(NodeConfig.load(path), insecure=True)
    path.write_text("[node\n")
    with pytest.raises(ConfigError, match="syntax"):
        load_toml(path)


def test_lockstep_runs_a_day_of_idle_node_without_waiting(tmp_path):
    node, packets = make_node(tmp_path)
    ran = node.step_to(J2000_UNIX_S + 3600.0)
    assert ran == 36001 + 3601 + 361  # fast, slow and background ticks of an hour
    assert node.telemetry.read("node.UptimeS") == 3600


def test_leaving_safe_waits_for_a_battery_reading_unless_there_is_no_battery(tmp_path):
    path = tmp_path / "node.toml"
    path.write_text(TOML.format(state=tmp_path / "state", extra="").replace("battery = false", "battery = true"))
    node = Node(NodeConfig.load(path), insecure=True)
    node.start(open_radio=False)
    node.step_to(J2000_UNIX_S + 0.5)
    with pytest.raises(TransitionRefused, match="battery state unknown"):
        node.modes.request(Mode.NOMINAL, "test")
    assert node.modes.mode is Mode.SAFE
    (tmp_path / "bench").mkdir()
    bench_node, _ = make_node(tmp_path / "bench")  # [power] battery = false
    bench_node.step_to(J2000_UNIX_S + 0.5)
    bench_node.modes.request(Mode.NOMINAL, "test")
    assert bench_node.modes.mode is Mode.NOMINAL



def test_a_command_flood_is_refused_busy_one_report_per_command(tmp_path):
    """3000 pings at 10 000/s: the queue takes what one tick can run; every other ping is refused
    with TM[1,2] BUSY naming it, so the ground knows exactly which commands never ran."""
    from gridfree.protocols.services.verification import FailureCode, VerificationReport

    node, packets = make_node(tmp_path)
    t0 = J2000_UNIX_S
    sent = set()
    for tick in range(3):
        for i in range(1000):
            seq = tick * 1000 + i
            packet = PusTc(apid=100, service=17, subtype=1, seq_count=seq).pack()
            sent.add(packet[:4])
            node.submit(packet)
        node.step_to(t0 + 0.1 * (tick + 1))
    node.step_to(t0 + 1.0)
    reports = [VerificationReport.unpack(p.subtype, p.app_data) for p in of(packets, 1, 2)]
    busy = {(r.request.packet_id, r.request.seq_ctrl) for r in reports if r.failure == FailureCode.BUSY}
    completed = {(r.request.packet_id, r.request.seq_ctrl)
                 for r in (VerificationReport.unpack(p.subtype, p.app_data) for p in of(packets, 1, 7))}
    as_ids = {struct.unpack(">HH", h) for h in sent}
    assert len(completed) == 3 * 64 and len(busy) == 3000 - 3 * 64
    assert busy | completed == as_ids and not busy & completed
    assert node.telemetry.read("cmdDisp.BusyUnreported") == 0
    assert node.telemetry.read("cmdDisp.QueueOverflows") == len(busy)


def test_a_flood_beyond_the_report_budget_is_counted_not_echoed(tmp_path):
    from gridfree.flight.core.dispatch import MAX_BUSY_REPORTS, MAX_QUEUED_COMMANDS

    node, packets = make_node(tmp_path)
    burst = MAX_QUEUED_COMMANDS + MAX_BUSY_REPORTS + 500
    for seq in range(burst):
        node.submit(PusTc(apid=100, service=17, subtype=1, seq_count=seq % 16384).pack())
    node.step_to(J2000_UNIX_S + 1.0)
    assert len(of(packets, 1, 2)) == MAX_BUSY_REPORTS
    assert node.telemetry.read("cmdDisp.BusyUnreported") == 500


def test_a_counter_is_monitored_by_its_rate_not_its_total(tmp_path):
    extra = """
[[monitoring]]
id = 3
channel = "cmdDisp.CommandsRejected"
window_s = 1.0
high = 3.5
"""
    node, packets = make_node(tmp_path, extra)
    bad = PusTc(apid=100, service=8, subtype=1, app_data=struct.pack(">H", 0x7777)).pack()
    t0 = J2000_UNIX_S
    for second in range(5):  # 3 rejections a second: 15 in all, never more than 3 in a window
        for _ in range(3):
            node.submit(bad)
        node.step_to(t0 + second + 1.0)
    assert node.telemetry.read("cmdDisp.CommandsRejected") == 15
    assert node.telemetry.read("monitor.ChecksFailed") == 0
    for _ in range(4):
        node.submit(bad)
    node.step_to(t0 + 6.0)
    above = node.dictionary.event_by_name["monitor.AboveHigh"].id
    reports = [EventReport.unpack(p.subtype, p.app_data) for p in packets if p.service == 5]
    assert sum(r.event_id == above for r in reports) == 1
    assert node.modes.mode is Mode.SAFE  # no event-action here: the operator decides


def test_a_schedule_longer_than_one_report_comes_down_whole_in_several(tmp_path):
    """TM[11,10] counts its activities in one octet: 300 activities are two reports of one tick,
    and the ground joins them back into the one list."""
    from gridfree.ground.link.downlink import Downlink
    from gridfree.protocols.services import schedule as pus11

    node, packets = make_node(tmp_path)
    t0 = J2000_UNIX_S
    wanted = [(t0 + 1000.0 + i, PusTc(apid=100, service=17, subtype=1, seq_count=i).pack()) for i in range(300)]
    for part in (wanted[:200], wanted[200:]):
        node.submit(PusTc(apid=100, service=11, subtype=pus11.Subtype.INSERT,
                          app_data=pus11.pack_activities(part)).pack())
    node.step_to(t0 + 0.5)
    node.submit(tc(node, "schedule.ReportAll"))
    node.step_to(t0 + 1.0)
    reports = of(packets, 11, pus11.Subtype.DETAIL_REPORT)
    assert len(reports) == 2 and all(len(r.pack()) <= 4096 for r in reports)
    ground = Downlink("test", node.dictionary)
    for r in reports:
        for record in ground.decoder.packet(r.pack()):
            ground._apply(record)
    assert [(round(t, 3), p) for t, p in ground.schedule_report] == [(round(t, 3), p) for t, p in wanted]
