"""The compute manager alone, on the component tester: what it does with the grant, the thermal cap,
the mode and the payload switch it is offered; jobs queued, run chunk by chunk, checkpointed,
resumed after a reboot, billed and sent down; its commands and the tenant inputs offered to it.
The node flying the rig's truth is in test_on_truth.py."""
import math

import numpy as np
import pytest

from gridfree.flight.compute import checkpoint
from gridfree.flight.compute.abft import abft_matmul, flip_bit
from gridfree.flight.compute.datasheet import BOARD
from gridfree.flight.compute.runner import ENERGY_KEY
from gridfree.flight.core.component import CommandFailed
from gridfree.flight.core.modes import Mode
from gridfree.flight.core.messages import UplinkedData, UplinkRejected
from gridfree.flight.core.store import AtomicRecordFile
from gridfree.flight.hardware.interfaces import Quantity, Switch
from gridfree.flight.hardware.ports import EpsReadings
from gridfree.flight.thermal.state import ThermalState
from gridfree.ground.compute.verify import verify
from gridfree.protocols.compute import JobSpec, Kind, TenantInput, mlp_weights
from gridfree.protocols.services.verification import FailureCode
from tests.compute.alone import EPOCH, THERMAL, clocks, manager, offer, results, run_until_idle, submit, tick

MATMUL = JobSpec(11, 3, Kind.MATMUL, seed=5, size=192, batch=1, chunks=6)
TILES = JobSpec(12, 4, Kind.TILES, seed=6, size=0, batch=100, chunks=3, threshold=0.3)


def test_jobs_run_at_the_grants_clock_and_come_down_verifiable_and_charged(tmp_path):
    t = manager(tmp_path)
    refused = submit(t, MATMUL)
    assert not refused.ok and "exceed the quota" in refused.reason  # tenant 3 has no quota yet
    for tenant in (3, 4):
        assert t.command("SetQuota", tenant=tenant, tokens=1_000_000).ok
    assert submit(t, MATMUL).ok and submit(t, TILES, priority=0).ok  # TILES first, for its priority
    run_until_idle(t)
    assert list(results(t)) == [TILES.job_id, MATMUL.job_id]
    assert verify(TILES, results(t)[TILES.job_id]) == [] and verify(MATMUL, results(t)[MATMUL.job_id]) == []
    grant_clock = BOARD.clock_for(3000.0)
    assert clocks(t)[:-1] == [pytest.approx(grant_clock)] * (len(clocks(t)) - 1) and clocks(t)[-1] == 0.0  # idled after
    done = {e["job"]: e for e in t.events("JobDone")}
    ledger = t.component.ledger
    assert done[MATMUL.job_id]["tokens"] == ledger.used(3) > 0 and done[TILES.job_id]["tokens"] == ledger.used(4) > 0
    assert t.tlm("JobsDone") == 2 and t.tlm("ChunksDone") == 9 and t.tlm("TokensCharged") == ledger.used(3) + ledger.used(4)


def test_a_chunk_is_billed_the_board_time_it_held_at_the_grants_draw(tmp_path):
    """The host computes a 192-point product in far less than a second, but the board holds the
    grant's clock until the next decision: six chunks, six seconds at 3 kW (MATMUL draws the
    board's whole curve)."""
    t = manager(tmp_path, quotas=(3,))
    submit(t, MATMUL)
    run_until_idle(t)
    (done,) = t.events("JobDone")
    assert done["energy_Wh"] == pytest.approx(MATMUL.chunks * 3000.0 / 3600.0, rel=1e-6)
    assert t.tlm("EnergyWh") == pytest.approx(done["energy_Wh"], rel=1e-6)


def test_the_payload_is_idled_at_the_first_decision_when_there_is_nothing_to_run(tmp_path):
    t = manager(tmp_path)
    tick(t, 3)
    assert clocks(t) == [0.0]  # once: the board may have kept a clock from before the boot
    assert t.tlm("Utilisation") == 0.0 and t.tlm("Running") is True


