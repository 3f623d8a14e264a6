"""Plain-Python references for the native core: the tests' oracle and the benchmarks' baseline.

Each function follows the rules documented in the C source (see src/deframe.c for the sync and
reassembly rules) one step at a time, so a disagreement points at the C, not at a shortcut here.
The frame and packet decoders take their CRCs from `binascii.crc_hqx` (CPython's own C code,
independent of ours) and use no deliberate slowness, so `gridfree bench` can honestly call them
the best plain-Python decoder; `crc16` itself is bit by bit, straight from the polynomial.
"""
from __future__ import annotations

from binascii import crc_hqx

ASM = bytes.fromhex("1ACFFC1D")
POLY = 0x1021


def crc16(data: bytes, crc: int = 0xFFFF) -> int:
    """Bit by bit, straight from the polynomial: no tables to get wrong."""
    for octet in data:
        crc ^= octet << 8
        for _ in range(8):
            crc = ((crc << 1) ^ POLY) & 0xFFFF if crc & 0x8000 else (crc << 1) & 0xFFFF
    return crc


CRC32C_POLY = 0x82F63B78  # Castagnoli 0x1EDC6F41, bit-reflected


def crc32c(data: bytes, crc: int = 0) -> int:
    """CRC-32C bit by bit, chained like zlib.crc32 (pass a previous result to continue)."""
    crc ^= 0xFFFFFFFF
    for octet in data:
        crc ^= octet
        for _ in range(8):
            crc = (crc >> 1) ^ CRC32C_POLY if crc & 1 else crc >> 1
    return crc ^ 0xFFFFFFFF


def deframe(buf: bytes, frame_len: int, has_fecf: bool = True, locked: bool = False):
    """Returns (frames, consumed, resyncs, bytes_skipped, locked); frames are dicts of fields."""
    frames, pos, resyncs, skipped = [], 0, 0, 0
    while pos + 4 <= len(buf):
        expected = locked and buf[pos:pos + 4] == ASM
        at = pos if expected else buf.find(ASM, pos)
        if at < 0:
            keep = min(3, len(buf) - pos)
            skipped += len(buf) - keep - pos
            pos, locked = len(buf) - keep, False
            break
        if at + 4 + frame_len > len(buf):
            skipped += at - pos
            pos = at
            break
        f = buf[at + 4: at + 4 + frame_len]
        ok = not has_fecf or crc_hqx(f[:-2], 0xFFFF) == int.from_bytes(f[-2:], "big")
        if not expected and not ok:
            skipped += at + 1 - pos
            pos, locked = at + 1, False
            continue
        if not expected and at > pos:
            resyncs += 1
            skipped += at - pos
        w = int.from_bytes(f[0:2], "big")
        frames.append(dict(offset=at + 4, scid=(w >> 4) & 0x3FF, vcid=(w >> 1) & 7, mc_count=f[2],
                           vc_count=f[3], fhp=int.from_bytes(f[4:6], "big") & 0x7FF, fecf_ok=ok))
        pos, locked = at + 4 + frame_len, True
    return frames, pos, resyncs, skipped, locked


