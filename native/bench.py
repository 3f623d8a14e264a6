"""Native-core benchmarks, each a ratio against a baseline measured in the same run."""
import binascii
import os
import zlib

from gridfree.native.crc import crc16, crc16_impls, crc32, crc32_impls, crc32c, crc32c_impls
from gridfree.native.benchkit import Figure, best_rate

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


BENCHMARKS = [crc16_figures, crc32_figures]
