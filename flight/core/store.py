"""Small persistent stores that survive power loss: parameters (PUS 20), the command schedule
(PUS 11), boot counters.

A record is written to a temporary file, fsynced, and renamed over the old one, then the
directory is fsynced: after a crash at any instant the file holds either the old record or the
new one, never a mix. Each record carries a magic, a length and a CRC-32 over the body, so a torn
or bit-flipped file is *detected* at boot (and the caller falls back to defaults with an event)
rather than being half-trusted.

Damage costs the record, never the node: every way a stored file can be wrong (torn, flipped,
oversized, or with a CRC that checks over content a broken writer got wrong, such as bytes that
are not UTF-8 JSON) is a `CorruptStoreError`, the one error a reader of a store handles. The
damaged file is then set aside (`set_aside`), not overwritten by the next save, so the ground can
still fetch what it held.
"""
from __future__ import annotations

import json
import os
import struct
import zlib
from pathlib import Path
from typing import Any

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
    """One record, replaced whole. Readers handle one error: `CorruptStoreError`."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def save(self, body: bytes) -> None:
        if len(body) > MAX_BODY_OCTETS:
            raise ValueError(f"{self.path}: record of {len(body)} octets exceeds {MAX_BODY_OCTETS}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        replace_durably(self.path, _HEADER.pack(MAGIC, len(body), zlib.crc32(body)) + body)

    def load(self) -> bytes | None:
        """The stored body, None if there is no store yet; CorruptStoreError if it fails a check.
        Never reads more than the largest record a save can write, whatever the file's size."""
        try:
            with open(self.path, "rb") as f:
                raw = f.read(_HEADER.size + MAX_BODY_OCTETS + 1)
        except FileNotFoundError:
            return None
        except OSError as exc:
            raise CorruptStoreError(self.path, f"unreadable: {exc.strerror}") from None
        if len(raw) < _HEADER.size:
            raise CorruptStoreError(self.path, f"{len(raw)} octets, shorter than the header")
        if len(raw) > _HEADER.size + MAX_BODY_OCTETS:
            raise CorruptStoreError(self.path, f"larger than any record ({MAX_BODY_OCTETS} octets)")
        magic, length, crc = _HEADER.unpack_from(raw)
        if magic != MAGIC:
            raise CorruptStoreError(self.path, f"bad magic {magic!r}")
        body = raw[_HEADER.size:]
        # The length is only compared, never used to allocate or slice, until the CRC agrees.
        if zlib.crc32(body) != crc or len(body) != length:
            raise CorruptStoreError(self.path, "CRC mismatch or truncated body")
        return body

    def load_json(self) -> Any:
        """The stored body parsed as UTF-8 JSON, None if there is no store yet; CorruptStoreError
        for a body whose CRC checks but which is not JSON (a broken writer, not the disk),
        nesting too deep for the parser included."""
        body = self.load()
        if body is None:
            return None
        try:
            return json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise CorruptStoreError(self.path, f"not UTF-8 JSON: {type(exc).__name__}: {exc}"[:120]) from None

    def set_aside(self) -> Path | None:
        """Rename a damaged store to `<name>.damaged` (replacing an older damaged copy), so that
        the next save does not destroy what it held; the path it now has, None if it was gone."""
        aside = self.path.with_name(self.path.name + ".damaged")
        try:
            os.replace(self.path, aside)
        except FileNotFoundError:
            return None
        except OSError:
            return None  # a read-only store keeps its bytes where they are: nothing is lost either way
        fsync_directory(self.path.parent)
        return aside
