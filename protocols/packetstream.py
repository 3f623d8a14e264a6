"""Bare space packets on a link, for tools that speak packets rather than frames: back to back
on a byte stream (TCP, serial), or one per datagram (UDP).

A byte stream of packets has no sync marker, so the decoder hunts: it reads a 6-octet primary
header, rejects headers that cannot be right (version not 0, a length above the configured
maximum, an APID outside the allowed set), waits for the declared length, and checks the packet
error control CRC. Any failure costs one octet: it skips it and looks again. The length field is
never used to allocate anything, and a corrupted length can delay decoding by at most
`max_packet_octets` further octets of input before its CRC fails and the hunt moves on; a good
packet that follows garbage is never lost.
"""
from __future__ import annotations

from binascii import crc_hqx
from dataclasses import dataclass

from gridfree.protocols.spacepacket import MAX_PACKET_LEN, PRIMARY_HEADER_LEN

DEFAULT_MAX_PACKET_OCTETS = 4096


@dataclass
class PacketStreamStats:
    bytes_in: int = 0
    packets_ok: int = 0
    crc_errors: int = 0
    rejected_headers: int = 0
    bytes_skipped: int = 0
    resyncs: int = 0


def _crc_ok(packet) -> bool:
    # CRC-16/CCITT-FALSE over the whole packet including its PEC is 0 when the PEC is right.
    return crc_hqx(packet, 0xFFFF) == 0


class PacketStreamDecoder:
    def __init__(self, max_packet_octets: int = DEFAULT_MAX_PACKET_OCTETS, apids: set[int] | None = None):
        if not PRIMARY_HEADER_LEN + 3 <= max_packet_octets <= MAX_PACKET_LEN:
            raise ValueError(f"max_packet_octets must be 9..{MAX_PACKET_LEN}, got {max_packet_octets}")
        self.max_packet_octets = max_packet_octets
        self.apids = apids
        self.stats = PacketStreamStats()
        self._buf = bytearray()
        self._hunting = False

    def _plausible(self, pos: int) -> int:
        """Declared length of the header at `pos`, or 0 if the header cannot be right."""
        b = self._buf
        if b[pos] >> 5:
            return 0
        apid = ((b[pos] & 0x07) << 8) | b[pos + 1]
        length = PRIMARY_HEADER_LEN + ((b[pos + 4] << 8) | b[pos + 5]) + 1
        if length > self.max_packet_octets or length < PRIMARY_HEADER_LEN + 3:
            return 0
        if self.apids is not None and apid not in self.apids:
            return 0
        return length

    def feed(self, data: bytes) -> list[bytes]:
        """Complete packets whose CRC checks, in order; never raises on bad input."""
        self.stats.bytes_in += len(data)
        self._buf += data
        out, pos, buf = [], 0, self._buf
        while len(buf) - pos >= PRIMARY_HEADER_LEN:
            length = self._plausible(pos)
            if length == 0:
                self.stats.rejected_headers += 1
                pos = self._skip(pos)
                continue
            if len(buf) - pos < length:
                break
            packet = bytes(buf[pos:pos + length])
            if not _crc_ok(packet):
                self.stats.crc_errors += 1
                pos = self._skip(pos)
                continue
            if self._hunting:
                self.stats.resyncs += 1
                self._hunting = False
            out.append(packet)
            self.stats.packets_ok += 1
            pos += length
        del buf[:pos]
        return out

    def _skip(self, pos: int) -> int:
        self.stats.bytes_skipped += 1
        self._hunting = True
        return pos + 1


def packet_from_datagram(datagram: bytes, max_packet_octets: int = MAX_PACKET_LEN) -> bytes | None:
    """The packet a UDP datagram carries, or None: its length must match exactly and its CRC check."""
    if not PRIMARY_HEADER_LEN + 3 <= len(datagram) <= max_packet_octets or datagram[0] >> 5:
        return None
    if PRIMARY_HEADER_LEN + ((datagram[4] << 8) | datagram[5]) + 1 != len(datagram):
        return None
    return bytes(datagram) if _crc_ok(datagram) else None
