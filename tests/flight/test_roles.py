"""Roles and arms at the dispatcher: who may send what, for whom, and whose arm a hazardous command
finds. Each component runs on its own ComponentTester; the dispatcher routes TC packets built as
the ground builds them to their real handlers, with the Origin the security component would give,
and every outcome is read where the ground and the audit read it (TM[1,x] and `auditOut`)."""
from __future__ import annotations

import json
import struct

import pytest

from gridfree.flight.core.access import Refused
from gridfree.flight.core.component import Component, build_dictionary
from gridfree.flight.core.dispatch import MAX_ARM_S, Dispatcher
from gridfree.flight.core.messages import ONBOARD, ArmRequest, CommandPacket, Origin
from gridfree.flight.core.nodecomp import NodeComponent
from gridfree.flight.core.services import largedata as lds
from gridfree.flight.core.services.parameters import ParameterService
from gridfree.flight.core.services.schedule import ScheduleService
from gridfree.flight.core.tester import ComponentTester
from gridfree.protocols.compute import JobSpec, Kind, TenantInput
from gridfree.protocols.dictionary import Command, Dictionary, Parameter
from gridfree.protocols.pus import PusTc
from gridfree.protocols.services import largedata as pus13
from gridfree.protocols.services import parameters as pus20
from gridfree.protocols.services import schedule as pus11
from gridfree.protocols.services.verification import FailureCode, Subtype, VerificationReport
from tests.compute import alone

OPERATOR = Origin(1, "operator")
OTHER_OPERATOR = Origin(3, "operator")
TENANT_1 = Origin(0x101, "tenant", 1)
TENANT_2 = Origin(0x102, "tenant", 2)
APID = 100


class Thresholds(Component):
    """A component with one hazardous threshold and one harmless setting, as power and thermal have."""

    parameters = (Parameter(1, "UnderVoltageV", "f32", 25.6, "V", hazardous=True, min=20.0, max=30.0),
                  Parameter(2, "ReportPeriodS", "f32", 1.0, "s", min=0.1, max=60.0))


class Bench:
    """A dispatcher routing to real components; what it reports and audits."""

    def __init__(self, *components: Component, t0: float = alone.EPOCH):
        self.disp = Dispatcher("cmdDisp", 0x0010)
        self.d = ComponentTester(self.disp, t0=t0, apid=APID)
        self.components = [self.disp, *components]
        self.disp.route(self.components)
        self.dictionary = build_dictionary("bench", [c.declarations() for c in self.components])
        self._seq = 0

    def packet(self, name: str, **args) -> bytes:
        cmd: Command = self.dictionary.command_by_name[name]
        data = args.pop("data") if cmd.raw else cmd.encode_args(**args)
        self._seq += 1
        return PusTc(APID, cmd.service, cmd.subtype, data, seq_count=self._seq).pack()

    def send(self, origin: Origin, name: str, **args):
        """Send one command as `origin`; the audit record of its fate."""
        self.disp.execute(self.packet(name, **args), origin)
        return self.d.sent("auditOut")[-1]

    def failure(self) -> VerificationReport:
        """The last failure report (acceptance or completion) the dispatcher sent down."""
        reports = [d for d in self.d.downlinked(1) if Subtype(d.subtype).failed]
        return VerificationReport.unpack(reports[-1].subtype, reports[-1].data)

    def at(self, t: float) -> None:
        self.d.clock.set(t)


def node_bench_with(tmp_path, *extra: Component) -> Bench:
    """A bench with the node component (its armOut feeding the dispatcher) and `extra`."""
    reboots = []
    node = NodeComponent("node", 0x0020, state_dir=tmp_path, on_reboot=lambda: reboots.append(1))
    n = ComponentTester(node, t0=alone.EPOCH)
    bench = Bench(node, *extra)
    n.answer("armOut", lambda request: bench.d.send("armIn", request))
    bench.reboots = reboots
    return bench


@pytest.fixture
def node_bench(tmp_path):
    return node_bench_with(tmp_path)


