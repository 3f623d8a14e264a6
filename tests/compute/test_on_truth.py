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
from tests.compute.rigboard import DirectBoard, bench
from tests.power.test_power_manager import run

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


WORK_SCALE = 1e4  # a 192-point product stands for 3.5 ms of the board at full clock, a TILES chunk for 1 s


def flying(tmp_path, board=None):
    truth, node = bench(tmp_path, WORK_SCALE, board=board)
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
    """Independent of the manager's books: the rig's truth integrates what its board drew while it
    executed the job's items, and that is what the tenant is charged (the board's own counter is
    in whole millijoules)."""
    truth, node, ground = flying(tmp_path)
    ground.send("compute.SetQuota", arm=True, tenant=3, tokens=1_000_000)
    submit(ground, MATMUL)
    run(truth, node, 20.0)
    done = events(ground, "compute.JobDone")
    assert len(done) == 1 and truth.ledger.payload_busy_Wh > 0.01
    assert done[0]["energy_Wh"] == pytest.approx(truth.ledger.payload_busy_Wh, rel=1e-4)
    assert node.telemetry.read("compute.BilledByBoard") is True


def test_a_job_resumes_from_its_checkpoint_after_a_reboot_and_the_board_is_resynced(tmp_path):
    """The flight software restarts while the board still holds items it handed over: the new
    instance cannot know them, so it clears the board's queue before it hands over any of its own,
    and the job goes on from its checkpoint."""
    job = JobSpec(13, 4, Kind.TILES, seed=7, size=0, batch=100, chunks=5, threshold=0.3)  # ~2 s of board per chunk
    board = DirectBoard()
    truth, node, ground = flying(tmp_path, board)
    ground.send("compute.SetQuota", arm=True, tenant=4, tokens=1_000_000)
    submit(ground, job)
    run(truth, node, 4.0)
    before = node.telemetry.read("compute.ChunksDone")
    assert 0 < before < job.chunks and truth.payload.depth > 0  # items left on the board
    node.stop()
    # The same state directory and board, a new flight software instance (what the supervisor starts).
    again = Node(NodeConfig(state_dir=tmp_path / "state", clock="lockstep", work_scale=WORK_SCALE),
                 board=DirectBoard(board.board), insecure=True)
    again.clock.set(truth.time_s)
    again.start(open_radio=False)
    ground = link(again)
    again.step_to(truth.time_s)  # the battery read once before leaving SAFE
    again.modes.request(Mode.NOMINAL, "test")
    dropped = truth.payload.items_dropped
    run(truth, again, 20.0)
    assert truth.payload.items_dropped > dropped  # what the old instance left was cleared
    assert again.telemetry.read("compute.JobsDone") == 1
    assert again.telemetry.read("compute.ChunksDone") == job.chunks - before
    assert verify(job, results(ground)[job.job_id]) == []  # chunks from before the reboot included
