"""Payload truth: what the rig's compute board really does and draws at the clock the node sets.

The node plans with its own datasheet (`gridfree.flight.compute.datasheet`, `kinds.py`); this is
the board the rig puts under it, configured by the scenario's `[board]` table. Its defaults are the
same figures as the node's datasheet, so a scenario without the table flies against the board the
node was told about; a scenario that changes them tests the node against a board that is not the one
it was told about (parts vary by several per cent, draw more as they age, run slower when hot).

Physics: a GPU-class board scales core voltage with its clock (DVFS) down to a voltage floor. The
dynamic power goes as clock x voltage squared, on top of a static draw that the board takes
whenever it is on (leakage, memory, fans, regulators):

    V(c) = v_floor + (1 - v_floor) * max(0, c - knee) / (1 - knee)     (share of full-clock voltage)
    P(c) = idle_W + (max_W - idle_W) * c * V(c)^2                        for the clock c in 0..1

Below the DVFS knee the voltage stays at its floor and only the clock falls; with the knee at 0
the voltage falls all the way to the floor at clock 0.

Work: the board executes the items the node hands it (`protocols/registers.py`, 0x0040-0x0047) one
after another in FIFO order. An item of kind k runs at rate_k x c (rate_k its work per second at
full clock, in the kind's unit: MFLOP for MATMUL and MLP, kilo-pixels for TILES), and while it
runs the board draws idle_W + activity_k x (P(c) - idle_W): a dense GEMM lights every tensor unit,
small MLP layers fewer, a memory-bound tile filter fewer still. With no item running it draws
idle_W whatever the clock: a clock with nothing to execute switches nothing.
"""
from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

from gridfree.protocols.compute import Kind
from gridfree.protocols.registers import PAYLOAD_QUEUE_DEPTH

U32 = 1 << 32
FINISH_SLACK_S = 1e-9  # an item this close to its end is done: summed rounding must not cost it a step
# Per kind: the PayloadBoard fields holding its rate at full clock and its activity.
KIND_FIELDS = {Kind.MATMUL: ("matmul_MFLOP_per_s", "matmul_activity"),
               Kind.MLP: ("mlp_MFLOP_per_s", "mlp_activity"),
               Kind.TILES: ("tiles_kpx_per_s", "tiles_activity")}