def test_tenant_sending_an_operator_command_is_refused_with_the_reason(node_bench):
    audit = node_bench.send(TENANT_1, "cmdDisp.Noop")
    assert (audit.outcome, audit.code, audit.origin, audit.name) == (
        "rejected", FailureCode.NOT_AUTHORISED, TENANT_1, "cmdDisp.Noop")
    report = node_bench.failure()
    assert report.subtype == Subtype.ACCEPTANCE_FAILED and report.failure == FailureCode.NOT_AUTHORISED
    assert report.failure_data.decode() == audit.reason
    assert "operator role" in audit.reason and "tenant 1" in audit.reason
    assert node_bench.send(OPERATOR, "cmdDisp.Noop").outcome == "completed"


def test_hazardous_command_finds_only_its_own_sas_arm_and_spends_it(node_bench):
    assert node_bench.send(OPERATOR, "node.Arm", window_s=10).outcome == "completed"
    refused = node_bench.send(OTHER_OPERATOR, "node.Reboot")
    assert (refused.outcome, refused.code) == ("rejected", FailureCode.NOT_ARMED)
    assert "belongs to another SA" in refused.reason and "SPI 1" in refused.reason
    assert node_bench.reboots == []
    assert node_bench.send(OPERATOR, "node.Reboot").outcome == "completed"  # the arm was left for its owner
    assert node_bench.reboots == [1]
    again = node_bench.send(OPERATOR, "node.Reboot")  # one arm, one hazardous command
    assert (again.code, "another SA" in again.reason) == (FailureCode.NOT_ARMED, False)
    assert node_bench.reboots == [1]


def test_an_arm_lasts_its_window_and_never_more_than_a_minute(node_bench):
    assert node_bench.send(OPERATOR, "node.Arm", window_s=5).outcome == "completed"
    node_bench.at(alone.EPOCH + 5.5)
    assert node_bench.send(OPERATOR, "node.SetMode", mode=2).code == FailureCode.NOT_ARMED
    arm = node_bench.dictionary.command_by_name["node.Arm"]  # the ground's encoder would refuse 61: build it by hand
    node_bench.disp.execute(PusTc(APID, arm.service, arm.subtype, struct.pack(">HH", arm.opcode, 61)).pack(), OPERATOR)
    too_long = node_bench.d.sent("auditOut")[-1]
    assert (too_long.outcome, too_long.code) == ("rejected", FailureCode.ARGUMENT_OUT_OF_RANGE)
    node_bench.d.send("armIn", ArmRequest(3600.0, OPERATOR))  # whoever asks, the dispatcher bounds it
    node_bench.at(alone.EPOCH + 5.5 + MAX_ARM_S - 1)
    assert node_bench.disp.armed(OPERATOR)
    node_bench.at(alone.EPOCH + 5.5 + MAX_ARM_S + 1)
    assert not node_bench.disp.armed(OPERATOR)
    assert node_bench.send(OPERATOR, "node.Reboot").code == FailureCode.NOT_ARMED and node_bench.reboots == []


def test_commands_from_the_node_itself_need_no_role_or_arm(node_bench):
    assert node_bench.send(ONBOARD, "node.Reboot").outcome == "completed"
    assert node_bench.reboots == [1]


def test_a_schedule_insert_holding_a_hazardous_tc_needs_the_arm_and_releases_it_as_onboard(tmp_path):
    schedule = ScheduleService("schedule", 0x0060, store_path=tmp_path / "schedule.bin")
    s = ComponentTester(schedule, t0=alone.EPOCH)
    bench = node_bench_with(tmp_path, schedule)
    s.answer("commandOut", lambda tc: bench.d.send("commandIn", tc))
    insert = pus11.pack_activities([(alone.EPOCH + 30.0, bench.packet("node.Reboot"))])
    refused = bench.send(OPERATOR, "schedule.Insert", data=insert)
    assert (refused.outcome, refused.code) == ("rejected", FailureCode.NOT_ARMED)
    assert "schedule.Insert holding node.Reboot" in refused.reason
    nested = pus11.pack_activities([(alone.EPOCH + 20.0, bench.packet("schedule.Insert", data=insert))])
    assert bench.send(OPERATOR, "schedule.Insert", data=nested).code == FailureCode.NOT_ARMED
    assert schedule.activities == []

    assert bench.send(OPERATOR, "node.Arm", window_s=10).outcome == "completed"
    assert bench.send(OPERATOR, "schedule.Insert", data=insert).outcome == "completed"
    assert len(schedule.activities) == 1 and not bench.disp.armed(OPERATOR)
    s.run("fast", alone.EPOCH + 31.0)  # released: it comes back as the node's own, needing no arm
    bench.disp.tick()
    released = bench.d.sent("auditOut")[-1]
    assert (released.name, released.origin, released.outcome) == ("node.Reboot", ONBOARD, "completed")
    assert bench.reboots == [1]


