"""The rig's payload board executes the work items the node hands it through the register map
(0x0040-0x0047), at the rate its own board model gives for the commanded clock and kind, and draws
and counts energy only while an item runs. Everything here goes through the register protocol over
a real pty pair, as the node's rig driver talks to the board; the expected times, draws and
energies are worked out by hand from the spec's figures, not from the code under test."""
from __future__ import annotations

import math
import threading
import time
import tomllib

import pytest

from gridfree.ground.hil.board import BoardServer, EmulatedBoard
from gridfree.ground.hil.orbit import preset
from gridfree.ground.hil.payload import PayloadBoard, WorkingBoard
from gridfree.ground.hil.power import Loads
from gridfree.ground.hil.runner import node_toml
from gridfree.ground.hil.scenario import Scenario, ScenarioError
from gridfree.ground.hil.truth import Truth
from gridfree.protocols.compute import Kind
from gridfree.protocols.hwbus import HwBusDecoder, Op, Request, Response, Status
from gridfree.protocols.links import open_link
from gridfree.protocols.links.ptypair import PtyPair
from gridfree.protocols.registers import PAYLOAD_QUEUE_DEPTH, Reg

EPOCH = 1_774_018_000.0
# The spec's board, by hand: rate at full clock (units/s) and activity per kind; P(c) the DVFS law.
RATE = {Kind.MATMUL: 40e6, Kind.MLP: 28e6, Kind.TILES: 4e6}
ACTIVITY = {Kind.MATMUL: 1.0, Kind.MLP: 0.85, Kind.TILES: 0.45}
IDLE_W = 300.0


def p_W(c: float) -> float:
    return 300.0 + 5700.0 * c * (0.6 + 0.4 * c) ** 2


def busy_W(kind: Kind, c: float) -> float:
    return IDLE_W + ACTIVITY[kind] * (p_W(c) - IDLE_W)


class Bus:
    """The node's end of the hardware line: one request, its answer."""

    def __init__(self, url: str):
        self.link, self.decoder, self.seq = open_link(url), HwBusDecoder(), 0

    def ask(self, op: Op, reg: int, value: float = 0.0) -> Response:
        self.seq = (self.seq + 1) & 0xFF
        self.link.write(Request(op, self.seq, reg, value).pack())
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:
            for msg in self.decoder.feed(self.link.read(64, timeout=0.1)):
                if isinstance(msg, Response) and msg.seq == self.seq:
                    return msg
        raise AssertionError(f"no answer for register {reg:#x}")

    def read(self, reg: int) -> float:
        resp = self.ask(Op.READ, reg)
        assert resp.status is Status.OK, resp
        return resp.value

    def write(self, reg: int, value: float) -> Status:
        return self.ask(Op.WRITE, reg, value).status

    def submit(self, kind: Kind, work_M: float) -> int:
        """Kind, work, then submit (accepted + 1) as the spec says; the accepted count after it."""
        seq = int(self.read(Reg.PAYLOAD_ITEM_ACCEPTED)) % 0xFFFF_FFFF + 1
        assert self.write(Reg.PAYLOAD_ITEM_KIND, int(kind)) is Status.OK
        assert self.write(Reg.PAYLOAD_ITEM_WORK_M, work_M) is Status.OK
        assert self.write(Reg.PAYLOAD_ITEM_SUBMIT, seq) is Status.OK
        return int(self.read(Reg.PAYLOAD_ITEM_ACCEPTED))

    def done_pair(self) -> tuple[int, int]:
        """The spec's reading rule: done, done energy, done again; again if done moved (3 times)."""
        for _ in range(3):
            done = self.read(Reg.PAYLOAD_ITEM_DONE)
            energy = self.read(Reg.PAYLOAD_DONE_ENERGY_MJ)
            if self.read(Reg.PAYLOAD_ITEM_DONE) == done:
                return int(done), int(energy)
        raise AssertionError("done kept moving")