@dataclass(frozen=True)
class PayloadBoard:
    """The board's figures: its DVFS power law and, per kind, its rate and activity."""

    idle_W: float = 300.0  # on, clock 0
    max_W: float = 6000.0  # full clock, at full voltage
    v_floor: float = 0.6  # core voltage at (and below) the knee, as a share of the full-clock voltage
    dvfs_knee: float = 0.0  # the clock below which the voltage stops falling
    matmul_MFLOP_per_s: float = 40e6  # 40 TFLOP/s dense GEMM at full clock
    mlp_MFLOP_per_s: float = 28e6  # MLP layers too small to fill the board: 70 % of it
    tiles_kpx_per_s: float = 4e6  # 4 Gpixel/s, bound by memory, not arithmetic
    matmul_activity: float = 1.0
    mlp_activity: float = 0.85
    tiles_activity: float = 0.45
    rate_scale: float = 1.0  # every kind's rate times this (a slower or faster part)

    def __post_init__(self):
        if not 0.0 <= self.idle_W <= self.max_W:
            raise ValueError(f"board: idle_W {self.idle_W} must be in 0..max_W ({self.max_W})")
        if not 0.0 < self.v_floor <= 1.0:
            raise ValueError(f"board: v_floor {self.v_floor} must be in (0, 1]")
        if not 0.0 <= self.dvfs_knee < 1.0:
            raise ValueError(f"board: dvfs_knee {self.dvfs_knee} must be in [0, 1)")
        for rate, activity in KIND_FIELDS.values():
            if not (math.isfinite(getattr(self, rate)) and getattr(self, rate) > 0.0):
                raise ValueError(f"board: {rate} {getattr(self, rate)} must be above 0")
            if not 0.0 <= getattr(self, activity) <= 1.0:
                raise ValueError(f"board: {activity} {getattr(self, activity)} must be in 0..1")
        if not (math.isfinite(self.rate_scale) and self.rate_scale > 0.0):
            raise ValueError(f"board: rate_scale {self.rate_scale} must be above 0")

    def voltage(self, clock: float) -> float:
        """Core voltage at `clock`, as a share of the voltage at full clock."""
        c = min(1.0, max(0.0, clock))
        return self.v_floor + (1.0 - self.v_floor) * max(0.0, c - self.dvfs_knee) / (1.0 - self.dvfs_knee)

    def power_W(self, clock: float) -> float:
        """What the board draws at `clock` (share of full clock) at full activity, static draw included."""
        c = min(1.0, max(0.0, clock))
        v = self.voltage(c)
        return self.idle_W + (self.max_W - self.idle_W) * c * v * v

    def rate_per_s(self, kind: Kind) -> float:
        """Work per second at full clock, in the kind's unit (MFLOP, kilo-pixels)."""
        return getattr(self, KIND_FIELDS[kind][0]) * self.rate_scale

    def activity(self, kind: Kind) -> float:
        return getattr(self, KIND_FIELDS[kind][1])

    def busy_W(self, kind: Kind, clock: float) -> float:
        """The draw while an item of `kind` runs at `clock`."""
        return self.idle_W + self.activity(kind) * (self.power_W(clock) - self.idle_W)

    def work_per_Wh(self, kind: Kind, clock: float) -> float:
        """Work (the kind's unit) per Wh of board energy while an item runs at `clock`: what a node
        keeping this board busy at that clock gets for its energy, the yardstick for the rig's
        work-per-Wh benchmarks."""
        c = min(1.0, max(0.0, clock))
        return self.rate_per_s(kind) * c * 3600.0 / self.busy_W(kind, c)

    def seconds(self, kind: Kind, units: float, clock: float) -> float:
        """How long `units` of work (the kind's unit) take at `clock`; inf at clock 0."""
        c = min(1.0, max(0.0, clock))
        return math.inf if c <= 0.0 else units / (self.rate_per_s(kind) * c)


@dataclass
class Item:
    seq: int
    kind: Kind
    work_units: float  # as submitted, in the kind's unit
    remaining_units: float


def next_seq(accepted: int) -> int:
    """The sequence number the next submit must carry: accepted + 1 mod 2^32, skipping 0."""
    return accepted % (U32 - 1) + 1


