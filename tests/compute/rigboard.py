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
from gridfree.protocols.hwbus import Request

EPOCH = 1_774_018_000.0


class DirectBoard(RegisterBoard):
    """`board` (an EmulatedBoard) is set by tests.power.test_power_manager.bench."""

    def __init__(self, board=None):
        self.board, self.health = board, DriverHealth()
        self.exchanges = []  # (op, register) of every request, oldest first

    def _transact(self, op, reg, value=0.0):
        self.exchanges.append((op, reg))
        return self.board.handle(Request(op, 0, reg, value))


def bench(tmp_path, work_scale: float = 1.0, soc: float = 0.8, board: DirectBoard | None = None):
    """The rig's truth and a lockstep node on it whose compute manager hands the board items of
    `work_scale` board operations per host operation (as tests.power.test_power_manager.bench)."""
    truth = Truth.from_elements(preset("iss500", EPOCH), EPOCH, battery=Battery(soc=soc),
                                loads=Loads(compute_utilisation=0.0))
    board = board or DirectBoard()
    board.board = EmulatedBoard(truth, seed=5)
    node = Node(NodeConfig(state_dir=tmp_path / "state", clock="lockstep", work_scale=work_scale), board=board,
                insecure=True)
    node.clock.set(EPOCH)
    node.start(open_radio=False)
    node.step_to(EPOCH)  # the first reading: the battery is known before anyone asks for NOMINAL
    return truth, node
