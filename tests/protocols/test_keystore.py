"""The keystore both ends keep: its file checks every octet, the key life cycle refuses illegal
moves, OTAR and key verification agree with primitives computed here independently."""
from __future__ import annotations

import hashlib
import hmac
import os
import struct
import zlib

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from gridfree.protocols import keystore as ks
from gridfree.protocols.keystore import (
    KeyEntry, KeyKind, KeyState, KeyStateError, Keystore, KeystoreError, KeyUnwrapError, SaEntry, SaState,
)


def _key(n: int) -> bytes:
    return bytes((n + i) % 256 for i in range(32))


def sample() -> Keystore:
    store = Keystore()
    store.add_key(KeyEntry(1, KeyKind.MASTER, KeyState.ACTIVE, _key(1)))
    store.add_key(KeyEntry(10, KeyKind.SESSION, KeyState.ACTIVE, _key(10)))
    store.add_key(KeyEntry(12, KeyKind.SESSION, KeyState.PRE_ACTIVE, _key(12)))
    store.sas[1] = SaEntry(1, "tc", 10, "operator", 0, True, 64, SaState.OPERATIONAL)
    store.sas[0x101] = SaEntry(0x101, "tm", 12, "tenant", 1, False, 1024, SaState.STOPPED)
    return store


def largest() -> Keystore:
    store = Keystore()
    for i in range(ks.MAX_KEYS):
        store.add_key(KeyEntry(0xFFFF - i, KeyKind.SESSION, KeyState(1 + i % 3), os.urandom(32)))
    for i in range(ks.MAX_SAS):
        store.sas[i + 1] = SaEntry(i + 1, "tc", 0xFFFF - i, "tenant", i, i % 2 == 0, 1 + i, SaState(1 + i % 2))
    return store


def _recrc(body: bytes) -> bytes:
    return body + struct.pack(">I", zlib.crc32(body))


# ---- file ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [sample, largest, Keystore], ids=["sample", "largest", "empty"])
def test_round_trip_through_a_file(tmp_path, make):
    store = make()
    path = tmp_path / "keystore.bin"
    store.save(path)
    assert Keystore.load(path) == store
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert not [p for p in tmp_path.iterdir() if p.name != "keystore.bin"]  # no temporary left


def test_save_refuses_more_than_the_format_holds(tmp_path):
    store = largest()
    store.keys[1] = KeyEntry(1, KeyKind.SESSION, KeyState.ACTIVE, _key(0))
    with pytest.raises(KeystoreError):
        store.save(tmp_path / "k")
    assert not (tmp_path / "k").exists()
    with pytest.raises(KeyStateError, match="at most 64"):
        largest().add_key(KeyEntry(1, KeyKind.SESSION, KeyState.ACTIVE, _key(0)))


def _saved(tmp_path) -> bytes:
    sample().save(tmp_path / "keystore.bin")
    return (tmp_path / "keystore.bin").read_bytes()


def test_every_truncation_is_refused(tmp_path):
    raw = _saved(tmp_path)
    path = tmp_path / "cut.bin"
    for n in range(len(raw)):
        path.write_bytes(raw[:n])
        path.chmod(0o600)
        with pytest.raises(KeystoreError, match=f"^{path}: "):
            Keystore.load(path)
    with pytest.raises(KeystoreError):
        Keystore.unpack(raw + b"\0")


def test_every_single_octet_corruption_is_refused(tmp_path):
    raw = _saved(tmp_path)
    for pos in range(len(raw)):
        for flip in range(1, 256):
            bad = bytearray(raw)
            bad[pos] ^= flip
            with pytest.raises(KeystoreError):
                Keystore.unpack(bytes(bad))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_octets_are_refused_or_a_valid_store(raw):
    try:
        store = Keystore.unpack(raw)
    except KeystoreError as exc:
        assert "\n" not in str(exc)
    else:
        assert Keystore.unpack(store.pack()) == store


@pytest.mark.parametrize("n_keys,n_sas", [(4, 2), (2, 2), (3, 3), (3, 1), (0xFFFF, 2), (3, 0xFFFF)])
def test_lying_counts_are_refused(n_keys, n_sas):
    raw = sample().pack()[:-4]
    lie = _recrc(raw[:5] + struct.pack(">HH", n_keys, n_sas) + raw[9:])
    with pytest.raises(KeystoreError, match="octets|exceed"):
        Keystore.unpack(lie)


def test_counts_beyond_the_largest_legal_are_refused_even_with_the_octets_present():
    raw = largest().pack()[:-4]
    extra_key = struct.pack(">HBB32s", 1, 2, 2, _key(0))
    body = raw[:5] + struct.pack(">HH", 65, 64) + raw[9:9 + 64 * 36] + extra_key + raw[9 + 64 * 36:]
    with pytest.raises(KeystoreError, match="exceed"):
        Keystore.unpack(_recrc(body))


