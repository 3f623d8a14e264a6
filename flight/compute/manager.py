"""The compute manager: tenants' jobs run on whatever power the grant allows, one chunk at a time.

Jobs arrive by TC (`compute.Submit`), are checked against the tenant's token quota, and queue by
priority and deadline. At 1 Hz the manager decides whether compute may run at all: the node in
NOMINAL, the payload not shed, a grant of at least the payload's idle draw; the utilisation is
what the grant pays for, capped by the thermal manager. It then runs the next chunk of the
first job on a worker thread (the rate groups never wait for numpy) with ABFT-protected
products, and commits it when both the computation and its simulated duration on the payload
are done: the outputs are appended to the job's checkpoint log (a CRC-32C per record), so a job
preempted by eclipse, low charge, heat or a reboot resumes at its next chunk. A finished job's
result goes down through PUS 13, and its energy and work are charged to the tenant in the token
ledger; `compute.Statement` cuts a tenant's ledger statement and sends it down the same way.

A tenant's own data comes up through PUS 13 as a tenant input (protocols/compute.py); the
manager stores it once it checks (flight/compute/inputs.py) and a job submitted with its
`input_id` computes on it, re-checked before every chunk: a missing or damaged input fails the
job with an event, never feeds it garbage.

Radiation (issue 9): products are ABFT-checked; a chunk checks its inputs (CRC-32C) and its
elementwise steps (computed twice) itself (flight/compute/jobs.py); the resident models sit under
EDAC with a CRC-32C per layer, checked (scrubbed, reloaded if lost) just before a chunk reads them
and again after it, an upset found then meaning the chunk may have read it; checkpoint records
carry a CRC-32C, checked when the log is read back (at the job's end, after a reboot), a damaged
one costing the job the chunks from it on. A chunk whose check fails is not committed but
computed again, and after CHUNK_TRIES failures in a row its job is dropped with an event: no
result goes down that a check doubted.
`compute.SetUpsetRates` (hazardous) turns on an upset campaign (flight/compute/faults.py) that
hits all of these, for test benches.

How much power compute may use is the onboard planner's call (onboard.py: an LP over the next
three orbits that spreads the energy where the board is most efficient, within the DoD, SOC
floor and thermal limits), the power manager's grant until the planner has an orbit to plan on;
the power manager's shed and SAFE stay above both. The power becomes a clock through the
payload's datasheet (protocols/payload.py); a chunk's time at that clock is its kind's model
(protocols/compute.py KIND_MODELS: work units per second at full clock, and the share of the
board's dynamic power the kind draws), and it is billed the board time it held, at least one
decision (`_energy_Wh`). Where the host
has RAPL counters (flight/hardware/rapl.py) the energy its CPU really spent computing the chunks
is measured as well (`HostEnergyJ`), to set against the model; tenants are charged the model's,
the payload's energy, not the energy of whatever machine the flight software runs on.
"""
from __future__ import annotations

import json
import math
import threading
from dataclasses import asdict
from pathlib import Path

import numpy as np

from gridfree.flight.compute import checkpoint
from gridfree.flight.compute.abft import AbftUncorrectable, abft_matmul
from gridfree.flight.compute.faults import Basis, Target, UpsetInjector, UpsetRates
from gridfree.flight.compute.inputs import InputMissing, InputRefused, InputStore
from gridfree.flight.compute.jobs import SITES, ChunkUpset, run_chunk
from gridfree.flight.compute.ledger import QuotaExceeded, TokenLedger
from gridfree.flight.compute.models import ResidentModels
from gridfree.flight.compute.onboard import OnboardPlanner
from gridfree.flight.core.component import CommandFailed, Component
from gridfree.flight.core.modes import Mode
from gridfree.flight.core.services.largedata import UplinkRejected
from gridfree.flight.core.store import AtomicRecordFile, CorruptStoreError
from gridfree.flight.hardware.interfaces import Switch
from gridfree.flight.hardware.rapl import POWERCAP, Rapl
from gridfree.flight.compute.kinds import KIND_MODELS
from gridfree.protocols.compute import INPUT_MAGIC, InputDamaged, JobSpec, Kind, check_input, pack_result
from gridfree.protocols.dictionary import Channel, Command, Event, Field, HousekeepingPacket, Parameter, Severity
from gridfree.flight.compute.datasheet import BOARD
from gridfree.protocols.ledger import RECORD_OCTETS, encode_statement_transfer
from gridfree.protocols.services.verification import FailureCode

