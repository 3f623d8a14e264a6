"""SDLS on TC frames (CCSDS 355.0-B-2), AES-256-GCM: the frame codec both ends share.

A protected TC frame is the TC primary header, the security header (SPI, 16 bits; IV, 96 bits),
the frame data (encrypted, or in clear for authentication only), the security trailer (a 128-bit
MAC) and the FECF. The IV doubles as the anti-replay sequence number (no separate sequence number
field, as YAMCS does by default): the sender counts it up from 1 and never reuses a value under
one key. The additional authenticated data is the primary header and the security header, plus
the frame data itself when it is sent in clear, so nothing in the frame but the FECF can change
without the MAC failing.

On receipt the checks go in the order that never lets an unchecked octet steer the next step:
the lengths against what arrived and what a frame can hold, the FECF, a known SPI whose SA is
operational, the MAC, and only then the anti-replay window (a forged frame must not move it);
then the data is returned. Every refusal is an `SdlsRejected` with its `Refusal` reason, for the
receiver to count. Keys, their life cycle and where the IV counter is kept belong to the node's
and ground's keystores; this module only applies an SA to a frame.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import Enum
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gridfree.protocols.errors import ProtocolError
from gridfree.protocols.tcframe import FECF_OCTETS, MAX_FRAME_OCTETS, PRIMARY_HEADER_OCTETS, TcFrame

SPI_OCTETS: Final = 2
IV_OCTETS: Final = 12
MAC_OCTETS: Final = 16
SECURITY_HEADER_OCTETS: Final = SPI_OCTETS + IV_OCTETS
KEY_OCTETS: Final = 32  # AES-256
OVERHEAD_OCTETS: Final = PRIMARY_HEADER_OCTETS + SECURITY_HEADER_OCTETS + MAC_OCTETS + FECF_OCTETS
MAX_DATA_OCTETS: Final = MAX_FRAME_OCTETS - OVERHEAD_OCTETS
MAX_IV: Final = (1 << 8 * IV_OCTETS) - 1


class Refusal(Enum):
    """Why a protected frame was refused, one counter each at the receiver."""

    LENGTH = "length"  # shorter than the SDLS overhead, or longer than a TC frame may be
    FECF = "fecf"
    UNKNOWN_SPI = "unknown SPI"
    SA_NOT_OPERATIONAL = "SA not operational"
    MAC = "MAC"
    REPLAY = "replay"  # an IV already accepted, or behind the window


class SdlsRejected(ProtocolError):
    def __init__(self, reason: Refusal, detail: str):
        super().__init__(f"SDLS: {reason.value}: {detail}")
        self.reason = reason


@dataclass
class SecurityAssociation:
    """One SA: its SPI, key, service (encrypt or authenticate only) and, on the receiving side,
    the anti-replay state: the highest IV accepted and which of the `window` IVs below it were."""

    spi: int
    key: bytes = field(repr=False)
    encrypt: bool = True
    window: int = 64
    operational: bool = True
    highest_iv: int = 0  # 0: none yet (the first IV a sender uses is 1)
    _seen: int = 0  # bit k: highest_iv - k was accepted
    cipher: AESGCM = field(init=False, repr=False, compare=False)  # the key schedule, made once

    def __post_init__(self):
        if not 0 <= self.spi <= 0xFFFF:
            raise ValueError(f"SPI {self.spi} is not 16 bits")
        if len(self.key) != KEY_OCTETS:
            raise ValueError(f"an AES-256 key is {KEY_OCTETS} octets, got {len(self.key)}")
        if not 1 <= self.window <= 1024:
            raise ValueError(f"anti-replay window {self.window} out of 1..1024")
        self.cipher = AESGCM(self.key)

    def fresh(self, iv: int) -> bool:
        """Whether `iv` is ahead of the highest accepted, or inside the window and not yet seen."""
        if iv > self.highest_iv:
            return True
        behind = self.highest_iv - iv
        return behind < self.window and not (self._seen >> behind) & 1

    def take(self, iv: int, what: str) -> None:
        """Accept `iv` for a frame whose MAC has checked, or SdlsRejected(REPLAY) if it is 0, seen
        before or behind the window; `what` names the SA in the reason ("SPI 1", "TM SPI 2")."""
        if iv == 0 or not self.fresh(iv):
            raise SdlsRejected(Refusal.REPLAY, f"{what}: IV {iv} already seen or behind the window "
                                               f"(highest {self.highest_iv}, window {self.window})")
        self.accept(iv)

    def accept(self, iv: int) -> None:
        """Record `iv` as used (after its MAC has checked)."""
        if iv > self.highest_iv:
            shift = iv - self.highest_iv
            self._seen = ((self._seen << shift) | 1) & ((1 << self.window) - 1) if shift < self.window else 1
            self.highest_iv = iv
        else:
            self._seen |= 1 << (self.highest_iv - iv)


def operational_sa(sas: dict[int, SecurityAssociation], spi: int, what: str) -> SecurityAssociation:
    """The SA a frame's SPI names, or SdlsRejected: unknown SPI, or an SA that is stopped."""
    sa = sas.get(spi)
    if sa is None:
        raise SdlsRejected(Refusal.UNKNOWN_SPI, what)
    if not sa.operational:
        raise SdlsRejected(Refusal.SA_NOT_OPERATIONAL, what)
    return sa


