"""Record a live node's downlink, then replay it through the live decoding path: an operator must
see exactly what they saw live, and can pause, step and seek."""
import math

import pytest

from gridfree.ground.archive import dictionaries
from gridfree.ground.archive.replay import ReplayClient, ReplayError
from gridfree.ground.link.client import GroundClient
from gridfree.protocols.dictionary import Dictionary
from tests.archive.conftest import collect


def test_replay_gives_the_live_values_one_to_one(recorded, dictionary):
    log, live, live_stats, rec_stats = recorded
    assert rec_stats.acknowledged == rec_stats.appended == live_stats.frames_ok + live_stats.frames_bad
    r = ReplayClient(log, dictionary, speed=math.inf)
    replayed = collect(r)
    with r:
        assert r.finished.wait(30)
    assert len(live) > 100 and replayed == live
    assert r.decoder.stats.frames_ok == live_stats.frames_ok and r.decoder.stats.packets_ok == live_stats.packets_ok
    assert r.replay is r and not r.can_command  # a replay offers its controls and refuses to command
    assert GroundClient.replay is None and GroundClient.can_command
    assert r.hash_mismatch is False and r.dictionary_note == ""
    with pytest.raises(ReplayError, match="replay"):
        r.send("test.Ping")


def test_pause_step_and_seek(recorded, dictionary):
    log, *_ = recorded
    records = list(ReplayClient(log, dictionary).archive.records())
    r = ReplayClient(log, dictionary, speed=math.inf)
    r.pause()
    with r:
        r.step(3)
        assert r.wait_until(lambda: r.frames_replayed >= 3, 10)
        assert r.holding.wait(10)  # held at the fourth frame: a paused replay sends nothing more
        assert r.frames_replayed == 3
        r.resume()
        assert r.finished.wait(30)
        assert r.frames_replayed == len(records)
        middle = records[len(records) // 2].t_rx
        r.seek(middle)  # back into the log after its end
        expected = len(records) + sum(1 for x in records if x.t_rx >= middle)
        assert r.wait_until(lambda: r.frames_replayed >= expected, 10)
        assert r.frames_replayed == expected and r.position == records[-1].t_rx


def test_a_log_is_decoded_with_the_dictionary_it_was_written_with(recorded, dictionary, tmp_path):
    log, live, *_ = recorded
    d = dictionary  # and a later flight software build's:
    newer = Dictionary(version=d.version + "+next", channels=d.channels, commands=d.commands, events=d.events,
                       parameters=d.parameters, housekeeping=d.housekeeping)
    assert newer.hash != dictionary.hash
    r = ReplayClient(log, newer, speed=math.inf)
    assert r.dictionary.hash == dictionary.hash and r.hash_mismatch
    assert "decoding with the log's own dictionary" in r.dictionary_note
    # Without the kept dictionary the operator is told the values may be wrong.
    for p in (log / dictionaries.FOLDER).iterdir():
        p.rename(tmp_path / p.name)
    try:
        r = ReplayClient(log, newer, speed=math.inf)
        assert r.dictionary is newer and "values may be wrong" in r.dictionary_note
        with pytest.raises(dictionaries.DictionaryMissing, match=dictionary.hash):
            ReplayClient(log, None)
    finally:
        for p in tmp_path.glob("*.json"):
            p.rename(log / dictionaries.FOLDER / p.name)