def _with_key_record(record: bytes) -> bytes:
    return _recrc(b"GFKS\x01" + struct.pack(">HH", 1, 0) + record)


def _with_sa_record(record: bytes) -> bytes:
    key = struct.pack(">HBB32s", 10, 2, 2, _key(10))
    return _recrc(b"GFKS\x01" + struct.pack(">HH", 1, 1) + key + record)


@pytest.mark.parametrize("record,why", [
    (struct.pack(">HBB32s", 0, 2, 2, _key(1)), "key id 0"),
    (struct.pack(">HBB32s", 5, 3, 2, _key(1)), "KeyKind"),
    (struct.pack(">HBB32s", 5, 2, 0, _key(1)), "KeyState"),
    (struct.pack(">HBB32s", 5, 2, 4, _key(1)), "not zero"),
])
def test_bad_key_values_with_a_good_crc_are_refused(record, why):
    with pytest.raises(KeystoreError, match=why):
        Keystore.unpack(_with_key_record(record), "where.bin")


@pytest.mark.parametrize("record,why", [
    (struct.pack(">HBHBHBHB", 0, 1, 10, 1, 0, 1, 64, 2), "SPI 0"),
    (struct.pack(">HBHBHBHB", 1, 3, 10, 1, 0, 1, 64, 2), "direction"),
    (struct.pack(">HBHBHBHB", 1, 1, 11, 1, 0, 1, 64, 2), "not in the keystore"),
    (struct.pack(">HBHBHBHB", 1, 1, 10, 9, 0, 1, 64, 2), "role"),
    (struct.pack(">HBHBHBHB", 1, 1, 10, 1, 7, 1, 64, 2), "tenant 7"),
    (struct.pack(">HBHBHBHB", 1, 1, 10, 1, 0, 2, 64, 2), "encrypt flag"),
    (struct.pack(">HBHBHBHB", 1, 1, 10, 1, 0, 1, 0, 2), "window 0"),
    (struct.pack(">HBHBHBHB", 1, 1, 10, 1, 0, 1, 1025, 2), "window 1025"),
    (struct.pack(">HBHBHBHB", 1, 1, 10, 1, 0, 1, 64, 3), "SaState"),
])
def test_bad_sa_values_with_a_good_crc_are_refused(record, why):
    with pytest.raises(KeystoreError, match=why) as info:
        Keystore.unpack(_with_sa_record(record), "where.bin")
    assert str(info.value).startswith("where.bin: ")


def test_duplicate_records_are_refused():
    key = struct.pack(">HBB32s", 10, 2, 2, _key(10))
    with pytest.raises(KeystoreError, match="twice"):
        Keystore.unpack(_recrc(b"GFKS\x01" + struct.pack(">HH", 2, 0) + key + key))
    sa = struct.pack(">HBHBHBHB", 1, 1, 10, 1, 0, 1, 64, 2)
    with pytest.raises(KeystoreError, match="twice"):
        Keystore.unpack(_recrc(b"GFKS\x01" + struct.pack(">HH", 1, 2) + key + sa + sa))


def test_wrong_magic_and_version_are_named():
    raw = sample().pack()
    with pytest.raises(KeystoreError, match="not a gridfree keystore"):
        Keystore.unpack(_recrc(b"XXKS" + raw[4:-4]))
    with pytest.raises(KeystoreError, match="version 2"):
        Keystore.unpack(_recrc(b"GFKS\x02" + raw[5:-4]))


def test_load_errors_are_one_line_naming_the_file(tmp_path):
    path = tmp_path / "keystore.bin"
    with pytest.raises(KeystoreError, match=f"^{path}: no keystore here") as info:
        Keystore.load(path)
    assert "\n" not in str(info.value)
    path.write_bytes(b"GFKS")
    path.chmod(0o600)
    with pytest.raises(KeystoreError, match=f"^{path}: 4 octets"):
        Keystore.load(path)
    with pytest.raises(KeystoreError, match="not a regular file"):
        Keystore.load(tmp_path)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o620, 0o644, 0o666])
def test_a_keystore_others_may_read_is_refused(tmp_path, mode):
    path = tmp_path / "keystore.bin"
    sample().save(path)
    path.chmod(mode)
    with pytest.raises(KeystoreError, match=f"chmod 600 {path}$"):
        Keystore.load(path)
    path.chmod(0o600)
    assert Keystore.load(path) == sample()


def test_save_replaces_a_loose_file_with_a_0600_one(tmp_path):
    path = tmp_path / "keystore.bin"
    path.write_bytes(b"old")
    path.chmod(0o644)
    sample().save(path)
    assert os.stat(path).st_mode & 0o777 == 0o600


