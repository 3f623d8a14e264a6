"""The compute manager: tenants' jobs run on whatever power the grant allows, one chunk at a time.

Jobs arrive by TC (`compute.Submit`), are checked against the tenant's token quota, and queue by
priority and deadline. At 1 Hz the manager decides whether compute may run at all: the node in
NOMINAL, the payload not shed, a grant of at least the payload's idle draw; the utilisation is
what the grant pays for, capped by the thermal manager. It then runs the next chunk of the
first job on a worker thread (the rate groups never wait for numpy) with ABFT-protected
products, and commits it when both the computation and its simulated duration on the payload
are done: the outputs go into a CRC-32C checkpoint, so a job preempted by eclipse, low charge,
heat or a reboot resumes at its last chunk. A finished job's result goes down through PUS 13,
and its energy and work are charged to the tenant in the token ledger.

Energy is what the payload model says the chunk cost: a GPU-class board that draws
`idle + u * (max - idle)` watts and does `PEAK_MFLOPS * u` of work, so a chunk of W MFLOP at
utilisation u takes W / (PEAK_MFLOPS * u) seconds of node time.
"""
from __future__ import annotations

import json
import threading
from dataclasses import asdict
from pathlib import Path

import numpy as np

from gridfree.flight.compute import checkpoint
from gridfree.flight.compute.abft import abft_matmul
from gridfree.flight.compute.jobs import run_chunk
from gridfree.flight.compute.ledger import QuotaExceeded, TokenLedger
from gridfree.flight.core.component import CommandFailed, Component
from gridfree.flight.core.modes import Mode
from gridfree.flight.core.store import AtomicRecordFile, CorruptStoreError
from gridfree.flight.hardware.interfaces import Switch
from gridfree.native.edac import EdacBuffer
from gridfree.protocols.compute import JobSpec, Kind, mlp_weights, pack_result
from gridfree.protocols.dictionary import Channel, Command, Event, Field, HousekeepingPacket, Severity
from gridfree.protocols.services.verification import FailureCode

PEAK_MFLOPS = 20e6  # 20 TFLOP/s at full utilisation
IDLE_W, MAX_W = 150.0, 3000.0  # the payload board, as the power budget knows it
MIN_UTILISATION = 0.05
KINDS = {k.name: k.value for k in Kind}