def test_a_tc_held_in_an_insert_is_judged_for_the_inserting_sender(tmp_path):
    schedule = ScheduleService("schedule", 0x0060, store_path=tmp_path / "schedule.bin")
    ComponentTester(schedule, t0=alone.EPOCH)
    bench = Bench(schedule)
    insert = pus11.pack_activities([(alone.EPOCH + 30.0, bench.packet("cmdDisp.Noop"))])
    assert bench.send(TENANT_1, "schedule.Insert", data=insert).code == FailureCode.NOT_AUTHORISED
    cmd = bench.dictionary.command_by_name["schedule.Insert"]
    with pytest.raises(Refused, match="schedule.Insert activity 0: cmdDisp.Noop is for the operator role"):
        bench.disp.access.hazard(cmd, {"data": insert}, TENANT_1)  # whatever role could insert
    assert bench.disp.access.hazard(cmd, {"data": insert}, OPERATOR) is None


def test_setting_a_hazardous_parameter_needs_an_arm_setting_others_does_not(tmp_path):
    params = ParameterService("params", 0x0030, store_path=tmp_path / "parameters.bin")
    ComponentTester(params, t0=alone.EPOCH)
    thresholds = Thresholds("power", 0x0200)
    bench = Bench(params, thresholds)
    d = bench.disp.access.parameters
    risky = pus20.pack_values(d, {"power.UnderVoltageV": 22.0})
    harmless = pus20.pack_values(d, {"power.ReportPeriodS": 2.0})
    refused = bench.send(OPERATOR, "params.Set", data=risky)
    assert (refused.code, "params.Set of power.UnderVoltageV" in refused.reason) == (FailureCode.NOT_ARMED, True)
    bench.send(OPERATOR, "params.Set", data=harmless)
    assert bench.disp.accepted == 1  # past acceptance: the arm was not asked for
    bench.d.send("armIn", ArmRequest(10, OPERATOR))
    bench.send(OPERATOR, "params.Set", data=risky)
    assert bench.disp.accepted == 2 and not bench.disp.armed(OPERATOR)
    garbled = bench.send(OPERATOR, "params.Set", data=b"\x01\xff\xff")
    assert garbled.code == FailureCode.BAD_ARGUMENT and "unknown parameter id" in garbled.reason


# ---- tenants and compute -------------------------------------------------------------------------
SPEC = JobSpec(7, 2, Kind.MATMUL, seed=1, size=8, batch=1, chunks=1)


@pytest.fixture
def compute_bench(tmp_path):
    c = alone.manager(tmp_path, quotas=(1, 2))
    lds_tester = ComponentTester(lds.LargeDataService("lds", 0x00B0), t0=alone.EPOCH)
    bench = Bench(c.component, lds_tester.component)
    lds_tester.answer("uplinkOut", lambda uplinked: c.send("uplinkIn", uplinked))
    bench.compute, bench.lds = c, lds_tester
    return bench


def submit(bench, origin, spec=SPEC):
    return bench.send(origin, "compute.Submit", job_id=spec.job_id, tenant=spec.tenant, kind=spec.kind.name,
                      seed=spec.seed, size=spec.size, batch=spec.batch, chunks=spec.chunks, priority=1,
                      deadline_unix_s=0.0, threshold=spec.threshold, input_id=spec.input_id)


