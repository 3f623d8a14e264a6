"""Archive benchmarks: a day of 10 Hz housekeeping decoded in bulk, the same packets decoded one by
one in pure Python, and durable recording throughput.

The log is made by the real encoders (PUS TM packets into TM frames with FECF, recorded as a
ground station would) so the decoder meets exactly what a pass leaves on disk.
"""
from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path

import numpy as np

from gridfree.native.benchkit import Figure
from gridfree.protocols.config import LinkConfig
from gridfree.protocols.dictionary import Channel, Dictionary, HousekeepingPacket
from gridfree.protocols.framing import TmFrameEncoder
from gridfree.protocols.pus import CucTime, PusTm
from gridfree.protocols.services.housekeeping import HkReport

T0 = 1_774_008_000.0  # 2026-03-20T12:00:00Z


def bench_dictionary(channels: int = 100) -> Dictionary:
    names = [f"bench.C{k:03d}" for k in range(channels)]
    return Dictionary(version="bench", channels=[Channel(k + 1, n, "f32", "V") for k, n in enumerate(names)],
                      housekeeping=[HousekeepingPacket(1, "Bench", tuple(names), 0.1)])


def write_log(directory: Path, d: Dictionary, hours: float, rate_hz: float = 10.0,
              link_config: LinkConfig = LinkConfig()) -> int:
    """`hours` of one housekeeping packet per 1/rate_hz, recorded; returns the packets written.
    One orbit of distinct values is encoded, and later orbits reuse its frames with their own
    receive times (the decoder's work per frame is the same; encoding a day in Python is not)."""
    from gridfree.ground.archive.layout import Record
    from gridfree.ground.archive.segment import SegmentWriter
    from gridfree.ground.archive import dictionaries

    struct_ = d._hk_structs[1]
    n_ch = len(d.hk_by_sid[1].channels)
    enc = TmFrameEncoder(link_config, with_asm=False)
    period = 1.0 / rate_hz
    unique = int(min(hours * 3600.0, 5400.0) * rate_hz)
    frames, rng = [], np.random.default_rng(1)
    values = rng.normal(28.0, 1.0, (unique, n_ch)).astype(np.float32)
    for k in range(unique):
        t = T0 + k * period
        pkt = PusTm(apid=100, service=3, subtype=25, app_data=HkReport(1, struct_.pack(*values[k].tolist())).pack(),
                    seq_count=k & 0x3FFF, time=CucTime.from_unix(t)).pack()
        for f in enc.add_packet(0, pkt):
            frames.append((t, f))
    frames += [(t, f) for f in enc.flush(0)]  # so each repeat starts on a packet boundary
    total = int(hours * 3600.0 * rate_hz)
    repeats = math.ceil(total / unique)
    dictionaries.store(directory, d)
    with SegmentWriter(directory, d.hash, durable=False, max_bytes=256 << 20) as w:
        for r in range(repeats):
            shift = r * unique * period
            for t, f in frames:
                w.append(Record(t + shift, 0, 0, f))
    return repeats * unique


def _python_decode(directory: Path, d: Dictionary, max_records: int, link_config: LinkConfig) -> int:
    """Packet by packet in pure Python: the archive's reader, the reference deframer and
    extractor, PusTm.unpack and the dictionary's struct decoding."""
    from gridfree.ground.archive.reader import open_archive
    from gridfree.native import reference
    from gridfree.protocols.pus import PusTm as Tm

    n, extractor = 0, reference.Extractor(link_config.tm_frame_octets)
    for i, rec in enumerate(open_archive(directory).records()):
        if i >= max_records:
            break
        buf = b"\x1a\xcf\xfc\x1d" + rec.data
        frames = reference.deframe(buf, link_config.tm_frame_octets)[0]
        extractor.packets = []
        extractor.feed(buf, frames)
        for p in extractor.packets:
            if p["crc_ok"]:
                tm = Tm.unpack(p["data"])
                report = HkReport.unpack(tm.app_data)
                d.decode_hk(report.sid, report.values)
                n += 1
    return n


def archive_figures():
    from gridfree.ground.archive import bulk

    d, cfg = bench_dictionary(), LinkConfig()
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "day"
        packets = write_log(log, d, 24.0)
        bulk.decode(log)  # page cache warm, as for any second look at a log
        t0 = time.perf_counter()
        decoded = bulk.decode(log)
        day_s = time.perf_counter() - t0
        samples = len(decoded.series["bench.C000"][0])
        assert samples == packets and len(decoded.series) == 100, (samples, packets)
        yield Figure("replay_day_s", day_s, "s", f"< 1 ({packets / 1e6:.2f} M packets, 100 channels, 10 Hz, 24 h)")
        t0 = time.perf_counter()
        slow = _python_decode(log, d, 3000, cfg)
        python_rate = slow / (time.perf_counter() - t0)
        yield Figure("replay_vs_python", (packets / day_s) / python_rate, "x packets/s",
                     f"native {packets / day_s / 1e6:.1f} M/s vs pure Python {python_rate / 1e3:.1f} k/s")
        yield Figure("record_MBps", _record_rate(Path(tmp) / "rec"), "MB/s", "durable: fsync every 100 frames")


def _record_rate(directory: Path) -> float:
    from gridfree.ground.archive.layout import Record
    from gridfree.ground.archive.segment import SegmentWriter

    frame = bytes(range(256)) * 4 + bytes(1115 - 1024)
    n, t0 = 20_000, time.perf_counter()
    with SegmentWriter(directory, "sha256:" + "0" * 64) as w:
        for k in range(n):
            w.append(Record(T0 + k, 0, 0, frame))
            if k % 100 == 99:
                w.flush()
    return n * len(frame) / (time.perf_counter() - t0) / 1e6


BENCHMARKS = [archive_figures]
