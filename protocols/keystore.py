"""Key material both ends keep: the keystore file, the key life cycle, OTAR and key verification.

The node and the ground each keep a keystore: master keys (used only to wrap session keys for
upload, OTAR) and session keys (one per security association), each in a CCSDS 355.1-B-1 state,
and the security associations that say which key protects which direction for which role.

The life cycle is the subset a mission uses: a key is uploaded PRE_ACTIVE, then made ACTIVE, later
DEACTIVATED, and finally DESTROYED (from PRE_ACTIVE or DEACTIVATED, never straight from ACTIVE:
a key in use is first taken out of use). Destroying replaces the key's octets with zeros, so the
next save leaves nothing of it in the file. (Python cannot promise that no copy of the old octets
lingers in process memory; the file is what outlives the process.)

File layout (big-endian), each length fixed or bounded and checked against the octets present:

    magic "GFKS" | version u8 | key count u16 | SA count u16
    key record x count (36 octets): key_id u16 | kind u8 | state u8 | key 32 octets
    SA record  x count (12 octets): spi u16 | direction u8 (1 tc, 2 tm) | key_id u16
                                    | role u8 (1 operator, 2 tenant) | tenant u16 | encrypt u8
                                    | window u16 | state u8
    CRC-32 (zlib) of everything before it, u32

The file is written atomically (temporary file, fsync, rename, directory fsync) with mode 0600,
and a keystore that group or others may read is refused rather than used: its keys are no longer
known to be secret to this account.
"""
from __future__ import annotations

import hashlib
import hmac
import os
import stat
import struct
import zlib
from dataclasses import dataclass, field
from enum import IntEnum
from pathlib import Path
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.serialization import (
    Encoding, NoEncryption, PrivateFormat, PublicFormat, load_pem_private_key, load_pem_public_key,
)

from gridfree.protocols.sdls import SecurityAssociation

MAGIC: Final = b"GFKS"
VERSION: Final = 1
KEY_OCTETS: Final = 32  # AES-256
NONCE_OCTETS: Final = 12
WRAPPED_OCTETS: Final = KEY_OCTETS + 16  # ciphertext and GCM tag
MAX_KEYS: Final = 64
MAX_SAS: Final = 64
MAX_WINDOW: Final = 1024
KEYSTORE_FILE: Final = "keystore.bin"
SIGNING_KEY_FILE: Final = "ledger-signing.pem"
PUBLIC_KEY_FILE: Final = "ledger-public.pem"
OTAR_AAD: Final = b"gridfree OTAR"
VERIFICATION_LABEL: Final = b"gridfree key verification"
VERIFICATION_OCTETS: Final = 16

_HEADER = struct.Struct(">4sBHH")
_KEY = struct.Struct(">HBB32s")
_SA = struct.Struct(">HBHBHBHB")
_CRC = struct.Struct(">I")
_DIRECTIONS = {"tc": 1, "tm": 2}
_ROLES = {"operator": 1, "tenant": 2}


class KeystoreError(ValueError):
    """A keystore or key file that cannot be used, said in one line naming the file."""


class KeyStateError(ValueError):
    """A key asked for, or moved, in a way its life cycle does not allow (or an unknown key id)."""


class KeyUnwrapError(ValueError):
    """An uploaded key that does not unwrap: wrong master, wrong ids, damaged, or wrong lengths."""


class KeyState(IntEnum):
    PRE_ACTIVE = 1
    ACTIVE = 2
    DEACTIVATED = 3
    DESTROYED = 4


class KeyKind(IntEnum):
    MASTER = 1
    SESSION = 2


class SaState(IntEnum):
    STOPPED = 1
    OPERATIONAL = 2


TRANSITIONS: Final = frozenset({
    (KeyState.PRE_ACTIVE, KeyState.ACTIVE),
    (KeyState.ACTIVE, KeyState.DEACTIVATED),
    (KeyState.PRE_ACTIVE, KeyState.DESTROYED),
    (KeyState.DEACTIVATED, KeyState.DESTROYED),
})