MIN_UTILISATION = 0.05
DECISION_S = 1.0  # the slow rate group's period: a chunk holds the board at least this long
KINDS = {k.name: k.value for k in Kind}
BASES = {b.name: b.value for b in Basis}
CHUNK_TRIES = 4  # failed attempts in a row at one chunk (or damaged checkpoints of one job) that drop the job
ENERGY_KEY = "_energy_Wh"  # a checkpoint record's chunk energy, kept beside the chunk's outputs
RADIATION_CHANNELS = ("UpsetsInputs", "UpsetsIntermediates", "UpsetsWeights", "UpsetsCheckpoints", "ChunksRecomputed",
                      "InputMismatches", "DmrMismatches", "WeightsHitInUse", "AbftFailed", "ModelCrcMismatches",
                      "CheckpointsDamaged", "JobsFailed", "ResultMismatches", "EnergyLostWh")


class ComputeManager(Component):
    channels = (
        Channel(1, "JobsQueued", "u16", description="Jobs accepted and not finished"),
        Channel(2, "ActiveJob", "u32", description="Job whose chunks are running (0: none)"),
        Channel(3, "ChunksDone", "u32", description="Chunks committed since boot"),
        Channel(4, "JobsDone", "u32", description="Jobs finished and downlinked since boot"),
        Channel(5, "Preemptions", "u32", description="Times running work was held for power, mode or heat"),
        Channel(6, "Utilisation", "f32", "%", "Payload utilisation commanded"),
        Channel(7, "EnergyWh", "f32", "Wh", "Payload energy spent on jobs since boot, work thrown away included"),
        Channel(8, "TokensCharged", "u64", description="Tokens charged to tenants since boot"),
        Channel(9, "Running", "bool", description="Compute may run now (mode, power, heat)"),
        Channel(10, "EdacCorrected", "u32", description="Single-bit upsets corrected in resident model weights"),
        Channel(11, "EdacUncorrectable", "u32", description="Double-bit upsets found (the model was reloaded)"),
        Channel(12, "AbftCorrected", "u32", description="Product elements put back from their checksums"),
        Channel(13, "AbftRecomputed", "u32", description="Products computed again after a failed check"),
        Channel(14, "InputsStored", "u16", description="Tenant inputs on board"),
        Channel(15, "InputsRejected", "u32", description="Uplinked tenant inputs refused (damaged, id taken, full)"),
        Channel(16, "HostEnergyJ", "f32", "J", "Host CPU package energy measured by RAPL for chunks since boot (NaN: "
                "no RAPL)"),
        Channel(20, "UpsetsInputs", "u32", description="Upsets injected into chunk inputs (SetUpsetRates)"),
        Channel(21, "UpsetsIntermediates", "u32", description="Upsets injected into products and activations"),
        Channel(22, "UpsetsWeights", "u32", description="Upsets injected into resident model codewords"),
        Channel(23, "UpsetsCheckpoints", "u32", description="Upsets injected into checkpoint files"),
        Channel(24, "ChunksRecomputed", "u32", description="Chunk attempts thrown away after a failed check, rerun"),
        Channel(25, "InputMismatches", "u32", description="Chunks whose inputs changed while computed (CRC-32C)"),
        Channel(26, "DmrMismatches", "u32", description="Elementwise steps whose two computations disagreed"),
        Channel(27, "WeightsHitInUse", "u32", description="Chunks whose model was found upset after they read it"),
        Channel(28, "AbftFailed", "u32", description="Chunks whose products failed their checks after recomputing"),
        Channel(29, "ModelCrcMismatches", "u32", description="Models whose CRC-32C was wrong after a scrub (reloaded)"),
        Channel(30, "CheckpointsDamaged", "u32", description="Checkpoint logs found damaged (job resumed where lost)"),
        Channel(31, "JobsFailed", "u32", description="Jobs dropped: failing checks, damaged input, ... (no result)"),
        Channel(32, "ResultMismatches", "u32", description="MATMUL chunks whose sums failed the contract on board"),
        Channel(33, "EnergyLostWh", "f32", "Wh", "Payload energy of chunks thrown away (failed checks, damaged "
                                                  "checkpoints): charged to no tenant"),
        Channel(40, "PlannedPowerW", "f32", "W", "Payload power the onboard plan gives now (NaN: no plan, the "
                "grant rules)"),
        Channel(45, "DeadlineMisses", "u32", description="Jobs dropped at their deadline unfinished since boot"),
        Channel(46, "JobsLate", "u16", description="Queued jobs the plan cannot finish by their deadline"),
    )
    parameters = (
        Parameter(1, "PlanOnBoard", "bool", True, description="Run at the onboard plan's power (else the grant's)"),
        Parameter(2, "PayloadConductanceWK", "f32", 150.0, "W/K", "Payload to radiator conductance, for the plan",
                  min=1.0, max=10_000.0),
        Parameter(3, "PayloadHeatCapacityJK", "f32", 22_500.0, "J/K", "Payload heat capacity, for the plan",
                  min=100.0, max=1e7),
    )
    commands = (
        Command("Submit", opcode=0x01, description="Queue a tenant's job", arguments=(
            Field("job_id", "u32", min=1), Field("tenant", "u16"), Field("kind", "u8", enum=KINDS),
            Field("seed", "u32"), Field("size", "u16", description="MATMUL: n; MLP: model 0..2"),
            Field("batch", "u16", min=1, description="MLP samples / TILES tiles per chunk"),
            Field("chunks", "u32", min=1, max=1_000_000), Field("priority", "u8", description="0 first"),
            Field("deadline_unix_s", "f64", "s", description="0: none"),
            Field("threshold", "f32", min=0.0, max=1.0, description="TILES: cloud fraction kept below"),
            Field("input_id", "u32", description="0: inputs from the seed; else an uplinked tenant input"))),
        Command("Cancel", opcode=0x02, arguments=(Field("job_id", "u32"),), description="Drop a queued job"),
        Command("SetQuota", opcode=0x03, arguments=(Field("tenant", "u16"), Field("tokens", "u64", max=2**63 - 1)),
                description="A tenant's token quota (recorded in the ledger)"),
        Command("Statement", opcode=0x04, arguments=(Field("tenant", "u16"), Field("since_seq", "u32")),
                description="Cut a tenant's ledger statement from this sequence number and downlink it (PUS 13)"),
        Command("DeleteInput", opcode=0x05, arguments=(Field("input_id", "u32", min=1),),
                description="Drop an uplinked tenant input no queued job uses"),
        Command("SetUpsetRates", opcode=0x10, hazardous=True, arguments=tuple(
            Field(t.name.lower(), "f32", min=0.0, max=1000.0, description="Mean upsets per chunk or per second")
            for t in Target) + (Field("basis", "u8", enum=BASES), Field("seed", "u32")),
                description="Fault injection for test benches: bit flips in chunk inputs, intermediates, resident "
                            "weights and checkpoints at these rates (all 0: off, the default)"),
    )
    events = (
        Event(1, "JobAccepted", Severity.ACTIVITY_LO, "job {job} of tenant {tenant} queued, ~{tokens} tokens",
              (Field("job", "u32"), Field("tenant", "u16"), Field("tokens", "u64"))),
        Event(2, "JobDone", Severity.ACTIVITY_HI, "job {job} done: {tokens} tokens, {energy_Wh:.1f} Wh",
              (Field("job", "u32"), Field("tokens", "u64"), Field("energy_Wh", "f32", "Wh"))),
        Event(3, "ComputeHeld", Severity.ACTIVITY_LO, "compute held: {reason}", (Field("reason", "string[40]"),)),
        Event(4, "CheckpointDamaged", Severity.WARNING_LO, "job {job}: checkpoint damaged, resuming at chunk {chunk}",
              (Field("job", "u32"), Field("chunk", "u32"))),
        Event(5, "WeightsReloaded", Severity.WARNING_LO, "model {size}: uncorrectable upset at word {word}, reloaded",
              (Field("size", "u8"), Field("word", "u32"))),
        Event(6, "InputStored", Severity.ACTIVITY_LO, "input {input} of tenant {tenant} stored, {octets} octets",
              (Field("input", "u32"), Field("tenant", "u16"), Field("octets", "u32", "B"))),
        Event(7, "InputRejected", Severity.WARNING_LO, "uplinked input refused: {reason}",
              (Field("reason", "string[48]"),)),
        Event(8, "JobFailed", Severity.WARNING_HI, "job {job} dropped: {reason}",
              (Field("job", "u32"), Field("reason", "string[48]"))),
        Event(9, "StatementQueued", Severity.ACTIVITY_LO, "statement of tenant {tenant}: {records} records, "
              "transfer {transaction}", (Field("tenant", "u16"), Field("records", "u32"), Field("transaction", "u16"))),
        Event(16, "ChunkRecomputed", Severity.WARNING_LO, "job {job} chunk {chunk}: {check} check failed, "
              "computing it again", (Field("job", "u32"), Field("chunk", "u32"), Field("check", "string[24]"))),
        Event(17, "ModelCrcMismatch", Severity.WARNING_HI, "model {size} layer {layer}: CRC-32C wrong after scrub, "
              "reloaded", (Field("size", "u8"), Field("layer", "u8"))),
        Event(18, "UpsetRatesSet", Severity.ACTIVITY_HI, "upset injection per {basis}: inputs {inputs:g}, "
              "intermediates {intermediates:g}, weights {weights:g}, checkpoints {checkpoints:g}, seed {seed}",
              tuple(Field(t.name.lower(), "f32") for t in Target) + (Field("basis", "u8", enum=BASES),
                                                                    Field("seed", "u32"))),
    )
    housekeeping = (HousekeepingPacket(1, "Status", ("JobsQueued", "ActiveJob", "ChunksDone", "JobsDone",
                                                     "Preemptions", "Utilisation", "EnergyWh", "TokensCharged",
                                                     "Running", "EdacCorrected", "EdacUncorrectable", "AbftCorrected",
                                                     "AbftRecomputed", "InputsStored", "InputsRejected",
                                                     "HostEnergyJ"), 1.0,
                                       "Compute jobs"),
                    HousekeepingPacket(2, "Radiation", RADIATION_CHANNELS, 5.0,
                                       "Upsets injected and what the checks made of them"),
                    HousekeepingPacket(3, "Plan", ("PlannedPowerW", "DeadlineMisses", "JobsLate"), 10.0,
                                       "The onboard compute plan"))

    def __init__(self, power, thermal, eps, large_data, state_dir: Path, ledger_key: bytes, key_id: int = 1,
                 matmul=None, name: str = "compute", id_base: int = 0x0400, powercap: Path | str = POWERCAP):
        super().__init__(name, id_base)
        self.power, self.thermal, self.eps, self.lds = power, thermal, eps, large_data
        self.dir = Path(state_dir) / "compute"
        self.dir.mkdir(parents=True, exist_ok=True)
        self._ledger_args = (self.dir / "tokens.ledger", key_id, ledger_key, "gridfree-node")
        self._ledger: TokenLedger | None = None
        self.matmul = matmul or self._abft_matmul
        self.planner = OnboardPlanner(power, thermal, eps)
        self.abft_corrected = self.abft_recomputed = 0
        self._queue_store = AtomicRecordFile(self.dir / "queue.bin")
        self.jobs: dict[int, dict] = {}  # job id -> {"spec", "done", "energy_Wh", "outputs"}
        self._worker: threading.Thread | None = None
        self._pending: dict | None = None  # the chunk being computed: job, chunk, due, outputs
        self._held_reason = ""
        self.chunks_done = self.jobs_done = self.preemptions = 0
        self.energy_Wh = self.energy_lost_Wh = 0.0
        self.rapl = Rapl.discover(powercap)  # the host's own meter, where it has one we may read
        self.host_energy_J = 0.0
        self.tokens = 0
        self.utilisation = math.nan  # unknown until commanded: the board keeps whatever it had before boot
        self.models = ResidentModels(self.log)
        self.upsets = UpsetInjector()
        self.chunks_recomputed = self.input_mismatches = self.dmr_mismatches = self.weights_hit_in_use = 0
        self.abft_failed = self.checkpoints_damaged = self.jobs_failed = 0
        self.deadline_misses = 0
        self.result_mismatches = 0
        self.inputs = InputStore(self.dir / "inputs")
        self.inputs_rejected = 0
        large_data.on_uplink(INPUT_MAGIC, self._input_uplinked)
        self._load_queue()

    def schedule(self):
        return {"slow": [self.tick], "background": [self.scrub]}

    def _abft_matmul(self, a: np.ndarray, b: np.ndarray, inject=None) -> np.ndarray:
        """Every product a job makes, checked by its checksums: an upset in the result is put back
        or the product computed again, never passed on (AbftUncorrectable fails the chunk, which
        is then retried). `inject` is an upset campaign's hook (flight/compute/faults.py)."""
        r = abft_matmul(a, b, inject=inject)
        self.abft_corrected += r.corrected
        self.abft_recomputed += r.recomputed
        return r.c

    def scrub(self, _t: float = 0.0) -> None:
        """Every 10 s: the resident models but the one a chunk is reading (models.py)."""
        p = self._pending
        self.models.scrub(p["spec"].size if p is not None and p["spec"].kind == Kind.MLP else None)
        self.tlm("EdacCorrected", self.models.corrected)
        self.tlm("EdacUncorrectable", self.models.uncorrectable)
        self.tlm("AbftCorrected", self.abft_corrected)
        self.tlm("AbftRecomputed", self.abft_recomputed)
        self.tlm("InputsStored", len(self.inputs.ids()))
        self.tlm("InputsRejected", self.inputs_rejected)

    @property
    def ledger(self) -> TokenLedger:
        """Opened (and locked: one writer per ledger) when tokens are first quoted or charged."""
        if self._ledger is None:
            self._ledger = TokenLedger(*self._ledger_args)
        return self._ledger

    # ---- commands ----------------------------------------------------------------------------------
    def cmd_Submit(self, job_id, tenant, kind, seed, size, batch, chunks, priority, deadline_unix_s, threshold,
                   input_id):
        spec = JobSpec(job_id, tenant, Kind(kind), seed, size, batch, chunks, threshold, input_id)
        try:
            spec.check()
            if input_id:
                check_input(spec, self.inputs.load(input_id))
        except (ValueError, InputMissing) as exc:
            raise CommandFailed(FailureCode.BAD_ARGUMENT, str(exc)) from None
        if job_id in self.jobs:
            raise CommandFailed(FailureCode.BAD_ARGUMENT, f"job {job_id} already queued")
        # At full clock, each chunk billed at least one decision.
        chunk_Wh = KIND_MODELS[spec.kind].energy_Wh(spec.work_units(), 1.0, min_s=DECISION_S)
        estimate = self.ledger.quote(chunk_Wh * chunks, spec.work_units() * chunks)
        if self.ledger.would_exceed(tenant, estimate):
            raise CommandFailed(FailureCode.EXECUTION_ERROR, f"tenant {tenant}: ~{estimate} tokens exceed the quota "
                                                             f"({self.ledger.quota_left(tenant)} left)")
        self.jobs[job_id] = {"spec": asdict(spec), "priority": priority, "deadline": deadline_unix_s, "done": 0,
                             "energy_Wh": 0.0}
        self._save_queue()
        self.log("JobAccepted", job=job_id, tenant=tenant, tokens=estimate)

    def cmd_Cancel(self, job_id):
        if job_id not in self.jobs:
            raise CommandFailed(FailureCode.BAD_ARGUMENT, f"no job {job_id}")
        if self._pending and self._pending["job"] == job_id:
            raise CommandFailed(FailureCode.BUSY, f"job {job_id} is computing a chunk; cancel after it")
        del self.jobs[job_id]
        checkpoint.discard(self.dir, job_id)
        self._save_queue()

    def cmd_SetQuota(self, tenant, tokens):
        self.ledger.set_quota(tenant, tokens, self.ctx.clock.now())

    def cmd_Statement(self, tenant, since_seq):
        try:
            records = self.ledger.statement(tenant, since_seq, self.ctx.clock.now())
        except ValueError as exc:
            raise CommandFailed(FailureCode.BAD_ARGUMENT, str(exc)) from None
        tid = self.lds.queue(encode_statement_transfer(tenant, since_seq, records))
        self.log("StatementQueued", tenant=tenant, records=len(records) // RECORD_OCTETS, transaction=tid)

    def cmd_DeleteInput(self, input_id):
        users = [j for j, e in self.jobs.items() if e["spec"].get("input_id") == input_id]
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

    def _input_uplinked(self, data: bytes) -> None:
        """A complete PUS 13 uplink starting with INPUT_MAGIC: kept if it checks, else refused (the
        large-data service reports UplinkRejected) with nothing stored before touched."""
        try:
            inp = self.inputs.store(data)
        except (InputDamaged, InputRefused) as exc:
            self.inputs_rejected += 1
            self.tlm("InputsRejected", self.inputs_rejected)
            self.log("InputRejected", reason=str(exc)[:48])
            raise UplinkRejected(str(exc)) from None
        self.tlm("InputsStored", len(self.inputs.ids()))
        self.log("InputStored", input=inp.input_id, tenant=inp.tenant, octets=len(inp.payload))

    # ---- the 1 Hz decision -----------------------------------------------------------------------
    def tick(self, t: float) -> None:
        if self._pending is not None:
            self._commit_if_done(t)
        allowed, reason, u = self._allowance()
        if not allowed and reason != self._held_reason:
            self.preemptions += bool(self._pending or self.jobs)
            self.log("ComputeHeld", reason=reason[:40])
        self._held_reason = "" if allowed else reason
        if self._pending is None:
            job_id = self._next_job(t)
            if allowed and job_id is not None:
                self._start(job_id, t, u)
            elif self.utilisation != 0.0:  # idle it, also the first time: it may have been left running
                self._set_utilisation(0.0)
        for local, value in (("JobsQueued", len(self.jobs)), ("ActiveJob", self._pending["job"] if self._pending else 0),
                             ("ChunksDone", self.chunks_done), ("JobsDone", self.jobs_done),
                             ("Preemptions", self.preemptions), ("Utilisation", 100 * self.utilisation),
                             ("EnergyWh", self.energy_Wh), ("TokensCharged", self.tokens),
                             ("Running", allowed),
                             ("HostEnergyJ", float("nan") if self.rapl is None else self.host_energy_J)):
            self.tlm(local, value)
        if not self.upsets.rates.off:  # per-second upsets land now, whatever is running
            self.upsets.tick(t, self.models.buffers, [checkpoint.path(self.dir, j) for j, e in self.jobs.items() if e["done"]])
        for local, value in zip(RADIATION_CHANNELS, (
                *(self.upsets.injected[target] for target in Target), self.chunks_recomputed, self.input_mismatches,
                self.dmr_mismatches, self.weights_hit_in_use, self.abft_failed, self.models.crc_mismatches,
                self.checkpoints_damaged, self.jobs_failed, self.result_mismatches, self.energy_lost_Wh)):
            self.tlm(local, value)

    def _allowance(self) -> tuple[bool, str, float]:
        if self.ctx.modes.mode is not Mode.NOMINAL:
            return False, f"mode {self.ctx.modes.mode.name}", 0.0
        if self.power.shed:
            return False, "payload shed", 0.0
        grant_W = self.power.grant[0]
        planned_W = self.planner.power_W(self.ctx.clock.now(), self.param("PayloadConductanceWK"),
                                         self.param("PayloadHeatCapacityJK")) if self.param("PlanOnBoard") else None
        self.tlm("PlannedPowerW", float("nan") if planned_W is None else planned_W)
        if planned_W is not None:
            grant_W = planned_W
        u = min(self.thermal.utilisation_cap, BOARD.clock_for(grant_W))
        if u < MIN_UTILISATION:
            return False, f"grant {grant_W:.0f} W", 0.0
        return True, "", u

    def _next_job(self, t: float) -> int | None:
        """Highest priority first; within it, jobs the plan finishes in time before those it cannot,
        each earliest deadline first. A job past its deadline is dropped: its result would be late."""
        for job_id in [j for j, e in self.jobs.items() if 0 < e["deadline"] <= t and
                       not (self._pending and self._pending["job"] == j)]:
            self.deadline_misses += 1
            self._drop(job_id, "deadline passed")
        if not self.jobs:
            return None
        ids = list(self.jobs)
        deadline = {j: self.jobs[j]["deadline"] or float("inf") for j in ids}
        late = set()
        if self.planner.plan is not None:
            work = []
            for j in ids:
                spec = self._spec(j)
                units = (spec.chunks - self.jobs[j]["done"]) * spec.work_units()
                work.append((deadline[j], KIND_MODELS[spec.kind].full_clock_mflop(units)))
            late = set(ids) - {ids[i] for i in self.planner.plan.on_time(self.planner.plan_t, work)}
        self.tlm("JobsLate", len(late))
        self.tlm("DeadlineMisses", self.deadline_misses)
        return min(ids, key=lambda j: (self.jobs[j]["priority"], j in late, deadline[j], j))

    def _spec(self, job_id: int) -> JobSpec:
        entry = self.jobs[job_id]
        return JobSpec(**{**entry["spec"], "kind": Kind(entry["spec"]["kind"])})

    # ---- running chunks ---------------------------------------------------------------------------
    def _start(self, job_id: int, t: float, u: float) -> None:
        entry, spec = self.jobs[job_id], self._spec(job_id)
        chunk = entry["done"]
        payload = None
        if spec.input_id:  # checked again before every chunk: storage may have changed since the last
            try:
                inp = self.inputs.load(spec.input_id)
                check_input(spec, inp)
            except (ValueError, InputMissing) as exc:
                self._drop(job_id, str(exc))
                return
            payload = inp.payload
        self._set_utilisation(u)
        pending = {"job": job_id, "chunk": chunk, "spec": spec, "u": u, "outputs": None, "error": None,
                   "start": t, "due": t + KIND_MODELS[spec.kind].seconds(spec.work_units(), u)}
        upsets = pending["upsets"] = self.upsets.chunk(job_id, chunk, pending["due"] - t, SITES[spec.kind])
        if upsets and self.upsets.rates.basis is Basis.CHUNK:
            upsets.weights(self.models.buffers, self.upsets.rates.weights)  # collected while the models waited
        model = None
        if spec.kind == Kind.MLP:
            model = self.models.weights(spec.size)  # checked here, on this thread, and again at the commit

        rapl = self.rapl

        def work():
            before = rapl.read_J() if rapl is not None else None
            try:
                pending["outputs"] = run_chunk(spec, chunk, self.matmul, lambda _size: model, payload, upsets)
            except Exception as exc:  # a failed chunk is retried, the manager keeps going
                pending["error"] = exc
            after = rapl.read_J() if before is not None else None  # a bad read costs this chunk's measure only
            pending["host_J"] = rapl.delta_J(before, after) if after is not None else 0.0

        self._pending = pending
        self._worker = threading.Thread(target=work, name=f"compute-{job_id}", daemon=True)
        self._worker.start()

    def _commit_if_done(self, t: float) -> None:
        p = self._pending
        if t < p["due"]:
            return
        if self._worker.is_alive():
            if not getattr(self.ctx.clock, "lockstep", False):
                return  # the real computation is slower than the payload model: commit next tick
            self._worker.join()  # lockstep: simulated time waits for the real computation
        self._pending = None
        self.host_energy_J += p.get("host_J", 0.0)  # spent whatever becomes of the chunk
        if p["job"] not in self.jobs:
            return self._outcome(p, "job dropped")
        entry, spec = self.jobs[p["job"]], p["spec"]
        if p["error"] is None and spec.kind == Kind.MLP and self.models.check(spec.size):
            p["error"] = ChunkUpset("weights")  # the model was hit while the chunk read it, or just after: unknowable
        if p["error"] is not None:
            return self._chunk_failed(p, entry, t)
        entry.pop("tries", None)
        energy = self._energy_Wh(p, t)
        path = checkpoint.append(self.dir, p["job"], p["chunk"], {**p["outputs"], ENERGY_KEY: energy})
        entry["done"] = p["chunk"] + 1
        entry["energy_Wh"] += energy
        self.energy_Wh += energy
        self.chunks_done += 1
        if entry["done"] < spec.chunks:
            self._outcome(p, "committed")
            self._save_queue()
            self.upsets.checkpoint_written(path)
            return
        log = checkpoint.load(self.dir, p["job"])  # the outputs, read back and checked as they go down
        if self._kept(p["job"], entry, log):
            self._outcome(p, "committed")
            self._finish(p["job"], entry, spec, [_outputs(c) for c in log.chunks], t)
        else:
            self._outcome(p, "checkpoint damaged")

    @staticmethod
    def _outcome(p: dict, what: str) -> None:
        """What became of an attempt, in the upset campaign's record of it."""
        if p.get("upsets") is not None:
            p["upsets"].exposure.outcome = what

    def _chunk_failed(self, p: dict, entry: dict, t: float) -> None:
        """An attempt that failed a check (or raised): nothing of it is kept and the chunk runs
        again; after CHUNK_TRIES failures in a row the job is dropped, never sent down doubted."""
        exc = p["error"]
        what = exc.what if isinstance(exc, ChunkUpset) else type(exc).__name__
        energy = self._energy_Wh(p, t)
        self.energy_Wh += energy
        self.energy_lost_Wh += energy
        self._outcome(p, what)
        if isinstance(exc, ChunkUpset):
            if exc.what == "inputs":
                self.input_mismatches += 1
            elif exc.what == "weights":
                self.weights_hit_in_use += 1
            elif exc.what == "result":
                self.result_mismatches += 1
            else:
                self.dmr_mismatches += 1
        elif isinstance(exc, AbftUncorrectable):
            self.abft_failed += 1
        entry["tries"] = entry.get("tries", 0) + 1
        if entry["tries"] >= CHUNK_TRIES:
            self._drop(p["job"], f"chunk {p['chunk']} failed {entry['tries']} times, last: {what}")
            return
        self.chunks_recomputed += 1
        self._save_queue()
        self.log("ChunkRecomputed", job=p["job"], chunk=p["chunk"], check=what[:24])

    def _finish(self, job_id: int, entry: dict, spec: JobSpec, outputs: list, t: float) -> None:
        self.lds.queue(pack_result(spec, outputs))
        try:
            tokens = self.ledger.charge(spec.tenant, job_id, entry["energy_Wh"], spec.work_units() * spec.chunks, t)
        except QuotaExceeded:
            tokens = 0  # the estimate at submission held the quota; a later quota cut is the ground's call
        self.tokens += tokens
        self.jobs_done += 1
        del self.jobs[job_id]
        checkpoint.discard(self.dir, job_id)
        self._save_queue()
        self.log("JobDone", job=job_id, tokens=tokens, energy_Wh=entry["energy_Wh"])

    def _drop(self, job_id: int, reason: str) -> None:
        """A job that cannot go on (its input is gone or damaged): out of the queue, with an event."""
        del self.jobs[job_id]
        checkpoint.discard(self.dir, job_id)
        self._save_queue()
        self.jobs_failed += 1
        self.log("JobFailed", job=job_id, reason=reason[:48])

    def _kept(self, job_id: int, entry: dict, log: checkpoint.Log) -> bool:
        """Whether the job's log holds every chunk it has done. If not, the job goes back to its
        first chunk lost (the energy of those after it uncharged, as they will be done again), and
        after CHUNK_TRIES damaged logs it is dropped."""
        good = min(len(log.chunks), entry["done"])
        checkpoint.keep(self.dir, job_id, log, good)
        if good == entry["done"]:
            return True
        self.checkpoints_damaged += 1
        self.log("CheckpointDamaged", job=job_id, chunk=good)
        entry["done"] = good
        kept_Wh = sum(float(c[ENERGY_KEY]) for c in log.chunks[:good])
        self.energy_lost_Wh += entry["energy_Wh"] - kept_Wh
        entry["energy_Wh"] = kept_Wh
        entry["restarts"] = entry.get("restarts", 0) + 1
        if entry["restarts"] >= CHUNK_TRIES:
            self._drop(job_id, f"checkpoint damaged {entry['restarts']} times")
        else:
            self._save_queue()
        return False

    @staticmethod
    def _energy_Wh(p: dict, t: float) -> float:
        """A chunk is billed the board time it held, from its start to its commit: its kind's draw at
        its clock for at least its modelled duration and at least one tick. At 40 TFLOP/s a chunk
        the host can compute in real time is done in microseconds, yet the board stays at that clock
        until the next decision, and that is the energy the battery gave (per-second billing, as
        cloud providers bill instances)."""
        return KIND_MODELS[p["spec"].kind].power_W(p["u"]) * (t - p["start"]) / 3600.0

    def _set_utilisation(self, u: float) -> None:
        if u > 0 and not self.eps.switched.get(Switch.PAYLOAD, True):
            return
        if self.eps.board.set_utilisation(u):
            self.utilisation = u

    def stop(self) -> None:
        if self._worker is not None:
            self._worker.join(30)
        if self._ledger is not None:
            self._ledger.close()
            self._ledger = None
        super().stop()

    # ---- the queue survives reboots -------------------------------------------------------------------
    def _save_queue(self) -> None:
        self._queue_store.save(json.dumps({str(k): v for k, v in self.jobs.items()}).encode())

    def _load_queue(self) -> None:
        try:
            body = self._queue_store.load()
        except CorruptStoreError:
            body = None  # reported by the store's own check; the jobs are resubmitted by the ground
        if body:
            self.jobs = {int(k): v for k, v in json.loads(body).items()}
        for job_id, entry in list(self.jobs.items()):  # a torn append, a commit the queue never saw, damage
            self._kept(job_id, entry, checkpoint.load(self.dir, job_id))


def _outputs(record: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A chunk's outputs as its checkpoint record holds them, without the record's own bookkeeping."""
    return {k: v for k, v in record.items() if k != ENERGY_KEY}
