"""Chunks as work items on the payload board: several in flight per decision, each billed the
energy the board drew for it (so a job of 64 times the work pays 64 times), a shed that clears the
board bills the part of an item already run and the chunk is computed again, a restarted flight
software clears what it cannot know, and the board's counters are read through tears and wraps.

The node flies the rig's truth with the rig's emulated board under its own register driver
(tests/compute/rigboard.py); the driver on a real serial line is at the end."""
import pytest

from gridfree.flight.compute.jobs import ChunkUpset
from gridfree.flight.compute.workqueue import ENERGY_MOD, BoardQueue, Fate, Sync, next_seq, seq_ahead
from gridfree.flight.core.modes import Mode
from gridfree.flight.hardware.interfaces import DriverHealth, ItemRegisters
from gridfree.flight.hardware.rig import RegisterBoard, RigSerialBoard
from gridfree.ground.compute.verify import verify
from gridfree.ground.hil.board import BoardServer, EmulatedBoard
from gridfree.ground.hil.orbit import preset
from gridfree.ground.hil.truth import Truth
from gridfree.protocols.compute import JobSpec, Kind
from gridfree.protocols.hwbus import Op, Response, Status
from gridfree.protocols.links import open_link
from gridfree.protocols.links.ptypair import PtyPair
from gridfree.protocols.registers import PAYLOAD_QUEUE_DEPTH
from tests.compute.ground_link import link
from tests.compute.rigboard import EPOCH, bench
from tests.compute.test_on_truth import events, results, submit
from tests.power.test_power_manager import run

SMALL = JobSpec(41, 3, Kind.MATMUL, seed=5, size=100, batch=1, chunks=4)  # 2 MFLOP a chunk
LARGE = JobSpec(42, 3, Kind.MATMUL, seed=6, size=400, batch=1, chunks=4)  # 64 times the work of SMALL


def flying(tmp_path, work_scale):
    truth, node = bench(tmp_path, work_scale)
    ground = link(node)
    node.modes.request(Mode.NOMINAL, "test")
    ground.send("compute.SetQuota", arm=True, tenant=3, tokens=1_000_000_000)
    return truth, node, ground


def tlm(node, name):
    return node.telemetry.read(f"compute.{name}")


# ---- on the rig's board ---------------------------------------------------------------------------

def test_a_job_of_64_times_the_work_is_billed_64_times_the_energy(tmp_path):
    assert LARGE.work_units() == 64 * SMALL.work_units()
    truth, node, ground = flying(tmp_path, work_scale=1e5)  # SMALL's chunk: ~10 ms of the board
    submit(ground, SMALL, priority=0)
    submit(ground, LARGE)
    run(truth, node, 30.0)
    done = {e["job"]: e["energy_Wh"] for e in events(ground, "compute.JobDone")}
    assert set(done) == {SMALL.job_id, LARGE.job_id}
    assert done[LARGE.job_id] / done[SMALL.job_id] == pytest.approx(64.0, rel=0.05)
    assert sum(done.values()) == pytest.approx(truth.ledger.payload_busy_Wh, rel=1e-4)  # every item billed
    assert verify(SMALL, results(ground)[SMALL.job_id]) == []  # (the larger result is proved by challenge)


def test_several_items_run_per_decision_and_board_and_host_work_are_reported_apart(tmp_path):
    job = JobSpec(43, 3, Kind.MATMUL, seed=7, size=100, batch=1, chunks=24)
    truth, node, ground = flying(tmp_path, work_scale=1e5)  # a chunk: ~10 ms of the board
    submit(ground, job)
    run(truth, node, 2.0)
    assert truth.payload.accepted >= PAYLOAD_QUEUE_DEPTH  # the board was handed a full queue at once
    run(truth, node, 6.0)
    assert tlm(node, "JobsDone") == 1 and tlm(node, "BilledByBoard") is True
    assert tlm(node, "ItemsDone") == job.chunks == truth.payload.done
    scale = node.compute.work.work_scale
    assert tlm(node, "HostWorkMflop") == pytest.approx(job.work_units() * job.chunks)
    assert tlm(node, "BoardWorkMflop") == pytest.approx(truth.payload.work_done[Kind.MATMUL], rel=1e-6)
    assert tlm(node, "BoardWorkMflop") == pytest.approx(job.work_units() * job.chunks * scale, rel=1e-6)


