"""Ed25519 (RFC 8032) signatures for the token ledger, and the fingerprint that names a public key.

The ledger used to be HMAC'd: whoever could check it could also forge it, so a tenant could not
check its own statement. With Ed25519 the node alone holds the signing key (KEYDIR/node/
ledger-signing.pem) and anyone holding the public key (ledger-public.pem, published to tenants)
can verify, but not sign. Each entry names the key that signed it by an 8-octet fingerprint, so
keys can rotate and a verifier given several public keys knows which one to use; a colliding or
forged fingerprint only means a signature check that fails.

    fingerprint(public key) = SHA-256(the 32-octet raw public key)[:8]

`sign` and `signature_valid` sign exactly the message given (no prefix), so RFC 8032's test
vectors check them as they are; the ledger format adds its own domain prefix to what it signs.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Final

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

FINGERPRINT_OCTETS: Final = 8
SIGNATURE_OCTETS: Final = 64
PUBLIC_KEY_OCTETS: Final = 32
MAX_PEM_OCTETS: Final = 4096  # an Ed25519 PEM is ~120 octets; anything far larger is not one

KeyRing = Mapping[bytes, Ed25519PublicKey]  # fingerprint -> public key


def raw_public_key(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def fingerprint(key: Ed25519PublicKey) -> bytes:
    """The 8 octets an entry carries to say which public key checks its signature."""
    return hashlib.sha256(raw_public_key(key)).digest()[:FINGERPRINT_OCTETS]


def sign(key: Ed25519PrivateKey, message: bytes) -> bytes:
    """The 64-octet Ed25519 signature of `message` (deterministic: same key and message, same octets)."""
    return key.sign(message)


def signature_valid(key: Ed25519PublicKey, message: bytes, signature: bytes) -> bool:
    if len(signature) != SIGNATURE_OCTETS:
        return False
    try:
        key.verify(signature, message)
    except InvalidSignature:
        return False
    return True


def key_ring(keys: Ed25519PublicKey | Iterable[Ed25519PublicKey]) -> dict[bytes, Ed25519PublicKey]:
    """{fingerprint: key} for one public key or several (the current one and those it replaced)."""
    if isinstance(keys, Ed25519PublicKey):
        keys = (keys,)
    ring: dict[bytes, Ed25519PublicKey] = {}
    for key in keys:
        if not isinstance(key, Ed25519PublicKey):
            raise TypeError(f"a ledger is checked with Ed25519 public keys, not {type(key).__name__}")
        ring[fingerprint(key)] = key
    if not ring:
        raise ValueError("no public key given to check the ledger with")
    return ring


def public_key_from_pem(data: bytes, name: str = "public key") -> Ed25519PublicKey:
    """The Ed25519 public key of a SubjectPublicKeyInfo PEM; ValueError with one line if it is not one."""
    if len(data) > MAX_PEM_OCTETS:
        raise ValueError(f"{name}: {len(data)} octets, too large for an Ed25519 public key PEM")
    if b"PRIVATE KEY" in data:
        raise ValueError(f"{name}: holds a private key; give the public key (ledger-public.pem), which is all a "
                         "verifier needs")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        raise ValueError(f"{name}: not a PEM public key (SubjectPublicKeyInfo)") from None
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{name}: a {type(key).__name__.lstrip('_')}, not an Ed25519 public key")
    return key


def public_key_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
