"""SDLS on TM frames (CCSDS 355.0-B-2 over CCSDS 132.0-B-3), AES-256-GCM: the node seals, the
ground opens.

A TM frame carrying SDLS is, in order::

    | primary header (6) | SPI (2) | IV (12) | data field | MAC (16) | OCF (4, optional) | FECF (2) |

The frame stays fixed length, so the data field is what is left after the headers and trailers
(`LinkConfig.tm_data_field_octets` with `sdls = true`). One TM SA covers every virtual channel,
with one IV sequence: the frames go down in order on one physical channel, so the ground's
anti-replay window sees the IVs rise. With authentication only, the additional authenticated
data is everything from the primary header to the end of the data field (one GHASH pass, no
cipher over the data); with encryption, it is the primary header and the security header and
the data field is the ciphertext. The OCF (the CLCW) and the FECF stay outside the MAC, as the
standard has them: the CLCW must be readable by a ground station that holds no keys.

A frame sealed while no SA is set (the radio starts before the security component has handed it
one) carries SPI 0, which no SA uses: the ground counts it as failing authentication rather than
trusting it.

The ground opens frames in the order that never lets an unchecked octet steer the next step:
the fixed length and the FECF (the native deframer does these for a stream), a known SPI whose SA
is operational, the MAC, and only then the anti-replay window, so a forged frame cannot move it.
"""
from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Callable, Final

import numpy as np
from cryptography.exceptions import InvalidTag

from gridfree.native import TmFrameBatch, crc16
from gridfree.protocols.config import LinkConfig, LinkConfigError
from gridfree.protocols.sdls import (IV_OCTETS, MAC_OCTETS, MAX_IV, SPI_OCTETS, Refusal, SdlsRejected,
                                     SecurityAssociation, operational_sa)

PRIMARY_HEADER_OCTETS: Final = 6
SECURITY_HEADER_AT: Final = PRIMARY_HEADER_OCTETS
DATA_AT: Final = PRIMARY_HEADER_OCTETS + SPI_OCTETS + IV_OCTETS  # 20: the data field starts here
OCF_OCTETS: Final = 4
UNPROTECTED_SPI: Final = 0  # what a frame sealed without an SA carries; no SA has it


def data_end(config: LinkConfig) -> int:
    """Offset (from the primary header) of the octet after the data field: where the MAC starts."""
    if not config.sdls:
        raise LinkConfigError("sdls", "the link has no SDLS fields in its TM frames (sdls = false)")
    return DATA_AT + config.tm_data_field_octets


class TmProtector:
    """The node's side: fills in the security header and the MAC of each TM frame under one SA.

    `next_iv` hands out the IVs (on the node an `IvCounter`, which never gives one twice, even
    across a kill -9); the AES key schedule is the SA's, made once.
    """

    __slots__ = ("sa", "next_iv", "_spi", "_encrypt", "_encrypting")

    def __init__(self, sa: SecurityAssociation, next_iv: Callable[[], int]):
        self.sa, self.next_iv = sa, next_iv
        self._spi = struct.pack(">H", sa.spi)
        self._encrypt = sa.cipher.encrypt
        self._encrypting = sa.encrypt

    def seal(self, frame, end: int) -> None:
        """Protect `frame` in place: a writable buffer from the primary header on, with the data
        field in clear at [20:end] and 16 octets free after it for the MAC. The OCF and FECF are
        the caller's, after this returns (they are not covered)."""
        iv = self.next_iv()
        if not 1 <= iv <= MAX_IV:
            raise ValueError(f"IV {iv} out of 1..2^96-1")
        nonce = iv.to_bytes(IV_OCTETS, "big")
        mv = memoryview(frame)
        mv[SECURITY_HEADER_AT:SECURITY_HEADER_AT + SPI_OCTETS] = self._spi
        mv[SECURITY_HEADER_AT + SPI_OCTETS:DATA_AT] = nonce
        if self._encrypting:
            mv[DATA_AT:end + MAC_OCTETS] = self._encrypt(nonce, mv[DATA_AT:end], mv[:DATA_AT])
        else:  # authentication only: the MAC is the GHASH of the whole frame so far, as AAD
            mv[end:end + MAC_OCTETS] = self._encrypt(nonce, b"", mv[:end])


@dataclass
class OpenedFrames:
    """What `TmVerifier.open_batch` made of a batch: the frames that passed, stripped of their
    SDLS fields and FECF (`buffer`, `frames`, for the packet extractor), and what failed, why."""

    buffer: bytes
    frames: TmFrameBatch
    results: list[bool]  # per frame whose FECF checked, in stream order: authenticated or not
    auth_ok: int = 0
    auth_failed: int = 0
    replayed: int = 0
    last_error: str = ""