def test_the_board_is_handed_the_next_jobs_chunks_of_the_same_kind_and_never_idles_at_a_jobs_tail(tmp_path):
    """Two MATMUL jobs of three chunks fit the board's queue together; the TILES job after them
    waits for the board to run dry, as its kind runs at a clock of its own."""
    first, second = (JobSpec(44 + k, 3, Kind.MATMUL, seed=8 + k, size=100, batch=1, chunks=3) for k in range(2))
    tiles = JobSpec(46, 3, Kind.TILES, seed=10, size=0, batch=1, chunks=1, threshold=0.5)
    truth, node, ground = flying(tmp_path, work_scale=3e6)  # a MATMUL chunk: ~0.3 s of the board
    for spec in (first, second, tiles):
        submit(ground, spec)
    together = []  # after each step: the jobs with chunks on the board, by kind

    def on_board():
        by_kind = {}
        for a in node.compute.runner.attempts:
            by_kind.setdefault(a.spec.kind, set()).add(a.job)
        together.append(by_kind)

    run(truth, node, 12.0, step_s=0.1, each=on_board)
    assert {first.job_id, second.job_id} in [s.get(Kind.MATMUL) for s in together]  # both on the board at once
    assert not any(len(s) > 1 for s in together)  # never two kinds
    assert {first.job_id, second.job_id} <= {e["job"] for e in events(ground, "compute.JobDone")}
    assert any(Kind.TILES in s for s in together)  # then the TILES job, once they were done


def test_a_hold_mid_item_clears_the_board_bills_the_part_run_and_the_chunk_is_computed_again(tmp_path):
    job = JobSpec(44, 3, Kind.TILES, seed=8, size=0, batch=100, chunks=3, threshold=0.3)
    truth, node, ground = flying(tmp_path, work_scale=1e4)  # a chunk: ~2 s of the board
    submit(ground, job)
    run(truth, node, 3.0)
    running = truth.payload.queue[0]
    assert 0 < running.remaining_units < running.work_units  # part-way through an item
    node.modes.request(Mode.SAFE, "test")  # compute is held: the board's queue is cleared
    run(truth, node, 3.0)
    assert truth.payload.depth == 0 and tlm(node, "ItemsDropped") >= 1
    partial_Wh = truth.ledger.payload_busy_Wh
    assert tlm(node, "EnergyWh") == pytest.approx(partial_Wh, rel=1e-4)  # what ran is billed, nothing more
    node.modes.request(Mode.NOMINAL, "test")
    run(truth, node, 15.0)
    (done,) = events(ground, "compute.JobDone")
    assert tlm(node, "ChunksDone") == job.chunks and verify(job, results(ground)[job.job_id]) == []
    assert done["energy_Wh"] == pytest.approx(truth.ledger.payload_busy_Wh, rel=1e-4)  # the part run included
    assert truth.ledger.payload_busy_Wh > partial_Wh
    assert tlm(node, "HostWorkKpx") == pytest.approx(job.work_units() * job.chunks)  # the dropped chunk not claimed


def test_a_chunk_failing_its_check_is_computed_again_with_those_after_it(tmp_path):
    """The board ran all four items, but the host's second product failed its check: it and the
    two after it (which cannot be kept before it) run again; what they drew the first time is
    charged to no tenant, and the tenant pays for one run of each chunk."""
    truth, node, ground = flying(tmp_path, work_scale=1e5)
    calls = []

    def flaky(a, b, **kw):  # the second product the host computes fails its check, once
        calls.append(1)
        if len(calls) == 2:
            raise ChunkUpset("product")
        return node.compute.products(a, b, **kw)

    node.compute.runner.matmul = flaky
    submit(ground, SMALL)
    run(truth, node, 10.0)
    (done,) = events(ground, "compute.JobDone")
    assert verify(SMALL, results(ground)[SMALL.job_id]) == [] and tlm(node, "ChunksDone") == SMALL.chunks
    assert tlm(node, "ChunksRecomputed") == 1 and tlm(node, "ItemsDone") == SMALL.chunks + 3
    lost_Wh = node.compute.radiation.energy_lost_Wh
    assert done["energy_Wh"] == pytest.approx(truth.ledger.payload_busy_Wh * 4 / 7, rel=0.02)
    assert done["energy_Wh"] + lost_Wh == pytest.approx(truth.ledger.payload_busy_Wh, rel=1e-4)


