"""The rig's emulated board under the node's own register driver, without the serial line: the
driver's register logic (the torn-read rule, submits read back) against the board's own register
logic, exchange by exchange, so a lockstep test is repeatable. The serial line itself is tested
in test_board_work.py over a real pty pair."""
from __future__ import annotations

from gridfree.flight.app.config import NodeConfig
from gridfree.flight.app.node import Node
from gridfree.flight.hardware.interfaces import DriverHealth
from gridfree.flight.hardware.rig import RegisterBoard
from gridfree.ground.hil.board import EmulatedBoard
from gridfree.ground.hil.orbit import preset
from gridfree.ground.hil.power import Battery, Loads
from gridfree.ground.hil.truth import Truth
from gridfree.protocols.compute import JobSpec, Kind
from gridfree.protocols.hwbus import Request
from gridfree.protocols.pus import PusTc

EPOCH = 1_774_018_000.0


class DirectBoard(RegisterBoard):
    """`board` (an EmulatedBoard) is set by tests.power.test_power_manager.bench."""

    def __init__(self, board=None):
        self.board, self.health = board, DriverHealth()
        self.exchanges = []  # (op, register) of every request, oldest first

    def _transact(self, op, reg, value=0.0):
        self.exchanges.append((op, reg))
        return self.board.handle(Request(op, 0, reg, value))


def bench(tmp_path, work_scale: float = 1.0, soc: float = 0.8, board: DirectBoard | None = None,
          orbit: str = "iss500"):
    """The rig's truth and a lockstep node on it whose compute manager hands the board items of
    `work_scale` board operations per host operation (as tests.power.test_power_manager.bench)."""
    truth = Truth.from_elements(preset(orbit, EPOCH), EPOCH, battery=Battery(soc=soc),
                                loads=Loads(compute_utilisation=0.0))
    board = board or DirectBoard()
    board.board = EmulatedBoard(truth, seed=5)
    node = Node(NodeConfig(state_dir=tmp_path / "state", clock="lockstep", work_scale=work_scale), board=board,
                insecure=True)
    node.clock.set(EPOCH)
    node.start(open_radio=False)
    node.step_to(EPOCH)  # the first reading: the battery is known before anyone asks for NOMINAL
    return truth, node


# A product of n = 100 is 2 MFLOP on the host (0.1 ms); at BUSY_WORK_SCALE it stands for 2e8 MFLOP,
# 5 s of the rig's board at full clock (10 s at half): the node's queue of 8 holds a minute of work or
# more, a host product every few simulated seconds keeps the board busy, and the clock, not the host,
# sets what the payload draws.
BUSY_WORK_SCALE = 1e8
BUSY_JOB = JobSpec(77, 9, Kind.MATMUL, seed=3, size=100, batch=1, chunks=1_000_000)


def send(node, name, arm: bool = False, **args) -> None:
    """TC `name` as the operator sends it; with `arm`, node.Arm first (hazardous commands need it)."""
    if arm:
        send(node, "node.Arm", window_s=10)
    cmd = node.dictionary.command_by_name[name]
    node.submit(PusTc(apid=100, service=cmd.service, subtype=cmd.subtype, seq_count=node.cmdDisp.accepted,
                      app_data=cmd.encode_args(**args)).pack())


def keep_busy(node, spec: JobSpec = BUSY_JOB) -> None:
    """Give the node more work than a test can fly (a quota for it, and the job): its payload then
    draws what the node's own grant and clock let it, because the board runs the node's items."""
    send(node, "compute.SetQuota", arm=True, tenant=spec.tenant, tokens=2**62)
    send(node, "compute.Submit", job_id=spec.job_id, tenant=spec.tenant, kind=spec.kind.name, seed=spec.seed,
         size=spec.size, batch=spec.batch, chunks=spec.chunks, priority=1, deadline_unix_s=0.0,
         threshold=spec.threshold, input_id=spec.input_id)
