"""Lines that come back: a serial device unplugged and replugged at the same path (a pty pair
remade behind the same symlinks) is reopened by the link itself, with backoff, each loss and
return counted; and nobody's thread spins while the line is away."""
import os
import threading
import time

from gridfree.protocols.links import LinkReader, Protocol, open_link
from gridfree.protocols.links.ptypair import PtyPair
from tests.links.util import read_exactly, wait_until


def plug(tmp_path) -> tuple[PtyPair, str, str]:
    a, b = str(tmp_path / "node-radio"), str(tmp_path / "ground-radio")
    return PtyPair(links=(a, b)).start(), a, b


def test_the_pair_names_its_ends_and_unplugging_removes_the_names(tmp_path):
    pair, a, b = plug(tmp_path)
    assert os.path.realpath(a) == pair.paths[0] and os.path.realpath(b) == pair.paths[1]
    pair.stop()
    assert not os.path.lexists(a) and not os.path.lexists(b)


def test_a_replugged_line_is_reopened_at_its_path_both_ways(tmp_path):
    pair, a, b = plug(tmp_path)
    node, ground = open_link(a), open_link(b)
    try:
        node.write(b"before")
        assert read_exactly(ground, 6) == b"before"
        pair.stop()  # unplugged: both ptys gone, names removed
        assert ground.read(timeout=0.5) == b"" and node.read(timeout=0.5) == b""
        assert not node.stats.connected and node.stats.losses == 1
        assert "away" in node.down_reason or "lost" in node.down_reason
        node.write(b"into the void")
        assert node.stats.dropped_writes == 1
        errors_while_away = node.stats.errors
        threading.Event().wait(0.6)
        node.read(timeout=0.3)
        assert node.stats.errors == errors_while_away  # failed reopens are not errors, nor spun on
        pair, _, _ = plug(tmp_path)  # replugged: new ptys, same names
        # Both ends back (each reopens on its own backoff) before anything is written: bytes sent
        # while the far end is still unplugged are the line's, not the link's, to lose.
        assert wait_until(lambda: (node.read(timeout=0.05), ground.read(timeout=0.05),
                                   node.stats.connected and ground.stats.connected)[2], 10)
        node.write(b"after")
        assert read_exactly(ground, 5) == b"after"
        ground.write(b"uplink")
        assert read_exactly(node, 6) == b"uplink"
        assert node.stats.reconnects == 1 and ground.stats.reconnects == 1
        assert node.down_reason == "" and node.stats.connected
    finally:
        node.close()
        ground.close()
        pair.stop()


def test_a_reader_thread_hears_the_line_again_after_a_replug(tmp_path):
    pair, a, b = plug(tmp_path)
    heard = []

    class Collect(Protocol):
        def data_received(self, data):
            heard.append(data)

    node, ground = open_link(a), open_link(b)
    try:
        with LinkReader(node, Collect()):
            ground.write(b"one")
            assert wait_until(lambda: b"".join(heard) == b"one", 5)
            pair.stop()
            assert wait_until(lambda: node.stats.losses == 1, 5)
            t0 = time.monotonic()
            pair, _, _ = plug(tmp_path)
            assert wait_until(lambda: node.stats.connected, 10)
            assert time.monotonic() - t0 < 6  # the backoff is bounded at 5 s
            assert wait_until(lambda: (ground.write(b"two"), b"two" in b"".join(heard))[1], 10)
            assert node.stats.reconnects == 1
    finally:
        node.close()
        ground.close()
        pair.stop()


def test_close_wakes_a_read_waiting_for_a_lost_device(tmp_path):
    pair, a, _ = plug(tmp_path)
    node = open_link(a)
    pair.stop()
    node.read(timeout=0.3)
    assert node.stats.losses == 1
    done = threading.Event()
    t = threading.Thread(target=lambda: (node.read(timeout=None), done.set()), daemon=True)
    t.start()
    threading.Event().wait(0.2)
    t0 = time.monotonic()
    node.close()
    assert done.wait(2) and time.monotonic() - t0 < 1
