"""The reader thread: bytes to a Protocol by callback, errors counted and reported, and a stop
that is clean and prompt, including at interpreter exit."""
import os
import pty
import subprocess
import sys
import threading
import time
import tty

import pytest

from gridfree.protocols.links import LinkReader, Protocol, open_link


class Recorder(Protocol):
    def __init__(self, until: bytes = b"end"):
        self.link = None
        self.chunks: list[bytes] = []
        self.lost: list = []
        self.thread_names: set[str] = set()
        self.done, self.ended = threading.Event(), threading.Event()
        self.until = until

    def connection_made(self, link):
        self.link = link
        self.thread_names.add(threading.current_thread().name)

    def data_received(self, data):
        self.thread_names.add(threading.current_thread().name)
        if data == b"boom":
            raise ValueError("decoder bug")
        self.chunks.append(data)
        if b"".join(self.chunks).endswith(self.until):
            self.done.set()

    def connection_lost(self, exc):
        self.lost.append(exc)
        self.ended.set()


@pytest.fixture
def udp_pair():
    with open_link("udp-listen://127.0.0.1:0") as rx:
        with open_link(f"udp://127.0.0.1:{rx.local_address[1]}") as tx:
            yield rx, tx


def test_delivers_on_its_own_thread_and_survives_protocol_errors(udp_pair):
    rx, tx = udp_pair
    proto = Recorder()
    with LinkReader(rx, proto, name="test-reader") as reader:
        for datagram in (b"boom", b"data", b"end"):
            tx.write(datagram)
        assert proto.done.wait(5)
    assert proto.ended.wait(5) and proto.lost == [None]  # a clean stop
    assert proto.link is rx and proto.thread_names == {"test-reader"}
    assert proto.chunks == [b"data", b"end"]  # one datagram per call
    assert reader.protocol_errors == 1 and isinstance(reader.last_error, ValueError)


@pytest.mark.parametrize("url", ["udp-listen://127.0.0.1:0", "tcp-listen://127.0.0.1:0", "loop://", "pty"])
def test_stop_is_prompt_on_an_idle_link(url):
    if url == "pty":
        master, slave = pty.openpty()
        tty.setraw(slave)
        link = open_link(os.ttyname(slave))
    else:
        link = open_link(url)
    try:
        proto = Recorder()
        reader = LinkReader(link, proto)
        reader.start()
        reader.call_soon(lambda: None)
        t0 = time.monotonic()
        reader.stop()
        assert not reader.is_alive()
        assert time.monotonic() - t0 < 0.2, "stop() wakes the read instead of waiting out a poll"
        assert proto.lost == [None] and not link.closed  # the link belongs to whoever opened it
    finally:
        link.close()
        if url == "pty":
            os.close(master)
            os.close(slave)


def test_call_soon_runs_on_the_reader_thread_promptly(udp_pair):
    rx, _ = udp_pair
    ran = threading.Event()
    where = []
    with LinkReader(rx, Recorder(), name="pinged") as reader:
        t0 = time.monotonic()
        reader.call_soon(lambda: (where.append(threading.current_thread().name), ran.set()))
        assert ran.wait(5) and where == ["pinged"]
        assert time.monotonic() - t0 < 0.2
        reader.call_soon(lambda: 1 / 0)
        reader.call_soon(ran.clear)  # runs after the failing call: the thread lived on
        assert wait_for(lambda: not ran.is_set())
        assert reader.protocol_errors == 1
        assert reader.is_alive() and isinstance(reader.last_error, ZeroDivisionError)


def wait_for(predicate, timeout_s=5.0):
    from tests.links.util import wait_until
    return wait_until(predicate, timeout_s)


def test_closing_the_link_ends_the_reader_cleanly(udp_pair):
    rx, _ = udp_pair
    proto = Recorder()
    reader = LinkReader(rx, proto)
    reader.start()
    rx.close()
    assert proto.ended.wait(5) and proto.lost == [None]
    reader.join(5)
    assert not reader.is_alive()


def test_a_failing_connection_made_is_reported_not_silent(udp_pair):
    rx, _ = udp_pair

    class Broken(Recorder):
        def connection_made(self, link):
            raise RuntimeError("cannot start")

    proto = Broken()
    reader = LinkReader(rx, proto)
    reader.start()
    assert proto.ended.wait(5)
    assert isinstance(proto.lost[0], RuntimeError) and reader.last_error is proto.lost[0]
    reader.join(5)
    assert not reader.is_alive()


def test_a_reader_on_a_vanished_pty_counts_the_loss_once_and_keeps_its_thread(tmp_path):
    from gridfree.protocols.links.ptypair import PtyPair

    # By a name of its own: a bare /dev/pts/N may be handed to another process's new pty at once,
    # and the link would then (rightly) reopen that.
    path = str(tmp_path / "line")
    pair = PtyPair(links=(path, None)).start()
    link = open_link(path)
    proto = Recorder()
    try:
        with LinkReader(link, proto) as reader:
            pair.stop()
            assert wait_for(lambda: link.stats.losses == 1)
            assert wait_for(lambda: "retrying" in link.down_reason)  # it looks for the device again
            threading.Event().wait(0.5)
            assert link.stats.errors == 1 and link.stats.losses == 1  # one loss, not an error per retry
            assert reader.is_alive() and not link.stats.connected
            assert path in link.down_reason
            assert proto.lost == []
        assert proto.lost == [None]
    finally:
        link.close()
        pair.stop()


def test_readers_and_pty_pairs_left_running_do_not_hold_the_interpreter_at_exit():
    script = ("from gridfree.protocols.links import LinkReader, Protocol, open_link\n"
              "from gridfree.protocols.links.ptypair import PtyPair\n"
              "pair = PtyPair().start()\n"
              "LinkReader(open_link(pair.paths[0]), Protocol()).start()\n"
              "LinkReader(open_link('udp-listen://127.0.0.1:0'), Protocol()).start()\n"
              "print('running', flush=True)\n")
    done = subprocess.run([sys.executable, "-X", "dev", "-c", script], capture_output=True, text=True, timeout=20)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "running\n"
    assert "Traceback" not in done.stderr
