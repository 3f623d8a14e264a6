"""Sans-IO stream decoders: bytes in, frames and packets out, with statistics.

Nothing here does I/O, and nothing raises on bad bytes: whatever arrives is decoded, skipped or
counted. Two rules keep a corrupted link from stalling or starving the receiver:

* TM frames are fixed length and found by their ASM, so no length field is ever read before the
  FECF over the frame has checked (the native core does the searching and checking).
* With SDLS on the TM link (`LinkConfig.sdls`) each frame whose FECF checked is authenticated
  (protocols/sdls_tm) before a packet is taken out of it; a frame that fails is dropped whole and
  counted by reason, so an injected frame never reaches the packet layer, and the frame count
  gap it leaves makes the reassembly drop any packet it would have completed.
* A CLTU is read block by block; its TC frame's length field is believed only once the FECF over
  exactly that many octets checks, and a CLTU without a tail is abandoned after the most blocks a
  legal frame can need. A corrupted length costs that one frame.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gridfree.native import PacketBatch, PacketExtractor, TmFrameBatch, bch_decode, deframe_tm
from gridfree.protocols.config import LinkConfig, LinkConfigError
from gridfree.protocols.errors import ProtocolError
from gridfree.protocols.sdls_tm import TmVerifier
from gridfree.protocols.tcframe import (
    BCH_INFO_OCTETS, CLTU_START, MAX_FRAME_OCTETS, PRIMARY_HEADER_OCTETS as TC_HEADER_OCTETS, TcFrame,
)

_BLOCK_OCTETS = 8
MAX_CLTU_BLOCKS = -(-MAX_FRAME_OCTETS // BCH_INFO_OCTETS)  # a legal frame never needs more


@dataclass
class TmStats:
    """Receiver statistics; `frames_lost` counts gaps in the master channel frame count, so a
    frame that arrived with a bad FECF is counted both as bad and as lost."""

    bytes_in: int = 0
    frames_ok: int = 0
    frames_bad: int = 0
    frames_lost: int = 0
    resyncs: int = 0
    bytes_skipped: int = 0
    packets_ok: int = 0
    packets_bad_crc: int = 0
    packets_dropped: int = 0
    idle_packets: int = 0
    malformed: int = 0
    auth_ok: int = 0  # SDLS TM frames whose MAC checked (and were new)
    auth_failed: int = 0  # SDLS TM frames refused: unknown SPI (0: sent unprotected), SA stopped, MAC
    replayed: int = 0  # SDLS TM frames whose MAC checked but whose IV was seen before
    auth_unchecked: int = 0  # SDLS TM frames read without checking (this ground holds no TM SA)


@dataclass
class TmBatch:
    """What one `feed` produced: the frames found, and the packets completed in them."""

    buffer: bytes
    frames: TmFrameBatch
    packets: PacketBatch

    def good_packets(self) -> list[bytes]:
        ok = np.flatnonzero(self.packets.crc_ok)
        return [self.packets.packet(int(i)) for i in ok]


#: How many of the latest SDLS TM frames `TmDecoder.recent_auth` remembers.
RECENT_AUTH_FRAMES = 32


class TmDecoder:
    """ASM-synchronised TM frames to space packets, backed by the native batch decoder.

    With `config.sdls`, `verifier` (a `TmVerifier`, settable later: the ground loads its keys
    after it builds its decoder) checks each frame first; without one, the frames are only
    stripped of their SDLS fields and counted as unchecked."""

    def __init__(self, config: LinkConfig = LinkConfig(), verifier: TmVerifier | None = None):
        if verifier is not None and not config.sdls:
            raise LinkConfigError("sdls", "a TM SA is set but the link's TM frames carry no SDLS (sdls = false)")
        self.config = config
        self.verifier = verifier if verifier is not None or not config.sdls else TmVerifier(None, config)
        self.stats = TmStats()
        #: the latest checked frames, authenticated or not (replaced whole: readers on other threads)
        self.recent_auth: tuple[bool, ...] = ()
        self.last_auth_error = ""
        self._tail = b""
        self._locked = False
        self._last_mc: int | None = None
        if config.sdls:  # the extractor sees frames stripped of the SDLS fields and the FECF
            plain = self.verifier.plain_octets
            self._extractor = PacketExtractor(plain, has_ocf=config.tm_ocf, has_fecf=False)
        else:
            self._extractor = PacketExtractor(config.tm_frame_octets, has_ocf=config.tm_ocf, has_fecf=config.tm_fecf)

    def feed_batch(self, data: bytes) -> TmBatch:
        self.stats.bytes_in += len(data)
        buf = self._tail + bytes(data) if self._tail else bytes(data)
        frames = deframe_tm(buf, self.config.tm_frame_octets, has_fecf=self.config.tm_fecf, locked=self._locked)
        self._tail, self._locked = buf[frames.consumed:], frames.locked
        st = self.stats
        good = int(np.count_nonzero(frames.fecf_ok))
        st.frames_ok += good
        st.frames_bad += len(frames) - good
        st.resyncs += frames.resyncs
        st.bytes_skipped += frames.bytes_skipped
        if self.config.sdls:
            packets, mc = self._authenticated(buf, frames)
        else:
            packets = self._extractor.extract(buf, frames)
            mc = frames.mc_count[frames.fecf_ok].astype(np.int64)
        if len(mc):
            if self._last_mc is not None:
                mc = np.concatenate(([self._last_mc], mc))
            st.frames_lost += int(((np.diff(mc) - 1) % 256).sum())
            self._last_mc = int(mc[-1])
        ok = int(np.count_nonzero(packets.crc_ok))
        st.packets_ok += ok
        st.packets_bad_crc += len(packets) - ok
        st.packets_dropped += packets.packets_dropped
        st.idle_packets += packets.idle_packets
        st.malformed += packets.malformed
        return TmBatch(buf, frames, packets)

    def set_security(self, sas) -> None:
        """Check the TM frames under these SAs (a dict by SPI, one SA, or None for none) from now on."""
        if not self.config.sdls:
            raise LinkConfigError("sdls", "a TM SA is set but the link's TM frames carry no SDLS (sdls = false)")
        self.verifier = TmVerifier(sas, self.config)

    def _authenticated(self, buf: bytes, frames: TmFrameBatch):
        """Packets from the frames that authenticated (or all, unchecked), and their MC counts:
        an injected frame's count must not hide or fake a loss."""
        v = self.verifier
        opened = v.open_batch(buf, frames)
        st = self.stats
        if v.checking:
            st.auth_ok += opened.auth_ok
            st.auth_failed += opened.auth_failed
            st.replayed += opened.replayed
            if opened.results:
                self.recent_auth = (self.recent_auth + tuple(opened.results))[-RECENT_AUTH_FRAMES:]
            self.last_auth_error = opened.last_error or self.last_auth_error
        else:
            st.auth_unchecked += len(opened.frames)
        return self._extractor.extract(opened.buffer, opened.frames), opened.frames.mc_count.astype(np.int64)

    def feed(self, data: bytes) -> list[bytes]:
        """Good packets (PEC checked) completed by these bytes, in stream order per VC."""
        return self.feed_batch(data).good_packets()


