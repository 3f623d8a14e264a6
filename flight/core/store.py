"""Small persistent stores that survive power loss: parameters (PUS 20), the command schedule
(PUS 11), boot counters.

A record is written to a temporary file, fsynced, and renamed over the old one, then the
directory is fsynced: after a crash at any instant the file holds either the old record or the
new one, never a mix. Each record carries a magic, a length and a CRC-32 over the body, so a torn
or bit-flipped file is *detected* at boot (and the caller falls back to defaults with an event)
rather than being half-trusted.
"""
from __future__ import annotations

import os
import struct
import zlib
from pathlib import Path

MAGIC = b"GFS1"
_HEADER = struct.Struct(">4sII")  # magic, body length (octets), CRC-32 of the body
MAX_BODY_OCTETS = 16 * 1024 * 1024


class CorruptStoreError(ValueError):
    """The store exists but its record fails a check; `reason` says which."""

    def __init__(self, path: Path, reason: str):
        super().__init__(f"{path}: corrupt store ({reason})")
        self.path = path
        self.reason = reason


def replace_durably(path: Path, data: bytes) -> None:
    """Write `data` to a temporary file beside `path`, fsync it, rename it over `path` and fsync
    the directory: after a crash at any instant `path` holds the old contents or the new."""
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_directory(path.parent)


def fsync_directory(directory: Path) -> None:
    """Make a file's creation, rename or removal in `directory` survive power loss."""
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class AtomicRecordFile:
    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def save(self, body: bytes) -> None:
        if len(body) > MAX_BODY_OCTETS:
            raise ValueError(f"{self.path}: record of {len(body)} octets exceeds {MAX_BODY_OCTETS}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        replace_durably(self.path, _HEADER.pack(MAGIC, len(body), zlib.crc32(body)) + body)

    def load(self) -> bytes | None:
        """The stored body, None if there is no store yet; CorruptStoreError if it fails a check."""
        try:
            raw = self.path.read_bytes()
        except FileNotFoundError:
            return None
        if len(raw) < _HEADER.size:
            raise CorruptStoreError(self.path, f"{len(raw)} octets, shorter than the header")
        magic, length, crc = _HEADER.unpack_from(raw)
        if magic != MAGIC:
            raise CorruptStoreError(self.path, f"bad magic {magic!r}")
        body = raw[_HEADER.size:]
        # The length is only compared, never used to allocate or slice, until the CRC agrees.
        if zlib.crc32(body) != crc or len(body) != length:
            raise CorruptStoreError(self.path, "CRC mismatch or truncated body")
        return body
