"""Sans-IO stream decoders: bytes in, frames and packets out, with statistics.

Nothing here does I/O, and nothing raises on bad bytes: whatever arrives is decoded, skipped or
counted. Two rules keep a corrupted link from stalling or starving the receiver:

* TM frames are fixed length and found by their ASM, so no length field is ever read before the
  FECF over the frame has checked (the native core does the searching and checking).
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


@dataclass
class TmBatch:
    """What one `feed` produced: the frames found, and the packets completed in them."""

    buffer: bytes
    frames: TmFrameBatch
    packets: PacketBatch

    def good_packets(self) -> list[bytes]:
        ok = np.flatnonzero(self.packets.crc_ok)
        return [self.packets.packet(int(i)) for i in ok]


class TmDecoder:
    """ASM-synchronised TM frames to space packets, backed by the native batch decoder."""

    def __init__(self, config: LinkConfig = LinkConfig()):
        if config.sdls:
            raise LinkConfigError("sdls", "SDLS-protected TM frames are not implemented yet; set sdls = false")
        self.config = config
        self.stats = TmStats()
        self._tail = b""
        self._locked = False
        self._last_mc: int | None = None
        self._extractor = PacketExtractor(config.tm_frame_octets, has_ocf=config.tm_ocf, has_fecf=config.tm_fecf)

    def feed_batch(self, data: bytes) -> TmBatch:
        self.stats.bytes_in += len(data)
        buf = self._tail + bytes(data) if self._tail else bytes(data)
        frames = deframe_tm(buf, self.config.tm_frame_octets, has_fecf=self.config.tm_fecf, locked=self._locked)
        self._tail, self._locked = buf[frames.consumed:], frames.locked
        packets = self._extractor.extract(buf, frames)
        st = self.stats
        good = int(np.count_nonzero(frames.fecf_ok))
        st.frames_ok += good
        st.frames_bad += len(frames) - good
        st.resyncs += frames.resyncs
        st.bytes_skipped += frames.bytes_skipped
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
        self.stats.bytes_in += len(data)
        self._buf += data
        frames: list[TcFrame] = []
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

    def _frame_in(self, data: bytes) -> TcFrame | None:
        if len(data) < TC_HEADER_OCTETS + 2:
            self.stats.frames_bad += 1
            self.last_error = f"CLTU carried {len(data)} octets, too few for a TC frame"
            return None
        declared = (int.from_bytes(data[2:4], "big") & 0x3FF) + 1
        try:
            # The length may be corrupt: TcFrame.unpack believes it only if the FECF over exactly
            # that many octets checks; the remainder must be fill.
            frame = TcFrame.unpack(data[:declared])
        except ProtocolError as exc:
            self.stats.frames_bad += 1
            self.last_error = str(exc)
            return None
        self.stats.frames_ok += 1
        return frame