def test_before_the_first_outlook_there_is_no_grant_and_compute_is_held(tmp_path):
    t = manager(tmp_path, quotas=(3,), outlook=None)
    submit(t, MATMUL)
    tick(t, 3)
    assert t.tlm("Running") is False and t.events("ComputeHeld") == [{"reason": "no power outlook yet"}]
    assert t.tlm("ChunksDone") == 0 and clocks(t) == [0.0]
    offer(t)
    run_until_idle(t)
    assert verify(MATMUL, results(t)[MATMUL.job_id]) == []


@pytest.mark.parametrize("hold, reason", [("safe", "mode SAFE"), ("shed", "payload shed"),
                                          ("small grant", "grant 250 W")])
def test_compute_is_held_and_resumes_when_the_hold_ends(tmp_path, hold, reason):
    t = manager(tmp_path, quotas=(3,))
    submit(t, MATMUL)
    tick(t, 2)
    before = t.tlm("ChunksDone")
    assert 0 < before < MATMUL.chunks
    {"safe": lambda: t.modes.fall_to_safe("test"), "shed": lambda: offer(t, shed=True),
     "small grant": lambda: offer(t, grant_W=250.0)}[hold]()  # 250 W: below the payload's idle draw
    tick(t, 5)
    assert t.tlm("Running") is False and t.events("ComputeHeld") == [{"reason": reason}]
    assert t.tlm("Preemptions") == 1 and t.tlm("ChunksDone") <= before + 1  # at most the chunk in flight
    assert clocks(t)[-1] == 0.0 and t.tlm("Utilisation") == 0.0
    if hold == "safe":
        t.enter_mode(Mode.NOMINAL)
    offer(t)
    run_until_idle(t)
    assert verify(MATMUL, results(t)[MATMUL.job_id]) == []


def test_the_thermal_cap_and_the_payload_switch_bound_the_clock(tmp_path):
    t = manager(tmp_path, quotas=(3,), thermal=ThermalState(EPOCH, False, True, 0.3, 70.0))
    submit(t, MATMUL)
    tick(t, 2)
    assert clocks(t) == [0.3, 0.3] and t.tlm("Utilisation") == pytest.approx(30.0)
    t.send("readingsIn", EpsReadings.of(EPOCH + 2, {}, {Switch.PAYLOAD: False}))  # the power manager shed it
    t.send("thermalIn", THERMAL)
    tick(t, 3)
    assert all(c == 0.3 for c in clocks(t)) and t.tlm("Utilisation") == pytest.approx(30.0)  # not clocked while off
    t.answer("payloadOut", False)  # a board that does not confirm: the clock is not believed set
    t.send("readingsIn", EpsReadings.of(EPOCH + 5, {}, {Switch.PAYLOAD: True}))
    tick(t)
    assert clocks(t)[-1] == pytest.approx(BOARD.clock_for(3000.0)) and t.tlm("Utilisation") == pytest.approx(30.0)


def test_a_job_past_its_deadline_is_dropped_unfinished(tmp_path):
    t = manager(tmp_path, quotas=(3,))
    t.modes.fall_to_safe("test")
    assert submit(t, MATMUL, deadline_unix_s=EPOCH + 3.0).ok
    tick(t, 5)
    assert t.events("JobFailed") == [{"job": MATMUL.job_id, "reason": "deadline passed"}]
    assert t.tlm("DeadlineMisses") == 1 and t.tlm("JobsFailed") == 1 and t.tlm("JobsQueued") == 0


def test_cancel_drops_a_queued_job_but_not_the_chunk_being_computed(tmp_path):
    t = manager(tmp_path, quotas=(3, 4))
    submit(t, MATMUL, priority=0)
    submit(t, TILES)
    tick(t)
    busy = t.command("Cancel", job_id=MATMUL.job_id)
    assert not busy.ok and busy.code == FailureCode.BUSY
    assert t.command("Cancel", job_id=TILES.job_id).ok and not t.command("Cancel", job_id=TILES.job_id).ok
    run_until_idle(t)
    assert list(results(t)) == [MATMUL.job_id]


