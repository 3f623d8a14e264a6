"""The receiver's anti-replay state, kept on disk so a reboot or a kill -9 cannot reopen the window.

A recorded TC frame replays verbatim. In memory the SA remembers the highest IV it accepted and
which of the `window` IVs below it it has seen (protocols/sdls.py); after a restart that memory is
gone, so the component writes it here, atomically and fsynced (flight/core/store.py), *before* the
commands of an accepted frame are handed on: whatever a dead process obeyed, the next one refuses
to obey again.

The state is kept per key, not per SPI: GCM's nonce is unique per key, so the IVs already used
belong to the key. An SA rekeyed to a new key starts a fresh window (the new key has seen no IV);
one rekeyed back to a key it used before resumes that key's state rather than forgetting it, and a
crash between saving the keystore and saving this file cannot apply one key's window to another.

Body (big-endian): record count u16, then per record key_id u16 | window u16 | highest IV 12 octets
| seen bitmap 128 octets (bit k: highest - k was accepted), inside the store's magic, length and
CRC-32. A damaged file is `ReplayStoreDamaged`: guessing would let a recorded frame through.
"""
from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from gridfree.flight.core.store import AtomicRecordFile, CorruptStoreError
from gridfree.protocols.sdls import IV_OCTETS, MAX_IV, SecurityAssociation

REPLAY_FILE: Final = "rx-replay.bin"
MAX_WINDOW: Final = 1024
SEEN_OCTETS: Final = MAX_WINDOW // 8
MAX_RECORDS: Final = 1024
_COUNT = struct.Struct(">H")
_RECORD = struct.Struct(f">HH{IV_OCTETS}s{SEEN_OCTETS}s")


class ReplayStoreDamaged(ValueError):
    """The stored anti-replay state does not check: one line naming the file."""


@dataclass(frozen=True)
class ReplayState:
    """What one key has accepted: the highest IV and the bitmap of the `window` IVs below it."""

    highest_iv: int = 0
    seen: int = 0
    window: int = 1

    @classmethod
    def of(cls, sa: SecurityAssociation) -> "ReplayState":
        return cls(sa.highest_iv, sa._seen, sa.window)  # _seen: the SA's own bitmap, saved as it is

    def bitmap(self, window: int) -> int:
        """The seen bitmap for an SA whose window is now `window`. IVs that a larger window newly
        reaches below the highest were outside the old one, so whether they were used is not
        known: they count as seen (refused), never as fresh."""
        mask = (1 << window) - 1
        if window > self.window:
            return (self.seen | (mask & ~((1 << self.window) - 1))) & mask
        return self.seen & mask


def restored(sa: SecurityAssociation, state: ReplayState | None) -> SecurityAssociation:
    """`sa` with the anti-replay state its key had (a fresh window if it had none)."""
    if state is not None:
        sa.highest_iv, sa._seen = state.highest_iv, state.bitmap(sa.window)
    return sa


class ReplayStore:
    """The file KEYDIR/rx-replay.bin: key id -> ReplayState."""

    def __init__(self, keys_dir: str | os.PathLike):
        self.file = AtomicRecordFile(Path(keys_dir) / REPLAY_FILE)

    @property
    def path(self) -> Path:
        return self.file.path

    def load(self) -> dict[int, ReplayState]:
        """The stored states ({} before the first accepted frame); ReplayStoreDamaged otherwise."""
        try:
            body = self.file.load()
        except CorruptStoreError as exc:
            raise ReplayStoreDamaged(f"{exc}; anti-replay state lost: rekey every TC SA") from None
        if body is None:
            return {}
        if len(body) < _COUNT.size:
            raise ReplayStoreDamaged(f"{self.path}: {len(body)} octets, no record count")
        (count,) = _COUNT.unpack_from(body)
        if count > MAX_RECORDS or len(body) != _COUNT.size + count * _RECORD.size:
            raise ReplayStoreDamaged(f"{self.path}: {count} records do not fill {len(body)} octets")
        states: dict[int, ReplayState] = {}
        for i in range(count):
            key_id, window, iv, seen = _RECORD.unpack_from(body, _COUNT.size + i * _RECORD.size)
            highest, bits = int.from_bytes(iv, "big"), int.from_bytes(seen, "big")
            if key_id == 0 or key_id in states or not 1 <= window <= MAX_WINDOW or bits >> window:
                raise ReplayStoreDamaged(f"{self.path}: record {i} (key {key_id}, window {window}) is not valid")
            states[key_id] = ReplayState(highest, bits, window)
        return states

    def save(self, states: dict[int, ReplayState]) -> None:
        """Replace the file with `states`, fsynced (OSError if the disk refuses)."""
        if len(states) > MAX_RECORDS:
            raise ValueError(f"{len(states)} keys' anti-replay states; the file holds {MAX_RECORDS}")
        body = [_COUNT.pack(len(states))]
        for key_id in sorted(states):
            s = states[key_id]
            if not 0 <= s.highest_iv <= MAX_IV:
                raise ValueError(f"key {key_id}: IV {s.highest_iv} out of range")
            body.append(_RECORD.pack(key_id, s.window, s.highest_iv.to_bytes(IV_OCTETS, "big"),
                                     s.seen.to_bytes(SEEN_OCTETS, "big")))
        self.file.save(b"".join(body))