# ---- life cycle ---------------------------------------------------------------------------------
LEGAL = {(KeyState.PRE_ACTIVE, KeyState.ACTIVE), (KeyState.ACTIVE, KeyState.DEACTIVATED),
         (KeyState.PRE_ACTIVE, KeyState.DESTROYED), (KeyState.DEACTIVATED, KeyState.DESTROYED)}


@pytest.mark.parametrize("old", list(KeyState))
@pytest.mark.parametrize("new", list(KeyState))
def test_transitions_table(old, new):
    store = Keystore()
    key = bytes(32) if old is KeyState.DESTROYED else _key(5)
    store.add_key(KeyEntry(5, KeyKind.SESSION, old, key))
    if (old, new) in LEGAL:
        store.transition(5, new)
        assert store.keys[5].state is new
    else:
        with pytest.raises(KeyStateError, match=f"{old.name} -> {new.name}"):
            store.transition(5, new)
        assert store.keys[5].state is old and store.keys[5].key == key


def test_unknown_key_and_duplicate_id_are_refused():
    store = sample()
    with pytest.raises(KeyStateError, match="no key 99"):
        store.transition(99, KeyState.ACTIVE)
    with pytest.raises(KeyStateError, match="already exists"):
        store.add_key(KeyEntry(10, KeyKind.SESSION, KeyState.PRE_ACTIVE, _key(3)))


def test_a_full_store_forgets_its_lowest_destroyed_key_no_sa_names():
    store = largest()  # 64 keys, ids 0xFFC0..0xFFFF, each named by an SA
    del store.sas[64]  # key 0xFFC0 is now named by no SA
    for key_id in (0xFFC0, 0xFFC3):
        store.keys[key_id] = KeyEntry(key_id, KeyKind.SESSION, KeyState.DESTROYED, bytes(32))
    store.add_key(KeyEntry(7, KeyKind.SESSION, KeyState.PRE_ACTIVE, _key(7)))
    assert 7 in store.keys and 0xFFC0 not in store.keys and 0xFFC3 in store.keys  # 0xFFC3 is SPI 61's
    with pytest.raises(KeyStateError, match="destroy one no SA uses"):
        store.add_key(KeyEntry(8, KeyKind.SESSION, KeyState.PRE_ACTIVE, _key(8)))
    with pytest.raises(KeyStateError, match="already exists .DESTROYED"):
        store.add_key(KeyEntry(0xFFC3, KeyKind.SESSION, KeyState.PRE_ACTIVE, _key(8)))


@pytest.mark.parametrize("bad", [0, 5, "ACTIVE", None])
def test_a_state_that_is_not_one_is_a_key_state_error(bad):
    store = sample()
    with pytest.raises(KeyStateError, match="not a key state"):
        store.transition(12, bad)
    assert store.keys[12].state is KeyState.PRE_ACTIVE


def test_destroying_zeroes_the_key_in_the_saved_file(tmp_path):
    store = sample()
    secret = store.keys[10].key
    store.transition(10, KeyState.DEACTIVATED)
    store.transition(10, KeyState.DESTROYED)
    assert store.keys[10].key == bytes(32)
    store.save(tmp_path / "k")
    assert secret not in (tmp_path / "k").read_bytes()
    assert Keystore.load(tmp_path / "k").keys[10].state is KeyState.DESTROYED


def test_only_active_keys_of_the_right_kind_are_handed_out():
    store = sample()
    assert store.session_key(10) == _key(10)
    assert store.master_key(1) == _key(1)
    for ask, key_id in [(store.session_key, 1), (store.master_key, 10), (store.session_key, 12),
                        (store.session_key, 99)]:
        with pytest.raises(KeyStateError):
            ask(key_id)
    store.transition(10, KeyState.DEACTIVATED)
    with pytest.raises(KeyStateError, match="DEACTIVATED"):
        store.session_key(10)


def test_association_carries_the_sa_and_its_key():
    store = sample()
    sa = store.association(1)
    assert (sa.spi, sa.key, sa.encrypt, sa.window, sa.operational) == (1, _key(10), True, 64, True)
    with pytest.raises(KeyStateError):
        store.association(0x101)  # its key is PRE_ACTIVE
    with pytest.raises(KeyStateError):
        store.association(7)


# ---- OTAR and verification ----------------------------------------------------------------------
MASTER, SESSION, NONCE = _key(1), _key(77), bytes(range(12))


def _aad(master_id: int, key_id: int) -> bytes:
    return b"gridfree OTAR" + master_id.to_bytes(2, "big") + key_id.to_bytes(2, "big")


