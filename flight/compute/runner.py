"""Running attempts at chunks: on a worker thread, checked, and committed to the job's log.

The 1 Hz decision must never wait for numpy, so chunks compute on a worker thread (one after the
other, in the order they were started) while the rate groups go on. Several attempts may be in
flight at once, one per item the payload board holds (boardwork.py). The manager collects the
oldest attempt once the board reports its item done (or, on a board without a work interface,
once its modelled time on the payload is up) and its computation is done; in lockstep, simulated
time waits for the computation. An attempt
is believed only after its checks: those inside the chunk (jobs.py: input CRCs, DMR, the MATMUL
contract, ABFT products), and the resident model it read, scrubbed and compared with its CRCs
again after the chunk (an upset found then may have been read). A believed attempt is appended
to the job's checkpoint log; at the job's end the log is read back and checked record by record
before anything from it goes down.

Where the node has an energy meter (hardware/energy.py), what the host spent computing the chunk
is measured around the computation alone, whatever becomes of the attempt.
"""
from __future__ import annotations

import os
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from gridfree.flight.compute import checkpoint
from gridfree.flight.compute.faults import Basis, UpsetInjector
from gridfree.flight.compute.jobs import SITES, ChunkUpset, Matmul, run_chunk
from gridfree.flight.compute.kinds import KIND_MODELS
from gridfree.flight.compute.models import ResidentModels
from gridfree.flight.compute.proofs import KEPT_PRODUCT, ProofStore
from gridfree.protocols.compute import JobSpec, Kind

if TYPE_CHECKING:
    from gridfree.flight.compute.faults import ChunkUpsets
    from gridfree.flight.hardware.energy import EnergyMeter

ENERGY_KEY = "_energy_Wh"  # a checkpoint record's chunk energy, kept beside the chunk's outputs


@dataclass
class Attempt:
    """One attempt at one chunk of one job, from its start to its commit or its failure."""

    job: int
    chunk: int
    spec: JobSpec
    utilisation: float  # the payload's clock while it runs
    start: float  # unix s
    due: float  # when its modelled time on the payload is up
    upsets: "ChunkUpsets | None" = None  # what an upset campaign throws at it
    outputs: dict[str, np.ndarray] | None = None  # set by the worker
    error: BaseException | None = None  # set by the worker, or by a check after it
    host_J: float = 0.0  # what the host's meter measured around the computation
    work_M: float = 0.0  # its board work, millions of its kind's unit (work_units x work_scale / 1e6)
    on_board: bool = False  # the payload board runs it as a work item and reports its energy
    board_done: bool = False  # the board reported its item done (or dropped)
    board_J: float = 0.0  # what the board drew for its item (busy-energy counter differences)
    future: Future | None = None  # its computation on the worker thread

    def billed_Wh(self, t: float) -> float:
        """On a board with a work interface, the energy the board drew for the chunk's item. On one
        without (the `none` and `linux` drivers), the board time it held from its start to its
        commit at `t` at its kind's datasheet draw: the board stays at its clock until the next
        decision, so that is the energy the battery gave (per-second billing)."""
        if self.on_board:
            return self.board_J / 3600.0
        return KIND_MODELS[self.spec.kind].power_W(self.utilisation) * (t - self.start) / 3600.0

    @property
    def computed(self) -> bool:
        return self.future is None or self.future.done()

    def outcome(self, what: str) -> None:
        """What became of the attempt, in the upset campaign's record of it."""
        if self.upsets is not None:
            self.upsets.exposure.outcome = what


@dataclass(frozen=True)
class LogCheck:
    """A job's checkpoint log as read back: its good records, up to the job's chunks done."""

    log: checkpoint.Log
    good: int  # records kept (the log is cut after them)
    kept_Wh: float  # the energy those records were billed

    def outputs(self) -> list[dict[str, np.ndarray]]:
        """The kept chunks' outputs, without the records' own bookkeeping."""
        return [{k: v for k, v in c.items() if k != ENERGY_KEY} for c in self.log.chunks[:self.good]]