class TmVerifier:
    """The ground's side: checks TM frames under its TM SAs (keyed by SPI), each SA with its own
    anti-replay window. With no SA at all (`sas` empty) the frames are only stripped: a ground
    without the TM key still reads auth-only telemetry, and counts it as unchecked."""

    def __init__(self, sas: dict[int, SecurityAssociation] | SecurityAssociation | None, config: LinkConfig):
        if isinstance(sas, SecurityAssociation):
            sas = {sas.spi: sas}
        self.sas: dict[int, SecurityAssociation] = dict(sas or {})
        self.config = config
        self.end = data_end(config)
        self.frame_octets = config.tm_frame_octets
        self.plain_octets = PRIMARY_HEADER_OCTETS + config.tm_data_field_octets + (OCF_OCTETS if config.tm_ocf else 0)

    @property
    def checking(self) -> bool:
        return bool(self.sas)

    def open(self, frame: bytes) -> bytes:
        """One whole frame (ASM removed): its data field in clear, or `SdlsRejected`."""
        if len(frame) != self.frame_octets:
            raise SdlsRejected(Refusal.LENGTH, f"{len(frame)} octets; this link's TM frames are {self.frame_octets}")
        if self.config.tm_fecf and crc16(memoryview(frame)[:-2]) != int.from_bytes(frame[-2:], "big"):
            raise SdlsRejected(Refusal.FECF, "the TM frame's FECF does not check")
        return bytes(self.open_checked(memoryview(frame)))

    def open_checked(self, frame: memoryview):
        """A frame whose length and FECF have checked: SPI, SA state, MAC, then the window."""
        (spi,) = struct.unpack_from(">H", frame, SECURITY_HEADER_AT)
        sa = operational_sa(self.sas, spi, f"TM SPI {spi}")
        end = self.end
        nonce = frame[SECURITY_HEADER_AT + SPI_OCTETS:DATA_AT]
        try:
            if sa.encrypt:
                data = sa.cipher.decrypt(nonce, frame[DATA_AT:end + MAC_OCTETS], frame[:DATA_AT])
            else:
                sa.cipher.decrypt(nonce, frame[end:end + MAC_OCTETS], frame[:end])
                data = frame[DATA_AT:end]
        except InvalidTag:
            raise SdlsRejected(Refusal.MAC, f"TM SPI {spi}: the MAC does not check") from None
        sa.take(int.from_bytes(nonce, "big"), f"TM SPI {spi}")
        return data

    def open_batch(self, buf, frames: TmFrameBatch) -> OpenedFrames:
        """Check every frame whose FECF checked; the ones that pass (or, with no SA, all of them)
        come back as plain frames (header, data field, OCF) for the packet extractor."""
        out = bytearray()
        keep: list[int] = []
        results: list[bool] = []
        opened = OpenedFrames(b"", frames, results)
        mv = memoryview(buf)
        end, n, checking = self.end, self.frame_octets, self.checking
        ocf_at = end + MAC_OCTETS
        for i in np.flatnonzero(frames.fecf_ok).tolist():
            at = int(frames.offset[i])
            frame = mv[at:at + n]
            if checking:
                try:
                    data = self.open_checked(frame)
                except SdlsRejected as exc:
                    results.append(False)
                    opened.last_error = str(exc)
                    if exc.reason is Refusal.REPLAY:
                        opened.replayed += 1
                    else:
                        opened.auth_failed += 1
                    continue
                opened.auth_ok += 1
                results.append(True)
            else:
                data = frame[DATA_AT:end]
            out += frame[:PRIMARY_HEADER_OCTETS]
            out += data
            if self.config.tm_ocf:
                out += frame[ocf_at:ocf_at + OCF_OCTETS]
            keep.append(i)
        idx = np.asarray(keep, np.int64)
        opened.buffer = bytes(out)
        opened.frames = TmFrameBatch(
            offset=np.arange(len(keep), dtype=np.int64) * self.plain_octets, scid=frames.scid[idx],
            vcid=frames.vcid[idx], mc_count=frames.mc_count[idx], vc_count=frames.vc_count[idx],
            fhp=frames.fhp[idx], fecf_ok=np.ones(len(keep), np.bool_), consumed=len(out), resyncs=0,
            bytes_skipped=0, locked=True, frame_len=self.plain_octets)
        return opened
