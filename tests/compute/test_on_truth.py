"""The compute manager on a node flying the rig's truth model: jobs submitted by TC run on the
grant, survive preemption and reboots, come down verifiable, and are charged to their tenant."""

import pytest

from gridfree.flight.app.config import NodeConfig
from gridfree.flight.compute import checkpoint
from gridfree.flight.compute.manager import ENERGY_KEY
from gridfree.flight.core.services.events import EventOccurred
from gridfree.flight.app.node import Node
from gridfree.flight.core.modes import Mode
from gridfree.ground.compute.verify import verify
from gridfree.protocols.compute import JobSpec, Kind
from gridfree.protocols.pus import PusTc
from tests.power.test_power_manager import TruthBoard, bench, run

MATMUL = JobSpec(11, 3, Kind.MATMUL, seed=5, size=192, batch=1, chunks=6)
TILES = JobSpec(12, 4, Kind.TILES, seed=6, size=0, batch=100, chunks=3, threshold=0.3)

def send(node, name, **args):
    cmd = node.dictionary.command_by_name[name]
    node.dispatcher.submit(PusTc(apid=100, service=cmd.service, subtype=cmd.subtype, seq_count=node.dispatcher.accepted,
                                 app_data=cmd.encode_args(**args)).pack())

def submit(node, spec, priority=1):
    send(node, "compute.Submit", job_id=spec.job_id, tenant=spec.tenant, kind=spec.kind.name, seed=spec.seed,
         size=spec.size, batch=spec.batch, chunks=spec.chunks, priority=priority, deadline_unix_s=0.0,
         threshold=spec.threshold, input_id=spec.input_id)

def capture_results(node):
    results = []
    queue = node.large_data.queue
    node.large_data.queue = lambda data: (results.append(data), queue(data))[1]
    return results

def test_jobs_run_on_the_grant_and_come_down_verifiable_and_charged(tmp_path):
    truth, node = bench(tmp_path, soc=0.8, utilisation=0.0)
    results = capture_results(node)
    node.modes.request(Mode.NOMINAL, "test")
    submit(node, MATMUL)  # refused: tenant 3 has no quota yet
    run(truth, node, 2.0)
    assert node.compute.jobs == {} and node.dispatcher.failed >= 1
    for tenant in (3, 4):
        send(node, "compute.SetQuota", tenant=tenant, tokens=1_000_000)
    submit(node, MATMUL)
    submit(node, TILES, priority=0)  # first, for its priority
    driven = []
    run(truth, node, 30.0, each=lambda: driven.append(truth.loads.compute_utilisation))
    assert node.compute.jobs_done == 2 and len(results) == 2
    assert verify(TILES, results[0]) == [] and verify(MATMUL, results[1]) == []
    assert node.compute.ledger.used(3) > 0 and node.compute.ledger.used(4) > 0
    assert node.telemetry.read("compute.JobsDone") == 2 and node.telemetry.read("compute.EnergyWh") > 0
    assert max(driven) > 0.1 and driven[-1] == 0.0  # the payload was driven while jobs ran, and idled after

def test_a_job_is_charged_the_energy_the_payload_drew_for_it(tmp_path):
    """Independent of the manager's books: the rig's truth integrates the board's draw while it is
    held for a chunk, and that is what the tenant is charged (MATMUL draws the board's full curve)."""
    truth, node = bench(tmp_path, soc=0.8, utilisation=0.0)
    events = []
    node.bus.subscribe(EventOccurred, events.append)
    node.modes.request(Mode.NOMINAL, "test")
    send(node, "compute.SetQuota", tenant=3, tokens=1_000_000)
    submit(node, MATMUL)
    drawn_J = []  # each step: what the truth will draw over the next second, if a chunk holds the board
    run(truth, node, 20.0, each=lambda: drawn_J.append(truth.loads.compute_W if node.compute._pending else 0.0))
    done = [e.args for e in events if e.name == "compute.JobDone"]
    assert len(done) == 1 and sum(drawn_J) > 1000.0  # the board was held at more than idle
    assert done[0]["energy_Wh"] == pytest.approx(sum(drawn_J) / 3600.0, rel=1e-3)


def test_safe_mode_holds_compute_and_nominal_resumes_it(tmp_path):
    truth, node = bench(tmp_path, soc=0.8, utilisation=0.0)
    results = capture_results(node)
    node.modes.request(Mode.NOMINAL, "test")
    send(node, "compute.SetQuota", tenant=3, tokens=1_000_000)
    submit(node, MATMUL)
    run(truth, node, 3.0)
    done = node.compute.chunks_done
    assert 0 < done < MATMUL.chunks
    node.modes.fall_to_safe("test")
    run(truth, node, 10.0)
    assert node.compute.chunks_done <= done + 1  # at most the chunk in flight
    assert node.telemetry.read("compute.Running") is False and node.compute.preemptions >= 1
    node.modes.request(Mode.NOMINAL, "test")
    run(truth, node, 15.0)
    assert node.compute.jobs_done == 1 and verify(MATMUL, results[0]) == []

def matmul_underway(tmp_path):
    """A node four seconds into MATMUL: some of its chunks committed, not all."""
    truth, node = bench(tmp_path, soc=0.8, utilisation=0.0)
    node.modes.request(Mode.NOMINAL, "test")
    send(node, "compute.SetQuota", tenant=3, tokens=1_000_000)
    submit(node, MATMUL)
    run(truth, node, 4.0)
    assert 0 < node.compute.jobs[MATMUL.job_id]["done"] < MATMUL.chunks
    return truth, node