def _id16(value: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 0xFFFF:
        raise ValueError(f"{what} {value!r} out of 1..65535")
    return value


@dataclass
class KeyEntry:
    key_id: int
    kind: KeyKind
    state: KeyState
    key: bytes = field(repr=False)

    def __post_init__(self):
        _id16(self.key_id, "key id")
        self.kind, self.state = KeyKind(self.kind), KeyState(self.state)
        if not isinstance(self.key, (bytes, bytearray)) or len(self.key) != KEY_OCTETS:
            raise ValueError(f"key {self.key_id}: a key is {KEY_OCTETS} octets")
        self.key = bytes(self.key)
        if self.state is KeyState.DESTROYED and any(self.key):
            raise ValueError(f"key {self.key_id} is destroyed but its octets are not zero")


@dataclass
class SaEntry:
    spi: int
    direction: str  # "tc" | "tm"; a TM SA applies to every TM virtual channel
    key_id: int
    role: str  # "operator" | "tenant"
    tenant: int  # 0 unless role is "tenant"
    encrypt: bool
    window: int
    state: SaState

    def __post_init__(self):
        _id16(self.spi, "SPI")
        _id16(self.key_id, f"SPI {self.spi}: key id")
        if self.direction not in _DIRECTIONS:
            raise ValueError(f"SPI {self.spi}: direction {self.direction!r} is not tc or tm")
        if self.role not in _ROLES:
            raise ValueError(f"SPI {self.spi}: role {self.role!r} is not operator or tenant")
        if not 0 <= self.tenant <= 0xFFFF or (self.role != "tenant" and self.tenant != 0):
            raise ValueError(f"SPI {self.spi}: tenant {self.tenant} (0 unless the role is tenant, at most 65535)")
        if not 1 <= self.window <= MAX_WINDOW:
            raise ValueError(f"SPI {self.spi}: window {self.window} out of 1..{MAX_WINDOW}")
        self.encrypt, self.state = bool(self.encrypt), SaState(self.state)


@dataclass
class Keystore:
    keys: dict[int, KeyEntry] = field(default_factory=dict)
    sas: dict[int, SaEntry] = field(default_factory=dict)

    # ---- life cycle -------------------------------------------------------------------------
    def _entry(self, key_id: int) -> KeyEntry:
        entry = self.keys.get(key_id)
        if entry is None:
            raise KeyStateError(f"no key {key_id}")
        return entry

    def add_key(self, entry: KeyEntry) -> None:
        """Store a new key (an upload arrives PRE_ACTIVE); an id in use (even by a destroyed key)
        is refused. A full store makes room by forgetting its lowest destroyed key no SA names."""
        if entry.key_id in self.keys:
            raise KeyStateError(f"key {entry.key_id} already exists ({self.keys[entry.key_id].state.name})")
        if len(self.keys) >= MAX_KEYS:
            named = {sa.key_id for sa in self.sas.values()}
            spent = [k for k, e in sorted(self.keys.items()) if e.state is KeyState.DESTROYED and k not in named]
            if not spent:
                raise KeyStateError(f"the keystore holds at most {MAX_KEYS} keys; destroy one no SA uses first")
            del self.keys[spent[0]]
        self.keys[entry.key_id] = entry

    def transition(self, key_id: int, new: KeyState) -> None:
        entry = self._entry(key_id)
        if new not in KeyState.__members__.values():
            raise KeyStateError(f"key {key_id}: {new!r} is not a key state")
        new = KeyState(new)
        if (entry.state, new) not in TRANSITIONS:
            raise KeyStateError(f"key {key_id}: {entry.state.name} -> {new.name} is not allowed")
        if new is KeyState.DESTROYED:
            entry.key = bytes(KEY_OCTETS)
        entry.state = new

    def _usable(self, key_id: int, kind: KeyKind) -> bytes:
        entry = self._entry(key_id)
        if entry.kind is not kind or entry.state is not KeyState.ACTIVE:
            raise KeyStateError(f"key {key_id} is a {entry.state.name} {entry.kind.name} key, "
                                f"not an ACTIVE {kind.name} key")
        return entry.key

    def session_key(self, key_id: int) -> bytes:
        return self._usable(key_id, KeyKind.SESSION)

    def master_key(self, key_id: int) -> bytes:
        return self._usable(key_id, KeyKind.MASTER)

    def association(self, spi: int) -> SecurityAssociation:
        """The SDLS security association for `spi`, with its ACTIVE session key (KeyStateError if
        the SPI is unknown or its key is not usable); `operational` follows the SA's state."""
        sa = self.sas.get(spi)
        if sa is None:
            raise KeyStateError(f"no SA with SPI {spi}")
        return SecurityAssociation(spi, self.session_key(sa.key_id), encrypt=sa.encrypt, window=sa.window,
                                   operational=sa.state is SaState.OPERATIONAL)

    # ---- file -------------------------------------------------------------------------------
    def pack(self) -> bytes:
        if len(self.keys) > MAX_KEYS or len(self.sas) > MAX_SAS:
            raise KeystoreError(f"{len(self.keys)} keys and {len(self.sas)} SAs; "
                                f"a keystore holds at most {MAX_KEYS} and {MAX_SAS}")
        out = [_HEADER.pack(MAGIC, VERSION, len(self.keys), len(self.sas))]
        for k in sorted(self.keys.values(), key=lambda e: e.key_id):
            out.append(_KEY.pack(k.key_id, k.kind, k.state, k.key))
        for s in sorted(self.sas.values(), key=lambda e: e.spi):
            out.append(_SA.pack(s.spi, _DIRECTIONS[s.direction], s.key_id, _ROLES[s.role], s.tenant,
                                int(s.encrypt), s.window, s.state))
        body = b"".join(out)
        return body + _CRC.pack(zlib.crc32(body))

    @classmethod
    def unpack(cls, raw: bytes, where: str = "keystore") -> "Keystore":
        """A keystore from file octets; KeystoreError('<where>: ...') for anything that does not check."""
        least = _HEADER.size + _CRC.size
        if len(raw) < least:
            raise KeystoreError(f"{where}: {len(raw)} octets, shorter than an empty keystore ({least})")
        magic, version, n_keys, n_sas = _HEADER.unpack_from(raw)
        if magic != MAGIC:
            raise KeystoreError(f"{where}: not a gridfree keystore (magic {magic!r})")
        if version != VERSION:
            raise KeystoreError(f"{where}: keystore version {version}, this gridfree reads {VERSION}")
        if n_keys > MAX_KEYS or n_sas > MAX_SAS:
            raise KeystoreError(f"{where}: counts {n_keys} keys, {n_sas} SAs exceed {MAX_KEYS} and {MAX_SAS}")
        size = _HEADER.size + n_keys * _KEY.size + n_sas * _SA.size + _CRC.size
        if len(raw) != size:
            raise KeystoreError(f"{where}: {len(raw)} octets, but {n_keys} keys and {n_sas} SAs make {size}")
        (crc,) = _CRC.unpack_from(raw, size - _CRC.size)
        if zlib.crc32(raw[:size - _CRC.size]) != crc:
            raise KeystoreError(f"{where}: CRC-32 does not match; the keystore is damaged")
        store, pos = cls(), _HEADER.size
        try:
            for _ in range(n_keys):
                key_id, kind, state, key = _KEY.unpack_from(raw, pos)
                pos += _KEY.size
                if key_id in store.keys:
                    raise ValueError(f"key {key_id} twice")
                store.keys[key_id] = KeyEntry(key_id, kind, state, key)
            directions = {v: k for k, v in _DIRECTIONS.items()}
            roles = {v: k for k, v in _ROLES.items()}
            for _ in range(n_sas):
                spi, direction, key_id, role, tenant, encrypt, window, state = _SA.unpack_from(raw, pos)
                pos += _SA.size
                if spi in store.sas:
                    raise ValueError(f"SPI {spi} twice")
                if encrypt not in (0, 1):
                    raise ValueError(f"SPI {spi}: encrypt flag {encrypt}")
                if key_id not in store.keys:
                    raise ValueError(f"SPI {spi} uses key {key_id}, which is not in the keystore")
                store.sas[spi] = SaEntry(spi, directions.get(direction, str(direction)), key_id,
                                         roles.get(role, str(role)), tenant, bool(encrypt), window, state)
        except ValueError as exc:
            raise KeystoreError(f"{where}: {exc}") from None
        return store

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Keystore":
        return cls.unpack(_read_private(Path(path), "keystore"), str(path))

    def save(self, path: str | os.PathLike) -> None:
        write_private(Path(path), self.pack())


def _read_private(path: Path, what: str) -> bytes:
    """The octets of a file only this account may read; KeystoreError (one line) otherwise."""
    try:
        mode = path.stat().st_mode
        if not stat.S_ISREG(mode):
            raise KeystoreError(f"{path}: not a regular file")
        if mode & 0o077:
            raise KeystoreError(f"{path}: mode {stat.S_IMODE(mode):04o} lets group or others in; "
                                f"chmod 600 {path}")
        return path.read_bytes()
    except FileNotFoundError:
        raise KeystoreError(f"{path}: no {what} here (`gridfree keys init` makes key material)") from None
    except OSError as exc:
        raise KeystoreError(f"{path}: {exc.strerror or exc}") from None


def write_private(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically with mode 0600: temporary file, fsync, rename, dir fsync."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


# ---- OTAR and verification ------------------------------------------------------------------
def _otar_aad(master_id: int, key_id: int) -> bytes:
    return OTAR_AAD + struct.pack(">HH", master_id, key_id)


def wrap_key(master: bytes, master_id: int, key_id: int, session_key: bytes, nonce: bytes) -> bytes:
    """`session_key` sealed under `master` for upload as key `key_id` (48 octets: ciphertext and
    tag). The ids are in the AAD, so a wrapped key cannot be stored under another id. `nonce`
    must never repeat under one master key: the ground draws it with os.urandom."""
    if len(master) != KEY_OCTETS or len(session_key) != KEY_OCTETS or len(nonce) != NONCE_OCTETS:
        raise ValueError(f"master and session keys are {KEY_OCTETS} octets, the nonce {NONCE_OCTETS}")
    return AESGCM(master).encrypt(nonce, session_key, _otar_aad(_id16(master_id, "master id"),
                                                                _id16(key_id, "key id")))


def unwrap_key(master: bytes, master_id: int, key_id: int, nonce: bytes, wrapped: bytes) -> bytes:
    """The session key inside `wrapped`, or KeyUnwrapError: nothing from the uplink is trusted."""
    if len(master) != KEY_OCTETS:
        raise KeyUnwrapError(f"master key {master_id} is not {KEY_OCTETS} octets")
    if len(nonce) != NONCE_OCTETS or len(wrapped) != WRAPPED_OCTETS:
        raise KeyUnwrapError(f"key {key_id}: nonce of {len(nonce)} and wrapped key of {len(wrapped)} octets; "
                             f"expected {NONCE_OCTETS} and {WRAPPED_OCTETS}")
    if not (0 < master_id <= 0xFFFF and 0 < key_id <= 0xFFFF):
        raise KeyUnwrapError(f"master id {master_id} or key id {key_id} out of 1..65535")
    try:
        return AESGCM(master).decrypt(nonce, wrapped, _otar_aad(master_id, key_id))
    except InvalidTag:
        raise KeyUnwrapError(f"key {key_id} does not unwrap under master key {master_id}") from None


def key_verification(key: bytes, challenge: bytes) -> bytes:
    """The response proving possession of `key`: HMAC-SHA256 under a key derived from it (so the
    session key itself never touches a ground-chosen input), cut to 16 octets. Not GCM: a
    ground-chosen nonce under a session key could repeat one the SA used."""
    derived = hmac.new(key, VERIFICATION_LABEL, hashlib.sha256).digest()
    return hmac.new(derived, challenge, hashlib.sha256).digest()[:VERIFICATION_OCTETS]


# ---- ledger signing keys (Ed25519) ----------------------------------------------------------
def load_signing_key(path: str | os.PathLike) -> Ed25519PrivateKey:
    """The node's Ed25519 ledger signing key (PKCS8 PEM, unencrypted, mode 0600)."""
    path = Path(path)
    raw = _read_private(path, "ledger signing key")
    try:
        key = load_pem_private_key(raw, password=None)
    except (ValueError, TypeError) as exc:
        raise KeystoreError(f"{path}: not an unencrypted PEM private key ({_first_line(exc)})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeystoreError(f"{path}: a {type(key).__name__}, not an Ed25519 private key")
    return key


def load_public_key(path: str | os.PathLike) -> Ed25519PublicKey:
    """An Ed25519 ledger public key (SubjectPublicKeyInfo PEM): all a tenant needs to verify."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise KeystoreError(f"{path}: no ledger public key here") from None
    except OSError as exc:
        raise KeystoreError(f"{path}: {exc.strerror or exc}") from None
    try:
        key = load_pem_public_key(raw)
    except (ValueError, TypeError) as exc:
        raise KeystoreError(f"{path}: not a PEM public key ({_first_line(exc)})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise KeystoreError(f"{path}: a {type(key).__name__}, not an Ed25519 public key")
    return key


def save_signing_key(key: Ed25519PrivateKey, path: str | os.PathLike) -> None:
    """Write an Ed25519 private key as PKCS8 PEM, atomically, mode 0600."""
    write_private(Path(path), key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))


def save_public_key(key: Ed25519PublicKey, path: str | os.PathLike) -> None:
    """Write an Ed25519 public key as SubjectPublicKeyInfo PEM, atomically (0600 like every file
    in a key directory; publishing it is a copy)."""
    write_private(Path(path), key.public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo))


def _first_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
