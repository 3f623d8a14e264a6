"""The compute manager: tenants' jobs run on whatever power the grant allows, one chunk at a time.

Jobs arrive by TC (`compute.Submit`), are checked against the tenant's token quota, and queue by
priority and deadline (jobqueue.py). At 1 Hz the manager decides whether compute may run at all:
the node in NOMINAL, the payload not shed, a grant of at least the payload's idle draw; the
utilisation is what the grant (or the onboard plan, onboard.py) pays for through the payload's
datasheet, capped by the thermal manager. It then keeps the payload board busy with the first
job's chunks, each a work item on the board and a computation on the host (boardwork.py,
runner.py: on a worker thread, checked, committed to the job's checkpoint log), so a job preempted
by eclipse, low charge, heat or a reboot resumes at its next chunk. A finished job's result goes
down through PUS 13, and its energy (`Attempt.billed_Wh`: what the board drew for each chunk's
item, or on a board without a work interface the board time it held at its kind's draw, kinds.py)
and work are charged to the tenant in the token ledger; `compute.Statement` cuts a
tenant's ledger statement and sends it down the same way. A chunk whose check fails is computed
again, and after CHUNK_TRIES failures in a row its job is dropped with an event: no result goes
down that a check doubted (radiation.py counts what the checks found; `compute.SetUpsetRates`
turns on an upset campaign, faults.py, for test benches).

The manager knows the rest of the node only through its ports (declarations.py), keeping the
latest value of each input; before the first `PowerOutlook` there is no grant and compute is held.
Tenants are charged the payload's energy, not that of the host the flight software runs on (whose
CPU energy, where RAPL exists, is `HostEnergyJ`). Damaged stored state (the queue, the ledger) is
kept aside, counted and reported, and the node goes on without it.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gridfree.flight.compute import boardwork, declarations
from gridfree.flight.compute.abft import CheckedProducts
from gridfree.flight.compute.faults import Basis, UpsetInjector, UpsetRates
from gridfree.flight.compute.inputs import InputMissing, InputRefused, InputStore
from gridfree.flight.compute.jobqueue import Job, JobQueue
from gridfree.flight.compute.jobs import Matmul
from gridfree.flight.compute.kinds import KIND_MODELS
from gridfree.flight.compute.ledger import QuotaExceeded, TokenLedger
from gridfree.flight.compute.models import ResidentModels
from gridfree.flight.compute.onboard import OnboardPlanner
from gridfree.flight.compute.radiation import RadiationStats
from gridfree.flight.compute.runner import Attempt, AttemptRunner, LogCheck
from gridfree.flight.compute.proofs import ProofCommands
from gridfree.flight.core.component import CommandFailed, Component
from gridfree.flight.core.ports import InPort, OutPort
from gridfree.flight.compute.tenancy import check_job_owner, owned_input
from gridfree.flight.core.messages import ONBOARD, LargeDataDownlink, Origin, UplinkedData, UplinkRejected
from gridfree.flight.core.store import CorruptStoreError
from gridfree.flight.hardware.energy import EnergyMeter
from gridfree.flight.hardware.interfaces import Switch
from gridfree.flight.hardware.ports import NO_READINGS, EpsReadings, PayloadClock, PayloadWork
from gridfree.flight.power.outlook import PowerOutlook
from gridfree.flight.thermal.state import UNKNOWN_THERMAL, ThermalState
from gridfree.protocols.compute import INPUT_MAGIC, InputDamaged, JobSpec, Kind, check_input
from gridfree.protocols.ledger import RECORD_OCTETS, encode_statement_transfer
from gridfree.protocols.services.verification import FailureCode

DECISION_S = 1.0  # the slow rate group's period: a chunk holds the board at least this long
CHUNK_TRIES = 4  # failed attempts in a row at one chunk (or damaged checkpoints of one job) that drop the job


class ComputeManager(ProofCommands, boardwork.BoardFeeding, Component):
    channels = declarations.CHANNELS + boardwork.CHANNELS
    parameters = declarations.PARAMETERS
    commands = declarations.COMMANDS
    events = declarations.EVENTS
    housekeeping = declarations.HOUSEKEEPING + boardwork.HOUSEKEEPING
    ports = (
        InPort("readingsIn", EpsReadings, "The EPS's readings: the payload switch, temperatures for the plan, the "
               "board's work items (10 Hz)"),
        InPort("outlookIn", PowerOutlook, "The power manager's grant, shed state and orbit picture, each 1 Hz tick"),
        InPort("thermalIn", ThermalState, "The thermal manager's utilisation cap and throttle point, each 1 Hz tick"),
        OutPort("payloadOut", PayloadClock, "The payload's clock; True if the board confirmed it", returns=bool),
        OutPort("payloadWorkOut", PayloadWork, "Work items to the payload board, or a clear of its queue; True if "
                "it took the item or confirmed the clear", returns=bool),
        OutPort("downlinkOut", LargeDataDownlink, "Results and statements down (PUS 13)", returns=int),
        InPort("uplinkIn", UplinkedData, "Complete PUS 13 uplinks: False if not a tenant input", returns=bool),
    )

    def __init__(self, name: str, id_base: int, *, state_dir: str | Path, signing_key: Ed25519PrivateKey,
                 matmul: Matmul | None = None, energy_meter: EnergyMeter | None = None, work_scale: float = 1.0):
        super().__init__(name, id_base)
        self.dir = Path(state_dir) / "compute"
        self.dir.mkdir(parents=True, exist_ok=True)
        self._ledger_args = (self.dir / "tokens.ledger", signing_key, "gridfree-node")
        self._ledger: TokenLedger | None = None
        self.products = CheckedProducts()
        self.models = ResidentModels(self.log)
        self.upsets = UpsetInjector()
        self.runner = AttemptRunner(self.dir, matmul or self.products, self.models, self.upsets, self.proofs, energy_meter)
        self.planner = OnboardPlanner()
        self.work = boardwork.BoardWork(work_scale)
        self.queue = JobQueue(self.dir / "queue.bin")
        self.inputs = InputStore(self.dir / "inputs")
        self.radiation = RadiationStats()
        self._readings: EpsReadings = NO_READINGS
        self._outlook: PowerOutlook | None = None  # none yet: no grant, compute held
        self._thermal: ThermalState = UNKNOWN_THERMAL
        self._held_reason = ""
        self._power_W = 0.0  # what compute may draw now (the allowance's)
        self.chunks_done = self.jobs_done = self.preemptions = self.deadline_misses = self.inputs_rejected = 0
        self.energy_Wh, self.tokens = 0.0, 0
        self.stored_state_lost = self.ledger_records_lost = 0
        self.utilisation = math.nan  # unknown until commanded: the board keeps whatever it had before boot

    def attach(self, ctx) -> None:
        """Loads the queue, once events can be sent: a job whose log was damaged or torn while the
        node was down goes back to its first chunk lost, with an event (checkpoint.py)."""
        super().attach(ctx)
        try:
            self.queue.load()
        except CorruptStoreError as exc:  # the jobs are resubmitted by the ground
            self.queue.set_aside()
            self.stored_state_lost += 1
            self.log("StoreDamaged", what="job queue", reason=str(exc))
        for job in self.queue:
            self._kept(job, self.runner.check_log(job.job_id, job.done))

    def schedule(self):
        return {"slow": [self.tick], "background": [self.scrub]}

    def outlookIn_handler(self, outlook: PowerOutlook) -> None:  # noqa: N802
        self._outlook = outlook

    def thermalIn_handler(self, state: ThermalState) -> None:  # noqa: N802
        self._thermal = state

    def uplinkIn_handler(self, uplink: UplinkedData) -> bool:  # noqa: N802
        """A tenant input (it starts with INPUT_MAGIC): kept if it checks, else refused with
        UplinkRejected and nothing stored before touched. Any other data is not ours: False."""
        if uplink.data[:len(INPUT_MAGIC)] != INPUT_MAGIC:
            return False
        try:
            inp = self.inputs.store(owned_input(uplink))
        except (InputDamaged, InputRefused) as exc:
            self.inputs_rejected += 1
            self.tlm("InputsRejected", self.inputs_rejected)
            self.log("InputRejected", reason=str(exc))
            raise UplinkRejected(str(exc)) from None
        self.tlm("InputsStored", len(self.inputs.ids()))
        self.log("InputStored", input=inp.input_id, tenant=inp.tenant, octets=len(inp.payload))
        return True

    def scrub(self, _t: float = 0.0) -> None:
        """Every 10 s: the resident models but the one a chunk is reading (models.py)."""
        self.models.scrub(self.runner.busy_model)
        self.tlm("EdacCorrected", self.models.corrected)
        self.tlm("EdacUncorrectable", self.models.uncorrectable)
        self.tlm("AbftCorrected", self.products.corrected)
        self.tlm("AbftRecomputed", self.products.recomputed)
        self.tlm("InputsStored", len(self.inputs.ids()))
        self.tlm("InputsRejected", self.inputs_rejected)

    @property
    def ledger(self) -> TokenLedger:
        """Opened (and locked: one writer per ledger) when tokens are first quoted or charged."""
        if self._ledger is None:
            self._ledger = TokenLedger(*self._ledger_args, salvage=True)
            salvage = self._ledger.salvaged
            if salvage is not None:  # the damaged file is kept whole for the ground to audit
                self.stored_state_lost += 1
                self.ledger_records_lost += salvage.records_lost
                self.log("LedgerSalvaged", lost=salvage.records_lost, kept=salvage.entries_kept)
        return self._ledger

    def cmd_Submit(self, job_id, tenant, kind, seed, size, batch, chunks, priority, deadline_unix_s, threshold,
                   input_id):
        spec = JobSpec(job_id, tenant, Kind(kind), seed, size, batch, chunks, threshold, input_id)
        try:
            spec.check()
            if input_id:
                check_input(spec, self.inputs.load(input_id))
        except (ValueError, InputMissing) as exc:
            raise CommandFailed(FailureCode.BAD_ARGUMENT, str(exc)) from None
        if job_id in self.queue:
            raise CommandFailed(FailureCode.BAD_ARGUMENT, f"job {job_id} already queued")
        # At full clock: the board's time for the chunk's item, or without a work interface at least one decision.
        chunk_Wh = KIND_MODELS[spec.kind].energy_Wh(spec.work_units() * self.work.work_scale, 1.0,
                                                    min_s=0.0 if self.work.on_board else DECISION_S)
        estimate = self.ledger.quote(chunk_Wh * chunks, spec.work_units() * chunks)
        if self.ledger.would_exceed(tenant, estimate):
            raise CommandFailed(FailureCode.EXECUTION_ERROR, f"tenant {tenant}: ~{estimate} tokens exceed the quota "
                                                             f"({self.ledger.quota_left(tenant)} left)")
        self.queue.add(Job(spec, priority, deadline_unix_s))
        self.queue.save()
        self.log("JobAccepted", job=job_id, tenant=tenant, tokens=estimate)

    def cmd_Cancel(self, job_id, origin: Origin = ONBOARD):
        check_job_owner(self.queue.get(job_id), job_id, origin)  # a tenant cancels its own jobs only
        if self.runner.in_flight(job_id):
            raise CommandFailed(FailureCode.BUSY, f"job {job_id} is computing a chunk; cancel after it")
        self._forget(job_id)

    def cmd_SetQuota(self, tenant, tokens):
        self.ledger.set_quota(tenant, tokens, self.ctx.clock.now())

    def cmd_Statement(self, tenant, since_seq):
        try:
            records = self.ledger.statement(tenant, since_seq, self.ctx.clock.now())
        except ValueError as exc:
            raise CommandFailed(FailureCode.BAD_ARGUMENT, str(exc)) from None
        tid = self.out("downlinkOut", LargeDataDownlink(encode_statement_transfer(tenant, since_seq, records)))
        self.log("StatementQueued", tenant=tenant, records=len(records) // RECORD_OCTETS, transaction=tid)

    def cmd_DeleteInput(self, input_id):
        users = self.queue.using_input(input_id)
        if users:
            raise CommandFailed(FailureCode.BUSY, f"input {input_id} is used by queued job {users[0]}")
        try:
            self.inputs.delete(input_id)
        except InputMissing as exc:
            raise CommandFailed(FailureCode.BAD_ARGUMENT, str(exc)) from None
        self.tlm("InputsStored", len(self.inputs.ids()))

    def cmd_SetUpsetRates(self, inputs, intermediates, weights, checkpoints, basis, seed):
        try:
            rates = UpsetRates(inputs, intermediates, weights, checkpoints, Basis(basis))
        except ValueError as exc:  # NaN passes the declared range; the rates do not
            raise CommandFailed(FailureCode.BAD_ARGUMENT, str(exc)) from None
        self.upsets.set_rates(rates, seed)
        self.log("UpsetRatesSet", inputs=inputs, intermediates=intermediates, weights=weights, checkpoints=checkpoints,
                 basis=basis, seed=seed)

    def tick(self, t: float) -> None:
        lockstep = getattr(self.ctx.clock, "lockstep", False)
        while (a := self.runner.collect(t, lockstep)) is not None:
            self._commit(a, t)
        allowed, reason, u = self._allowance(t)
        if not allowed and reason != self._held_reason:
            self.preemptions += bool(self.runner.attempt or len(self.queue))
            self.log("ComputeHeld", reason=reason)
        self._held_reason = "" if allowed else reason
        if self.work.on_board:
            self._feed_board(t, allowed and self._readings.is_on(Switch.PAYLOAD) is not False, u)
        elif self.runner.attempt is None:
            jobs = self._next_jobs(t)
            if allowed and jobs:
                self._start(jobs[0], t, u)
            elif self.utilisation != 0.0:  # idle it, also the first time: it may have been left running
                self._set_utilisation(0.0)
        for local, value in (("JobsQueued", len(self.queue)), ("ActiveJob", self.runner.job or 0),
                             ("ChunksDone", self.chunks_done), ("JobsDone", self.jobs_done),
                             ("Preemptions", self.preemptions), ("Utilisation", 100 * self.utilisation),
                             ("EnergyWh", self.energy_Wh), ("TokensCharged", self.tokens), ("Running", allowed),
                             ("HostEnergyJ", math.nan if self.runner.meter is None else self.runner.host_energy_J),
                             ("StoredStateLost", self.stored_state_lost),
                             ("LedgerRecordsLost", self.ledger_records_lost), *self.work.telemetry()):
            self.tlm(local, value)
        if not self.upsets.rates.off:  # per-second upsets land now, whatever is running
            self.upsets.tick(t, self.models.buffers, [self.runner.log_path(j.job_id) for j in self.queue if j.done])
        self.radiation.observe(self.upsets.injected, self.models.crc_mismatches)
        for local, value in self.radiation.telemetry():
            self.tlm(local, value)

    def _allowance(self, t: float) -> tuple[bool, str, float]:
        """Whether compute may run now, why not, and at what utilisation (onboard.py)."""
        self.planner.fly(int(self.param("PayloadPolicy")))
        a = self.planner.allowance(t, self.ctx.modes.mode, self._outlook, self._thermal, self._readings,
                                   self.param("PlanOnBoard"), self.param("PayloadConductanceWK"),
                                   self.param("PayloadHeatCapacityJK"))
        if a.planned_W is not None:
            self.tlm("PlannedPowerW", a.planned_W)
        self._power_W = a.power_W
        return a.allowed, a.reason, a.utilisation

    def _next_jobs(self, t: float) -> list[Job]:
        """The queue's jobs in the order they run (JobQueue.in_order) after those past their
        deadline are dropped: their results would be late."""
        for job_id in self.queue.past_deadline(t):
            if not self.runner.in_flight(job_id):
                self.deadline_misses += 1
                self._drop(job_id, "deadline passed")
        late = self.queue.late(self.planner.plan, self.planner.plan_t)
        for local, value in (("JobsLate", len(late)), ("DeadlineMisses", self.deadline_misses)):
            self.tlm(local, value)
        return self.queue.in_order(late)

    def _start(self, job: Job, t: float, u: float):
        payload = None
        if job.spec.input_id:  # checked again before every chunk: storage may have changed since the last
            try:
                inp = self.inputs.load(job.spec.input_id)
                check_input(job.spec, inp)
            except (ValueError, InputMissing) as exc:
                self._drop(job.job_id, str(exc))
                return None
            payload = inp.payload
        if not self.work.on_board:
            self._set_utilisation(u)
        return self.runner.start(job.job_id, job.done + self.runner.in_flight(job.job_id), job.spec, t, u, payload,
                                 self.work.work_scale)

    def _bill(self, job: Job | None, energy_Wh: float) -> None:
        """Payload energy spent on a job's chunk, whatever becomes of it; with no job, thrown away
        (a failed check, a chunk after it, a job gone): charged to no tenant."""
        self.energy_Wh += energy_Wh
        self.radiation.energy_lost_Wh += energy_Wh if job is None else 0.0
        if job is not None:
            job.energy_Wh += energy_Wh

    def _commit(self, a: Attempt, t: float) -> None:
        job = self.queue.get(a.job)
        if job is None or a.chunk != job.done:  # dropped, or an earlier chunk failed: computed again
            self._bill(None, a.billed_Wh(t))
            return a.outcome("job dropped" if job is None else "earlier chunk failed")
        if a.error is not None:
            return self._chunk_failed(a, job, t)
        job.tries = 0
        energy = a.billed_Wh(t)
        path = self.runner.commit(a, energy)
        job.done = a.chunk + 1
        self._bill(job, energy)
        self.work.committed(a)
        self.chunks_done += 1
        if job.done < job.spec.chunks:
            a.outcome("committed")
            self.queue.save()
            self.upsets.checkpoint_written(path)
            return
        check = self.runner.check_log(job.job_id, job.done)  # the outputs, read back and checked as they go down
        if self._kept(job, check):
            a.outcome("committed")
            self._finish(job, check.outputs(), t)
        else:
            a.outcome("checkpoint damaged")

    def _chunk_failed(self, a: Attempt, job: Job, t: float) -> None:
        """An attempt that failed a check (or raised): nothing of it is kept and the chunk runs
        again; after CHUNK_TRIES failures in a row the job is dropped, never sent down doubted."""
        what = self.radiation.failed_check(a.error)
        if a.on_board and self.runner.attempts:  # its later chunks cannot commit before it: computed again
            self.work.clear(lambda w: self.out("payloadWorkOut", w))
        self._bill(None, a.billed_Wh(t))
        a.outcome(what)
        job.tries += 1
        if job.tries >= CHUNK_TRIES:
            self._drop(job.job_id, f"chunk {a.chunk} failed {job.tries} times, last: {what}")
            return
        self.radiation.chunks_recomputed += 1
        self.queue.save()
        self.log("ChunkRecomputed", job=job.job_id, chunk=a.chunk, check=what)

    def _finish(self, job: Job, outputs: list[dict[str, np.ndarray]], t: float) -> None:
        spec = job.spec
        self.out("downlinkOut", LargeDataDownlink(self.result_with_commitment(spec, outputs)))
        try:
            tokens = self.ledger.charge(spec.tenant, job.job_id, job.energy_Wh, spec.work_units() * spec.chunks, t)
        except QuotaExceeded:
            tokens = 0  # the estimate at submission held the quota; a later quota cut is the ground's call
        self.tokens += tokens
        self.jobs_done += 1
        self._forget(job.job_id)
        self.log("JobDone", job=job.job_id, tokens=tokens, energy_Wh=job.energy_Wh)

    def _drop(self, job_id: int, reason: str) -> None:
        """A job that cannot go on (its input is gone or damaged, its checks keep failing, its
        deadline passed): out of the queue, with an event."""
        self._forget(job_id)
        self.radiation.jobs_failed += 1
        self.log("JobFailed", job=job_id, reason=reason)

    def _forget(self, job_id: int) -> None:
        """Out of the queue and its log gone, the log first (see JobQueue)."""
        self.queue.remove(job_id)
        self.runner.discard(job_id)
        self.queue.save()

    def _kept(self, job: Job, check: LogCheck) -> bool:
        """Whether the job's log holds every chunk it has done. If not, the job goes back to its
        first chunk lost (the energy of those after it uncharged, as they will be done again), and
        after CHUNK_TRIES damaged logs it is dropped."""
        if check.good == job.done:
            return True
        self.radiation.checkpoints_damaged += 1
        self.log("CheckpointDamaged", job=job.job_id, chunk=check.good)
        job.done = check.good
        self.radiation.energy_lost_Wh += job.energy_Wh - check.kept_Wh
        job.energy_Wh = check.kept_Wh
        job.restarts += 1
        if job.restarts >= CHUNK_TRIES:
            self._drop(job.job_id, f"checkpoint damaged {job.restarts} times")
        else:
            self.queue.save()
        return False

    def _set_utilisation(self, u: float) -> None:
        if u > 0 and self._readings.is_on(Switch.PAYLOAD) is False:  # None: never switched, on since boot
            return
        if self.out("payloadOut", PayloadClock(u)):
            self.utilisation = u

    def stop(self) -> None:
        self.runner.stop(30.0)
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None
        super().stop()