def test_a_job_resumes_from_its_checkpoint_after_a_reboot(tmp_path):
    truth, node = matmul_underway(tmp_path)
    before = node.compute.jobs[MATMUL.job_id]["done"]
    node.stop()
    # The same state directory, a new flight software instance (what the supervisor starts).
    again = Node(NodeConfig(state_dir=tmp_path / "state", clock="lockstep"))
    again.eps.board = TruthBoard(node.eps.board.board)
    again.downlink.sink = lambda vc, p: None
    again.clock.set(truth.time_s)
    again.start(open_radio=False)
    results = capture_results(again)
    assert again.compute.jobs[MATMUL.job_id]["done"] == before
    again.modes.request(Mode.NOMINAL, "test")
    run(truth, again, 15.0)
    assert again.compute.jobs_done == 1 and again.compute.chunks_done == MATMUL.chunks - before
    assert verify(MATMUL, results[0]) == []  # chunks from before the reboot included


def test_a_damaged_checkpoint_record_costs_the_job_the_chunks_from_it_on(tmp_path):
    """Found when the log is read back at the job's end: the chunks before the damaged record are
    kept, the rest computed again, and the result that goes down is right."""
    truth, node = matmul_underway(tmp_path)
    results, events = capture_results(node), []
    node.bus.subscribe(EventOccurred, events.append)
    c = node.compute
    assert c.jobs[MATMUL.job_id]["done"] >= 3
    log, path = checkpoint.load(c.dir, MATMUL.job_id), checkpoint.path(c.dir, MATMUL.job_id)
    data = bytearray(path.read_bytes())
    data[log.ends[1] - 5] ^= 0x10  # an upset in the stored outputs of chunk 1
    path.write_bytes(bytes(data))
    run(truth, node, 20.0)
    assert c.jobs_done == 1 and c.checkpoints_damaged == 1 and verify(MATMUL, results[0]) == []
    assert [e.args for e in events if e.name == "compute.CheckpointDamaged"] == [{"job": MATMUL.job_id, "chunk": 1}]
    assert c.chunks_done == MATMUL.chunks + MATMUL.chunks - 1  # chunks 1 to the end, twice
    # The chunks lost are nobody's bill: the tenant pays for each chunk once, the node counts the rest.
    charged = next(e.args["energy_Wh"] for e in events if e.name == "compute.JobDone")
    assert c.energy_lost_Wh == pytest.approx(c.energy_Wh - charged, rel=1e-6)
    assert c.energy_lost_Wh > sum(float(r[ENERGY_KEY]) for r in log.chunks[1:])  # and those done after the hit
    run(truth, node, 6.0)
    assert node.telemetry.read("compute.EnergyLostWh") == pytest.approx(c.energy_lost_Wh, rel=1e-6)


def test_a_reboot_cuts_a_torn_append_and_resumes_after_the_good_records(tmp_path):
    truth, node = matmul_underway(tmp_path)
    done = node.compute.jobs[MATMUL.job_id]["done"]
    node.stop()
    path = checkpoint.path(node.compute.dir, MATMUL.job_id)
    with open(path, "ab") as f:
        f.write(path.read_bytes()[:40])  # power lost part way through the next chunk's record
    again = Node(NodeConfig(state_dir=tmp_path / "state", clock="lockstep"))
    assert again.compute.jobs[MATMUL.job_id]["done"] == done and again.compute.checkpoints_damaged == 0
    assert len(checkpoint.load(again.compute.dir, MATMUL.job_id).chunks) == done
    assert checkpoint.load(again.compute.dir, MATMUL.job_id).damage is None  # the torn tail is gone


def test_upsets_in_resident_weights_are_corrected_or_the_model_reloaded(tmp_path):
    from gridfree.protocols.compute import mlp_weights

    truth, node = bench(tmp_path, soc=0.8, utilisation=0.0)
    c = node.compute
    clean = [w.copy() for w in mlp_weights(1)]
    c.models.weights(1)
    first = c.models.buffers[1][0]
    first.flip_bit(8 * 1000 + 3)  # one upset in a word of the first layer
    assert not (first.array == clean[0]).all()
    c.scrub()
    assert (c.models.weights(1)[0] == clean[0]).all() and c.models.corrected == 1
    first = c.models.buffers[1][0]
    first.flip_bit(8 * 64 + 1)
    first.flip_bit(8 * 64 + 2)  # two in one word: detected, not "corrected" into a wrong value
    c.scrub()
    assert c.models.uncorrectable == 1 and all((w == k).all() for w, k in zip(c.models.weights(1), clean))
    run(truth, node, 10.0)
    assert node.telemetry.read("compute.EdacCorrected") == 1 and node.telemetry.read("compute.EdacUncorrectable") == 1


def test_an_upset_in_a_product_is_corrected_before_the_result_goes_down(tmp_path):
    from gridfree.flight.compute.abft import abft_matmul, flip_bit

    truth, node = bench(tmp_path, soc=0.8, utilisation=0.0)
    results = capture_results(node)
    hits = []

    def upset(stage, array, attempt):
        if stage == "product" and attempt == 0 and not hits:
            flip_bit(array, 5 * array.shape[-1] + 7, 30)  # an exponent bit of one element of C
            hits.append(1)

    c = node.compute
    c.matmul = lambda a, b: (lambda r: (setattr(c, "abft_corrected", c.abft_corrected + r.corrected), r.c)[1])(
        abft_matmul(a, b, inject=upset))
    node.modes.request(Mode.NOMINAL, "test")
    send(node, "compute.SetQuota", tenant=3, tokens=1_000_000)
    submit(node, MATMUL)
    run(truth, node, 15.0)
    assert hits and c.abft_corrected == 1
    assert verify(MATMUL, results[0]) == []  # the tenant gets the fault-free result