def test_the_payload_switched_off_mid_item_is_a_clear_too(tmp_path):
    job = JobSpec(45, 3, Kind.TILES, seed=9, size=0, batch=100, chunks=2, threshold=0.3)
    truth, node, ground = flying(tmp_path, work_scale=1e4)
    submit(ground, job)
    run(truth, node, 2.0)
    assert truth.payload.depth > 0
    ground.send("eps.SetPayload", arm=True, on=False)
    run(truth, node, 3.0)
    assert truth.payload.depth == 0 and tlm(node, "ItemsDropped") >= 1 and tlm(node, "ChunksDone") == 0
    assert tlm(node, "EnergyWh") == pytest.approx(truth.ledger.payload_busy_Wh, rel=1e-4)
    ground.send("eps.SetPayload", arm=True, on=True)
    run(truth, node, 12.0)
    assert tlm(node, "JobsDone") == 1 and verify(job, results(ground)[job.job_id]) == []


def test_a_busy_counter_wrapping_through_2_32_mJ_bills_the_same(tmp_path):
    truth, node, ground = flying(tmp_path, work_scale=1e5)
    start = ENERGY_MOD - 20_000  # 20 J before the wrap: SMALL's first chunk crosses it
    truth.payload.busy_energy_mJ = truth.payload.done_energy_mJ = start
    node.compute.work.queue.energy_mJ = start  # as a node that has read the board all along would have it
    submit(ground, SMALL)
    run(truth, node, 10.0)
    (done,) = events(ground, "compute.JobDone")
    assert truth.payload.busy_counter_mJ < start  # it wrapped
    assert done["energy_Wh"] == pytest.approx(truth.ledger.payload_busy_Wh, rel=1e-4)


# ---- the node's copy of the board's queue ---------------------------------------------------------

def synced(accepted=0, energy_mJ=0) -> BoardQueue:
    q = BoardQueue()
    assert q.observe(ItemRegisters(accepted, accepted, energy_mJ, energy_mJ)) == [] and q.ready
    return q


def test_items_done_between_two_readings_share_the_energy_by_their_cost():
    q = synced(accepted=7, energy_mJ=1000)
    a, b, c = (q.add(1, w) for w in (1.0, 3.0, 5.0))
    assert (a.seq, b.seq, c.seq) == (8, 9, 10)
    out = q.observe(ItemRegisters(10, 9, 1000 + 8000, 1000 + 9000))
    assert [(o.item.seq, o.fate, o.energy_J) for o in out] == [(8, Fate.DONE, 2.0), (9, Fate.DONE, 6.0)]
    assert all(i.accepted for i in q.items)  # the board's `accepted` says it holds the third


def test_a_torn_reading_is_skipped_and_the_next_one_accounts_for_everything():
    q = synced()
    q.add(1, 1.0), q.add(1, 1.0)
    assert q.observe(ItemRegisters(2, None, None, 500)) == [] and q.torn_reads == 1
    out = q.observe(ItemRegisters(2, 2, 900, 900))
    assert [o.energy_J for o in out] == [0.45, 0.45]


def test_sequence_numbers_and_energy_wrap():
    assert next_seq(2**32 - 1) == 1 and next_seq(0) == 1 and seq_ahead(2**32 - 1, 1) == 1
    q = synced(accepted=2**32 - 2, energy_mJ=ENERGY_MOD - 100)
    first, second = q.add(1, 1.0), q.add(1, 1.0)
    assert (first.seq, second.seq) == (2**32 - 1, 1)
    out = q.observe(ItemRegisters(1, 1, 300, 300))  # both done; the counter passed 2^32
    assert [o.item.seq for o in out] == [2**32 - 1, 1] and sum(o.energy_J for o in out) == pytest.approx(0.4)