def test_a_job_resumes_from_its_checkpoint_after_a_reboot(tmp_path):
    t = manager(tmp_path, quotas=(3,))
    submit(t, MATMUL)
    tick(t, 3)
    before = t.tlm("ChunksDone")
    assert 0 < before < MATMUL.chunks
    t.stop()
    again = manager(tmp_path)  # the same state directory, a new flight software instance
    tick(again)
    assert again.tlm("ActiveJob") == MATMUL.job_id and again.tlm("JobsQueued") == 1
    run_until_idle(again)
    assert again.tlm("ChunksDone") == MATMUL.chunks - before
    assert verify(MATMUL, results(again)[MATMUL.job_id]) == []  # chunks from before the reboot included
    assert again.events("JobDone")[0]["energy_Wh"] == pytest.approx(MATMUL.chunks * 3000.0 / 3600.0, rel=1e-6)


def test_a_damaged_checkpoint_record_costs_the_job_the_chunks_from_it_on(tmp_path):
    """Found when the log is read back at the job's end: the chunks before the damaged record are
    kept, the rest computed again, and the result that goes down is right."""
    t = manager(tmp_path, quotas=(3,))
    submit(t, MATMUL)
    tick(t, 4)
    directory = tmp_path / "state" / "compute"
    log, path = checkpoint.load(directory, MATMUL.job_id), checkpoint.path(directory, MATMUL.job_id)
    assert len(log.chunks) >= 3
    data = bytearray(path.read_bytes())
    data[log.ends[1] - 5] ^= 0x10  # an upset in the stored outputs of chunk 1
    path.write_bytes(bytes(data))
    run_until_idle(t)
    assert verify(MATMUL, results(t)[MATMUL.job_id]) == []
    assert t.events("CheckpointDamaged") == [{"job": MATMUL.job_id, "chunk": 1}] and t.tlm("CheckpointsDamaged") == 1
    assert t.tlm("ChunksDone") == MATMUL.chunks + MATMUL.chunks - 1  # chunks 1 to the end, twice
    # The chunks lost are nobody's bill: the tenant pays for each chunk once, the node counts the rest.
    charged = t.events("JobDone")[0]["energy_Wh"]
    assert charged == pytest.approx(MATMUL.chunks * 3000.0 / 3600.0, rel=1e-6)
    assert t.tlm("EnergyLostWh") == pytest.approx(t.tlm("EnergyWh") - charged, rel=1e-6)
    assert t.tlm("EnergyLostWh") > sum(float(r[ENERGY_KEY]) for r in log.chunks[1:])  # and those done after the hit


def test_a_reboot_cuts_a_torn_append_and_resumes_after_the_good_records(tmp_path):
    t = manager(tmp_path, quotas=(3,))
    submit(t, MATMUL)
    tick(t, 3)
    done = t.tlm("ChunksDone")
    t.stop()
    path = checkpoint.path(tmp_path / "state" / "compute", MATMUL.job_id)
    with open(path, "ab") as f:
        f.write(path.read_bytes()[:40])  # power lost part way through the next chunk's record
    again = manager(tmp_path)
    assert again.events("CheckpointDamaged") == []
    log = checkpoint.load(tmp_path / "state" / "compute", MATMUL.job_id)
    assert len(log.chunks) == done and log.damage is None  # the torn tail is gone
    run_until_idle(again)
    assert again.tlm("ChunksDone") == MATMUL.chunks - done and verify(MATMUL, results(again)[MATMUL.job_id]) == []


@pytest.mark.parametrize("body", [b"\x00not json", b'{"11": {"spec": {"job_id": 11}}}', b"[1, 2, 3]",
                                  b'{"11": {"spec": {"job_id": 11, "tenant": 3, "kind": 9, "seed": 0, "size": 8, '
                                  b'"batch": 1, "chunks": 1}, "priority": 0, "deadline": 0, "done": 0, '
                                  b'"energy_Wh": 0}}'])
