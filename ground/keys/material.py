"""`gridfree keys init DIR`: matching node, ground and tenant key material for a new mission.

    DIR/node/keystore.bin        master key 1; session keys 10 (operator TC), 11 (TM), 100+n
                                 (tenant n); SAs 1 (TC, operator, encrypted, window 64), 2 (TM,
                                 operator, authentication only) and 0x100+n (TC, tenant n,
                                 encrypted); all keys ACTIVE, all SAs OPERATIONAL
    DIR/node/ledger-signing.pem  the node's Ed25519 ledger signing key
    DIR/ground/keystore.bin      master 1, keys 10 and 11, SAs 1 and 2: the operator's ground
    DIR/tenant-<n>/keystore.bin  key 100+n and SA 0x100+n only: tenant n's ground
    DIR/*/ledger-public.pem, DIR/ledger-public.pem   the ledger public key (copy it to tenants)

Every directory is 0700 and every file 0600: DIR/node goes to the spacecraft, DIR/ground to the
operators, DIR/tenant-<n> to tenant n, each by a channel that keeps it secret. The same key id
holds the same octets wherever it appears; every key is fresh from os.urandom.

Replacing existing material (--force) also removes the IV counters and anti-replay state kept
beside the old keys: they belong to keys that no longer exist.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from gridfree.protocols.keystore import (
    KEY_OCTETS, KEYSTORE_FILE, MAX_KEYS, PUBLIC_KEY_FILE, SIGNING_KEY_FILE, KeyEntry, KeyKind, KeyState,
    Keystore, SaEntry, SaState, save_public_key, save_signing_key,
)

MASTER_KEY_ID = 1
OPERATOR_TC_KEY_ID, TM_KEY_ID = 10, 11
OPERATOR_TC_SPI, TM_SPI = 1, 2
DEFAULT_WINDOW = 64
MAX_TENANTS = MAX_KEYS - 3  # the node's keystore also holds the master, TC and TM keys
STATE_PATTERNS = ("tc-iv-*.bin", "tm-iv-*.bin", "rx-replay.bin")


def tenant_key_id(tenant: int) -> int:
    return 100 + tenant


def tenant_spi(tenant: int) -> int:
    return 0x100 + tenant


@dataclass(frozen=True)
class Material:
    """What `init` wrote: the directories, for the caller to name."""

    root: Path
    node: Path
    ground: Path
    tenants: tuple[Path, ...]


def _session(key_id: int, keys: dict[int, bytes]) -> KeyEntry:
    return KeyEntry(key_id, KeyKind.SESSION, KeyState.ACTIVE, keys[key_id])


def stores(tenants: int, keys: dict[int, bytes]) -> tuple[Keystore, Keystore, list[Keystore]]:
    """The node's, the ground's and each tenant's keystore over the same key octets `keys`."""
    operator_tc = SaEntry(OPERATOR_TC_SPI, "tc", OPERATOR_TC_KEY_ID, "operator", 0, True, DEFAULT_WINDOW,
                          SaState.OPERATIONAL)
    tm = SaEntry(TM_SPI, "tm", TM_KEY_ID, "operator", 0, False, DEFAULT_WINDOW, SaState.OPERATIONAL)
    master = KeyEntry(MASTER_KEY_ID, KeyKind.MASTER, KeyState.ACTIVE, keys[MASTER_KEY_ID])

    def tenant_sa(n: int) -> SaEntry:
        return SaEntry(tenant_spi(n), "tc", tenant_key_id(n), "tenant", n, True, DEFAULT_WINDOW,
                       SaState.OPERATIONAL)

    node = Keystore({MASTER_KEY_ID: master, OPERATOR_TC_KEY_ID: _session(OPERATOR_TC_KEY_ID, keys),
                     TM_KEY_ID: _session(TM_KEY_ID, keys)}, {OPERATOR_TC_SPI: operator_tc, TM_SPI: tm})
    ground = Keystore(dict(node.keys), dict(node.sas))
    tenant_stores = []
    for n in range(1, tenants + 1):
        node.keys[tenant_key_id(n)] = _session(tenant_key_id(n), keys)
        node.sas[tenant_spi(n)] = tenant_sa(n)
        tenant_stores.append(Keystore({tenant_key_id(n): _session(tenant_key_id(n), keys)},
                                      {tenant_spi(n): tenant_sa(n)}))
    return node, ground, tenant_stores


def _private_dir(path: Path) -> Path:
    path.mkdir(mode=0o700, exist_ok=True)
    path.chmod(0o700)
    for pattern in STATE_PATTERNS:
        for stale in path.glob(pattern):
            stale.unlink()
    return path


def init(root: str | os.PathLike, tenants: int) -> Material:
    """Write fresh material under `root` (made if missing; the caller decides about overwriting)."""
    if not 0 <= tenants <= MAX_TENANTS:
        raise ValueError(f"{tenants} tenants; a node's keystore has room for 0..{MAX_TENANTS}")
    root = _private_dir(Path(root))
    ids = [MASTER_KEY_ID, OPERATOR_TC_KEY_ID, TM_KEY_ID] + [tenant_key_id(n) for n in range(1, tenants + 1)]
    keys = {key_id: os.urandom(KEY_OCTETS) for key_id in ids}
    node_store, ground_store, tenant_stores = stores(tenants, keys)
    signing = Ed25519PrivateKey.generate()
    public = signing.public_key()

    node = _private_dir(root / "node")
    node_store.save(node / KEYSTORE_FILE)
    save_signing_key(signing, node / SIGNING_KEY_FILE)
    ground = _private_dir(root / "ground")
    ground_store.save(ground / KEYSTORE_FILE)
    save_public_key(public, ground / PUBLIC_KEY_FILE)
    tenant_dirs = []
    for n, store in enumerate(tenant_stores, 1):
        where = _private_dir(root / f"tenant-{n}")
        store.save(where / KEYSTORE_FILE)
        save_public_key(public, where / PUBLIC_KEY_FILE)
        tenant_dirs.append(where)
    save_public_key(public, root / PUBLIC_KEY_FILE)
    return Material(root, node, ground, tuple(tenant_dirs))
