"""The saved job queue is stored state like any other: whatever a broken writer left in it (with
its CRC fixed, so the bytes reach the parser) is CorruptStoreError and nothing held, or jobs that
pass the same checks a TC is held to; never another exception, never a job sized by the damage."""
import json
import random

from gridfree.flight.compute.jobqueue import Job, JobQueue
from gridfree.flight.core.store import AtomicRecordFile, CorruptStoreError
from gridfree.protocols.compute import JobSpec, Kind


def saved_queue(path):
    q = JobQueue(path)
    for i, (kind, size) in enumerate(((Kind.MATMUL, 64), (Kind.MLP, 1), (Kind.TILES, 0))):
        q.add(Job(JobSpec(i + 1, 7, kind, 11, size, 4, 10, 0.3, 0), priority=i, deadline_unix_s=0.0, done=i))
    q.save()
    return AtomicRecordFile(path).load()


def mutations(body: bytes, rng: random.Random):
    doc = json.loads(body)
    for _ in range(150):
        b = bytearray(body)
        for _ in range(rng.randrange(1, 4)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        yield bytes(b)
        yield body[:rng.randrange(len(body))]
    values = [0, -1, 2**64, 1e308, float("nan"), "x", None, [], {}, 4097, 10**9, True]
    for _ in range(300):  # well-formed JSON, wrong content: the parser's checks, not the CRC's
        d = json.loads(json.dumps(doc))
        job = d[rng.choice(list(d))]
        target = job["spec"] if rng.random() < 0.7 else job
        key = rng.choice(list(target))
        if rng.random() < 0.1:
            del target[key]
        else:
            target[key] = rng.choice(values)
        yield json.dumps(d).encode()
    yield b"[" * 100_000 + b"]" * 100_000  # nesting deeper than the parser goes


def test_a_damaged_job_queue_is_refused_whole_or_loads_only_checked_jobs(tmp_path):
    rng = random.Random(2024)
    path = tmp_path / "queue.bin"
    body = saved_queue(path)
    refused = loaded = 0
    for bad in mutations(body, rng):
        AtomicRecordFile(path).save(bad)  # a valid CRC around the damaged body
        q = JobQueue(path)
        try:
            q.load()
        except CorruptStoreError:
            refused += 1
            assert len(q) == 0
            continue
        loaded += 1
        for job in q:
            job.spec.check()
            assert all(isinstance(v, (int, float)) for v in vars(job.spec).values())
            assert 0 <= job.done <= job.spec.chunks and job.energy_Wh >= 0
    assert refused > 300 and loaded > 0
