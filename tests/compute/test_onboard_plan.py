"""The onboard planner on the rig's truth: once the orbit is known the payload runs at the plan's
power, and flying the plan keeps the battery inside the DoD limit through the eclipses."""
import math

import pytest

from gridfree.flight.compute.datasheet import BOARD
from gridfree.flight.core.modes import Mode
from gridfree.protocols.compute import PAYLOAD_POLICIES, JobSpec, Kind
from gridfree.protocols.pus import PusTc
from tests.compute import rigboard
from tests.power.test_power_manager import bench, run, upload_orbit

JOB = JobSpec(21, 7, Kind.TILES, seed=1, size=0, batch=1, chunks=100_000, threshold=0.3)


def send(node, name, arm=False, **args):
    """TC `name` as the operator sends it; with `arm`, node.Arm first (a hazardous command such as
    compute.SetQuota needs one from the same SA since issue 17)."""
    if arm:
        send(node, "node.Arm", window_s=10)
    cmd = node.dictionary.command_by_name[name]
    node.submit(PusTc(apid=100, service=cmd.service, subtype=cmd.subtype, seq_count=node.cmdDisp.accepted,
                      app_data=cmd.encode_args(**args)).pack())


def submit(node, spec, priority=1):
    send(node, "compute.Submit", job_id=spec.job_id, tenant=spec.tenant, kind=spec.kind.name, seed=spec.seed,
         size=spec.size, batch=spec.batch, chunks=spec.chunks, priority=priority, deadline_unix_s=0.0,
         threshold=spec.threshold, input_id=spec.input_id)


def planned(node):
    value = node.telemetry.read("compute.PlannedPowerW")
    return None if value is None or math.isnan(value) else value


@pytest.mark.parametrize("policy", ["planned", "two-level", "orbit-average"])
def test_flying_the_policy_spends_in_shadow_and_keeps_the_dod_limit(tmp_path, policy):
    """Each policy as compute.PayloadPolicy names it (the planner by default), on the rig's truth."""
    truth, node = bench(tmp_path, soc=0.8, utilisation=0.0)
    if policy != "planned":
        node.params.set("compute.PayloadPolicy", PAYLOAD_POLICIES.index(policy))
    node.modes.request(Mode.NOMINAL, "test")
    run(truth, node, 5.0)
    assert planned(node) is None  # no orbit uploaded: nothing to plan from, the grant rules
    upload_orbit(node)
    period = node.params.get("power.OrbitPeriodS")
    socs, shadow_W = [], []

    def fly():  # the payload at exactly the plan's power, as the compute manager would run it
        watts = planned(node) or 0.0
        truth.loads.compute_utilisation = BOARD.clock_for(watts)
        socs.append(truth.battery.soc)
        if truth.sunlit_fraction < 0.5:
            shadow_W.append(watts)

    run(truth, node, 1.5 * period, step_s=2.0, each=fly)
    assert planned(node) is not None and node.compute.planner.failures == 0
    assert node.compute.planner.policy.name == policy
    assert shadow_W and sum(shadow_W) / len(shadow_W) > BOARD.idle_W  # it computes through the eclipse
    window = int(period / 2.0)
    assert max(max(socs[max(0, k - window):k + 1]) - socs[k] for k in range(len(socs))) <= 0.30
    assert not node.telemetry.read("power.PayloadShed")


def test_the_manager_sets_the_board_to_the_plans_power(tmp_path):
    """The board draws the plan's power while it runs the job's items: at the clock at which a
    TILES item (which lights less of the board than a product) draws it."""
    truth, node = rigboard.bench(tmp_path, work_scale=1e6)  # a one-tile chunk: ~2 s of the board
    node.modes.request(Mode.NOMINAL, "test")
    upload_orbit(node)
    run(truth, node, 120.0)  # the power manager learns the arrays; the first plan is made
    send(node, "compute.SetQuota", arm=True, tenant=7, tokens=4_000_000_000)
    submit(node, JOB)
    drawn = []
    run(truth, node, 30.0, each=lambda: drawn.append((planned(node), truth.loads.compute_W)))
    running = [(p, w) for p, w in drawn[5:] if p and node.compute.utilisation > 0]
    assert running and all(abs(w - p) / p < 0.02 for p, w in running)


def test_a_job_the_plan_cannot_finish_in_time_waits_and_is_dropped_at_its_deadline(tmp_path):
    truth, node = bench(tmp_path, soc=0.8, utilisation=0.0)
    node.modes.request(Mode.NOMINAL, "test")
    upload_orbit(node)
    run(truth, node, 120.0)
    assert node.compute.planner.plan is not None
    send(node, "compute.SetQuota", arm=True, tenant=7, tokens=4_000_000_000)
    now = node.clock.now()
    # 2.7e9 MFLOP due in a minute: more than the board could do by then even flat out
    hopeless = JobSpec(31, 7, Kind.MATMUL, seed=1, size=4096, batch=1, chunks=20_000)
    send(node, "compute.Submit", job_id=31, tenant=7, kind="MATMUL", seed=1, size=4096, batch=1, chunks=20_000,
         priority=1, deadline_unix_s=now + 60.0, threshold=0.0, input_id=0)
    send(node, "compute.Submit", job_id=32, tenant=7, kind="TILES", seed=1, size=0, batch=1, chunks=100_000,
         priority=1, deadline_unix_s=now + 3000.0, threshold=0.3, input_id=0)
    assert hopeless.work_units() * hopeless.chunks > BOARD.peak_mflops * 60.0
    run(truth, node, 5.0)
    assert set(node.compute.queue.ids()) == {31, 32}, node.cmdDisp.failed
    assert node.telemetry.read("compute.JobsLate") == 1
    assert node.telemetry.read("compute.ActiveJob") == 32  # the one that can make it runs, though due later
    run(truth, node, 60.0)
    assert 31 not in node.compute.queue and node.compute.deadline_misses == 1
    assert node.telemetry.read("compute.DeadlineMisses") == 1 and node.telemetry.read("compute.JobsFailed") >= 1