class ComputeManager(Component):
    channels = (
        Channel(1, "JobsQueued", "u16", description="Jobs accepted and not finished"),
        Channel(2, "ActiveJob", "u32", description="Job whose chunks are running (0: none)"),
        Channel(3, "ChunksDone", "u32", description="Chunks committed since boot"),
        Channel(4, "JobsDone", "u32", description="Jobs finished and downlinked since boot"),
        Channel(5, "Preemptions", "u32", description="Times running work was held for power, mode or heat"),
        Channel(6, "Utilisation", "f32", "%", "Payload utilisation commanded"),
        Channel(7, "EnergyWh", "f32", "Wh", "Payload energy spent on jobs since boot"),
        Channel(8, "TokensCharged", "u32", description="Tokens charged to tenants since boot"),
        Channel(9, "Running", "bool", description="Compute may run now (mode, power, heat)"),
        Channel(10, "EdacCorrected", "u32", description="Single-bit upsets corrected in resident model weights"),
        Channel(11, "EdacUncorrectable", "u32", description="Double-bit upsets found (the model was reloaded)"),
        Channel(12, "AbftCorrected", "u32", description="Product elements put back from their checksums"),
        Channel(13, "AbftRecomputed", "u32", description="Products computed again after a failed check"),
    )
    commands = (
        Command("Submit", opcode=0x01, description="Queue a tenant's job", arguments=(
            Field("job_id", "u32", min=1), Field("tenant", "u16"), Field("kind", "u8", enum=KINDS),
            Field("seed", "u32"), Field("size", "u16", description="MATMUL: n; MLP: model 0..2"),
            Field("batch", "u16", min=1, description="MLP samples / TILES tiles per chunk"),
            Field("chunks", "u32", min=1, max=1_000_000), Field("priority", "u8", description="0 first"),
            Field("deadline_unix_s", "f64", "s", description="0: none"),
            Field("threshold", "f32", min=0.0, max=1.0, description="TILES: cloud fraction kept below"))),
        Command("Cancel", opcode=0x02, arguments=(Field("job_id", "u32"),), description="Drop a queued job"),
        Command("SetQuota", opcode=0x03, arguments=(Field("tenant", "u16"), Field("tokens", "u32")),
                description="A tenant's token quota (recorded in the ledger)"),
    )
    events = (
        Event(1, "JobAccepted", Severity.ACTIVITY_LO, "job {job} of tenant {tenant} queued, ~{tokens} tokens",
              (Field("job", "u32"), Field("tenant", "u16"), Field("tokens", "u32"))),
        Event(2, "JobDone", Severity.ACTIVITY_HI, "job {job} done: {tokens} tokens, {energy_Wh:.1f} Wh",
              (Field("job", "u32"), Field("tokens", "u32"), Field("energy_Wh", "f32", "Wh"))),
        Event(3, "ComputeHeld", Severity.ACTIVITY_LO, "compute held: {reason}", (Field("reason", "string[40]"),)),
        Event(4, "CheckpointDamaged", Severity.WARNING_LO, "job {job}: checkpoint damaged, restarting it",
              (Field("job", "u32"),)),
        Event(5, "WeightsReloaded", Severity.WARNING_LO, "model {size}: uncorrectable upset at word {word}, reloaded",
              (Field("size", "u8"), Field("word", "u32"))),
    )
    housekeeping = (HousekeepingPacket(1, "Status", ("JobsQueued", "ActiveJob", "ChunksDone", "JobsDone",
                                                     "Preemptions", "Utilisation", "EnergyWh", "TokensCharged",
                                                     "Running", "EdacCorrected", "EdacUncorrectable", "AbftCorrected",
                                                     "AbftRecomputed"), 1.0,
                                       "Compute jobs"),)

    def __init__(self, power, thermal, eps, large_data, state_dir: Path, ledger_key: bytes, key_id: int = 1,
                 matmul=None, name: str = "compute", id_base: int = 0x0400):
        super().__init__(name, id_base)
        self.power, self.thermal, self.eps, self.lds = power, thermal, eps, large_data
        self.dir = Path(state_dir) / "compute"
        self.dir.mkdir(parents=True, exist_ok=True)
        self._ledger_args = (self.dir / "tokens.ledger", key_id, ledger_key, "gridfree-node")
        self._ledger: TokenLedger | None = None
        self.matmul = matmul or self._abft_matmul
        self.abft_corrected = self.abft_recomputed = 0
        self._queue_store = AtomicRecordFile(self.dir / "queue.bin")
        self.jobs: dict[int, dict] = {}  # job id -> {"spec", "done", "energy_Wh", "outputs"}
        self._worker: threading.Thread | None = None
        self._pending: dict | None = None  # the chunk being computed: job, chunk, due, outputs
        self._held_reason = ""
        self.chunks_done = self.jobs_done = self.preemptions = 0
        self.energy_Wh = 0.0
        self.tokens = 0
        self.utilisation = 0.0
        self._models: dict[int, list[EdacBuffer]] = {}
        self.edac_corrected = self.edac_uncorrectable = 0
        self._load_queue()

    def schedule(self):
        return {"slow": [self.tick], "background": [self.scrub]}

    def _abft_matmul(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Every product a job makes, checked by its checksums: an upset in the result is put back
        or the product computed again, never passed on (AbftUncorrectable fails the chunk, which
        is then retried)."""
        r = abft_matmul(a, b)
        self.abft_corrected += r.corrected
        self.abft_recomputed += r.recomputed
        return r.c

    # ---- resident model weights, under EDAC --------------------------------------------------------
    def weights(self, size: int) -> list[np.ndarray]:
        """The model's weights as the jobs use them: held in EDAC-protected memory, so an upset
        between two scrubs is corrected before it can bias a tenant's result."""
        if size not in self._models:
            self._models[size] = [EdacBuffer.protect(w) for w in mlp_weights(size)]
        return [b.array for b in self._models[size]]

    def scrub(self, _t: float = 0.0) -> None:
        """Every 10 s: correct single-bit upsets; a double one means the copy is lost, reload it."""
        if self._pending is not None:
            return  # the worker is reading the weights; scrub between chunks
        for size, buffers in list(self._models.items()):
            for b in buffers:
                report = b.scrub()
                self.edac_corrected += report.corrected
                if report.uncorrectable:
                    self.edac_uncorrectable += report.uncorrectable
                    del self._models[size]
                    self.log("WeightsReloaded", size=size, word=max(0, report.first_bad_word))
                    break
        self.tlm("EdacCorrected", self.edac_corrected)
        self.tlm("EdacUncorrectable", self.edac_uncorrectable)
        self.tlm("AbftCorrected", self.abft_corrected)
        self.tlm("AbftRecomputed", self.abft_recomputed)

    @property
    def ledger(self) -> TokenLedger:
        """Opened (and locked: one writer per ledger) when tokens are first quoted or charged."""
        if self._ledger is None:
            self._ledger = TokenLedger(*self._ledger_args)
        return self._ledger

    # ---- commands ----------------------------------------------------------------------------------
    def cmd_Submit(self, job_id, tenant, kind, seed, size, batch, chunks, priority, deadline_unix_s, threshold):
        spec = JobSpec(job_id, tenant, Kind(kind), seed, size, batch, chunks, threshold)
        try:
            spec.check()
        except ValueError as exc:
            raise CommandFailed(FailureCode.BAD_ARGUMENT, str(exc)) from None
        if job_id in self.jobs:
            raise CommandFailed(FailureCode.BAD_ARGUMENT, f"job {job_id} already queued")
        estimate = self.ledger.quote(self._energy_Wh(spec, 1.0) * chunks, spec.work_units() * chunks)
        if self.ledger.would_exceed(tenant, estimate):
            raise CommandFailed(FailureCode.EXECUTION_ERROR, f"tenant {tenant}: ~{estimate} tokens exceed the quota "
                                                             f"({self.ledger.quota_left(tenant)} left)")
        self.jobs[job_id] = {"spec": asdict(spec), "priority": priority, "deadline": deadline_unix_s, "done": 0,
                             "energy_Wh": 0.0}
        self._save_queue()
        self.log("JobAccepted", job=job_id, tenant=tenant, tokens=min(estimate, 0xFFFFFFFF))

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
            elif self.utilisation:
                self._set_utilisation(0.0)
        for local, value in (("JobsQueued", len(self.jobs)), ("ActiveJob", self._pending["job"] if self._pending else 0),
                             ("ChunksDone", self.chunks_done), ("JobsDone", self.jobs_done),
                             ("Preemptions", self.preemptions), ("Utilisation", 100 * self.utilisation),
                             ("EnergyWh", self.energy_Wh), ("TokensCharged", min(self.tokens, 0xFFFFFFFF)),
                             ("Running", allowed)):
            self.tlm(local, value)

    def _allowance(self) -> tuple[bool, str, float]:
        if self.ctx.modes.mode is not Mode.NOMINAL:
            return False, f"mode {self.ctx.modes.mode.name}", 0.0
        if self.power.shed:
            return False, "payload shed", 0.0
        grant_W = self.power.grant[0]
        u = min(self.thermal.utilisation_cap, (grant_W - IDLE_W) / (MAX_W - IDLE_W))
        if u < MIN_UTILISATION:
            return False, f"grant {grant_W:.0f} W", 0.0
        return True, "", u

    def _next_job(self, t: float) -> int | None:
        if not self.jobs:
            return None
        return min(self.jobs, key=lambda j: (self.jobs[j]["priority"], self.jobs[j]["deadline"] or float("inf"), j))

    # ---- running chunks ---------------------------------------------------------------------------
    def _start(self, job_id: int, t: float, u: float) -> None:
        entry = self.jobs[job_id]
        spec = JobSpec(**{**entry["spec"], "kind": Kind(entry["spec"]["kind"])})
        chunk = entry["done"]
        self._set_utilisation(u)
        pending = {"job": job_id, "chunk": chunk, "spec": spec, "u": u, "outputs": None, "error": None,
                   "due": t + spec.work_units() / (PEAK_MFLOPS * u)}

        def work():
            try:
                pending["outputs"] = run_chunk(spec, chunk, self.matmul, self.weights)
            except Exception as exc:  # a failed chunk is retried, the manager keeps going
                pending["error"] = exc

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
        if p["error"] is not None or p["job"] not in self.jobs:
            return
        entry, spec = self.jobs[p["job"]], p["spec"]
        energy = self._energy_Wh(spec, p["u"])
        saved = self._restore(p["job"], entry)
        outputs = saved + [p["outputs"]]
        entry["done"] = p["chunk"] + 1
        entry["energy_Wh"] += energy
        self.energy_Wh += energy
        self.chunks_done += 1
        checkpoint.save(self.dir, p["job"], entry["done"], {f"{k}.{n}": v for k, c in enumerate(outputs)
                                                             for n, v in c.items()})
        self._save_queue()
        if entry["done"] == spec.chunks:
            self._finish(p["job"], entry, spec, outputs, t)

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
        self.log("JobDone", job=job_id, tokens=min(tokens, 0xFFFFFFFF), energy_Wh=entry["energy_Wh"])

    def _restore(self, job_id: int, entry: dict) -> list[dict]:
        """The outputs of the chunks already done, from the checkpoint (restarting if it is bad)."""
        if entry["done"] == 0:
            return []
        try:
            got = checkpoint.load(self.dir, job_id)
        except checkpoint.CheckpointDamaged:
            got = None
        if got is None or got[0] != entry["done"]:
            self.log("CheckpointDamaged", job=job_id)
            entry["done"], entry["energy_Wh"] = 0, 0.0
            return []
        chunk, state = got
        out = [{} for _ in range(chunk)]
        for key, value in state.items():
            k, name = key.split(".", 1)
            out[int(k)][name] = value
        return out

    def _energy_Wh(self, spec: JobSpec, u: float) -> float:
        seconds = spec.work_units() / (PEAK_MFLOPS * u)
        return (IDLE_W + u * (MAX_W - IDLE_W)) * seconds / 3600.0

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
