"""Payload truth: what the rig's compute board really draws at the clock the node sets.

The node plans with its own datasheet (`gridfree.flight.compute.datasheet`); this is the board
the rig puts under it, configured by the scenario's `[board]` table. Its defaults are the same
figures as the node's datasheet, so a scenario without the table flies as it always has; a
scenario that changes them tests the node against a board that is not the one it was told about
(parts vary by several per cent, and draw more as they age).

Physics: a GPU-class board scales core voltage with its clock (DVFS) down to a voltage floor. The
dynamic power goes as clock x voltage squared, on top of a static draw that the board takes
whenever it is on (leakage, memory, fans, regulators):

    V(c) = v_floor + (1 - v_floor) * max(0, c - knee) / (1 - knee)     (share of full-clock voltage)
    P(c) = idle_W + (max_W - idle_W) * c * V(c)^2                        for the clock c in 0..1

Below the DVFS knee the voltage stays at its floor and only the clock falls; with the knee at 0
the voltage falls all the way to the floor at clock 0.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PayloadBoard:
    idle_W: float = 300.0  # on, clock 0
    max_W: float = 6000.0  # full clock, at full voltage
    v_floor: float = 0.6  # core voltage at (and below) the knee, as a share of the full-clock voltage
    dvfs_knee: float = 0.0  # the clock below which the voltage stops falling

    def __post_init__(self):
        if not 0.0 <= self.idle_W <= self.max_W:
            raise ValueError(f"board: idle_W {self.idle_W} must be in 0..max_W ({self.max_W})")
        if not 0.0 < self.v_floor <= 1.0:
            raise ValueError(f"board: v_floor {self.v_floor} must be in (0, 1]")
        if not 0.0 <= self.dvfs_knee < 1.0:
            raise ValueError(f"board: dvfs_knee {self.dvfs_knee} must be in [0, 1)")

    def voltage(self, clock: float) -> float:
        """Core voltage at `clock`, as a share of the voltage at full clock."""
        c = min(1.0, max(0.0, clock))
        return self.v_floor + (1.0 - self.v_floor) * max(0.0, c - self.dvfs_knee) / (1.0 - self.dvfs_knee)

    def power_W(self, clock: float) -> float:
        """What the board draws at `clock` (share of full clock), static draw included."""
        c = min(1.0, max(0.0, clock))
        v = self.voltage(c)
        return self.idle_W + (self.max_W - self.idle_W) * c * v * v