@pytest.fixture
def rig():
    """A truth, its emulated board served on one end of a pty pair, the node's line on the other."""
    def make(board: PayloadBoard | WorkingBoard = PayloadBoard()):
        truth = Truth.from_elements(preset("iss500", EPOCH), EPOCH, loads=Loads(board=board))
        board_ = EmulatedBoard(truth, seed=3)
        pair = PtyPair().start()
        server = BoardServer(board_, open_link(pair.paths[0])).start()
        bus = Bus(pair.paths[1])
        made.append((pair, server, bus))

        def step(n: int = 1, dt_s: float = 1.0):
            for _ in range(n):
                with board_.lock:
                    truth.step(dt_s)
        return truth, board_, bus, step

    made = []
    yield make
    for pair, server, bus in made:
        bus.link.close()
        server.stop()
        server.link.close()
        pair.stop()


@pytest.mark.parametrize("kind, clock, seconds", [(Kind.MATMUL, 0.3, 37.4), (Kind.MLP, 0.55, 12.2),
                                                  (Kind.TILES, 0.9, 61.7)])
def test_an_item_completes_when_the_board_model_says_and_costs_its_draw_over_that_time(rig, kind, clock, seconds):
    truth, _, bus, step = rig()
    assert bus.write(Reg.PAYLOAD_UTILISATION, clock) is Status.OK
    work_M = RATE[kind] * clock * seconds / 1e6  # time = work / (rate x clock)
    assert bus.submit(kind, work_M) == 1
    steps = 0
    while bus.read(Reg.PAYLOAD_ITEM_DONE) != 1:
        step()
        steps += 1
        assert steps < 200
    assert steps == math.ceil(seconds)  # done in the step in which its time ends
    done, energy_mJ = bus.done_pair()
    assert done == 1 and energy_mJ == pytest.approx(busy_W(kind, clock) * seconds * 1000.0, rel=1e-6, abs=2)
    # The truth's ledger saw the same draw: idle for the rest of the last step.
    assert truth.ledger.payload_Wh * 3600 == pytest.approx(busy_W(kind, clock) * seconds
                                                          + IDLE_W * (steps - seconds), rel=1e-6)
    step(10)  # idle: the counter stands still, and the board draws idle at this clock
    assert bus.read(Reg.PAYLOAD_BUSY_ENERGY_MJ) == energy_mJ
    assert truth.loads.compute_W == IDLE_W
    assert abs(bus.read(Reg.PAYLOAD_POWER_W) - IDLE_W) < 15.0  # the sensor: 3 W noise, 1 W steps


def test_items_run_in_fifo_order_each_latching_the_energy_it_drew(rig):
    _, _, bus, step = rig()
    clock = 0.7
    bus.write(Reg.PAYLOAD_UTILISATION, clock)
    plan = [(Kind.TILES, 4.5), (Kind.MATMUL, 3.0), (Kind.MLP, 6.25)]  # seconds each at this clock
    for i, (kind, s) in enumerate(plan, 1):
        assert bus.submit(kind, RATE[kind] * clock * s / 1e6) == i
    assert abs(bus.read(Reg.PAYLOAD_POWER_W) - IDLE_W) < 15.0  # nothing has run yet
    seen, t = [bus.done_pair()], 0
    while seen[-1][0] != 3:
        step()
        t += 1
        pair = bus.done_pair()
        if pair[0] != seen[-1][0]:
            assert pair[0] == seen[-1][0] + 1, "items 1, 2 and 3 end in different steps"
            seen.append(pair)
        assert t < 30
    ends = [4.5, 7.5, 13.75]
    assert [math.ceil(e) for e in ends] == [5, 8, 14] and t == 14
    for (kind, s), (_, before), (_, after) in zip(plan, seen, seen[1:]):
        assert (after - before) % 2 ** 32 == pytest.approx(busy_W(kind, clock) * s * 1000.0, rel=1e-6, abs=2)


