"""Job checkpoints: a preempted job resumes after eclipse, low charge, heat or a reboot, and never
from damaged state.

One log per job, a record per chunk done, appended and fsynced as the chunk commits: a commit
writes that chunk's outputs and nothing else, so a job of a million chunks costs a million small
appends, not a rewrite of everything so far at each one. A record holds one chunk's outputs as
numpy arrays and scalars in `.npz` form (no pickle: a checkpoint is data, not code):

    offset size field
    0      4    magic "GFCK"
    4      2    format version (2)
    6      4    job id, u32
    10     4    chunk: which chunk's outputs this is (records run 0, 1, 2, ...), u32
    14     4    payload length, u32
    18     4    CRC-32C of bytes 0..17: the length is believed only once this checks
    22     4    CRC-32C of the payload
    26     n    payload: numpy .npz of the chunk's outputs

Reading stops at the first record that fails a check. A crash mid-append leaves a torn last
record; a radiation hit in the stored state spoils the record it lands in. Either way the records
before it are good and are kept (`keep` cuts the rest), and the job computes again from the first
chunk it lost, never from a damaged byte.
"""
from __future__ import annotations

import io
import os
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from gridfree.flight.core.store import fsync_directory
from gridfree.native.crc import crc32c

MAGIC = b"GFCK"
VERSION = 2
_HEAD = struct.Struct(">4sHIII")
_CRCS = struct.Struct(">II")
RECORD_OVERHEAD = _HEAD.size + _CRCS.size
MAX_PAYLOAD = 1 << 30


@dataclass
class Log:
    """What a job's log holds up to its first bad record."""

    chunks: list[dict[str, np.ndarray]] = field(default_factory=list)  # outputs of chunks 0, 1, ...
    ends: list[int] = field(default_factory=list)  # where each good record ends in the file
    damage: str | None = None  # why reading stopped before the end of the file; None if it did not


def path(directory: str | os.PathLike, job_id: int) -> Path:
    """Where a job's log lies on disk (what an upset campaign flips bits in)."""
    return Path(directory) / f"job-{job_id:08d}.ckpt"


def append(directory: str | os.PathLike, job_id: int, chunk: int, outputs: dict[str, np.ndarray | int | float]) -> Path:
    """Add chunk `chunk`'s outputs to the job's log, durably. The log must hold chunks 0 to
    chunk - 1 and nothing after them (`keep` makes it so after a restart)."""
    arrays = {k: np.asarray(v) for k, v in outputs.items()}
    if any(a.dtype.hasobject for a in arrays.values()):
        raise ValueError("checkpoint state must be numbers and arrays of them, not Python objects")
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    payload = buf.getvalue()
    head = _HEAD.pack(MAGIC, VERSION, job_id, chunk, len(payload))
    record = head + _CRCS.pack(crc32c(head), crc32c(payload)) + payload
    where = path(directory, job_id)
    where.parent.mkdir(parents=True, exist_ok=True)
    new = not where.exists()
    with open(where, "ab") as f:
        start = f.tell()
        try:
            f.write(record)
            f.flush()
            os.fsync(f.fileno())
        except BaseException:
            f.truncate(start)  # best effort: a torn record would be cut at the next read anyway
            raise
    if new:
        fsync_directory(where.parent)
    return where


def load(directory: str | os.PathLike, job_id: int) -> Log:
    """The job's good records, in order (an empty Log if it has no log)."""
    try:
        data = path(directory, job_id).read_bytes()
    except FileNotFoundError:
        return Log()
    log, at = Log(), 0
    while at < len(data) and log.damage is None:
        log.damage = _read_record(data, at, job_id, len(log.chunks), log.chunks)
        if log.damage is None:
            at += RECORD_OVERHEAD + _HEAD.unpack_from(data, at)[4]
            log.ends.append(at)
    return log


def _read_record(data: bytes, at: int, job_id: int, index: int, into: list) -> str | None:
    """Append the record at `at` to `into`, or say what is wrong with it."""
    if len(data) - at < RECORD_OVERHEAD:
        return f"record {index}: {len(data) - at} octets, shorter than a header"
    head = data[at:at + _HEAD.size]
    head_crc, payload_crc = _CRCS.unpack_from(data, at + _HEAD.size)
    if crc32c(head) != head_crc:
        return f"record {index}: header CRC-32C does not match"
    magic, version, stored_id, chunk, n = _HEAD.unpack(head)
    if magic != MAGIC or version != VERSION or stored_id != job_id or chunk != index or n > MAX_PAYLOAD:
        return f"record {index}: header says magic {magic!r}, version {version}, job {stored_id}, chunk {chunk}"
    payload = data[at + RECORD_OVERHEAD:at + RECORD_OVERHEAD + n]
    if len(payload) != n or crc32c(payload) != payload_crc:
        return f"record {index}: payload CRC-32C does not match ({len(payload)} of {n} octets)"
    try:
        into.append(_outputs(payload))
    except _UNDECODABLE as exc:
        return f"record {index}: outputs do not decode ({type(exc).__name__}: {exc})"[:200]
    return None


#: What numpy's and zipfile's readers raise on a payload whose CRC checks but whose content a
#: broken writer got wrong: each costs its record (and those after it), never the node.
_UNDECODABLE = (ValueError, OSError, EOFError, KeyError, IndexError, NotImplementedError, RuntimeError,
                struct.error, zipfile.BadZipFile, zlib.error, OverflowError, MemoryError)


def _outputs(payload: bytes) -> dict[str, np.ndarray]:
    """The arrays `append` stored: an uncompressed .npz whose members fit in the payload (a member
    claiming more, or compressed, could make the reader allocate what no record holds)."""
    with zipfile.ZipFile(io.BytesIO(payload)) as zf:
        for info in zf.infolist():
            if info.compress_type != zipfile.ZIP_STORED or info.file_size > len(payload):
                raise ValueError(f"member {info.filename!r} is compressed or larger than its record")
    with np.load(io.BytesIO(payload), allow_pickle=False) as z:
        return {k: z[k] for k in z.files}


def keep(directory: str | os.PathLike, job_id: int, log: Log, count: int) -> None:
    """Cut the job's log after its first `count` good records (`log` as `load` read it): a torn or
    damaged tail, or records whose commit the queue never saw."""
    size = log.ends[min(count, len(log.ends)) - 1] if count > 0 and log.ends else 0
    where = path(directory, job_id)
    if where.exists() and where.stat().st_size != size:
        with open(where, "r+b") as f:
            f.truncate(size)
            os.fsync(f.fileno())


def discard(directory: str | os.PathLike, job_id: int) -> None:
    path(directory, job_id).unlink(missing_ok=True)

