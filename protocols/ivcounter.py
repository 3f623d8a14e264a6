"""The sender's IV counter for one security association, never reused across a crash.

AES-GCM under one key must never see the same IV twice: a reused IV gives away the XOR of two
plaintexts and lets anyone forge MACs. The counter therefore reserves a block of IVs ahead on
disk (written to a temporary file, fsynced, renamed, directory fsynced) before handing out the
first of them; a process killed at any instant restarts after the reserved block, losing at most
`block` IVs and reusing none. The file is 12 octets of IV and a CRC-32; a damaged file is an
`IvStoreDamaged`, never a guess (a guess could be a reuse): the operator rekeys the SA.
"""
from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

IV_OCTETS = 12
MAX_IV = (1 << 8 * IV_OCTETS) - 1
_RECORD = struct.Struct(">12sI")


class IvStoreDamaged(ValueError):
    """The stored reservation does not check: the SA's key must be replaced, not the IV guessed."""


class IvExhausted(RuntimeError):
    """Every IV of the key has been used: the SA must be rekeyed."""


class IvCounter:
    def __init__(self, path: str | os.PathLike, block: int = 1024):
        if not 1 <= block <= 1 << 20:
            raise ValueError(f"IV block {block} out of 1..2^20")
        self.path, self.block = Path(path), block
        self._next = self._load() + 1  # the first IV after anything a previous run may have used
        self._reserved = self._next - 1

    def _load(self) -> int:
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return 0
        if len(raw) != _RECORD.size:
            raise IvStoreDamaged(f"{self.path}: {len(raw)} octets, an IV reservation is {_RECORD.size}")
        iv, crc = _RECORD.unpack(raw)
        if zlib.crc32(iv) != crc:
            raise IvStoreDamaged(f"{self.path}: CRC-32 does not match; rekey this SA")
        return int.from_bytes(iv, "big")

    def _reserve(self, upto: int) -> None:
        iv = upto.to_bytes(IV_OCTETS, "big")
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, _RECORD.pack(iv, zlib.crc32(iv)))
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        dfd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
        self._reserved = upto

    def next(self) -> int:
        """The next IV, reserved on disk before it is returned."""
        iv = self._next
        if iv > MAX_IV:
            raise IvExhausted(f"{self.path}: every IV of this key is used; rekey the SA")
        if iv > self._reserved:
            self._reserve(min(MAX_IV, iv + self.block - 1))
        self._next = iv + 1
        return iv
