"""EEMUA 191 alarm flood: more than 10 alarms annunciated in 10 minutes, over a sliding window."""
from __future__ import annotations

from gridfree.ground.alarms.board import AlarmBoard
from gridfree.ground.alarms.flood import FloodCounter
from gridfree.protocols.dictionary import Channel, Limits

T0 = 1_795_000_000.0


def channels(n):
    return [Channel(i + 1, f"test.C{i}", "f32", limits=Limits(None, None, 1.0, 2.0)) for i in range(n)]


def test_ten_in_ten_minutes_is_not_a_flood_eleven_is():
    flood = FloodCounter()
    for k in range(10):
        flood.annunciated(1000.0 + 50.0 * k)  # 10 alarms over 7.5 minutes
    assert flood.count(1450.0) == 10 and not flood.in_flood(1450.0)
    flood.annunciated(1500.0)
    assert flood.count(1500.0) == 11 and flood.in_flood(1500.0)


def test_the_window_slides():
    flood = FloodCounter()
    for k in range(11):
        flood.annunciated(1000.0 + k)  # 11 in 11 seconds: a flood
    assert flood.in_flood(1010.0)
    assert flood.count(1599.9) == 11  # the first is 599.9 s old: still in the window
    assert flood.count(1600.0) == 10 and not flood.in_flood(1600.0)  # ten minutes after the first
    assert flood.count(1611.0) == 0 and flood.total == 11


def test_the_board_counts_annunciations_not_samples():
    """Eleven channels out of limits is a flood; the same channels staying out of limits, or
    going INVALID, adds nothing; the flood ends ten minutes later."""
    t = [100.0]
    board = AlarmBoard(channels(11), clock=lambda: t[0])
    for i in range(10):
        board.observe(f"test.C{i}", 1.5, T0)
    for _ in range(5):  # the same alarms, reported again and again
        for i in range(10):
            board.observe(f"test.C{i}", 1.6, T0 + 1)
    board.observe("test.C10", float("nan"), T0)
    assert board.flood_count() == 10 and not board.in_flood()
    board.observe("test.C10", 1.5, T0 + 2)
    assert board.flood_count() == 11 and board.in_flood()
    t[0] += 600.0
    assert board.flood_count() == 0 and not board.in_flood()
