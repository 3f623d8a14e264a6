"""Where the node's ledger signing key comes from.

A node with keys signs its token ledger with KEYDIR/ledger-signing.pem, made with the rest of the
mission's key material by `gridfree keys init` (the ground and the tenants hold its public half).
A node run with --insecure has no key directory: it makes its own signing key once, in its state
directory, so even a development ledger is signed by a key nobody else has; the public half is
written beside it for `gridfree tokens verify`. There is no built-in key.
"""
from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gridfree.flight.core.store import fsync_directory
from gridfree.protocols.keystore import load_signing_key

SIGNING_KEY_FILE = "ledger-signing.pem"
PUBLIC_KEY_FILE = "ledger-public.pem"


def ledger_signing_key(keys_dir: Path | None, state_dir: Path) -> Ed25519PrivateKey:
    """The key from the node's key directory, or (insecure) the node's own in `state_dir`."""
    if keys_dir is not None:
        return load_signing_key(Path(keys_dir) / SIGNING_KEY_FILE)
    path = Path(state_dir) / SIGNING_KEY_FILE
    if not path.exists():
        _make(path)
    return load_signing_key(path)


def _make(path: Path) -> None:
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(private)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    fsync_directory(path.parent)
    (path.parent / PUBLIC_KEY_FILE).write_bytes(public)
