"""Encoders: space packets multiplexed into fixed-length TM frames, and PUS TCs into CLTUs.

`TmFrameEncoder` keeps one partly filled data field per virtual channel. Packets are appended
back to back and span frames freely; the first header pointer of each frame says where the first
packet header inside it starts (CCSDS 132.0-B-3 §4.1.2.7.6), so a receiver that lost a frame can
pick up again at the next one. A frame leaves as soon as its data field is full; `flush` closes a
partly filled one with an idle packet, and `idle_frame` keeps the downlink's frame clock going
when there is nothing to send.

With `LinkConfig.sdls` each frame has room for the SDLS security header and MAC (protocols/sdls_tm)
and the encoder's `protector` fills them in; the radio swaps the protector when the TM SA changes.
Frames made while there is none carry SPI 0, which the ground refuses: a layout with SDLS never
sends a frame the ground would take for authenticated.
"""
from __future__ import annotations

from gridfree.native import crc16
from gridfree.protocols.config import OCF_OCTETS, LinkConfig, LinkConfigError
from gridfree.protocols.sdls_tm import DATA_AT, TmProtector
from gridfree.protocols.spacepacket import PRIMARY_HEADER_LEN, idle_packet
from gridfree.protocols.tcframe import TcFrame, encode_cltu
from gridfree.protocols.tmframe import ASM, FHP_IDLE, FHP_NO_PACKET_START, TmFrame, TmFrameHeader

IDLE_DATA_OCTET = 0x55
MIN_IDLE_PACKET_OCTETS = PRIMARY_HEADER_LEN + 1


class _VcFill:
    __slots__ = ("data", "starts", "count")

    def __init__(self):
        self.data = bytearray()
        self.starts: list[int] = []  # offsets in `data` where a packet header begins
        self.count = 0  # VC frame counter


