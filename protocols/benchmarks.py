"""Wire benchmarks: batch TM decoding, native against the best plain-Python decoder."""
from __future__ import annotations

import random

from gridfree.native import deframe_tm, extract_packets
from gridfree.native import reference
from gridfree.native.benchkit import Figure, best_rate
from gridfree.protocols.config import LinkConfig
from gridfree.protocols.framing import TmFrameEncoder
from gridfree.protocols.pus import CucTime, PusTm

FRAMES = 20_000


def telemetry_stream(n_frames: int = FRAMES, config: LinkConfig = LinkConfig()) -> tuple[bytes, int]:
    """`n_frames` frames of ~100-octet PUS TM packets on three VCs, spanning frame boundaries."""
    rng = random.Random(1)
    enc = TmFrameEncoder(config)
    out, packets, seq = bytearray(), 0, 0
    step = 4 + config.tm_frame_octets
    while len(out) < n_frames * step:
        app = rng.randbytes(rng.randint(60, 100))
        pkt = PusTm(apid=0x40 + seq % 5, service=3, subtype=25, app_data=app, seq_count=seq & 0x3FFF,
                    time=CucTime(seq)).pack()
        out += b"".join(enc.add_packet(seq % 3, pkt))
        packets, seq = packets + 1, seq + 1
    whole = bytes(out[: n_frames * step])
    n = len(extract_packets(whole, deframe_tm(whole, config.tm_frame_octets)))
    return whole, n


def deframe_figures():
    stream, n_packets = telemetry_stream()
    frame_octets = LinkConfig().tm_frame_octets

    def native():
        frames = deframe_tm(stream, frame_octets)
        packets = extract_packets(stream, frames)
        assert len(packets) == n_packets and packets.crc_ok.all()

    def python():
        frames = reference.deframe(stream, frame_octets)[0]
        packets = reference.Extractor(frame_octets).feed(stream, frames)
        assert len(packets) == n_packets

    ours = best_rate(native, n_packets, repeat=5)
    base = best_rate(python, n_packets, min_time_s=0.0, repeat=2)
    yield Figure("deframe_vs_python", ours / base, "x", ">= 15")
    yield Figure("deframe_packets_per_s", ours, "packets/s", ">= 1e7")


def sdls_figures():
    """Verifying and decrypting full 1024-octet TC frames, against bare AES-256-GCM decryption of
    the same octets (the cipher alone: what our checks and framing add is the difference)."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    from gridfree.protocols.sdls import MAX_DATA_OCTETS, SECURITY_HEADER_OCTETS, SecurityAssociation, protect, unprotect

    n, key = 2000, bytes(range(32))
    data = random.Random(2).randbytes(MAX_DATA_OCTETS)
    frames = [protect(SecurityAssociation(9, key), iv, 42, 0, iv % 256, data) for iv in range(1, n + 1)]

    def ours():
        table = {9: SecurityAssociation(9, key, window=1024)}  # a fresh window: every IV is new
        for frame in frames:
            unprotect(frame, table)

    cipher = AESGCM(key)
    sealed = [(f[7:7 + SECURITY_HEADER_OCTETS - 2], f[:7 + SECURITY_HEADER_OCTETS - 2], f[7 + 12:-2]) for f in frames]

    def bare():
        for nonce, aad, body in sealed:
            cipher.decrypt(nonce, body, aad)

    rate = best_rate(ours, n, repeat=5)
    yield Figure("sdls_tc_frames_per_s", rate, "frames/s", "1024-octet TC frames verified and decrypted")
    yield Figure("sdls_tc_vs_bare_gcm", rate / best_rate(bare, n, repeat=5), "x",
                 "of bare AES-GCM decryption of the same frames")


def sdls_tm_figures():
    """TM frames authenticated (SDLS, auth only, the node's default TM SA): the seal alone on
    1115-octet frames, and the whole downlink encode (packets to sealed frames) against the same
    encode without SDLS, measured in this run. IVs come from a plain counter here; the node's
    crash-safe IvCounter adds one fsync per reserved block of IVs."""
    import itertools

    from gridfree.protocols.sdls import SecurityAssociation
    from gridfree.protocols.sdls_tm import TmProtector, data_end

    key, config = bytes(range(32)), LinkConfig(sdls=True)
    protector = TmProtector(SecurityAssociation(2, key, encrypt=False), itertools.count(1).__next__)
    n, end = 1000, data_end(config)
    frame = memoryview(bytearray(random.Random(3).randbytes(config.tm_frame_octets)))

    def seal():
        for _ in range(n):
            protector.seal(frame, end)

    rate = best_rate(seal, n * config.tm_frame_octets, repeat=5)
    yield Figure("sdls_tm_MBps", rate / 1e6, "MB/s", ">= 200 (1115-octet TM frames authenticated)")

    rng = random.Random(4)
    pkts = [PusTm(apid=0x40 + i % 5, service=3, subtype=25, app_data=rng.randbytes(rng.randint(60, 100)),
                  seq_count=i, time=CucTime(i)).pack() for i in range(4000)]

    def encode(make):
        def run():
            enc = make()
            for i, p in enumerate(pkts):
                enc.add_packet(i % 3, p)
            enc.flush_all()
        return run

    sealed = encode(lambda: TmFrameEncoder(config, protector=protector))
    plain = encode(lambda: TmFrameEncoder(LinkConfig()))
    # best of each, measured in alternation, so a slow spell on a shared machine hits both sides
    rates = [(best_rate(sealed, len(pkts), repeat=2), best_rate(plain, len(pkts), repeat=2)) for _ in range(3)]
    ratio = max(r[0] for r in rates) / max(r[1] for r in rates)
    yield Figure("sdls_tm_vs_plain", ratio, "x", ">= 0.5 (downlink encode, authenticated / plain)")


BENCHMARKS = [deframe_figures, sdls_figures, sdls_tm_figures]
