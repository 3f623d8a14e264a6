"""A log recorded through an authenticated link (the node seals its TM frames with SDLS): replay,
bulk decoding and export find its packets, with the key directory they check every recorded
frame's MAC again (an injected frame the log holds is not decoded), and a recorder never mixes
frames of two link layouts in one directory."""
import math
import os
import shutil
import subprocess
import sys

import pytest

from gridfree.ground.archive import bulk, linkfile
from gridfree.ground.archive.layout import Record
from gridfree.ground.archive.reader import open_archive
from gridfree.ground.archive.recorder import Recorder
from gridfree.ground.archive.replay import ReplayClient, ReplayError
from gridfree.ground.archive.segment import SegmentWriter
from gridfree.ground.keys.session import GroundSecurity
from gridfree.native import crc16
from gridfree.protocols.config import LinkConfig
from tests.archive.conftest import collect


@pytest.fixture(scope="module")
def keydir(recorded):
    log, *_ = recorded
    return log.parent / "keys" / "ground"  # the operator's half of the node's keys (tests/keys.py)


@pytest.fixture
def tm_sa(keydir):
    return GroundSecurity.load(keydir).tm_sa


def replay_all(log, dictionary, **kw):
    r = ReplayClient(log, dictionary, speed=math.inf, **kw)
    seen = collect(r)
    with r:
        assert r.finished.wait(30)
    return r, seen


def test_the_recorder_keeps_the_layout_and_replay_reads_it(recorded, dictionary, tm_sa):
    log, live, live_stats, _ = recorded
    assert linkfile.load(log).sdls
    plain, seen = replay_all(log, dictionary)  # no keys: the SDLS fields stripped, the frames unchecked
    assert seen == live and plain.tm_auth.unchecked == live_stats.frames_ok and plain.tm_auth.authenticated == 0
    checked, seen = replay_all(log, dictionary, tm_sa=tm_sa)
    auth = checked.tm_auth
    assert seen == live and auth.verified
    assert auth.authenticated == live_stats.auth_ok and auth.failed == auth.replayed == 0
    assert tm_sa.highest_iv == 0  # the caller's SA is left as it was: the replay checks with a copy


def test_bulk_decoding_with_and_without_the_key_agree(recorded, tm_sa):
    log, *_ = recorded
    unchecked, checked = bulk.decode(log), bulk.decode(log, tm_sa=tm_sa)
    assert unchecked.sdls and unchecked.auth_unchecked == unchecked.frames and unchecked.auth_ok == 0
    assert checked.auth_ok == checked.frames > 0 and checked.auth_failed == 0
    assert checked.series.keys() == unchecked.series.keys()
    for name, (t, v) in unchecked.series.items():
        assert t.tolist() == checked.series[name][0].tolist(), name


def forged_copy(log, tmp_path):
    """The log with one more frame at its end: a recorded frame whose data field was changed and
    whose FECF was made to match (what an injector on the link can do without the key)."""
    copy = tmp_path / "log"
    shutil.copytree(log, copy)
    last = list(open_archive(copy).records())[-1]
    frame = bytearray(last.data)
    frame[40] ^= 0xFF
    frame[-2:] = crc16(bytes(frame[:-2])).to_bytes(2, "big")
    (writer_hash,) = {s.dictionary_hash for s in open_archive(copy).segments}
    with SegmentWriter(copy, writer_hash, durable=False) as w:
        w.append(Record(last.t_rx + 1.0, last.link, 0, bytes(frame)))
    return copy


def test_a_frame_injected_into_the_log_is_not_decoded_given_the_key(recorded, dictionary, tm_sa, tmp_path):
    log, live, *_ = recorded
    copy = forged_copy(log, tmp_path)
    good, forged = bulk.decode(log, tm_sa=tm_sa), bulk.decode(copy, tm_sa=tm_sa)
    assert forged.auth_failed == 1 and forged.auth_ok == good.auth_ok
    assert forged.frames == good.frames + 1  # its FECF checks: only the MAC gives it away
    for name, (t, v) in good.series.items():
        assert forged.series[name][0].tolist() == t.tolist(), name
    r, seen = replay_all(copy, dictionary, tm_sa=tm_sa)
    assert r.tm_auth.failed == 1 and not r.tm_auth.verified and "MAC" in r.tm_auth.last_error
    assert seen == live  # nothing of the injected frame reached a display