def test_a_queue_file_that_is_not_a_queue_leaves_an_empty_queue_not_a_dead_node(tmp_path, body):
    path = tmp_path / "state" / "compute" / "queue.bin"
    AtomicRecordFile(path).save(body)  # passes the store's CRC, but is no queue this manager wrote
    t = manager(tmp_path, quotas=(3,))
    tick(t)
    assert t.tlm("JobsQueued") == 0
    assert submit(t, MATMUL).ok  # and it takes jobs again
    path.write_bytes(path.read_bytes()[:-3])  # torn: fails the store's own check
    assert manager(tmp_path).component.queue.ids() == []


def test_a_queue_saved_before_tries_and_restarts_were_kept_still_loads(tmp_path):
    import json
    from dataclasses import asdict

    old = {str(MATMUL.job_id): {"spec": asdict(MATMUL), "priority": 1, "deadline": 0.0, "done": 0, "energy_Wh": 0.0}}
    AtomicRecordFile(tmp_path / "state" / "compute" / "queue.bin").save(json.dumps(old).encode())
    t = manager(tmp_path, quotas=(3,))
    run_until_idle(t)
    assert verify(MATMUL, results(t)[MATMUL.job_id]) == []


def test_upsets_in_resident_weights_are_corrected_or_the_model_reloaded(tmp_path):
    t = manager(tmp_path)
    models = t.component.models
    clean = [w.copy() for w in mlp_weights(1)]
    models.weights(1)
    models.buffers[1][0].flip_bit(8 * 1000 + 3)  # one upset in a word of the first layer
    t.run("background", EPOCH + 10)
    assert (models.weights(1)[0] == clean[0]).all() and t.tlm("EdacCorrected") == 1
    first = models.buffers[1][0]
    first.flip_bit(8 * 64 + 1)
    first.flip_bit(8 * 64 + 2)  # two in one word: detected, not "corrected" into a wrong value
    t.run("background", EPOCH + 20)
    assert t.tlm("EdacUncorrectable") == 1 and t.events("WeightsReloaded") == [{"size": 1, "word": 8}]
    assert all((w == k).all() for w, k in zip(models.weights(1), clean))


def test_an_upset_in_a_product_is_corrected_before_the_result_goes_down(tmp_path):
    hits, corrected = [], []

    def upset(stage, array, attempt):
        if stage == "product" and attempt == 0 and not hits:
            flip_bit(array, 5 * array.shape[-1] + 7, 30)  # an exponent bit of one element of C
            hits.append(1)

    def matmul(a, b, inject=None):
        r = abft_matmul(a, b, inject=upset)
        corrected.append(r.corrected)
        return r.c

    t = manager(tmp_path, quotas=(3,), matmul=matmul)
    submit(t, MATMUL)
    run_until_idle(t)
    assert hits and sum(corrected) == 1
    assert verify(MATMUL, results(t)[MATMUL.job_id]) == []  # the tenant gets the fault-free result


def test_a_statement_goes_down_with_the_transfer_id_the_service_gave_it(tmp_path):
    t = manager(tmp_path, quotas=(3,))
    t.answer("downlinkOut", 0x51)
    assert t.command("Statement", tenant=3, since_seq=0).ok
    assert t.sent("downlinkOut")[-1].data[:4] == b"GFST"
    # QUOTA_SET, STATEMENT, and the signed HEAD a statement now ends with (issue 17: the count and
    # head hash a tenant checks so a ledger cut short is found)
    assert t.events("StatementQueued") == [{"tenant": 3, "records": 3, "transaction": 0x51}]
    t.answer("downlinkOut", CommandFailed(FailureCode.BUSY, "downlink queue full"))
    full = t.command("Statement", tenant=3, since_seq=0)
    assert not full.ok and full.code == FailureCode.BUSY