def _aad(header: bytes, security_header: bytes, clear: bytes) -> bytes:
    return header + security_header + clear


def protect(sa: SecurityAssociation, iv: int, scid: int, vcid: int, seq_num: int, data: bytes) -> bytes:
    """The TC frame carrying `data` under `sa` with IV `iv` (the caller's counter, never reused)."""
    if not 1 <= iv <= MAX_IV:
        raise ValueError(f"IV {iv} out of 1..2^96-1")
    if len(data) > MAX_DATA_OCTETS:
        raise ValueError(f"{len(data)} octets of frame data; SDLS leaves room for {MAX_DATA_OCTETS}")
    security_header = struct.pack(">H", sa.spi) + iv.to_bytes(IV_OCTETS, "big")
    body_octets = SECURITY_HEADER_OCTETS + len(data) + MAC_OCTETS
    header = TcFrame(scid, vcid, seq_num, bytes(body_octets)).pack()[:PRIMARY_HEADER_OCTETS]
    nonce = security_header[SPI_OCTETS:]
    if sa.encrypt:
        sealed = sa.cipher.encrypt(nonce, data, _aad(header, security_header, b""))
    else:
        sealed = data + sa.cipher.encrypt(nonce, b"", _aad(header, security_header, data))
    return TcFrame(scid, vcid, seq_num, security_header + sealed).pack()


def unprotect(frame: bytes, sas: dict[int, SecurityAssociation]) -> tuple[TcFrame, bytes]:
    """The frame and its data, or SdlsRejected; the SA's window moves only for a frame whose
    MAC checked."""
    if not OVERHEAD_OCTETS <= len(frame) <= MAX_FRAME_OCTETS:
        raise SdlsRejected(Refusal.LENGTH, f"{len(frame)} octets; a protected TC frame is "
                                           f"{OVERHEAD_OCTETS}..{MAX_FRAME_OCTETS}")
    try:
        tc = TcFrame.unpack(frame)
    except ProtocolError as exc:
        raise SdlsRejected(Refusal.FECF, str(exc)) from None
    if len(tc.data) < SECURITY_HEADER_OCTETS + MAC_OCTETS:  # the FECF checked, the length field lied
        raise SdlsRejected(Refusal.LENGTH, f"frame data of {len(tc.data)} octets cannot hold the SDLS fields")
    security_header, body = tc.data[:SECURITY_HEADER_OCTETS], tc.data[SECURITY_HEADER_OCTETS:]
    (spi,) = struct.unpack_from(">H", security_header)
    sa = operational_sa(sas, spi, f"SPI {spi}")
    nonce = security_header[SPI_OCTETS:]
    header = frame[:PRIMARY_HEADER_OCTETS]
    try:
        if sa.encrypt:
            data = sa.cipher.decrypt(nonce, body, _aad(header, security_header, b""))
        else:
            data, tag = body[:-MAC_OCTETS], body[-MAC_OCTETS:]
            sa.cipher.decrypt(nonce, tag, _aad(header, security_header, data))
    except InvalidTag:
        raise SdlsRejected(Refusal.MAC, f"SPI {spi}: the MAC does not check") from None
    sa.take(int.from_bytes(nonce, "big"), f"SPI {spi}")
    return tc, bytes(data)
