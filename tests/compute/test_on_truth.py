"""The compute manager on a node flying the rig's truth model, commanded and heard by a ground over
the node's own radio: jobs submitted by TC drive the board through the EPS, come down verifiable,
are charged what the truth's board drew for them, and survive a reboot of the flight software.
The manager's own decisions, one at a time, are in test_manager.py."""

import pytest

from gridfree.flight.app.config import NodeConfig
from gridfree.flight.app.node import Node
from gridfree.flight.core.modes import Mode
from gridfree.ground.compute.verify import verify
from gridfree.protocols.compute import JobSpec, Kind, unpack_result
from tests.compute.ground_link import link
from tests.power.test_power_manager import TruthBoard, bench, run

MATMUL = JobSpec(11, 3, Kind.MATMUL, seed=5, size=192, batch=1, chunks=6)
TILES = JobSpec(12, 4, Kind.TILES, seed=6, size=0, batch=100, chunks=3, threshold=0.3)


def submit(ground, spec, priority=1):
    return ground.send("compute.Submit", job_id=spec.job_id, tenant=spec.tenant, kind=spec.kind.name, seed=spec.seed,
                       size=spec.size, batch=spec.batch, chunks=spec.chunks, priority=priority, deadline_unix_s=0.0,
                       threshold=spec.threshold, input_id=spec.input_id)


def results(ground):
    """Downlinked job results by job id, as the ground reassembled them."""
    return {unpack_result(d)[0]: d for d in ground.completed_transfers.values() if d[:4] == b"GFRS"}


def events(ground, name):
    """The arguments of every event `name` the ground heard."""
    return [e.args for e in ground.events if e.event is not None and e.event.name == name]


def flying(tmp_path, board=None):
    truth, node = bench(tmp_path, soc=0.8, utilisation=0.0, board=board)
    ground = link(node)
    node.modes.request(Mode.NOMINAL, "test")
    return truth, node, ground


def test_jobs_drive_the_board_and_come_down_verifiable_and_charged(tmp_path):
    truth, node, ground = flying(tmp_path)
    refused = submit(ground, MATMUL)  # tenant 3 has no quota yet
    run(truth, node, 2.0)
    assert refused.failed and node.telemetry.read("compute.JobsQueued") == 0
    handles = [ground.send("compute.SetQuota", arm=True, tenant=tenant, tokens=1_000_000) for tenant in (3, 4)]
    handles += [submit(ground, MATMUL), submit(ground, TILES, priority=0)]  # TILES first, for its priority
    driven = []
    run(truth, node, 30.0, each=lambda: driven.append(truth.loads.compute_utilisation))
    assert all(h.completed for h in handles)
    assert list(results(ground)) == [TILES.job_id, MATMUL.job_id]
    assert verify(TILES, results(ground)[TILES.job_id]) == [] and verify(MATMUL, results(ground)[MATMUL.job_id]) == []
    done = events(ground, "compute.JobDone")
    assert len(done) == 2 and node.telemetry.read("compute.JobsDone") == 2
    assert node.telemetry.read("compute.EnergyWh") > 0 and node.telemetry.read("compute.TokensCharged") > 0
    assert max(driven) > 0.1 and driven[-1] == 0.0  # the payload was driven while jobs ran, and idled after


def test_a_job_is_charged_the_energy_the_payload_drew_for_it(tmp_path):
    """Independent of the manager's books: the rig's truth integrates the board's draw while it is
    held for a chunk, and that is what the tenant is charged (MATMUL draws the board's full curve)."""
    truth, node, ground = flying(tmp_path)
    ground.send("compute.SetQuota", arm=True, tenant=3, tokens=1_000_000)
    submit(ground, MATMUL)
    drawn_J = []  # each step: what the truth will draw over the next second, if a chunk holds the board

    def held():
        drawn_J.append(truth.loads.compute_W if node.telemetry.read("compute.ActiveJob") else 0.0)

    run(truth, node, 20.0, each=held)
    done = events(ground, "compute.JobDone")
    assert len(done) == 1 and sum(drawn_J) > 1000.0  # the board was held at more than idle
    assert done[0]["energy_Wh"] == pytest.approx(sum(drawn_J) / 3600.0, rel=1e-3)


def test_a_job_resumes_from_its_checkpoint_after_a_reboot(tmp_path):
    board = TruthBoard(None)
    truth, node, ground = flying(tmp_path, board)
    ground.send("compute.SetQuota", arm=True, tenant=3, tokens=1_000_000)
    submit(ground, MATMUL)
    run(truth, node, 4.0)
    before = node.telemetry.read("compute.ChunksDone")
    assert 0 < before < MATMUL.chunks
    node.stop()
    # The same state directory and board, a new flight software instance (what the supervisor starts).
    again = Node(NodeConfig(state_dir=tmp_path / "state", clock="lockstep"), board=TruthBoard(board.board), insecure=True)
    again.clock.set(truth.time_s)
    again.start(open_radio=False)
    ground = link(again)
    again.step_to(truth.time_s)  # the battery read once before leaving SAFE
    again.modes.request(Mode.NOMINAL, "test")
    run(truth, again, 15.0)
    assert again.telemetry.read("compute.JobsDone") == 1
    assert again.telemetry.read("compute.ChunksDone") == MATMUL.chunks - before
    assert verify(MATMUL, results(ground)[MATMUL.job_id]) == []  # chunks from before the reboot included
