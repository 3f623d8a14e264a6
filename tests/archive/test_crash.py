"""Acknowledged records survive a writer killed at any moment and a file cut at any byte."""
import errno
import itertools
import os
import random
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from gridfree.ground.archive.layout import HEADER_SIZE
from gridfree.ground.archive.segment import Record, SegmentWriter, open_archive
from tests.archive import kill_writer
from tests.archive.kill_writer import make_records
from tests.archive.util import DICT_HASH, spans, write_segment

KILL_TRIALS = 100
CHILD = Path(__file__).with_name("kill_writer.py")


def kill_at_random(directory: Path, seed: int) -> int:
    """Run a writer and SIGKILL it at a random moment once it has acknowledged a random number of
    records (40-120, so every trial spans several segments however loaded the machine is);
    returns the last count it printed."""
    rng = random.Random(seed)
    target = rng.randint(40, 120)
    child = subprocess.Popen([sys.executable, str(CHILD), str(directory), str(seed), "2048"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen = b""
    try:
        while True:
            line = child.stdout.readline()
            assert line.endswith(b"\n"), child.stderr.read().decode()
            seen += line
            if int(line) >= target:  # the child keeps appending while the kill is on its way: it lands anywhere
                break
    finally:
        child.send_signal(signal.SIGKILL)
        out, err = child.communicate()
    assert child.returncode == -signal.SIGKILL, err.decode()
    lines = (seen + out).split(b"\n")[:-1]  # a count cut off mid-line by the kill is not an acknowledgement
    return int(lines[-1])


def check_survivors(directory: Path, seed: int, acknowledged: int) -> list[Record]:
    a = open_archive(directory)
    got = list(a.records())  # a torn tail must be reported, never raised
    assert len(got) >= acknowledged
    assert got == list(itertools.islice(make_records(seed), len(got)))
    assert a.stats.records_damaged == 0 and a.stats.bytes_skipped == 0
    # The only unreadable segment a kill can leave is the newest, cut while its header was written.
    newest = max(directory.glob("seg-*.gfa"))
    assert all(e.path == newest and "header truncated" in e.reason for e in a.errors), a.report()
    return got


@pytest.mark.slow
def test_acknowledged_records_survive_sigkill_at_any_moment(tmp_path):
    def trial(seed: int) -> tuple[int, int]:
        directory = tmp_path / f"trial{seed}"
        acknowledged = kill_at_random(directory, seed)
        got = check_survivors(directory, seed, acknowledged)
        # The next writer starts a new segment after the torn one and the archive reads on.
        extra = Record(2e9, 7, 0, b"after the crash")
        with SegmentWriter(directory, kill_writer.DICT_HASH) as w:
            w.append(extra)
        assert list(open_archive(directory).records())[-2:] == (got[-1:] + [extra])
        return acknowledged, len(list(directory.glob("seg-*.gfa")))

    with ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(trial, range(KILL_TRIALS)))
    # The trials were not trivial: they killed writers that had acknowledged many records over
    # several segments.
    assert sum(ack for ack, _ in results) > 50 * KILL_TRIALS
    assert sum(segs > 2 for _, segs in results) > KILL_TRIALS // 2


def test_a_segment_cut_at_any_byte_keeps_every_record_before_the_cut(tmp_path):
    """Power loss before the last fsync: the file ends anywhere. The index, written in full
    beforehand, now points past the end, which the reader must notice."""
    rng = random.Random(7)
    recs = [Record(1.7e9 + i, i % 3, 0, rng.randbytes(rng.choice((0, 1, 30, 90)))) for i in range(40)]
    path = write_segment(tmp_path, recs, index_every_records=3)
    ends = [end for _, end in spans(recs)]
    assert ends[-1] == path.stat().st_size
    for cut in range(ends[-1] - 1, -1, -1):  # every byte, shrinking the file in place
        os.truncate(path, cut)
        a = open_archive(tmp_path)
        if cut < HEADER_SIZE:
            assert not a.segments and "header truncated" in a.errors[0].reason and path.name in str(a.errors[0])
            continue
        kept = sum(end <= cut for end in ends)
        torn = cut - (ends[kept - 1] if kept else HEADER_SIZE)
        assert list(a.records()) == recs[:kept]
        (seg,) = a.segments
        assert (seg.records, seg.torn_tail_bytes) == (kept, torn)
        assert a.stats.torn_tail == ({path.name: torn} if torn else {})
        assert a.stats.records_damaged == 0
        if kept:
            t_from = recs[rng.randrange(kept)].t_rx
            assert list(a.records(t_from)) == [r for r in recs[:kept] if r.t_rx >= t_from]


def test_flush_returns_only_after_data_index_and_new_names_are_fsynced(tmp_path, monkeypatch):
    """SIGKILL leaves the page cache alive, so the kill test cannot see a missing fsync: watch them."""
    synced, real_fsync = [], os.fsync

    def fsync(fd):
        synced.append(os.path.realpath(f"/proc/self/fd/{fd}"))
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    with SegmentWriter(tmp_path, DICT_HASH, max_bytes=600) as w:
        for i in range(5):  # two 228-byte records fit a 600-byte segment: three segments
            w.append(Record(float(i), 0, 0, bytes(200)))
        assert synced == [] and w.flush() == 5
        on_disk = {os.path.realpath(p) for p in tmp_path.glob("seg-*")}
        assert len(on_disk) == 6 and set(synced) == on_disk | {os.path.realpath(tmp_path)}
        assert synced[-1] == os.path.realpath(tmp_path)  # names last, then the acknowledgement
        synced.clear()
        w.append(Record(5.0, 0, 0, b""))
        w.flush()
        newest = max(tmp_path.glob("seg-*.gfa"))
        assert synced == [os.path.realpath(newest), os.path.realpath(newest.with_suffix(".idx"))]


def failing_fsync(fd):
    raise OSError(errno.EIO, "Input/output error")


def test_a_failed_fsync_acknowledges_nothing_and_a_retry_writes_nothing_twice(tmp_path, monkeypatch):
    recs = [Record(float(i), 0, 0, bytes([i]) * 10) for i in range(3)]
    with SegmentWriter(tmp_path, DICT_HASH) as w:
        w.append(recs[0])
        assert w.flush() == 1
        w.append(recs[1])
        w.append(recs[2])
        with monkeypatch.context() as m:
            m.setattr(os, "fsync", failing_fsync)
            with pytest.raises(OSError, match="Input/output"):
                w.flush()
        assert w.stats.acknowledged == 1
        assert w.flush() == 3
    assert list(open_archive(tmp_path).records()) == recs
