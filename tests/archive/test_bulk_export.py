"""Bulk decoding and export of a recorded log, checked against the live decoding path (the replay
of the same log) value for value."""
import csv
import math
import subprocess
import sys

import numpy as np
import pytest

from gridfree.ground.archive import bulk
from gridfree.ground.archive.layout import HEADER_SIZE
from gridfree.ground.archive.replay import ReplayClient
from tests.archive.conftest import collect


@pytest.fixture(scope="module")
def via_replay(recorded, dictionary):
    """Per channel, the (time, value) samples the live decoding path gives for the log."""
    log, *_ = recorded
    r = ReplayClient(log, dictionary, speed=math.inf)
    seen = collect(r)
    with r:
        assert r.finished.wait(30)
    out = {}
    for kind, *rest in seen:
        if kind == "sample":
            name, value, t = rest
            out.setdefault(name, []).append((t, value))
    return out


def test_bulk_decoding_gives_every_housekeeping_sample_of_the_live_path(recorded, via_replay):
    log, *_ = recorded
    decoded = bulk.decode(log)
    assert decoded.frames_bad == 0 and decoded.records_damaged == 0 and decoded.hk_unknown == 0
    assert set(decoded.series) == set(via_replay)
    for name, samples in via_replay.items():
        t, v = decoded.series[name]
        assert t.tolist() == [s[0] for s in samples], name
        assert [("nan" if x != x else x) for x in v.tolist()] == [s[1] for s in samples], name


def test_time_range_and_channel_selection(recorded, via_replay):
    log, *_ = recorded
    everything = bulk.decode(log)
    from gridfree.ground.archive.reader import open_archive

    t_rx = [r.t_rx for r in open_archive(log).records()]
    cut = t_rx[len(t_rx) // 2]
    later = bulk.decode(log, t_from=cut, channels=["power.Soc", "node.Mode"])
    assert set(later.series) == {"power.Soc", "node.Mode"}
    t_all, v_all = everything.series["node.Mode"]
    t_later, v_later = later.series["node.Mode"]
    # The frames received from `cut` on carry the last samples: a suffix of the whole series.
    assert 0 < len(t_later) < len(t_all) and t_later.tolist() == t_all[-len(t_later):].tolist()


def test_frames_recorded_bad_and_damaged_records_are_counted_not_decoded(recorded, tmp_path):
    log, *_ = recorded
    import shutil

    copy = tmp_path / "log"
    shutil.copytree(log, copy)
    seg = sorted(copy.glob("seg-*.gfa"))[0]
    data = bytearray(seg.read_bytes())
    data[HEADER_SIZE + 100] ^= 0xFF  # inside the first record's frame: its record CRC fails
    seg.write_bytes(bytes(data))
    good, damaged = bulk.decode(log), bulk.decode(copy)
    assert damaged.records_damaged == 1 and damaged.frames == good.frames - 1
    assert damaged.packets < good.packets


def test_export_csv_and_npz_from_the_command_line(recorded, tmp_path):
    log, *_ = recorded
    decoded = bulk.decode(log, channels=["power.Soc", "eps.BatteryVoltage"])
    out_csv, out_npz = tmp_path / "x.csv", tmp_path / "x.npz"
    for fmt, out in (("csv", out_csv), ("npz", out_npz)):
        proc = subprocess.run([sys.executable, "-m", "gridfree.protocols.cli", "export", str(log), "--channels",
                               "power.Soc,eps.BatteryVoltage", "--format", fmt, "-o", str(out)],
                              capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        assert "2 channels" in proc.stderr
    with open(out_csv, newline="") as f:
        rows = list(csv.DictReader(f))
    for name in ("power.Soc", "eps.BatteryVoltage"):
        t, v = decoded.series[name]
        mine = [r for r in rows if r["channel"] == name]
        assert [float(r["time_unix_s"]) for r in mine] == pytest.approx(t.tolist(), abs=1e-6)
        assert np.array_equal([float(r["value"]) for r in mine], v, equal_nan=True)
        assert mine[0]["time_utc"].endswith("+00:00")
        npz = np.load(out_npz)[name]
        assert npz["t"].tolist() == t.tolist() and np.array_equal(npz["v"], v, equal_nan=True)
    times = [float(r["time_unix_s"]) for r in rows]
    assert times == sorted(times)


def test_export_refuses_a_bad_time_and_replay_prints_like_tm(recorded):
    log, *_ = recorded
    bad = subprocess.run([sys.executable, "-m", "gridfree.protocols.cli", "export", str(log), "--from", "noon",
                          "-o", "/dev/null"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "neither ISO 8601" in bad.stderr
    proc = subprocess.run([sys.executable, "-m", "gridfree.protocols.cli", "replay", str(log), "--channels",
                           "node.Mode"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines and all(" node.Mode = " in x or " EVENT " in x for x in lines)
    assert any(x.endswith("node.Mode = SAFE") for x in lines)
    assert "replayed" in proc.stderr and "0 bad" in proc.stderr
