"""Job checkpoints: a preempted job resumes after eclipse, low charge, heat or a reboot, and never
from damaged state.

One file per job, replaced atomically (written aside, fsynced, renamed, directory fsynced), so a
crash leaves the previous checkpoint or the new one, never half of each. The state is numpy
arrays and scalars in `.npz` form (no pickle: a checkpoint is data, not code), behind a header
and a CRC-32C over both, checked before anything in the file is believed: a radiation hit in
the stored state costs the job a restart from its previous good point, not a wrong result.

    offset size field
    0      4    magic "GFCK"
    4      2    format version (1)
    6      4    job id, u32
    10     4    chunk: how many chunks the state already includes, u32
    14     4    payload length, u32
    18     4    CRC-32C of bytes 0..17 and the payload
    22     n    payload: numpy .npz of the state
"""
from __future__ import annotations

import io
import os
import struct
from pathlib import Path

import numpy as np

from gridfree.flight.core.store import replace_durably
from gridfree.native.crc import crc32c

MAGIC = b"GFCK"
VERSION = 1
_HEAD = struct.Struct(">4sHIII")
MAX_PAYLOAD = 1 << 30


class CheckpointDamaged(ValueError):
    """A checkpoint file that is not what was written: the job restarts from its beginning."""


def _path(directory: Path, job_id: int) -> Path:
    return Path(directory) / f"job-{job_id:08d}.ckpt"


def path(directory: str | os.PathLike, job_id: int) -> Path:
    """Where a job's checkpoint lies on disk (what an upset campaign flips bits in)."""
    return _path(Path(directory), job_id)


def save(directory: str | os.PathLike, job_id: int, chunk: int, state: dict[str, np.ndarray | int | float]) -> Path:
    arrays = {k: np.asarray(v) for k, v in state.items()}
    if any(a.dtype.hasobject for a in arrays.values()):
        raise ValueError("checkpoint state must be numbers and arrays of them, not Python objects")
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    payload = buf.getvalue()
    head = _HEAD.pack(MAGIC, VERSION, job_id, chunk, len(payload))
    data = head + struct.pack(">I", crc32c(payload, crc32c(head))) + payload
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    path = _path(directory, job_id)
    replace_durably(path, data)
    return path


def load(directory: str | os.PathLike, job_id: int) -> tuple[int, dict[str, np.ndarray]] | None:
    """(chunks done, state), None if the job has no checkpoint; CheckpointDamaged if it has a bad one."""
    path = _path(Path(directory), job_id)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    if len(data) < _HEAD.size + 4:
        raise CheckpointDamaged(f"{path.name}: {len(data)} octets, shorter than a header")
    magic, version, stored_id, chunk, n = _HEAD.unpack_from(data)
    crc = struct.unpack_from(">I", data, _HEAD.size)[0]
    payload = data[_HEAD.size + 4:]
    # The CRC covers the header and what is there; the length is believed only after it checks.
    if crc32c(payload, crc32c(data[:_HEAD.size])) != crc:
        raise CheckpointDamaged(f"{path.name}: CRC-32C does not match")
    if magic != MAGIC or version != VERSION or stored_id != job_id or n != len(payload) or n > MAX_PAYLOAD:
        raise CheckpointDamaged(f"{path.name}: header says magic {magic!r}, version {version}, job {stored_id}, "
                                f"{n} octets")
    try:
        with np.load(io.BytesIO(payload), allow_pickle=False) as z:
            return chunk, {k: z[k] for k in z.files}
    except (ValueError, OSError) as exc:
        raise CheckpointDamaged(f"{path.name}: state does not decode ({exc})") from None


def discard(directory: str | os.PathLike, job_id: int) -> None:
    _path(Path(directory), job_id).unlink(missing_ok=True)
