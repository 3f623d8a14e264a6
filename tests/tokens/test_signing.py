"""The Ed25519 helper the ledger signs and checks with, against RFC 8032, and the public-key PEM
reader the ground uses (it refuses anything that is not an Ed25519 public key, a private key most
of all)."""
from __future__ import annotations

import hashlib

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from gridfree.protocols import ledger as L

# RFC 8032 section 7.1, TEST 1: the empty message.
RFC8032_T1_SECRET = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
RFC8032_T1_PUBLIC = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a"
RFC8032_T1_SIGNATURE = ("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46b"
                        "d25bf5f0595bbe24655141438e7a100b")


def test_sign_and_check_are_ed25519_as_rfc8032_test_1():
    key = Ed25519PrivateKey.from_private_bytes(bytes.fromhex(RFC8032_T1_SECRET))
    public = key.public_key()
    assert L.signing.raw_public_key(public).hex() == RFC8032_T1_PUBLIC
    signature = L.sign(key, b"")
    assert signature.hex() == RFC8032_T1_SIGNATURE
    assert L.signature_valid(public, b"", signature)
    assert not L.signature_valid(public, b"\x00", signature)
    assert not L.signature_valid(public, b"", signature[:-1] + bytes([signature[-1] ^ 1]))
    assert not L.signature_valid(public, b"", signature[:63])  # a short signature is just wrong, no exception
    assert L.fingerprint(public) == hashlib.sha256(bytes.fromhex(RFC8032_T1_PUBLIC)).digest()[:8]


def test_a_key_ring_names_each_public_key_by_its_fingerprint():
    a, b = Ed25519PrivateKey.generate().public_key(), Ed25519PrivateKey.generate().public_key()
    ring = L.key_ring([a, b])
    assert ring[L.fingerprint(a)] is a and ring[L.fingerprint(b)] is b and len(ring) == 2
    assert L.key_ring(a) == {L.fingerprint(a): a}
    with pytest.raises(ValueError, match="no public key"):
        L.key_ring([])
    with pytest.raises(TypeError, match="not bytes"):
        L.key_ring([bytes(32)])  # an HMAC secret is no public key


def test_the_public_key_pem_round_trips_and_anything_else_is_one_line_refused():
    key = Ed25519PrivateKey.generate()
    public = L.public_key_from_pem(L.public_key_pem(key.public_key()), "ledger-public.pem")
    assert isinstance(public, Ed25519PublicKey) and L.fingerprint(public) == L.fingerprint(key.public_key())
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    x25519 = X25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    for data, message in [(private_pem, "holds a private key"), (b"not a key", "not a PEM public key"),
                          (x25519, "not an Ed25519 public key"), (b"-" * 10_000, "too large")]:
        with pytest.raises(ValueError, match=message) as info:
            L.public_key_from_pem(data, "k.pem")
        assert str(info.value).startswith("k.pem: ") and "\n" not in str(info.value)
