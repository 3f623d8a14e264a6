"""What each job kind costs on the node's payload board: its work rate and its draw.

These are the node's own numbers, read from its board's datasheet (`datasheet.py`): the manager
quotes and meters jobs by them and the planner converts work into board time with them. The rig's
board does not read them; it draws by its own truth (`gridfree.ground.hil.payload`).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gridfree.flight.compute.datasheet import BOARD, PayloadModel
from gridfree.protocols.compute import Kind


@dataclass(frozen=True)
class KindModel:
    """What a kind costs on the payload board: its work unit, how many it does per second at full
    clock, and its activity (the share of the board's dynamic power it draws at a clock: a dense
    GEMM lights every tensor unit, small MLP layers fewer, a memory-bound tile filter fewer still).
    Time follows the clock; power is the idle draw plus the activity's share of the rest."""

    unit: str
    units_per_s: float  # at full clock
    activity: float

    def seconds(self, units: float, clock: float) -> float:
        return units / (self.units_per_s * float(np.clip(clock, 0.0, 1.0)))

    def power_W(self, clock: float, board: PayloadModel = BOARD) -> float:
        return board.idle_W + self.activity * (float(board.power_W(clock)) - board.idle_W)

    def clock_for(self, power_W: float, board: PayloadModel = BOARD) -> float:
        """The clock at which an item of this kind draws `power_W` while it runs (a kind that lights
        less of the board runs at a higher clock for the same power)."""
        return board.clock_for(board.idle_W + (power_W - board.idle_W) / self.activity)

    def energy_Wh(self, units: float, clock: float, board: PayloadModel = BOARD, min_s: float = 0.0) -> float:
        """`min_s`: board time a chunk holds however quickly it is done (the node's decision period)."""
        return self.power_W(clock, board) * max(min_s, self.seconds(units, clock)) / 3600.0

    def full_clock_mflop(self, units: float, board: PayloadModel = BOARD) -> float:
        """The same time on the board expressed as MFLOP at full clock, the planner's currency."""
        return units / self.units_per_s * board.peak_mflops


KIND_MODELS = {
    Kind.MATMUL: KindModel("MFLOP", BOARD.peak_mflops, 1.0),
    Kind.MLP: KindModel("MFLOP", 0.7 * BOARD.peak_mflops, 0.85),  # layers too small to fill the board
    Kind.TILES: KindModel("kilo-pixel", 4e6, 0.45),  # 4 Gpixel/s, bound by memory, not arithmetic
}