def test_a_retried_or_wrong_submit_does_not_enqueue(rig):
    truth, board, bus, step = rig()
    bus.write(Reg.PAYLOAD_UTILISATION, 0.5)
    assert bus.submit(Kind.MATMUL, 100.0) == 1
    assert bus.write(Reg.PAYLOAD_ITEM_SUBMIT, 1) is Status.OK  # the driver's retry after a lost answer
    for wrong in (0, 3, 2 ** 32 - 1):
        assert bus.write(Reg.PAYLOAD_ITEM_SUBMIT, wrong) is Status.OK  # heard, and ignored
    assert bus.read(Reg.PAYLOAD_ITEM_ACCEPTED) == 1 and truth.payload.depth == 1
    assert truth.payload.submits_ignored == 3  # the retry is no fault; the wrong numbers are counted
    # Reads change nothing: the whole interface twice in one block read.
    block = [bus.ask(Op.READ_BLOCK, Reg.PAYLOAD_ITEM_KIND, 8) for _ in range(2)]
    assert block[0].status is Status.OK and block[0].values == block[1].values
    assert block[0].values[:5] == (int(Kind.MATMUL), 100.0, 2 ** 32 - 1, 1, 0)
    # Values a register cannot take are refused and change nothing.
    for reg, bad in [(Reg.PAYLOAD_ITEM_KIND, 9), (Reg.PAYLOAD_ITEM_KIND, 0), (Reg.PAYLOAD_ITEM_WORK_M, -1.0),
                     (Reg.PAYLOAD_ITEM_WORK_M, float("nan")), (Reg.PAYLOAD_ITEM_WORK_M, 0.0),
                     (Reg.PAYLOAD_QUEUE_CLEAR, 2), (Reg.PAYLOAD_ITEM_ACCEPTED, 5)]:
        assert bus.write(reg, bad) in (Status.BAD_VALUE, Status.READ_ONLY), (reg, bad)
    assert board.refused == 7  # each refusal counted
    assert (bus.read(Reg.PAYLOAD_ITEM_KIND), bus.read(Reg.PAYLOAD_ITEM_WORK_M)) == (int(Kind.MATMUL), 100.0)
    assert bus.read(Reg.PAYLOAD_ITEM_ACCEPTED) == 1 and truth.payload.depth == 1


def test_a_full_queue_ignores_submits_until_an_item_is_done(rig):
    truth, _, bus, step = rig()
    clock = 1.0
    bus.write(Reg.PAYLOAD_UTILISATION, clock)
    for i in range(1, PAYLOAD_QUEUE_DEPTH + 1):
        assert bus.submit(Kind.MATMUL, RATE[Kind.MATMUL] * 2.0 / 1e6) == i  # 2 s each
    assert bus.submit(Kind.MATMUL, 1.0) == PAYLOAD_QUEUE_DEPTH  # full: accepted does not move
    assert truth.payload.submits_full == 1
    step(2)
    assert bus.read(Reg.PAYLOAD_ITEM_DONE) == 1
    assert bus.submit(Kind.MATMUL, RATE[Kind.MATMUL] * 2.0 / 1e6) == PAYLOAD_QUEUE_DEPTH + 1
    step(2 * PAYLOAD_QUEUE_DEPTH)
    assert bus.done_pair()[0] == PAYLOAD_QUEUE_DEPTH + 1
    assert truth.payload.work_done[Kind.MATMUL] == pytest.approx(9 * 2.0 * RATE[Kind.MATMUL], rel=1e-6)


def test_queue_clear_and_switching_the_payload_off_drop_every_item(rig):
    truth, _, bus, step = rig()
    clock = 0.4
    bus.write(Reg.PAYLOAD_UTILISATION, clock)
    for _ in range(3):
        bus.submit(Kind.MLP, RATE[Kind.MLP] * clock * 10.0 / 1e6)  # 10 s each
    step(4)
    assert bus.write(Reg.PAYLOAD_QUEUE_CLEAR, 1) is Status.OK
    drawn_mJ = busy_W(Kind.MLP, clock) * 4.0 * 1000.0  # the first ran 4 s: its energy stays counted
    assert bus.read(Reg.PAYLOAD_BUSY_ENERGY_MJ) == pytest.approx(drawn_mJ, abs=2)
    assert bus.done_pair() == (3, bus.read(Reg.PAYLOAD_BUSY_ENERGY_MJ))  # done := accepted
    assert bus.write(Reg.PAYLOAD_QUEUE_CLEAR, 1) is Status.OK  # again: nothing more changes
    step(5)
    assert bus.read(Reg.PAYLOAD_BUSY_ENERGY_MJ) == pytest.approx(drawn_mJ, abs=2) and truth.loads.compute_W == IDLE_W
    assert bus.read(Reg.PAYLOAD_QUEUE_CLEAR) == 0

    assert bus.submit(Kind.TILES, 1.0) == 4 and bus.submit(Kind.TILES, 1.0) == 5
    assert bus.write(Reg.PAYLOAD_SWITCH, 0) is Status.OK
    assert bus.done_pair()[0] == 5 and truth.payload.depth == 0 and truth.payload.items_dropped == 5
    assert bus.submit(Kind.TILES, 1.0) == 5  # an unpowered board takes nothing
    bus.write(Reg.PAYLOAD_SWITCH, 1)
    assert bus.submit(Kind.TILES, RATE[Kind.TILES] * clock * 2.0 / 1e6) == 6
    step(2)
    assert bus.done_pair()[0] == 6


