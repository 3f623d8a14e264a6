"""The compute manager's queue of accepted jobs, and how it survives a reboot.

A `Job` is what the node knows of an accepted job between chunks: its spec, where it is in its
chunks, the energy its committed chunks were billed, and how often it has had to go back (failed
attempts at its current chunk, damaged checkpoint logs). Its outputs are not here: they are in its
checkpoint log (checkpoint.py), and the queue says how many of that log's records are committed.

The queue is saved whole after every change, atomically with a CRC (core/store.py), as JSON: one
object per job id. Anything that does not decode as a queue, a torn or bit-flipped file or one
from a format it cannot read, is the store's `CorruptStoreError` to the caller, never a crash.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Iterator

from gridfree.flight.compute.kinds import KIND_MODELS
from gridfree.flight.core.store import AtomicRecordFile, CorruptStoreError
from gridfree.protocols.compute import JobSpec, Kind

if TYPE_CHECKING:
    from gridfree.flight.compute.planner import Plan


@dataclass
class Job:
    spec: JobSpec
    priority: int  # 0 first
    deadline_unix_s: float  # 0: none
    done: int = 0  # chunks committed (the checkpoint log holds their outputs)
    energy_Wh: float = 0.0  # billed for the committed chunks: what the tenant is charged at the end
    tries: int = 0  # failed attempts in a row at chunk `done`
    restarts: int = 0  # times its checkpoint log was found damaged

    @property
    def job_id(self) -> int:
        return self.spec.job_id

    @property
    def due_unix_s(self) -> float:
        """The deadline, infinitely far when there is none (for ordering)."""
        return self.deadline_unix_s or math.inf

    def to_json(self) -> dict:
        return {"spec": asdict(self.spec), "priority": self.priority, "deadline": self.deadline_unix_s,
                "done": self.done, "energy_Wh": self.energy_Wh, "tries": self.tries, "restarts": self.restarts}

    @classmethod
    def from_json(cls, entry: dict) -> "Job":
        """KeyError, TypeError or ValueError for anything that is not a job as `to_json` writes it
        (a record from before tries and restarts were kept has them at 0)."""
        if not all(isinstance(v, (int, float)) and math.isfinite(v) for v in entry["spec"].values()):
            raise TypeError(f"job spec {entry['spec']!r:.80} holds a value that is not a finite number")
        spec = JobSpec(**{**entry["spec"], "kind": Kind(entry["spec"]["kind"])})
        spec.check()  # the ranges a TC is held to: a stored size must not become an allocation
        job = cls(spec, int(entry["priority"]), float(entry["deadline"]), int(entry["done"]),
                  float(entry["energy_Wh"]), int(entry.get("tries", 0)), int(entry.get("restarts", 0)))
        if not 0 <= job.done <= spec.chunks or job.energy_Wh < 0 or not math.isfinite(job.energy_Wh):
            raise ValueError(f"job {spec.job_id}: {job.done} of {spec.chunks} chunks, {job.energy_Wh} Wh")
        return job


class JobQueue:
    """Jobs by id, in the order they were accepted. Changes are in memory until `save`, so that a
    caller can order a save against the checkpoint files it touches (a job's log goes before the
    queue forgets the job: a crash between the two leaves a job whose log is short, which resumes)."""

    def __init__(self, path: str | os.PathLike):
        self._store = AtomicRecordFile(path)
        self._jobs: dict[int, Job] = {}

    def __len__(self) -> int:
        return len(self._jobs)

    def __contains__(self, job_id: object) -> bool:
        return job_id in self._jobs

    def __iter__(self) -> Iterator[Job]:
        return iter(list(self._jobs.values()))

    def __getitem__(self, job_id: int) -> Job:
        return self._jobs[job_id]

    def get(self, job_id: int) -> Job | None:
        return self._jobs.get(job_id)

    def ids(self) -> list[int]:
        return list(self._jobs)

    def add(self, job: Job) -> None:
        if job.job_id in self._jobs:
            raise KeyError(f"job {job.job_id} already queued")
        self._jobs[job.job_id] = job

    def remove(self, job_id: int) -> Job:
        return self._jobs.pop(job_id)

    def using_input(self, input_id: int) -> list[int]:
        """The queued jobs that compute on tenant input `input_id`."""
        return [j.job_id for j in self._jobs.values() if j.spec.input_id == input_id]

    def past_deadline(self, t: float) -> list[int]:
        return [j.job_id for j in self._jobs.values() if 0 < j.deadline_unix_s <= t]

    def late(self, plan: "Plan | None", plan_t: float) -> set[int]:
        """The jobs `plan` (made at `plan_t`) cannot finish by their deadlines (none without a plan)."""
        if plan is None or not self._jobs:
            return set()
        jobs = list(self._jobs.values())
        work = [(j.due_unix_s, KIND_MODELS[j.spec.kind].full_clock_mflop((j.spec.chunks - j.done) * j.spec.work_units()))
                for j in jobs]
        return set(self._jobs) - {jobs[i].job_id for i in plan.on_time(plan_t, work)}

    def in_order(self, late: set[int]) -> list[Job]:
        """Highest priority first; within it, jobs the plan finishes in time before those in `late`,
        each earliest deadline first."""
        return sorted(self._jobs.values(), key=lambda j: (j.priority, j.job_id in late, j.due_unix_s, j.job_id))

    def first(self, late: set[int]) -> Job | None:
        order = self.in_order(late)
        return order[0] if order else None

    def save(self) -> None:
        self._store.save(json.dumps({str(k): j.to_json() for k, j in self._jobs.items()}).encode())

    def load(self) -> None:
        """The saved queue, replacing what is held. CorruptStoreError if the file fails its check
        or does not decode as a queue; nothing is held then (the ground resubmits)."""
        self._jobs = {}
        entries = self._store.load_json()
        if entries is None:
            return
        try:
            jobs = {int(k): Job.from_json(v) for k, v in entries.items()}
        except (ValueError, KeyError, TypeError, AttributeError, OverflowError, RecursionError) as exc:
            raise CorruptStoreError(self._store.path, f"not a job queue: {exc}"[:200]) from None
        if any(k != j.job_id for k, j in jobs.items()):
            raise CorruptStoreError(self._store.path, "a job filed under another job's id")
        self._jobs = jobs

    def set_aside(self) -> None:
        """Keep an unreadable queue file for the ground to look at; the next save starts afresh."""
        self._store.set_aside()