@dataclass
class TcStats:
    bytes_in: int = 0
    cltus: int = 0
    frames_ok: int = 0
    frames_bad: int = 0  # FECF failed, or length/version disagreed
    bits_corrected: int = 0
    cltus_abandoned: int = 0  # no tail within the longest legal CLTU
    bytes_skipped: int = 0


class CltuDecoder:
    """CLTUs to TC frames: start sequence search, BCH(63,56) blocks until the tail."""

    def __init__(self):
        self.stats = TcStats()
        self._buf = bytearray()
        self._in_cltu = False
        self._data = bytearray()
        self._blocks = 0
        self.last_error: str = ""

    def feed(self, data: bytes) -> list[TcFrame]:
        return [frame for frame, _raw in self.feed_raw(data)]

    def feed_raw(self, data: bytes) -> list[tuple[TcFrame, bytes]]:
        """Each frame with its octets as received (what an SDLS MAC covers), FECF checked."""
        self.stats.bytes_in += len(data)
        self._buf += data
        frames: list[tuple[TcFrame, bytes]] = []
        while True:
            if not self._in_cltu:
                at = self._buf.find(CLTU_START)
                if at < 0:
                    keep = 1 if self._buf[-1:] == CLTU_START[:1] else 0
                    self.stats.bytes_skipped += len(self._buf) - keep
                    del self._buf[: len(self._buf) - keep]
                    return frames
                self.stats.bytes_skipped += at
                del self._buf[: at + len(CLTU_START)]
                self._in_cltu, self._data, self._blocks = True, bytearray(), 0
            n = len(self._buf) // _BLOCK_OCTETS
            if n == 0:
                return frames
            result = bch_decode(bytes(self._buf[: n * _BLOCK_OCTETS]))
            self._data += result.data
            self._blocks += result.blocks_ok
            self.stats.bits_corrected += result.corrected
            if result.error_block < 0:
                del self._buf[: n * _BLOCK_OCTETS]
                if self._blocks > MAX_CLTU_BLOCKS:
                    self.stats.cltus_abandoned += 1
                    self._in_cltu = False
                continue
            # The first uncorrectable block ends the CLTU (normally it is the tail sequence).
            del self._buf[: (result.error_block + 1) * _BLOCK_OCTETS]
            self._in_cltu = False
            self.stats.cltus += 1
            frame = self._frame_in(bytes(self._data))
            if frame is not None:
                frames.append(frame)

    def _frame_in(self, data: bytes) -> tuple[TcFrame, bytes] | None:
        if len(data) < TC_HEADER_OCTETS + 2:
            self.stats.frames_bad += 1
            self.last_error = f"CLTU carried {len(data)} octets, too few for a TC frame"
            return None
        declared = (int.from_bytes(data[2:4], "big") & 0x3FF) + 1
        try:
            # The length may be corrupt: TcFrame.unpack believes it only if the FECF over exactly
            # that many octets checks; the remainder must be fill.
            raw = data[:declared]
            frame = TcFrame.unpack(raw)
        except ProtocolError as exc:
            self.stats.frames_bad += 1
            self.last_error = str(exc)
            return None
        self.stats.frames_ok += 1
        return frame, raw
