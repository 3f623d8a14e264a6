"""HIL benchmarks of the node's compute on the rig's board: work per Wh delivered against what the
rig's board model allows at the clock run, and billing that follows work.

The real node process flies the rig's truth in lockstep (benchnode.py: the HIL runner's session)
and hands the emulated board its chunks as work items through its own register driver. The node sets the board's clock itself,
from its power grant (flight/compute/boardwork.py: the clock at which the job's kind draws what
compute may draw); nothing lets anyone pin it. So a clock is asked for the way an operator would:
by the power manager's DoD limit, which sets the energy grant and so the power grant (in sunlight,
grant ∝ DodLimitPct). The grant that buys the wanted clock on the node's own datasheet is set, and
the clock the board actually ran is read from the truth (the clock register, weighted by the time
items ran), never assumed.

`work per Wh delivered` = board work completed (the truth's WorkingBoard.work_done) ÷ the payload
energy the truth measured (truth.ledger.payload_Wh) from the step the job is submitted to the step
the node reports it done: the board's idle draw while the node is submitting, computing and
committing is in it. The yardstick is the rig's board model (PayloadBoard.work_per_Wh at the clock
run), not the node's datasheet, so a node that leaves the board idle or runs items at another
clock than it pays for falls short of 1.
"""
from __future__ import annotations

import dataclasses
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

from gridfree.ground.hil.benchnode import TENANT, Rig, fly
from gridfree.native.benchkit import Figure
from gridfree.protocols.compute import JobSpec, Kind

LO_CLOCK = 0.3  # near the board model's most efficient clock (36 TFLOP/Wh for dense GEMM)
HI_CLOCK = 0.75  # 29 TFLOP/Wh; 3.8 kW, below the 4 kW the power manager grants at most
SOC = 0.9  # high enough that the DoD limit, not the shed point, sets the grant at HI_CLOCK
STEP_S = 0.2  # the rig's step: the idle tail after the last item is at most this
WORK_SCALE = 4e6  # a 100-point product (2 MFLOP) is 8 TFLOP of the board: 0.27 s at HI_CLOCK, 8 queued last 2 s
RUN_S = 60.0  # board time each work-per-Wh job lasts at its clock
SMALL = JobSpec(61, TENANT, Kind.MATMUL, seed=5, size=100, batch=1, chunks=4)  # 2 MFLOP a chunk
LARGE = JobSpec(62, TENANT, Kind.MATMUL, seed=6, size=400, batch=1, chunks=4)  # 64 times the work
BILLING_WORK_SCALE = 1e5  # SMALL's chunk is 5 ms of the board, LARGE's 0.3 s


@dataclass(frozen=True)
class WorkRun:
    """One job run on the rig's board at a clock asked for through the grant."""

    clock_asked: float
    clock_run: float  # the board's clock register, weighted by the time items ran
    clock_min: float  # its extremes while items ran
    clock_max: float
    grant_W: float  # the node's power grant during the run
    work_M: float  # board work completed, in millions of the kind's unit (TFLOP for MATMUL)
    payload_Wh: float  # the truth's payload energy over the job, idle included
    busy_Wh: float  # of that, while items ran
    allowed_M_per_Wh: float  # what the rig's board model allows at clock_run, in the same unit

    @property
    def delivered_M_per_Wh(self) -> float:
        return self.work_M / self.payload_Wh if self.payload_Wh > 0 else math.nan

    @property
    def ratio(self) -> float:
        return self.delivered_M_per_Wh / self.allowed_M_per_Wh


def ask_clock(rig: Rig, clock: float, kind: Kind) -> float:
    """Set the DoD limit whose grant buys `clock` for `kind`; returns the grant the node then
    publishes. The grant is linear in the DoD limit while the battery is at its orbit peak (in
    sunlight) and the floor is above the shed point: scale it from the grant now. The power `kind`
    draws at `clock` is the rig board's (the node's datasheet has the same defaults; the clock the
    board then runs is measured, not assumed)."""
    want_W = rig.truth.payload.model.busy_W(kind, clock)
    dod_pct = rig.parameter_default("power.DodLimitPct")  # nobody has set it on this fresh node
    rig.run(120.0, until=lambda: (rig.tlm("power.GrantPowerW") or 0.0) > 0.0)  # NOMINAL, orbit known
    grant_W = rig.tlm("power.GrantPowerW")
    if not grant_W or not grant_W > 0:
        raise RuntimeError(f"no power grant to scale (GrantPowerW {grant_W})")
    rig.set_param("power.DodLimitPct", dod_pct * want_W / grant_W)
    before = rig.tlm("power.GrantPowerW")
    rig.run(5.0, until=lambda: rig.tlm("power.GrantPowerW") != before)  # the next 1 Hz grant
    return rig.tlm("power.GrantPowerW")