class AttemptRunner:
    def __init__(self, directory: str | os.PathLike, matmul: Matmul, models: ResidentModels,
                 upsets: UpsetInjector, proofs: ProofStore, meter: "EnergyMeter | None" = None):
        self.dir, self.proofs = Path(directory), proofs
        self.matmul, self.models, self.upsets, self.meter = matmul, models, upsets, meter
        self.attempts: deque[Attempt] = deque()  # computing or waiting to be collected, oldest first
        self.host_energy_J = 0.0  # measured by the meter for every attempt since boot
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="compute")

    @property
    def attempt(self) -> Attempt | None:
        """The oldest attempt in flight, if any."""
        return self.attempts[0] if self.attempts else None

    @property
    def job(self) -> int | None:
        """The job whose chunk is oldest in flight, if any."""
        return None if not self.attempts else self.attempts[0].job

    def in_flight(self, job_id: int) -> int:
        """How many chunks of the job are in flight."""
        return sum(a.job == job_id for a in self.attempts)

    @property
    def busy_model(self) -> int | None:
        """The resident model an attempt in flight reads (not to be scrubbed under it), if any."""
        return next((a.spec.size for a in self.attempts if a.spec.kind == Kind.MLP), None)

    def start(self, job_id: int, chunk: int, spec: JobSpec, t: float, utilisation: float,
              payload: bytes | None = None, work_scale: float = 1.0) -> Attempt:
        """Compute the chunk on the worker thread from `t` with the payload at `utilisation`, meeting
        whatever upsets the campaign draws for it; `payload` is its job's checked tenant input."""
        units = spec.work_units() * work_scale
        due = t + KIND_MODELS[spec.kind].seconds(units, utilisation)
        upsets = self.upsets.chunk(job_id, chunk, due - t, SITES[spec.kind])
        if upsets and self.upsets.rates.basis is Basis.CHUNK:
            upsets.weights(self.models.buffers, self.upsets.rates.weights)  # collected while the models waited
        attempt = Attempt(job_id, chunk, spec, utilisation, t, due, upsets, work_M=units / 1e6)
        model = self.models.weights(spec.size) if spec.kind == Kind.MLP else None  # checked here, and after
        meter, matmul = self.meter, self.matmul

        def work():
            before = meter.read_J() if meter is not None else None
            try:
                attempt.outputs = run_chunk(spec, attempt.chunk, matmul, lambda _size: model, payload, attempt.upsets)
            except Exception as exc:  # a failed chunk is retried, the manager keeps going
                attempt.error = exc
            if before is not None:  # a bad read costs this chunk's measure only
                attempt.host_J = meter.spent_J(before, meter.read_J())

        self.attempts.append(attempt)
        attempt.future = self._worker.submit(work)
        return attempt

    def collect(self, t: float, lockstep: bool) -> Attempt | None:
        """The oldest attempt, once the board reported its item done (or its modelled time on a
        board without a work interface is up) and its computation is done, with the model it read
        checked again; None while it is still running."""
        a = self.attempt
        if a is None or not (a.board_done if a.on_board else t >= a.due):
            return None
        if not a.computed:
            if not lockstep:
                return None  # the real computation is slower than the payload: commit next tick
            a.future.result()  # lockstep: simulated time waits for the real computation
        self.attempts.popleft()
        self.host_energy_J += a.host_J  # spent whatever becomes of the chunk
        if a.error is None and a.spec.kind == Kind.MLP and self.models.check(a.spec.size):
            a.error = ChunkUpset("weights")  # the model was hit while the chunk read it, or just after: unknowable
        return a

    def commit(self, a: Attempt, energy_Wh: float) -> Path:
        """Append the attempt's outputs (and what it was billed) to its job's log, durably; a
        product that stays on board goes to the proof store first, not into the log."""
        outputs = dict(a.outputs)
        kept = outputs.pop(KEPT_PRODUCT, None)
        if kept is not None:
            self.proofs.keep_product(a.job, a.chunk, kept)
        return checkpoint.append(self.dir, a.job, a.chunk, {**outputs, ENERGY_KEY: energy_Wh})

    def check_log(self, job_id: int, done: int) -> LogCheck:
        """Read the job's log back and cut it after its first `done` good records: a torn append, a
        commit the queue never saw, or damage (a record that fails its CRC and all after it)."""
        log = checkpoint.load(self.dir, job_id)
        good = min(len(log.chunks), done)
        checkpoint.keep(self.dir, job_id, log, good)
        return LogCheck(log, good, sum(float(c[ENERGY_KEY]) for c in log.chunks[:good]))

    def log_path(self, job_id: int) -> Path:
        return checkpoint.path(self.dir, job_id)

    def drop(self, a: Attempt) -> None:
        """An attempt whose item the board dropped: out of flight, its computation (if it has not
        begun) not done; the chunk is started again later."""
        self.attempts.remove(a)
        if a.future is not None and not a.future.cancel():
            self.host_energy_J += a.host_J  # may still be running: what it measured so far

    def discard(self, job_id: int) -> None:
        checkpoint.discard(self.dir, job_id)

    def stop(self, timeout_s: float = 30.0) -> None:
        for a in self.attempts:
            if a.future is not None:
                a.future.cancel()
        self._worker.shutdown(wait=True)