def test_uplinked_tenant_inputs_are_taken_checked_and_refused_when_bad(tmp_path):
    t = manager(tmp_path)
    assert t.send("uplinkIn", UplinkedData(b"GFXX" + bytes(60))) is False  # not a tenant input: someone else's
    good = TenantInput(7, 5, np.arange(4 * 64 * 64, dtype=np.uint8).tobytes()).pack()
    assert t.send("uplinkIn", UplinkedData(good)) is True
    assert t.events("InputStored") == [{"input": 7, "tenant": 5, "octets": 4 * 64 * 64}]
    damaged = bytearray(TenantInput(8, 5, bytes(100)).pack())
    damaged[-1] ^= 1
    for bad, why in ((bytes(damaged), "CRC-32C"), (good, "already stored")):
        with pytest.raises(UplinkRejected, match=why):
            t.send("uplinkIn", UplinkedData(bad))
    assert t.tlm("InputsRejected") == 2 and t.component.inputs.ids() == [7]
    t.run("background", EPOCH + 10)
    assert t.tlm("InputsStored") == 1
    assert t.command("DeleteInput", input_id=7).ok and t.tlm("InputsStored") == 0
    assert not t.command("DeleteInput", input_id=7).ok


def orbit_picture(t0: float, period_s: float = 5677.0, shadow_s: float = 2100.0) -> dict:
    """What the power manager knows once the orbit is uploaded and the arrays learnt: eclipses for
    the next orbits, the arrays' output in sun, the last orbit of SOC."""
    eclipses = tuple((t0 + 1000.0 + k * period_s, t0 + 1000.0 + k * period_s + shadow_s) for k in range(4))
    history = tuple((t0 - period_s + s, 0.8) for s in range(int(period_s)))
    return dict(eclipses=eclipses, array_sun_W=9000.0, soc_history=history)


def test_with_an_orbit_picture_the_payload_runs_at_the_onboard_plans_power(tmp_path):
    t = manager(tmp_path, quotas=(7,))
    t.send("readingsIn", EpsReadings.of(EPOCH, {Quantity.PAYLOAD_TEMP_C: 20.0, Quantity.RADIATOR_TEMP_C: 10.0}, {}))
    tick(t)
    assert math.isnan(t.tlm("PlannedPowerW"))  # no orbit picture: the grant rules
    offer(t, **orbit_picture(t.clock.now()))
    submit(t, JobSpec(21, 7, Kind.TILES, seed=1, size=0, batch=1, chunks=100_000, threshold=0.3))
    tick(t, 3)
    planned_W = t.tlm("PlannedPowerW")
    assert BOARD.idle_W < planned_W < BOARD.max_W and planned_W != 3000.0
    assert clocks(t)[-1] == pytest.approx(BOARD.clock_for(planned_W))
    t.set_parameter("PlanOnBoard", False)
    tick(t)
    assert math.isnan(t.tlm("PlannedPowerW")) and clocks(t)[-1] == pytest.approx(BOARD.clock_for(3000.0))


def test_no_plan_is_made_without_temperatures_or_a_throttle_point(tmp_path):
    from gridfree.flight.thermal.state import UNKNOWN_THERMAL

    t = manager(tmp_path, thermal=UNKNOWN_THERMAL)
    offer(t, **orbit_picture(EPOCH))
    t.send("readingsIn", EpsReadings.of(EPOCH, {Quantity.PAYLOAD_TEMP_C: 20.0, Quantity.RADIATOR_TEMP_C: 10.0}, {}))
    tick(t)
    assert math.isnan(t.tlm("PlannedPowerW"))  # the thermal manager has not said where it throttles
    t.send("thermalIn", THERMAL)
    t.send("readingsIn", EpsReadings.of(EPOCH, {Quantity.PAYLOAD_TEMP_C: 20.0}, {}))
    tick(t)  # without a plan, one is tried at every decision
    assert math.isnan(t.tlm("PlannedPowerW"))  # no radiator reading
