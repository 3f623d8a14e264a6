"""Where the node's ledger signing key comes from.

A node with keys signs its token ledger with KEYDIR/ledger-signing.pem, made with the rest of the
mission's key material by `gridfree keys init` (the ground and the tenants hold its public half).
A node run with --insecure has no key directory: it makes its own signing key once, in its state
directory, so even a development ledger is signed by a key nobody else has; the public half is
written beside it for `gridfree tokens verify`. There is no built-in key.
"""
from __future__ import annotations

from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gridfree.protocols.keystore import (PUBLIC_KEY_FILE, SIGNING_KEY_FILE, load_signing_key, save_public_key,
                                         save_signing_key)


def ledger_signing_key(keys_dir: Path | None, state_dir: Path) -> Ed25519PrivateKey:
    """The key from the node's key directory, or (insecure) the node's own in `state_dir`."""
    if keys_dir is not None:
        return load_signing_key(Path(keys_dir) / SIGNING_KEY_FILE)
    path = Path(state_dir) / SIGNING_KEY_FILE
    if not path.exists():
        key = Ed25519PrivateKey.generate()
        save_signing_key(key, path)  # atomic, 0600
        save_public_key(key.public_key(), path.parent / PUBLIC_KEY_FILE)
    return load_signing_key(path)