def test_a_tenant_cannot_cancel_or_read_another_tenants_job(compute_bench):
    assert submit(compute_bench, TENANT_2).outcome == "completed"
    cancel = compute_bench.send(TENANT_1, "compute.Cancel", job_id=7)
    assert (cancel.outcome, cancel.code) == ("failed", FailureCode.BAD_ARGUMENT)
    assert cancel.reason == "no job 7 of tenant 1"  # not even that tenant 2 has a job 7
    assert 7 in compute_bench.compute.component.queue
    statement = compute_bench.send(TENANT_1, "compute.Statement", tenant=2, since_seq=0)
    assert (statement.outcome, statement.code) == ("rejected", FailureCode.NOT_AUTHORISED)
    assert submit(compute_bench, TENANT_1).code == FailureCode.NOT_AUTHORISED  # a job in tenant 2's name
    own = compute_bench.send(TENANT_1, "compute.Statement", tenant=1, since_seq=0)
    assert own.code != FailureCode.NOT_AUTHORISED and compute_bench.disp.accepted == 3
    assert compute_bench.send(TENANT_2, "compute.Cancel", job_id=7).outcome == "completed"
    assert 7 not in compute_bench.compute.component.queue


def test_a_tenant_cannot_upload_an_input_for_another_tenant(compute_bench):
    other = TenantInput(5, 2, bytes(range(64))).pack()
    parts = pus13.uplink_parts(9, other, 40)
    names = {pus13.Subtype.UPLINK_FIRST_PART: "lds.UplinkFirstPart", pus13.Subtype.UPLINK_LAST_PART:
             "lds.UplinkLastPart", pus13.Subtype.UPLINK_INTERMEDIATE_PART: "lds.UplinkIntermediatePart"}
    outcomes = [compute_bench.send(TENANT_1, names[sub], data=data) for sub, data in parts]
    assert outcomes[-1].outcome == "failed" and "a tenant uploads its own only" in outcomes[-1].reason
    assert compute_bench.compute.component.inputs.ids() == []

    own = TenantInput(5, 1, bytes(range(64))).pack()
    first, *rest = pus13.uplink_parts(10, own, 40)
    assert compute_bench.send(TENANT_1, names[first[0]], data=first[1]).outcome == "completed"
    meddling = compute_bench.send(TENANT_2, names[rest[0][0]], data=rest[0][1])
    assert (meddling.outcome, meddling.code) == ("failed", FailureCode.NOT_AUTHORISED)
    assert [compute_bench.send(TENANT_1, names[s], data=d).outcome for s, d in rest] == ["completed"] * len(rest)
    assert compute_bench.compute.component.inputs.ids() == [5]


def test_quota_and_data_commands_stay_the_operators(compute_bench):
    quota = compute_bench.send(TENANT_1, "compute.SetQuota", tenant=1, tokens=10**12)
    assert (quota.outcome, quota.code) == ("rejected", FailureCode.NOT_AUTHORISED)
    assert compute_bench.send(OPERATOR, "compute.SetQuota", tenant=1, tokens=10).code == FailureCode.NOT_ARMED


def test_the_dictionary_file_carries_roles_and_hazardous_parameters():
    decl = [Dispatcher.declare("cmdDisp", 0x10), Thresholds.declare("power", 0x200), lds.LargeDataService.declare(
        "lds", 0xB0)]
    d = build_dictionary("t", decl)
    back = Dictionary.from_json(d.to_json())
    assert back.hash == d.hash
    assert back.command_by_name["lds.UplinkLastPart"].roles == ("operator", "tenant")
    assert back.command_by_name["cmdDisp.Noop"].roles == ("operator",)
    assert back.parameter_by_name["power.UnderVoltageV"].hazardous
    doc = json.loads(d.to_json())
    doc["commands"][0]["roles"] = ["operator", "root"]
    with pytest.raises(ValueError, match="roles"):
        Dictionary.from_json(json.dumps(doc))
    old = Dictionary(version="t", commands=d.commands, parameters=d.parameters, format_version=2)
    older = Dictionary.from_json(old.to_json())  # a file written before roles: operator only, nothing hazardous
    assert older.hash == old.hash and older.command_by_name["lds.UplinkLastPart"].roles == ("operator",)
    assert not older.parameter_by_name["power.UnderVoltageV"].hazardous


def test_a_queued_command_keeps_its_origin(node_bench):
    assert node_bench.d.send("commandIn", CommandPacket(node_bench.packet("cmdDisp.Noop"), TENANT_2))
    node_bench.disp.tick()
    audit = node_bench.d.sent("auditOut")[-1]
    assert (audit.origin, audit.code) == (TENANT_2, FailureCode.NOT_AUTHORISED)