def test_the_energy_counters_wrap_at_2_32_and_per_item_energy_survives_it(rig):
    start = 2 ** 32 - 20_000  # 20 J before the wrap
    truth, _, bus, step = rig(WorkingBoard(PayloadBoard(), busy_energy_mJ=start))
    clock = 0.2  # MATMUL at 0.2 draws 300 + 5700 x 0.2 x 0.68^2 = 827.136 W
    bus.write(Reg.PAYLOAD_UTILISATION, clock)
    assert bus.read(Reg.PAYLOAD_BUSY_ENERGY_MJ) == start == bus.read(Reg.PAYLOAD_DONE_ENERGY_MJ)
    bus.submit(Kind.MATMUL, RATE[Kind.MATMUL] * clock * 0.01 / 1e6)  # 8.27 J, before the wrap
    bus.submit(Kind.MATMUL, RATE[Kind.MATMUL] * clock * 0.5 / 1e6)  # 413.6 J, across it
    step(dt_s=0.1)
    first = bus.done_pair()
    assert first[0] == 1 and first[1] == pytest.approx(start + 8271.36, abs=2)  # not yet wrapped
    step(5, dt_s=0.1)
    second = bus.done_pair()
    assert second[0] == 2 and second[1] < 10 ** 6  # wrapped
    assert (second[1] - first[1]) % 2 ** 32 == pytest.approx(827.136 * 0.5 * 1000.0, abs=2)
    assert bus.read(Reg.PAYLOAD_BUSY_ENERGY_MJ) == second[1]  # idle since: the counter stands
    assert busy_W(Kind.MATMUL, clock) == pytest.approx(827.136)


