"""Every transport: a read blocked with no timeout returns promptly on close() or cancel_read(),
so a reader thread never outlives its link."""
import os
import pty
import time
import tty

import pytest

from gridfree.protocols.links import LinkError, open_link
from tests.links.util import in_thread, read_exactly


@pytest.fixture
def pty_path():
    master, slave = pty.openpty()
    tty.setraw(slave)
    yield os.ttyname(slave)
    os.close(master)
    os.close(slave)


def make(kind, pty_path):
    if kind == "pty":
        return open_link(pty_path), []
    if kind == "loop":
        return open_link("loop://"), []
    if kind == "tcp-listener":
        return open_link("tcp-listen://127.0.0.1:0"), []
    if kind == "tcp-client":
        server = open_link("tcp-listen://127.0.0.1:0")
        return open_link(f"tcp://127.0.0.1:{server.local_address[1]}"), [server]
    if kind == "tcp-client-no-peer":
        probe = open_link("tcp-listen://127.0.0.1:0")
        port = probe.local_address[1]
        probe.close()
        return open_link(f"tcp://127.0.0.1:{port}"), []
    if kind == "socket":  # pyserial's socket:// cannot be woken: its POLL_S slices bound the wait
        server = open_link("tcp-listen://127.0.0.1:0")
        return open_link(f"socket://127.0.0.1:{server.local_address[1]}"), [server]
    if kind == "udp":
        return open_link("udp-listen://127.0.0.1:0"), []
    raise AssertionError(kind)


KINDS = ["pty", "loop", "socket", "tcp-listener", "tcp-client", "tcp-client-no-peer", "udp"]


@pytest.mark.parametrize("kind", KINDS)
def test_close_wakes_a_blocked_read(kind, pty_path):
    link, others = make(kind, pty_path)
    try:
        reader, result = in_thread(link.read, 65536, None)
        reader.join(0.05)  # let it block (if it has not, read sees the closed link instead)
        t0 = time.monotonic()
        link.close()
        reader.join(2)
        assert not reader.is_alive() and result == [b""]
        assert time.monotonic() - t0 < 1.0
        assert link.closed and not link.stats.connected
        with pytest.raises(LinkError, match="closed"):
            link.write(b"x")
        assert link.read(timeout=0) == b""
        link.close()  # idempotent
    finally:
        link.close()
        for other in others:
            other.close()


@pytest.mark.parametrize("kind", KINDS)
def test_cancel_read_wakes_a_blocked_read_and_the_link_still_works(kind, pty_path):
    link, others = make(kind, pty_path)
    try:
        reader, result = in_thread(link.read, 65536, None)
        reader.join(0.05)
        link.cancel_read()
        reader.join(2)
        assert not reader.is_alive() and result == [b""]
        assert not link.closed
        if kind == "loop":
            link.write(b"again")
            assert read_exactly(link, 5) == b"again"
    finally:
        link.close()
        for other in others:
            other.close()