class Extractor:
    """Per-VC reassembly, the rules of gf_extract_packets in src/deframe.c."""

    def __init__(self, frame_len, has_ocf=False, has_fecf=True, has_pec=True):
        self.dlen = frame_len - 6 - (4 if has_ocf else 0) - (2 if has_fecf else 0)
        self.has_pec = has_pec
        self.min_len = 8 if has_pec else 7
        self.vc = {v: dict(buf=b"", need=0, active=False, expect=None) for v in range(8)}
        self.packets, self.dropped, self.idle, self.malformed = [], 0, 0, 0

    def _emit(self, pkt, vc, index, spans):
        apid = int.from_bytes(pkt[0:2], "big") & 0x7FF
        if apid == 0x7FF:
            self.idle += 1
            return
        ok = not self.has_pec or crc_hqx(pkt[:-2], 0xFFFF) == int.from_bytes(pkt[-2:], "big")
        self.packets.append(dict(apid=apid, seq_count=int.from_bytes(pkt[2:4], "big") & 0x3FFF, vcid=vc,
                                 frame_index=index, length=len(pkt), crc_ok=ok, spans=spans, data=bytes(pkt)))

    def _reset(self, v):
        v.update(buf=b"", need=0, active=False)

    def feed(self, buf, frames):
        for i, fr in enumerate(frames):
            if not fr["fecf_ok"]:
                continue
            d = buf[fr["offset"] + 6: fr["offset"] + 6 + self.dlen]
            vcid, fhp = fr["vcid"], fr["fhp"]
            v = self.vc[vcid]
            if v["expect"] is not None and fr["vc_count"] != v["expect"] and v["active"]:
                self.dropped += 1
                self._reset(v)
            v["expect"] = (fr["vc_count"] + 1) & 0xFF
            if fhp == 0x7FE:
                continue
            limit = self.dlen if fhp == 0x7FF else fhp
            if limit > self.dlen:
                self.malformed += 1
                if v["active"]:
                    self.dropped += 1
                    self._reset(v)
                continue
            pos = 0
            if v["active"]:
                if v["need"] == 0:
                    t = min(limit, 6 - len(v["buf"]))
                    v["buf"] += d[:t]
                    pos = t
                    if len(v["buf"]) == 6:
                        v["need"] = 7 + int.from_bytes(v["buf"][4:6], "big")
                        if v["need"] < self.min_len or v["buf"][0] >> 5:
                            self.malformed += 1
                            self._reset(v)
                if v["active"] and v["need"]:
                    t = min(limit - pos, v["need"] - len(v["buf"]))
                    v["buf"] += d[pos:pos + t]
                    pos += t
                    if len(v["buf"]) == v["need"]:
                        self._emit(v["buf"], vcid, i, True)
                        self._reset(v)
                if fhp == 0x7FF:
                    continue
                if v["active"] or pos != fhp:
                    if v["active"]:
                        self.dropped += 1
                        self._reset(v)
                    else:
                        self.malformed += 1
                pos = fhp
            else:
                if fhp == 0x7FF:
                    continue
                pos = fhp
            while pos < self.dlen:
                room = self.dlen - pos
                if room < 6:
                    v.update(buf=bytes(d[pos:]), need=0, active=True)
                    break
                plen = 7 + int.from_bytes(d[pos + 4: pos + 6], "big")
                if d[pos] >> 5 or plen < self.min_len:
                    self.malformed += 1
                    break
                if plen <= room:
                    self._emit(d[pos:pos + plen], vcid, i, False)
                    pos += plen
                else:
                    v.update(buf=bytes(d[pos:]), need=plen, active=True)
                    break
        return self.packets


def bch_parity(info: bytes) -> int:
    """7-bit remainder of info(x) * x^7 mod g(x), g = x^7 + x^6 + x^2 + 1 (CCSDS 231.0-B-4)."""
    reg = 0
    for octet in info:
        for b in range(7, -1, -1):
            fb = ((reg >> 6) ^ (octet >> b)) & 1
            reg = (reg << 1) & 0x7F
            if fb:
                reg ^= 0x45
    return reg


def bch_encode(data: bytes) -> bytes:
    out = b""
    for i in range(0, len(data), 7):
        info = data[i:i + 7]
        out += info + bytes([((~bch_parity(info)) & 0x7F) << 1])
    return out