def test_a_seek_back_is_not_taken_for_a_replay_attack(recorded, dictionary, tm_sa):
    log, *_ = recorded
    records = list(open_archive(log).records())
    r = ReplayClient(log, dictionary, speed=math.inf, tm_sa=tm_sa)
    with r:
        assert r.finished.wait(30)
        middle = records[len(records) // 2].t_rx
        r.seek(middle)
        expected = len(records) + sum(1 for x in records if x.t_rx >= middle)
        assert r.wait_until(lambda: r.frames_replayed >= expected, 10)
        assert r.frames_replayed == expected
    auth = r.tm_auth
    assert auth.replayed == auth.failed == 0 and auth.authenticated == r.decoder.stats.frames_ok


def test_a_plain_log_has_no_mac_to_check(recorded, dictionary, tm_sa, tmp_path):
    log, *_ = recorded
    plain = tmp_path / "plain"
    rec = Recorder(plain, dictionary, link_config=LinkConfig())
    rec.writer.append(Record(1_774_008_000.0, 0, 0, bytes(16)))
    rec.close()
    assert linkfile.load(plain) == LinkConfig()
    with pytest.raises(ReplayError, match="without SDLS"):
        ReplayClient(plain, dictionary, tm_sa=tm_sa)


def test_a_recorder_never_mixes_two_link_layouts_in_one_directory(recorded, dictionary, tmp_path):
    log, *_ = recorded
    copy = tmp_path / "log"
    shutil.copytree(log, copy)
    segments = sorted(copy.glob("seg-*.gfa"))
    with pytest.raises(linkfile.LinkLayoutMismatch, match="another link layout"):
        Recorder(copy, dictionary, link_config=LinkConfig())  # plain frames into an SDLS log
    assert sorted(copy.glob("seg-*.gfa")) == segments and linkfile.load(copy).sdls
    Recorder(copy, dictionary, link_config=linkfile.load(copy)).close()  # the same layout: welcome
    # A log older than link.json holds plain frames: SDLS frames may not join them either.
    (copy / linkfile.FILE).unlink()
    with pytest.raises(OSError, match="another link layout"):
        Recorder(copy, dictionary, link_config=LinkConfig(sdls=True))


def test_replay_and_export_check_with_keys_from_the_command_line(recorded, keydir, tmp_path):
    log, *_ = recorded

    def gridfree(*args):
        return subprocess.run([sys.executable, "-m", "gridfree.protocols.cli", *args], capture_output=True, text=True,
                              timeout=60, env=dict(os.environ, QT_QPA_PLATFORM="offscreen"))

    replay = gridfree("replay", str(log), "--keys", str(keydir), "--channels", "node.Mode")
    assert replay.returncode == 0, replay.stderr
    assert " node.Mode = " in replay.stdout and "0 failed" in replay.stderr and "frames authenticated" in replay.stderr
    out = tmp_path / "x.csv"
    export = gridfree("export", str(log), "-o", str(out), "--keys", str(keydir))
    assert export.returncode == 0 and out.stat().st_size > 0, export.stderr
    assert "0 failed" in export.stderr
    unchecked = gridfree("export", str(log), "-o", str(out))
    assert unchecked.returncode == 0 and "read unchecked" in unchecked.stderr
    console = gridfree("console", "--replay", str(log), "--keys", str(keydir), "--speed", "max", "--seconds", "1",
                       "--settings", str(tmp_path / "console.ini"))
    assert console.returncode == 0, console.stderr
    tenant = gridfree("replay", str(log), "--keys", str(keydir.parent / "tenant-1"))
    assert tenant.returncode == 2 and "no TM SA" in tenant.stderr.strip().splitlines()[-1]