class TmFrameEncoder:
    def __init__(self, config: LinkConfig = LinkConfig(), with_asm: bool = True,
                 protector: TmProtector | None = None):
        self.config = config
        self.with_asm = with_asm
        self.data_octets = config.tm_data_field_octets
        self.protector = protector  # used only when config.sdls; None: frames go out with SPI 0
        self.authenticated = 0  # frames sealed under an SA
        self.unprotected = 0  # frames of an SDLS layout sent with SPI 0 (no SA, or sealing failed)
        self.protect_error = ""  # why the last frame could not be sealed, if it could not
        self._mac_at = DATA_AT + self.data_octets
        self._asm = ASM if with_asm else b""
        self.mc_count = 0
        self.ocf = bytes(4)  # the CLCW, supplied by whoever runs COP-1
        self._vcs = {vc: _VcFill() for vc in range(8)}
        self.frames_out = 0
        self.idle_octets = 0

    def add_packet(self, vc: int, packet: bytes) -> list[bytes]:
        """Queue one packet on `vc`; returns the frames it completed (ASM-prefixed)."""
        if vc not in self.config.tm_virtual_channels or vc == self.config.idle_vc:
            raise LinkConfigError("vc", f"{vc} is not a configured data virtual channel "
                                        f"({sorted(set(self.config.tm_virtual_channels) - {self.config.idle_vc})})")
        fill = self._vcs[vc]
        fill.starts.append(len(fill.data))
        fill.data += packet
        frames = []
        while len(fill.data) >= self.data_octets:
            frames.append(self._emit(vc, fill))
        return frames

    def pending(self, vc: int) -> int:
        """Octets waiting on `vc` for a frame to fill."""
        return len(self._vcs[vc].data)

    def flush(self, vc: int) -> list[bytes]:
        """Send whatever waits on `vc` now, padding the frame with an idle packet."""
        fill = self._vcs[vc]
        if not fill.data:
            return []
        room = self.data_octets - len(fill.data)
        # An idle packet is at least 7 octets; if less room is left it spans into one more frame.
        pad = room if room >= MIN_IDLE_PACKET_OCTETS else room + self.data_octets
        fill.starts.append(len(fill.data))
        fill.data += idle_packet(pad)
        self.idle_octets += pad
        frames = []
        while fill.data:
            frames.append(self._emit(vc, fill))
        return frames

    def flush_all(self) -> list[bytes]:
        return [f for vc in sorted(self._vcs) for f in self.flush(vc)]

    def idle_frame(self) -> bytes:
        """A frame of idle data on the idle VC (first header pointer 0x7FE)."""
        fill = self._vcs[self.config.idle_vc]
        data = bytes([IDLE_DATA_OCTET]) * self.data_octets
        return self._frame(self.config.idle_vc, fill, FHP_IDLE, data)

    def _emit(self, vc: int, fill: _VcFill) -> bytes:
        n = self.data_octets
        first = next((s for s in fill.starts if s < n), None)
        fhp = FHP_NO_PACKET_START if first is None else first
        data = bytes(fill.data[:n])
        del fill.data[:n]
        fill.starts = [s - n for s in fill.starts if s >= n]
        return self._frame(vc, fill, fhp, data)

    def _frame(self, vc: int, fill: _VcFill, fhp: int, data: bytes) -> bytes:
        header = TmFrameHeader(self.config.spacecraft_id, vc, self.mc_count, fill.count, fhp,
                               ocf_flag=self.config.tm_ocf)
        self.mc_count = (self.mc_count + 1) & 0xFF
        fill.count = (fill.count + 1) & 0xFF
        self.frames_out += 1
        if self.config.sdls:
            return self._sealed(header.pack(), data)
        frame = TmFrame(header, data, self.ocf if self.config.tm_ocf else None).pack(fecf=self.config.tm_fecf)
        return self._asm + frame

    def _sealed(self, header: bytes, data: bytes) -> bytes:
        """The frame built in one buffer (ASM, header, room for the security header, data, MAC,
        OCF, FECF) and sealed in place, so authentication adds one GHASH pass and no copies."""
        a, end = len(self._asm), self._mac_at
        buf = bytearray(a + self.config.tm_frame_octets)
        buf[:a] = self._asm
        frame = memoryview(buf)[a:]
        frame[:len(header)] = header
        frame[DATA_AT:end] = data
        try:
            if self.protector is None:
                raise LookupError("no TM security association set")
            self.protector.seal(frame, end)
            self.authenticated += 1
        except (LookupError, ValueError, RuntimeError, OSError) as exc:  # IV store damaged or spent, disk
            frame[len(header):DATA_AT] = bytes(DATA_AT - len(header))  # SPI 0, IV 0: not authenticated
            frame[DATA_AT:end] = data  # in clear (a failed encryption may have written over it)
            frame[end:end + 16] = bytes(16)
            self.unprotected += 1
            self.protect_error = str(exc)
        at = end + 16
        if self.config.tm_ocf:
            frame[at:at + OCF_OCTETS] = self.ocf
            at += OCF_OCTETS
        if self.config.tm_fecf:
            frame[at:at + 2] = crc16(frame[:at]).to_bytes(2, "big")
        return bytes(buf)


class TcFrameEncoder:
    """One PUS TC packet per TC frame, per CLTU, with the frame sequence number counting (plain
    frames: the ground client seals SDLS ones itself with protocols/sdls)."""

    def __init__(self, config: LinkConfig = LinkConfig()):
        self.config = config
        self.seq_num = 0

    def frame(self, packet: bytes) -> bytes:
        if len(packet) > self.config.tc_max_data_octets:
            raise LinkConfigError("tc_max_frame_octets",
                                  f"a {len(packet)}-octet command does not fit ({self.config.tc_max_data_octets} max)")
        frame = TcFrame(self.config.spacecraft_id, self.config.tc_virtual_channel, self.seq_num, packet).pack()
        self.seq_num = (self.seq_num + 1) & 0xFF
        return frame

    def cltu(self, packet: bytes) -> bytes:
        return encode_cltu(self.frame(packet))