@dataclass
class WorkingBoard:
    """The board as installed: its figures and the items it is executing.

    It is what the truth's loads draw through (`power_W(clock)`, as a `PayloadBoard` is asked), so
    the power balance, the payload's heat and the payload power sensor all follow the items: over
    the truth's last step the board drew idle_W, plus each kind's activity share for the time an
    item of that kind ran. `busy_energy_mJ` starts where the board's counter stands (a board that
    has run for a while is near its 2^32 wrap)."""

    model: PayloadBoard = field(default_factory=PayloadBoard)
    busy_energy_mJ: int = 0  # the counter's start (mod 2^32)
    queue: deque = field(default_factory=deque)  # Items not yet done, the running one first
    next_kind: int = 0  # the item registers as last written
    next_work_M: float = 0.0
    last_submit: int = 0
    accepted: int = 0
    done: int = 0
    done_energy_mJ: int = 0
    busy_J: float = 0.0  # energy drawn while items ran since the start (the counter is this plus its start)
    work_done: dict = field(default_factory=lambda: {k: 0.0 for k in Kind})  # units completed, per kind
    submits_ignored: int = 0  # not the next sequence number, no valid item registers, payload off, or full
    submits_full: int = 0  # of those, refused because PAYLOAD_QUEUE_DEPTH items were outstanding
    items_dropped: int = 0  # by queue_clear or the payload switching off
    step_s: float = 0.0  # the truth's last step, and how long each kind ran in it
    step_busy_s: dict = field(default_factory=lambda: {k: 0.0 for k in Kind})

    def __post_init__(self):
        self.busy_energy_mJ %= U32
        self.done_energy_mJ = self.busy_energy_mJ

    # ---- what the registers read ------------------------------------------------------------

    @property
    def busy_counter_mJ(self) -> int:
        """The busy-energy counter now, mJ mod 2^32: it advances only while an item executes."""
        return (self.busy_energy_mJ + int(self.busy_J * 1000.0)) % U32

    @property
    def depth(self) -> int:
        """Items outstanding (queued and running): accepted - done as the node reads them."""
        return len(self.queue)

    # ---- what the node writes ---------------------------------------------------------------

    def submit(self, seq: int, powered: bool = True) -> bool:
        """Enqueue the item the kind and work registers hold as `seq`, if `seq` is the next sequence
        number and there is room; True if it was enqueued. A retried write of the same `seq` finds
        it already accepted and changes nothing."""
        self.last_submit = seq
        ok = (seq == next_seq(self.accepted) and powered and self.next_kind in KIND_FIELDS
              and self.next_work_M > 0.0)
        if ok and self.depth >= PAYLOAD_QUEUE_DEPTH:
            self.submits_full += 1
            ok = False
        if not ok:
            self.submits_ignored += seq != self.accepted  # a retry of the last accepted is no fault
            return False
        units = self.next_work_M * 1e6
        self.queue.append(Item(seq, Kind(self.next_kind), units, units))
        self.accepted = seq
        return True

    def clear(self) -> int:
        """Drop every item, the running one too (its energy so far stays counted); done := accepted
        and the done-energy latch takes the counter now, so the dropped items' energy is in the
        difference the node reads. Returns how many were dropped."""
        dropped = len(self.queue)
        self.queue.clear()
        self.items_dropped += dropped
        if self.done != self.accepted:
            self.done, self.done_energy_mJ = self.accepted, self.busy_counter_mJ
        return dropped

    # ---- the truth steps it -----------------------------------------------------------------

    def advance(self, dt_s: float, clock: float, powered: bool) -> None:
        """Execute for `dt_s` at `clock`: items complete in FIFO order, each latching the counter."""
        self.step_s = dt_s
        self.step_busy_s = {k: 0.0 for k in Kind}
        if not powered:
            self.clear()
            return
        c = min(1.0, max(0.0, clock))
        t = 0.0
        while self.queue and c > 0.0 and t < dt_s:
            item = self.queue[0]
            need_s = self.model.seconds(item.kind, item.remaining_units, c)
            run_s = min(need_s, dt_s - t)
            self.busy_J += self.model.busy_W(item.kind, c) * run_s
            self.step_busy_s[item.kind] += run_s
            t += run_s
            if need_s - run_s <= FINISH_SLACK_S:  # ends in this step (rounding may leave a femtosecond)
                self.queue.popleft()
                self.work_done[item.kind] += item.work_units
                self.done, self.done_energy_mJ = item.seq, self.busy_counter_mJ
            else:
                item.remaining_units -= self.model.rate_per_s(item.kind) * c * run_s

    def power_W(self, clock: float) -> float:
        """The draw at `clock` over the truth's last step: idle, plus each kind's activity share
        for the part of the step an item of that kind ran (nothing ran before the first step)."""
        m = self.model
        if self.step_s <= 0.0:
            return m.idle_W
        dynamic_W = m.power_W(clock) - m.idle_W
        return m.idle_W + sum(min(1.0, s / self.step_s) * m.activity(k) * dynamic_W
                              for k, s in self.step_busy_s.items() if s > 0.0)

    @property
    def idle_W(self) -> float:
        return self.model.idle_W