def work_run(state_dir: Path, clock: float, run_s: float = RUN_S, work_scale: float = WORK_SCALE) -> WorkRun:
    """A MATMUL job lasting about `run_s` of the board at `clock`, submitted once the grant that
    buys the clock is in place; measured from its submission to the step the board completes its
    last item (the node hears of it a tick later), then run until the node reports the job done."""
    kind = Kind.MATMUL
    rig = fly(state_dir, work_scale, soc=SOC, step_s=STEP_S)
    try:
        grant_W = ask_clock(rig, clock, kind)
        model, truth = rig.truth.payload.model, rig.truth
        chunk = JobSpec(70, TENANT, kind, seed=11, size=100, batch=1, chunks=1)
        chunk_MFLOP = chunk.work_units() * work_scale  # one item's board work
        chunks = max(1, math.ceil(run_s * model.rate_per_s(kind) * clock / chunk_MFLOP))
        spec = dataclasses.replace(chunk, chunks=chunks)
        work0, energy0, busy0 = truth.payload.work_done[kind], truth.ledger.payload_Wh, truth.ledger.payload_busy_Wh
        clocks = []  # (clock, seconds items ran) per step
        total = spec.work_units() * work_scale  # the job's board work: work_units() is per chunk
        total *= chunks

        def board_done() -> bool:
            clocks.append((truth.loads.compute_utilisation, sum(truth.payload.step_busy_s.values())))
            return truth.payload.work_done[kind] - work0 >= total * (1 - 1e-9)

        rig.submit(spec)
        rig.run(20 * run_s + 60.0, until=board_done)
        work_M = (truth.payload.work_done[kind] - work0) / 1e6
        payload_Wh, busy_Wh = truth.ledger.payload_Wh - energy0, truth.ledger.payload_busy_Wh - busy0
        rig.run(30.0, until=lambda: bool(rig.tlm("compute.JobsDone")))
        if not rig.tlm("compute.JobsDone"):
            raise RuntimeError(f"the job did not finish: {rig.events('compute.ComputeHeld')}")
        ran = [(c, s) for c, s in clocks if s > 0]
        busy_s = sum(s for _, s in ran)
        clock_run = sum(c * s for c, s in ran) / busy_s
        return WorkRun(clock, clock_run, min(c for c, _ in ran), max(c for c, _ in ran), grant_W, work_M,
                       payload_Wh, busy_Wh, model.work_per_Wh(kind, clock_run) / 1e6)
    finally:
        rig.stop()


def billing_ratio(state_dir: Path, small: JobSpec = SMALL, large: JobSpec = LARGE,
                  work_scale: float = BILLING_WORK_SCALE) -> tuple[float, dict[int, float], float]:
    """Energy the node billed `large` ÷ energy it billed `small` (from the JobDone events the ground
    heard), the bills by job, and the truth's busy energy they should add up to."""
    rig = fly(state_dir, work_scale)
    try:
        rig.submit(small, priority=0)
        rig.submit(large)
        rig.run(120.0, until=lambda: len(rig.events("compute.JobDone")) >= 2)
        bills = {e["job"]: e["energy_Wh"] for e in rig.events("compute.JobDone")}
        if set(bills) != {small.job_id, large.job_id}:
            raise RuntimeError(f"jobs not both done: {bills}")
        return bills[large.job_id] / bills[small.job_id], bills, rig.truth.ledger.payload_busy_Wh
    finally:
        rig.stop()


def _work_figure(key: str, run: WorkRun) -> Figure:
    return Figure(key, run.ratio, "x rig board model",
                  f"0.9-1.1 (clock {run.clock_run:.3f} run, {run.clock_asked:.2f} asked via a {run.grant_W:.0f} W grant; "
                  f"{run.delivered_M_per_Wh:.2f} of {run.allowed_M_per_Wh:.2f} TFLOP/Wh; energy = the "
                  f"truth's payload Wh from submit to the board's last item, idle included)")


def work_figures():
    """Work per Wh at a low and a high clock, and the billing of a job of 64 times the work."""
    with tempfile.TemporaryDirectory() as tmp:
        lo = work_run(Path(tmp) / "lo", LO_CLOCK)
        hi = work_run(Path(tmp) / "hi", HI_CLOCK)
        ratio, _, _ = billing_ratio(Path(tmp) / "billing")
    yield _work_figure("rig_work_per_Wh_vs_datasheet_lo", lo)
    yield _work_figure("rig_work_per_Wh_vs_datasheet_hi", hi)
    yield Figure("billing_work_ratio", ratio, "x", f"64 +- 5 % (energy billed for {LARGE.size}-point products "
                 f"÷ {SMALL.size}-point, {LARGE.chunks} chunks each, from the board's busy-energy counter)")


BENCHMARKS = [work_figures]
