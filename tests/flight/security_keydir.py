"""Key material and TC frames for the node security tests, made without the node's SDLS code.

`tc_frame` lays a protected TC frame out by hand from the spec (protocols/sdls.py's docstring):
primary header | SPI (2) | IV (12) | data, sealed by AES-256-GCM from `cryptography` directly | MAC
(16) | FECF (CRC-16/CCITT-FALSE, binascii.crc_hqx from 0xFFFF). The AAD is the primary header and
the security header, plus the data itself when it goes in clear (authentication only). A node
that accepts these frames agrees with the spec, not merely with its own encoder.
"""
from __future__ import annotations

import binascii
import os
import struct
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gridfree.protocols.keystore import KeyEntry, KeyKind, KeyState, Keystore, SaEntry, SaState
from gridfree.protocols.pus import PusTc

SCID = 0x2A
OPERATOR_SPI, TM_SPI, TENANT_SPI, SPARE_OPERATOR_SPI = 1, 2, 0x101, 3
MASTER_ID, OPERATOR_KEY_ID, TM_KEY_ID, TENANT_KEY_ID, SPARE_KEY_ID = 1, 10, 11, 101, 20


@dataclass
class KeyDir:
    path: Path
    keys: dict[int, bytes]  # key id -> octets, as the ground holds them

    @property
    def keystore(self) -> Path:
        return self.path / "keystore.bin"

    def load(self) -> Keystore:
        return Keystore.load(self.keystore)


def make_keydir(path: Path, *, spare_operator: bool = False, tm: bool = True) -> KeyDir:
    """A node key directory as `gridfree keys init` lays it out: master 1, operator TC SA 1
    (key 10, encrypted), TM SA 2 (key 11, authentication only), tenant 1's TC SA 0x101 (key 101,
    authentication only, to cover both services); optionally a second operator TC SA 3 (key 20)."""
    path.mkdir(parents=True, exist_ok=True)
    ids = [MASTER_ID, OPERATOR_KEY_ID, TM_KEY_ID, TENANT_KEY_ID] + ([SPARE_KEY_ID] if spare_operator else [])
    keys = {i: os.urandom(32) for i in ids}
    ks = Keystore()
    for key_id, key in keys.items():
        ks.keys[key_id] = KeyEntry(key_id, KeyKind.MASTER if key_id == MASTER_ID else KeyKind.SESSION,
                                   KeyState.ACTIVE, key)
    ks.sas[OPERATOR_SPI] = SaEntry(OPERATOR_SPI, "tc", OPERATOR_KEY_ID, "operator", 0, True, 64, SaState.OPERATIONAL)
    if tm:
        ks.sas[TM_SPI] = SaEntry(TM_SPI, "tm", TM_KEY_ID, "operator", 0, False, 64, SaState.OPERATIONAL)
    ks.sas[TENANT_SPI] = SaEntry(TENANT_SPI, "tc", TENANT_KEY_ID, "tenant", 1, False, 64, SaState.OPERATIONAL)
    if spare_operator:
        ks.sas[SPARE_OPERATOR_SPI] = SaEntry(SPARE_OPERATOR_SPI, "tc", SPARE_KEY_ID, "operator", 0, True, 64,
                                             SaState.OPERATIONAL)
    ks.save(path / "keystore.bin")
    return KeyDir(path, keys)


def packet(n: int = 0) -> bytes:
    """A PUS TC[8,1] packet; `n` makes each one different."""
    return PusTc(apid=100, service=8, subtype=1, app_data=struct.pack(">HI", 0x00C6, n)).pack()


def tc_frame(key: bytes, spi: int, iv: int, data: bytes, *, encrypt: bool = True, seq: int = 0) -> bytes:
    security_header = struct.pack(">H", spi) + iv.to_bytes(12, "big")
    total = 5 + len(security_header) + len(data) + 16 + 2
    header = struct.pack(">HHB", (1 << 13) | SCID, total - 1, seq)  # bypass, VC 0
    nonce = security_header[2:]
    if encrypt:
        sealed = AESGCM(key).encrypt(nonce, data, header + security_header)
    else:
        sealed = data + AESGCM(key).encrypt(nonce, b"", header + security_header + data)
    frame = header + security_header + sealed
    return frame + binascii.crc_hqx(frame, 0xFFFF).to_bytes(2, "big")


def plain_frame(data: bytes) -> bytes:
    """A TC frame without SDLS (what an insecure node takes)."""
    total = 5 + len(data) + 2
    frame = struct.pack(">HHB", (1 << 13) | SCID, total - 1, 0) + data
    return frame + binascii.crc_hqx(frame, 0xFFFF).to_bytes(2, "big")


def operator_frame(kd: KeyDir, iv: int, n: int = 0) -> bytes:
    return tc_frame(kd.keys[OPERATOR_KEY_ID], OPERATOR_SPI, iv, packet(n))


def tenant_frame(kd: KeyDir, iv: int, n: int = 0) -> bytes:
    return tc_frame(kd.keys[TENANT_KEY_ID], TENANT_SPI, iv, packet(n), encrypt=False)