def bch_decode(blocks: bytes):
    """Returns (data, corrected, blocks_ok); tries every single-bit flip, the slow honest way."""
    data, corrected = b"", 0
    for b in range(len(blocks) // 8):
        blk = blocks[8 * b: 8 * b + 8]
        info, parity = blk[:7], (~blk[7] >> 1) & 0x7F
        if bch_parity(info) != parity:
            fixed = None
            for pos in range(63):
                i2, p2 = bytearray(info), parity
                if pos < 56:
                    i2[pos // 8] ^= 0x80 >> (pos % 8)
                else:
                    p2 ^= 0x40 >> (pos - 56)
                if bch_parity(bytes(i2)) == p2:
                    fixed = bytes(i2)
                    break
            if fixed is None:
                return data, corrected, b
            info, corrected = fixed, corrected + 1
        data += info
    return data, corrected, len(blocks) // 8


def gather_rows(src, offsets, width):
    """numpy fancy indexing: the oracle for gf_gather_rows."""
    import numpy as np

    src = np.frombuffer(src, np.uint8) if not isinstance(src, np.ndarray) else src
    offsets = np.asarray(offsets, np.int64)
    if len(offsets) and (offsets.min() < 0 or offsets.max() + width > len(src)):
        raise ValueError("a row leaves the buffer")
    return src[offsets[:, None] + np.arange(width, dtype=np.int64)].reshape(len(offsets), width)


# ---- SECDED Hamming(72,64), the textbook extended Hamming code (src/edac.c) ----------------
# Codeword positions 1..71: check bits at the powers of two, data bits 0..63 at the others in
# increasing order; position 0: overall parity. Check byte: bit i = the check bit at position
# 2**i (i < 7), bit 7 = the overall parity bit.

EDAC_DATA_POSITIONS = [p for p in range(3, 72) if p & (p - 1)]
assert len(EDAC_DATA_POSITIONS) == 64


def _edac_codeword(word: int, check: int) -> list[int]:
    """The 72 received bits, indexed by codeword position."""
    bits = [0] * 72
    bits[0] = check >> 7 & 1
    for i in range(7):
        bits[1 << i] = check >> i & 1
    for j, p in enumerate(EDAC_DATA_POSITIONS):
        bits[p] = word >> j & 1
    return bits


def edac_encode(word: int) -> int:
    """Check byte of one 64-bit word, bit by bit from the definition."""
    bits = _edac_codeword(word, 0)
    for i in range(7):  # each check bit makes the parity over the positions with bit i set even
        bits[1 << i] = sum(bits[p] for p in range(1, 72) if p >> i & 1) & 1
    bits[0] = sum(bits[1:]) & 1  # the overall bit makes all 72 even
    return sum(bits[1 << i] << i for i in range(7)) | bits[0] << 7


def edac_decode(word: int, check: int) -> tuple[int, int, str]:
    """(word, check, status) after decoding one received word; status is 'ok', 'corrected' or
    'uncorrectable' (then word and check are returned as received)."""
    bits = _edac_codeword(word, check)
    syndrome = 0
    for p in range(1, 72):
        if bits[p]:
            syndrome ^= p
    parity = sum(bits) & 1
    if not syndrome and not parity:
        return word, check, "ok"
    if not parity or syndrome >= 72:  # two errors, or more than a single error can explain
        return word, check, "uncorrectable"
    bits[syndrome] ^= 1  # syndrome 0 with odd parity: the overall bit itself
    fixed_word = sum(bits[p] << j for j, p in enumerate(EDAC_DATA_POSITIONS))
    fixed_check = sum(bits[1 << i] << i for i in range(7)) | bits[0] << 7
    return fixed_word, fixed_check, "corrected"


def block_sums(rows, w: int) -> tuple[list[list[float]], list[list[float]]]:
    """Each row's sums over its blocks of w values, and of their squares, correctly rounded
    (math.fsum over the exact squares' float64 values): what src/blocksums.c approximates."""
    import math

    sums, squares = [], []
    for row in rows:
        row = [float(v) for v in row]
        blocks = [row[j:j + w] for j in range(0, len(row), w)]
        sums.append([math.fsum(b) for b in blocks])
        squares.append([math.fsum(v * v for v in b) for b in blocks])
    return sums, squares