def test_done_and_its_energy_are_read_as_a_consistent_pair_while_the_truth_steps(rig):
    truth, board, bus, step = rig()
    clock = 0.8
    bus.write(Reg.PAYLOAD_UTILISATION, clock)
    latched, stop = {}, threading.Event()
    for _ in range(PAYLOAD_QUEUE_DEPTH):
        bus.submit(Kind.TILES, RATE[Kind.TILES] * clock * 0.013 / 1e6)  # several finish in one 0.05 s step

    def stepper():  # as the runner steps the truth: under the board's lock
        while not stop.wait(0.002):
            with board.lock:
                truth.step(0.05)
                latched[truth.payload.done] = truth.payload.done_energy_mJ

    thread = threading.Thread(target=stepper)
    thread.start()
    try:
        pairs = []
        for _ in range(60):
            pairs.append(bus.done_pair())
            if bus.read(Reg.PAYLOAD_ITEM_ACCEPTED) - pairs[-1][0] < PAYLOAD_QUEUE_DEPTH // 2:  # keep it busy
                for _ in range(PAYLOAD_QUEUE_DEPTH // 2):
                    bus.submit(Kind.TILES, RATE[Kind.TILES] * clock * 0.013 / 1e6)
    finally:
        stop.set()
        thread.join()
    moved = {done for done, _ in pairs}
    assert len(moved) > 5
    for done, energy in pairs:
        if done:
            assert latched[done] == energy


def test_work_per_Wh_follows_the_board_model_at_two_clocks(rig):
    """The physics the node's planner relies on: work per Wh = rate x clock / draw, so it depends on
    the clock the node chooses (for this board 0.3 gives 40 % more per Wh than 0.9)."""
    got = {}
    for clock in (0.3, 0.9):
        truth, _, bus, step = rig()
        bus.write(Reg.PAYLOAD_UTILISATION, clock)
        for _ in range(4):
            bus.submit(Kind.MATMUL, RATE[Kind.MATMUL] * clock * 7.3 / 1e6)
        step(40)
        done, energy_mJ = bus.done_pair()
        assert done == 4
        got[clock] = truth.payload.work_done[Kind.MATMUL] / (energy_mJ / 3.6e6)  # MFLOP per Wh
        assert got[clock] == pytest.approx(RATE[Kind.MATMUL] * clock * 3600.0 / busy_W(Kind.MATMUL, clock), rel=1e-6)
        assert truth.payload.model.work_per_Wh(Kind.MATMUL, clock) == pytest.approx(got[clock], rel=1e-6)
    # By hand: 40e6 x 0.3 x 3600 / 1186.464 and 40e6 x 0.9 x 3600 / 5027.808 MFLOP/Wh (36 and 26 TFLOP/Wh)
    assert got[0.3] == pytest.approx(3.6411e7, rel=1e-4) and got[0.9] == pytest.approx(2.5777e7, rel=1e-4)


def test_with_no_items_the_board_draws_idle_at_any_clock(rig):
    truth, _, bus, step = rig()
    for clock in (0.0, 0.5, 1.0):
        bus.write(Reg.PAYLOAD_UTILISATION, clock)
        step(3)
        assert truth.loads.compute_W == IDLE_W and bus.read(Reg.PAYLOAD_BUSY_ENERGY_MJ) == 0
    assert truth.ledger.payload_Wh == pytest.approx(IDLE_W * 9 / 3600) and truth.ledger.payload_busy_Wh == 0.0


def test_a_scenario_can_change_the_boards_rates_and_activities(rig):
    board = Scenario.from_dict({"board": {"rate_scale": 0.5, "tiles_activity": 0.9}}).board
    truth, _, bus, step = rig(board)
    clock = 0.6
    bus.write(Reg.PAYLOAD_UTILISATION, clock)
    bus.submit(Kind.TILES, RATE[Kind.TILES] * clock * 5.2 / 1e6)  # 5.2 s on the spec's board: 10.4 s on this one
    step(10)
    assert bus.read(Reg.PAYLOAD_ITEM_DONE) == 0
    step()
    assert bus.done_pair()[1] == pytest.approx((300 + 0.9 * (p_W(clock) - 300)) * 10.4 * 1000.0, rel=1e-6)
    with pytest.raises(ScenarioError, match="board.tiles_activity"):
        Scenario.from_dict({"board": {"tiles_activity": 1.5}})
    with pytest.raises(ScenarioError, match="board.rate_scale"):
        Scenario.from_dict({"board": {"rate_scale": 0}})


def test_a_scenario_declares_its_work_scale_and_the_node_is_configured_with_it():
    assert Scenario.from_dict({}).work_scale == 1.0
    assert "[compute]" not in node_toml(Scenario.from_dict({}), "/dev/pts/9", "tcp://127.0.0.1:1", "keys/node")
    s = Scenario.from_dict({"work_scale": 250_000})
    assert tomllib.loads(node_toml(s, "/dev/pts/9", "tcp://127.0.0.1:1", "keys/node"))["compute"] == {
        "work_scale": 250_000.0}
    for bad in (0, 0.5, -3, "big", True, float("inf"), float("nan"), 1e13):
        with pytest.raises(ScenarioError, match="work_scale"):
            Scenario.from_dict({"work_scale": bad})


def test_at_clock_zero_an_item_waits_drawing_idle_and_runs_when_the_clock_rises(rig):
    truth, _, bus, step = rig()
    bus.write(Reg.PAYLOAD_UTILISATION, 0.0)
    bus.submit(Kind.MLP, RATE[Kind.MLP] * 0.5 * 3.0 / 1e6)  # 3 s at clock 0.5
    step(5)
    assert bus.read(Reg.PAYLOAD_ITEM_DONE) == 0 and bus.read(Reg.PAYLOAD_BUSY_ENERGY_MJ) == 0
    assert truth.loads.compute_W == IDLE_W
    bus.write(Reg.PAYLOAD_UTILISATION, 0.5)
    step(3)
    assert bus.done_pair() == (1, pytest.approx(busy_W(Kind.MLP, 0.5) * 3.0 * 1000.0, abs=2))
