"""The compute payload's datasheet: how its power and throughput follow its clock.

A GPU-class board scales clock and core voltage together (DVFS): throughput follows the clock,
dynamic power the clock times the voltage squared, and the voltage falls with the clock down to a
floor. So the board does more work per joule at a lower clock, down to the point where its idle
draw dominates. That is the lever an energy-limited node has: the same watt-hours spread over
more time at a moderate clock give more verified work than running flat out and then stopping.

This is the node's datasheet: the planner, the power budget and job quotes use it. The board
itself may differ from it (parts vary, and age): the rig's board draws by its own truth model
(`gridfree.ground.hil.payload`), configured per scenario, so the node's model is tested against
something it does not share. The clock is what the payload's utilisation register sets: 0 leaves
the board idle, not off (the EPS switch turns it off).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np


@dataclass(frozen=True)
class PayloadModel:
    idle_W: float = 300.0
    max_W: float = 6000.0  # eight 750 W accelerators at full clock: more than the arrays give
    v_min: float = 0.6  # core voltage at the lowest clock, as a share of the voltage at full clock
    peak_mflops: float = 40e6  # 40 TFLOP/s at full clock

    def power_W(self, clock):
        """Board draw at a clock (share of full), idle included; numpy arrays welcome."""
        c = np.clip(clock, 0.0, 1.0)
        v = self.v_min + (1.0 - self.v_min) * c
        return self.idle_W + (self.max_W - self.idle_W) * c * v * v

    def mflops(self, clock):
        return self.peak_mflops * np.clip(clock, 0.0, 1.0)

    def clock_for(self, power_W: float) -> float:
        """The clock that draws `power_W` (0 at or below idle, 1 at or above the maximum): the
        draw is increasing in the clock, so bisection finds it to 1e-9 in 32 halvings."""
        if power_W <= self.idle_W:
            return 0.0
        if power_W >= self.max_W:
            return 1.0
        lo, hi = 0.0, 1.0
        for _ in range(32):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if self.power_W(mid) < power_W else (lo, mid)
        return (lo + hi) / 2

    @cached_property
    def best_clock(self) -> float:
        """The clock of most work per joule, idle included (found on a 1e-4 grid)."""
        c = np.linspace(1e-4, 1.0, 10_000)
        return float(c[np.argmax(c / self.power_W(c))])

    def operating_point(self, power_W: float) -> tuple[float, float]:
        """(clock, duty) that spends `power_W` on average for the most work: below the draw at the
        best clock, run at that clock part of the time and power-gate the rest; above it, run all
        the time at the clock that draws the power."""
        best = self.best_clock
        if power_W <= 0.0:
            return 0.0, 0.0
        if power_W < self.power_W(best):
            return best, power_W / float(self.power_W(best))
        return self.clock_for(power_W), 1.0

    @cached_property
    def work_envelope(self) -> list[tuple[float, float]]:
        """Lines (slope MFLOP/J, intercept MFLOP/s) whose minimum bounds the work rate from above
        at any average power: the line from the origin through the best clock (duty cycling),
        then tangents to the clock-power curve up to full clock. An LP maximises work under them."""
        best = self.best_clock
        lines = [(float(self.mflops(best) / self.power_W(best)), 0.0)]
        for c in np.linspace(best, 1.0, 24):
            v = self.v_min + (1.0 - self.v_min) * c
            dp_dc = (self.max_W - self.idle_W) * (v * v + 2.0 * c * v * (1.0 - self.v_min))
            slope = self.peak_mflops / dp_dc  # d(work)/d(power) along the curve
            # a tangent at the grid's best clock may pass a hair below the origin; raised to it,
            # it still bounds the curve from above
            lines.append((float(slope), max(0.0, float(self.mflops(c) - slope * self.power_W(c)))))
        return lines


BOARD = PayloadModel()
