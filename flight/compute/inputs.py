"""Tenant inputs on board: data a tenant uplinked (PUS 13) for its jobs to compute on.

Each input is kept exactly as it arrived, one file per input id, replaced atomically (written
aside, fsynced, renamed, directory fsynced), so a crash leaves the whole input or none of it. The
input carries its own CRC-32C over header and payload (`TenantInput` in protocols/compute.py),
checked before it is stored and again every time a job reads it: an upset in storage costs the
job, never a wrong result. An id is never overwritten and the store is bounded, so a bad or
surplus upload is refused and loses nothing already stored.
"""
from __future__ import annotations

import os
from pathlib import Path

from gridfree.flight.core.store import replace_durably
from gridfree.protocols.compute import InputDamaged, TenantInput

MAX_STORED_OCTETS = 256 << 20


class InputRefused(ValueError):
    """A well-formed input the store will not take (its id is taken, or the store is full)."""


class InputMissing(LookupError):
    """No input with this id is stored."""


class InputStore:
    def __init__(self, directory: str | os.PathLike):
        self.dir = Path(directory)
        self.dir.mkdir(parents=True, exist_ok=True)

    def _path(self, input_id: int) -> Path:
        return self.dir / f"input-{input_id:010d}.bin"

    def ids(self) -> list[int]:
        return sorted(int(p.stem.split("-", 1)[1]) for p in self.dir.glob("input-*.bin"))

    def stored_octets(self) -> int:
        return sum(p.stat().st_size for p in self.dir.glob("input-*.bin"))

    def store(self, data: bytes) -> TenantInput:
        """Check an uplinked input (InputDamaged) and keep it (InputRefused if it cannot be kept)."""
        inp = TenantInput.unpack(data)
        path = self._path(inp.input_id)
        if path.exists():
            raise InputRefused(f"input {inp.input_id} is already stored; delete it first")
        if self.stored_octets() + len(data) > MAX_STORED_OCTETS:
            raise InputRefused(f"input {inp.input_id}: {len(data)} octets more would exceed the "
                               f"{MAX_STORED_OCTETS >> 20} MiB kept for inputs")
        replace_durably(path, data)
        return inp

    def load(self, input_id: int) -> TenantInput:
        """The input, checked again: InputMissing, or InputDamaged if storage has changed it."""
        try:
            data = self._path(input_id).read_bytes()
        except FileNotFoundError:
            raise InputMissing(f"no input {input_id} on board") from None
        inp = TenantInput.unpack(data)
        if inp.input_id != input_id:
            raise InputDamaged(f"file of input {input_id} holds input {inp.input_id}")
        return inp

    def delete(self, input_id: int) -> None:
        try:
            self._path(input_id).unlink()
        except FileNotFoundError:
            raise InputMissing(f"no input {input_id} on board") from None
