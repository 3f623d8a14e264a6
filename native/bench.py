"""Native-core benchmarks, each a ratio against a baseline measured in the same run."""
import binascii
import os
import random
import zlib

import numpy as np

from gridfree.native.crc import crc16, crc16_impls, crc32, crc32_impls, crc32c, crc32c_impls
from gridfree.native.benchkit import Figure, best_rate
from gridfree.native.edac import edac_impls, encode, scrub
from gridfree.native import rs, rs_reference

MIB = 1 << 20


def crc16_figures():
    data = os.urandom(MIB)
    base = best_rate(lambda: binascii.crc_hqx(data, 0xFFFF), MIB)
    ours = best_rate(lambda: crc16(data), MIB)
    yield Figure("crc16_vs_binascii", ours / base, "x", ">= 8")
    yield Figure("crc16_MBps", ours / 1e6, "MB/s", ">= 3000")
    for name, fn in crc16_impls().items():
        yield Figure(f"crc16_{name}_vs_binascii", best_rate(lambda: fn(data), MIB) / base, "x")
    short = os.urandom(100)  # a typical PUS packet: the per-call cost dominates
    yield Figure("crc16_100B_vs_binascii",
                 best_rate(lambda: crc16(short), 1) / best_rate(lambda: binascii.crc_hqx(short, 0xFFFF), 1), "x")


def crc32_figures():
    data = os.urandom(MIB)
    base = best_rate(lambda: zlib.crc32(data), MIB)
    yield Figure("crc32_vs_zlib", best_rate(lambda: crc32(data), MIB) / base, "x")
    for name, fn in crc32_impls().items():
        yield Figure(f"crc32_{name}_vs_zlib", best_rate(lambda: fn(data), MIB) / base, "x")
    yield Figure("crc32c_GBps", best_rate(lambda: crc32c(data), MIB) / 1e9, "GB/s")
    for name, fn in crc32c_impls().items():
        yield Figure(f"crc32c_{name}_GBps", best_rate(lambda: fn(data), MIB) / 1e9, "GB/s")


def edac_figures():
    # A clean 64 MiB buffer of random words (the worst case for the table path's cache), far
    # past the caches: a scrub streams from memory, so the baseline is a numpy copy of it.
    size = 64 * MIB
    words = np.random.default_rng(0).integers(0, 2**64 - 1, size // 8, np.uint64, endpoint=True)
    check = encode(words)
    copy = np.empty_like(words)
    base = best_rate(lambda: np.copyto(copy, words), size)
    ours = best_rate(lambda: scrub(words, check), size)
    yield Figure("edac_scrub_GBps", ours / 1e9, "GB/s", ">= 2")
    yield Figure("edac_scrub_vs_memcpy", ours / base, "x")
    yield Figure("edac_encode_GBps", best_rate(lambda: encode(words, out=check), size) / 1e9, "GB/s")
    for name, impl in edac_impls().items():
        yield Figure(f"edac_scrub_{name}_GBps", best_rate(lambda: impl.scrub(words, check), size) / 1e9, "GB/s")


def rs_figures():
    """CCSDS RS(255,223) at depth 5 on 1115-octet frames (1275-octet codeblocks), the node's
    downlink. Encode counts frame octets in, decode codeblock octets in; decode runs with 8
    symbol errors in every codeword (half the capacity: every codeword takes the full
    Berlekamp-Massey, Chien, Forney path). The batch is 64 codeblocks per call, as a link or an
    archive replay hands them over; the per-frame figures include the wrapper's cost."""
    rng, depth, nblocks = random.Random(20), 5, 64
    frames = [rng.randbytes(1115) for _ in range(nblocks)]
    blocks = bytearray(b"".join(rs.rs_encode(f, depth) for f in frames))
    ours = best_rate(lambda: rs.rs_encode_into(blocks, depth, block_len=1275), 1115 * nblocks)
    yield Figure("rs_encode_MBps", ours / 1e6, "MB/s", ">= 200")
    base = best_rate(lambda: rs_reference.encode(frames[0], depth), 1115, min_time_s=0.1, repeat=2)
    yield Figure("rs_encode_vs_python", ours / base, "x")
    yield Figure("rs_encode_frame_MBps", best_rate(lambda: rs.rs_encode(frames[0], depth), 1115) / 1e6, "MB/s")

    damaged = np.frombuffer(blocks, np.uint8).copy()
    for b in range(nblocks):
        for j in range(depth):
            for m in rng.sample(range(255), 8):
                damaged[b * 1275 + m * depth + j] ^= rng.randrange(1, 256)
    work = np.empty_like(damaged)

    def decode_batch():
        np.copyto(work, damaged)  # 80 kB: noise next to the decoding
        rs.rs_decode_into(work, depth, block_len=1275)

    ours = best_rate(decode_batch, 1275 * nblocks)
    yield Figure("rs_decode_MBps", ours / 1e6, "MB/s", ">= 30")
    one = damaged[:1275].tobytes()
    base = best_rate(lambda: rs_reference.decode(one, depth), 1275, min_time_s=0.1, repeat=2)
    yield Figure("rs_decode_vs_python", ours / base, "x")
    yield Figure("rs_decode_frame_MBps", best_rate(lambda: rs.rs_decode(one, depth), 1275) / 1e6, "MB/s")
    clean = bytes(blocks[:1275])
    yield Figure("rs_decode_clean_frame_MBps", best_rate(lambda: rs.rs_decode(clean, depth), 1275) / 1e6, "MB/s")
    data = bytearray(rng.randbytes(1 << 20))
    yield Figure("tm_randomize_GBps", best_rate(lambda: rs.randomize_into(data), len(data)) / 1e9, "GB/s")


BENCHMARKS = [crc16_figures, crc32_figures, edac_figures, rs_figures]
