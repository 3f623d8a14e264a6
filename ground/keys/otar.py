"""Over-the-air rekeying from the ground: make a session key, wrap it for upload, and switch the
ground's SA to it once the node has.

The sequence an operator runs (each node step a `gridfree cmd`):
    gridfree keys otar KEYDIR --master 1 --key-id 12     new key 12, PRE_ACTIVE here; prints:
    gridfree cmd sec.UploadKey master_id=1 key_id=12 nonce=.. wrapped=.. --arm   (node: PRE_ACTIVE)
    gridfree cmd sec.ActivateKey key_id=12 --arm
    gridfree keys verify KEYDIR --key-id 12              (optional: the sec.VerifyKey to send and
                                                          the response the node's KeyVerified must say)
    gridfree cmd sec.RekeySa spi=1 key_id=12 --arm       (node: SA 1 uses key 12, replay state reset)
    gridfree keys use KEYDIR --spi 1 --key-id 12         (ground: SA 1 uses key 12, IVs from 1)

The wrapped key's nonce is drawn from os.urandom: 96 random bits make a repeat under the one
master key negligible over any mission's number of uploads, with no counter to keep.
"""
from __future__ import annotations

import os
import shlex
from dataclasses import dataclass
from pathlib import Path

from gridfree.ground.keys.session import keystore_lock, keystore_path, sa_lock, tc_iv_path
from gridfree.protocols.keystore import (
    KEY_OCTETS, NONCE_OCTETS, KeyEntry, KeyKind, KeyState, Keystore, KeyStateError, wrap_key,
)


@dataclass(frozen=True)
class Upload:
    """The arguments of sec.UploadKey for one wrapped session key."""

    master_id: int
    key_id: int
    nonce: bytes
    wrapped: bytes

    def command_line(self, keydir: str | os.PathLike) -> str:
        """The `gridfree cmd` line that sends it through KEYDIR's SA (the operator adds --link),
        as a POSIX shell reads it. `gridfree cmd` reads each value as a Python literal, so bytes
        go as b'\\x..' literals, in double quotes that keep the shell from touching the
        backslashes and single quotes. UploadKey is hazardous: --arm sends node.Arm before it."""
        return (f"gridfree cmd sec.UploadKey master_id={self.master_id} key_id={self.key_id} "
                f'"nonce={bytes_literal(self.nonce)}" "wrapped={bytes_literal(self.wrapped)}" '
                f"--arm --keys {shlex.quote(str(keydir))}")


def bytes_literal(data: bytes) -> str:
    """`data` as the Python bytes literal `gridfree cmd` takes for a bytes argument."""
    return "b'" + "".join(f"\\x{b:02x}" for b in data) + "'"


def build_upload(keydir: str | os.PathLike, master_id: int, key_id: int) -> Upload:
    """A fresh session key `key_id`, stored PRE_ACTIVE in KEYDIR's keystore (saved before the
    upload is returned, so the ground never sends a key it does not keep), wrapped under master
    `master_id`. KeyStateError if the master is not an ACTIVE master key or `key_id` is taken."""
    path = keystore_path(keydir)
    with keystore_lock(keydir):
        store = Keystore.load(path)
        master = store.master_key(master_id)
        if key_id in store.keys:
            raise KeyStateError(f"key {key_id} already exists ({store.keys[key_id].state.name}); choose another id")
        session_key, nonce = os.urandom(KEY_OCTETS), os.urandom(NONCE_OCTETS)
        wrapped = wrap_key(master, master_id, key_id, session_key, nonce)
        store.add_key(KeyEntry(key_id, KeyKind.SESSION, KeyState.PRE_ACTIVE, session_key))
        store.save(path)
    return Upload(master_id, key_id, nonce, wrapped)


def use_key(keydir: str | os.PathLike, spi: int, key_id: int) -> int:
    """Switch SA `spi` to session key `key_id` (activating it if PRE_ACTIVE), deactivate the key
    it leaves if no other SA uses it, and restart the SA's TC IV counter; returns the old key id.

    The key must be new to every SA: a key that protected frames before, or protects another
    SA's, has IVs in use that a restarted counter would repeat. The keystore is saved before the
    counter file is removed, under the SA's lock, so a crash between the two leaves the new key
    with the old (higher) counter, never the old key with a restarted one; a ground process still
    holding the old key finds the change at its next IV and refuses to send."""
    keydir = Path(keydir)
    path = keystore_path(keydir)
    with keystore_lock(keydir), sa_lock(keydir, spi):
        store = Keystore.load(path)
        sa = store.sas.get(spi)
        if sa is None:
            raise KeyStateError(f"no SA with SPI {spi} (SAs: {', '.join(map(str, sorted(store.sas))) or 'none'})")
        entry = store.keys.get(key_id)
        if entry is None:
            raise KeyStateError(f"no key {key_id} (`gridfree keys otar` makes one)")
        if sa.key_id == key_id:
            raise KeyStateError(f"SPI {spi} already uses key {key_id}")
        users = sorted(s for s, other in store.sas.items() if other.key_id == key_id)
        if users:
            raise KeyStateError(f"key {key_id} is in use by SPI {users[0]}; an SA needs a key of its own")
        if entry.kind is not KeyKind.SESSION or entry.state not in (KeyState.PRE_ACTIVE, KeyState.ACTIVE):
            raise KeyStateError(f"key {key_id} is a {entry.state.name} {entry.kind.name} key; "
                                f"an SA needs a PRE_ACTIVE or ACTIVE session key")
        if entry.state is KeyState.PRE_ACTIVE:
            store.transition(key_id, KeyState.ACTIVE)
        old = sa.key_id
        sa.key_id = key_id
        if not any(other.key_id == old for other in store.sas.values()) \
                and store.keys[old].state is KeyState.ACTIVE:
            store.transition(old, KeyState.DEACTIVATED)
        store.save(path)
        if sa.direction == "tc":
            tc_iv_path(keydir, spi).unlink(missing_ok=True)
    return old