def test_wrap_matches_raw_aes_gcm():
    wrapped = ks.wrap_key(MASTER, 1, 12, SESSION, NONCE)
    assert wrapped == AESGCM(MASTER).encrypt(NONCE, SESSION, _aad(1, 12))
    assert len(wrapped) == 48


def test_unwrap_opens_a_key_wrapped_by_raw_aes_gcm():
    wrapped = AESGCM(MASTER).encrypt(NONCE, SESSION, _aad(1, 12))
    assert ks.unwrap_key(MASTER, 1, 12, NONCE, wrapped) == SESSION


@pytest.mark.parametrize("master,master_id,key_id,nonce", [
    (_key(2), 1, 12, NONCE),          # wrong master
    (MASTER, 1, 13, NONCE),           # another key id than the one wrapped for
    (MASTER, 2, 12, NONCE),           # another master id
    (MASTER, 1, 12, bytes(12)),       # another nonce
])
def test_a_wrongly_wrapped_key_is_refused(master, master_id, key_id, nonce):
    wrapped = AESGCM(MASTER).encrypt(NONCE, SESSION, _aad(1, 12))
    with pytest.raises(KeyUnwrapError):
        ks.unwrap_key(master, master_id, key_id, nonce, wrapped)


def test_every_flipped_bit_of_a_wrapped_key_is_refused():
    wrapped = ks.wrap_key(MASTER, 1, 12, SESSION, NONCE)
    for bit in range(8 * len(wrapped)):
        bad = bytearray(wrapped)
        bad[bit // 8] ^= 1 << bit % 8
        with pytest.raises(KeyUnwrapError):
            ks.unwrap_key(MASTER, 1, 12, NONCE, bytes(bad))


@pytest.mark.parametrize("nonce,wrapped,master_id", [
    (bytes(11), bytes(48), 1), (bytes(12), bytes(47), 1), (bytes(12), bytes(49), 1), (bytes(12), b"", 1),
    (bytes(12), bytes(48), 0),
])
def test_wrong_lengths_and_ids_are_unwrap_errors(nonce, wrapped, master_id):
    with pytest.raises(KeyUnwrapError):
        ks.unwrap_key(MASTER, master_id, 12, nonce, wrapped)


def test_key_verification_is_the_documented_hmac():
    challenge = bytes(range(16))
    derived = hmac.new(SESSION, b"gridfree key verification", hashlib.sha256).digest()
    assert ks.key_verification(SESSION, challenge) == hmac.new(derived, challenge, hashlib.sha256).digest()[:16]
    assert ks.key_verification(_key(78), challenge) != ks.key_verification(SESSION, challenge)


# ---- ledger keys --------------------------------------------------------------------------------
def test_ledger_keys_round_trip(tmp_path):
    key = Ed25519PrivateKey.generate()
    ks.save_signing_key(key, tmp_path / "s.pem")
    ks.save_public_key(key.public_key(), tmp_path / "p.pem")
    assert os.stat(tmp_path / "s.pem").st_mode & 0o777 == 0o600
    loaded = ks.load_signing_key(tmp_path / "s.pem")
    public = ks.load_public_key(tmp_path / "p.pem")
    public.verify(loaded.sign(b"entry"), b"entry")
    assert public.public_bytes_raw() == key.public_key().public_bytes_raw()


def test_ledger_key_errors_are_one_line(tmp_path):
    bad = tmp_path / "bad.pem"
    bad.write_bytes(b"-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----\n")
    bad.chmod(0o600)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    other = tmp_path / "ec.pem"
    other.write_bytes(ec_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    other.chmod(0o600)
    ec_pub = tmp_path / "ec-pub.pem"
    ec_pub.write_bytes(ec_key.public_key().public_bytes(serialization.Encoding.PEM,
                                                        serialization.PublicFormat.SubjectPublicKeyInfo))
    loose = tmp_path / "loose.pem"
    ks.save_signing_key(Ed25519PrivateKey.generate(), loose)
    loose.chmod(0o644)
    cases = [(ks.load_signing_key, tmp_path / "missing.pem", "no ledger signing key"),
             (ks.load_signing_key, bad, "not an unencrypted PEM"),
             (ks.load_signing_key, other, "not an Ed25519 private key"),
             (ks.load_signing_key, loose, "chmod 600"),
             (ks.load_public_key, tmp_path / "missing.pem", "no ledger public key"),
             (ks.load_public_key, bad, "not a PEM public key"),
             (ks.load_public_key, ec_pub, "not an Ed25519 public key")]
    for load, path, why in cases:
        with pytest.raises(KeystoreError, match=why) as info:
            load(path)
        assert str(info.value).startswith(f"{path}: ") and "\n" not in str(info.value)