def test_after_a_reboot_a_board_holding_unknown_items_is_cleared_before_anything_is_handed_over():
    q = BoardQueue()
    assert q.needs_clear and q.observe(ItemRegisters(12, 9, 50, 70)) == [] and not q.ready
    q.cleared()
    assert q.observe(ItemRegisters(12, 12, 80, 80)) == [] and q.ready  # nothing of it billed: not ours
    assert q.add(1, 1.0).seq == 13


def test_a_clear_bills_what_the_running_item_drew_so_far_to_it():
    q = synced(accepted=3, energy_mJ=100)
    running, queued = q.add(1, 1.0), q.add(1, 1.0)
    q.cleared()
    assert q.observe(ItemRegisters(5, 3, 100, 400)) == []  # read before the board cleared: wait
    out = q.observe(ItemRegisters(5, 5, 400, 400))
    assert [(o.item, o.fate, o.energy_J) for o in out] == [(running, Fate.DROPPED, 0.3), (queued, Fate.DROPPED, 0.0)]
    assert q.ready and q.add(1, 1.0).seq == 6


def test_numbers_the_node_cannot_explain_drop_its_items_and_resync():
    q = synced(accepted=3)
    q.accepted(q.add(1, 1.0))
    out = q.observe(ItemRegisters(0, 0, 0, 0))  # a board restarted under the node
    assert [o.fate for o in out] == [Fate.DROPPED] and q.sync is Sync.UNKNOWN and q.resyncs == 1


# ---- the driver --------------------------------------------------------------------------------------

class TearingBoard(RegisterBoard):
    """Registers whose `done` moves on every read of it alone (an item completing between the
    driver's block read and its second look), `tears` times."""

    def __init__(self, tears):
        self.health, self.tears, self.done = DriverHealth(), tears, 4

    def _transact(self, op, reg, value=0.0):
        if op is Op.READ_BLOCK:
            return Response(op, 0, reg, Status.OK, values=(9, self.done, 1000 * self.done, 7000))
        if self.tears > 0:
            self.tears -= 1
            self.done += 1
        return Response(op, 0, reg, Status.OK, self.done)


@pytest.mark.parametrize("tears, expected", [(0, ItemRegisters(9, 4, 4000, 7000)),
                                             (2, ItemRegisters(9, 6, 6000, 7000)),
                                             (3, ItemRegisters(9, None, None, 7000))])
def test_the_driver_reads_done_and_its_energy_again_when_done_moved(tears, expected):
    assert TearingBoard(tears).read_items() == expected


def test_the_rig_driver_hands_items_to_the_emulated_board_over_a_serial_line():
    truth = Truth.from_elements(preset("iss500", EPOCH), EPOCH)
    truth.step(1.0)
    pair = PtyPair().start()
    server = BoardServer(EmulatedBoard(truth, seed=3), open_link(pair.paths[0])).start()
    driver = RigSerialBoard(pair.paths[1], timeout_s=1.0)
    try:
        assert driver.work_interface and driver.set_utilisation(0.5)
        assert driver.read_items() == ItemRegisters(0, 0, truth.payload.done_energy_mJ, truth.payload.busy_counter_mJ)
        assert driver.submit_item(1, Kind.MATMUL, 4.0) and driver.submit_item(2, Kind.MATMUL, 4.0)
        assert driver.submit_item(2, Kind.MATMUL, 4.0) is True and truth.payload.depth == 2  # a retry: still two
        assert driver.submit_item(4, Kind.MATMUL, 4.0) is False  # not the next number: ignored
        truth.step(0.3)  # the first item (0.2 s at half clock) done, the second part-way
        items = driver.read_items()
        assert (items.accepted, items.done) == (2, 1) and items.busy_energy_mJ > items.done_energy_mJ
        assert driver.clear_items() and truth.payload.depth == 0
        after = driver.read_items()
        assert (after.accepted, after.done) == (2, 2) and after.busy_energy_mJ == truth.payload.busy_counter_mJ
    finally:
        driver.close()
        server.stop()
        server.link.close()
        pair.stop()


@pytest.mark.parametrize("driver", ["none", "linux"])
def test_boards_without_a_work_interface_say_so(driver, tmp_path):
    from gridfree.flight.hardware.drivers import open_board

    board = open_board(driver)
    assert board.work_interface is False and board.read_items() is None
    assert board.submit_item(1, Kind.MATMUL, 1.0) is False and board.clear_items() is False
