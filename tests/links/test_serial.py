"""Serial links on real ptys and pyserial's loop://: bytes intact and in order, options applied,
a vanished device counted rather than spun on or raised."""
import os
import pty
import time
import tty

import pytest

from gridfree.protocols.links import LinkError, open_link
from tests.links.util import MB, in_thread, read_exactly, read_fd_exactly


@pytest.fixture
def bare_pty():
    """A raw pty: the test plays the radio on the master, the link opens the slave path."""
    master, slave = pty.openpty()
    tty.setraw(slave)
    yield master, os.ttyname(slave)
    for fd in (master, slave):
        try:
            os.close(fd)
        except OSError:
            pass  # a test closed it to unplug the line


def test_loop_url_echoes_and_counts():
    with open_link("loop://") as link:
        assert not link.is_datagram and link.stats.connected
        link.write(b"ping")
        assert read_exactly(link, 4) == b"ping"
        s = link.stats
        assert (s.bytes_out, s.bytes_in, s.writes, s.errors) == (4, 4, 1, 0)


def test_pty_slave_path_reads_and_writes_like_a_serial_port(bare_pty):
    master, path = bare_pty
    with open_link(path) as link:
        os.write(master, b"\x1a\xcf\xfc\x1dframe")
        assert read_exactly(link, 9) == b"\x1a\xcf\xfc\x1dframe"
        link.write(b"uplink")
        assert read_fd_exactly(master, 6) == b"uplink"


def test_a_megabyte_from_the_pty_master_arrives_intact_and_in_order(bare_pty):
    master, path = bare_pty
    payload = os.urandom(MB)
    with open_link(path) as link:
        writer, result = in_thread(lambda: [os.write(master, payload[i:i + 4096]) for i in range(0, MB, 4096)])
        assert read_exactly(link, MB) == payload
        writer.join(10)
        assert link.stats.bytes_in == MB


def test_options_from_the_url_and_from_keywords(bare_pty):
    _, path = bare_pty
    with open_link(f"serial://{path}?baudrate=9600&parity=e") as link:
        assert link.port.baudrate == 9600 and link.port.parity == "E"
    with open_link(path, baudrate=57600, rtscts=True) as link:
        assert link.port.baudrate == 57600 and link.port.rtscts
    with open_link(f"serial://{path}?baudrate=9600", baudrate=19200) as link:
        assert link.port.baudrate == 19200  # keywords win over the query


def test_a_pty_whose_other_end_went_away_is_counted_not_spun_on(tmp_path):
    from gridfree.protocols.links.ptypair import PtyPair

    path = str(tmp_path / "line")  # its own name: a bare /dev/pts/N may be reused by the next pty made
    pair = PtyPair(links=(path, None)).start()
    link = open_link(path)
    try:
        pair.stop()  # unplug: the device and its name go, reads fail at once
        t0 = time.monotonic()
        assert link.read(timeout=1) == b""
        assert 0.9 <= time.monotonic() - t0 < 3, "a read on a lost line waits out its timeout, neither spins nor hangs"
        assert link.stats.errors == 1 and link.stats.losses == 1 and not link.stats.connected
        assert "no data" in link.last_error or "Errno" in link.last_error
        assert f"device {path}" in link.down_reason
        link.write(b"into the void")  # the device is away: dropped and counted, not an error
        assert link.stats.dropped_writes == 1 and link.stats.errors == 1
    finally:
        link.close()


def test_a_write_nobody_reads_gives_up_after_the_write_timeout(bare_pty):
    _, path = bare_pty  # the master is never read: the pty fills up
    with open_link(path, write_timeout=0.2) as link:
        t0 = time.monotonic()
        for _ in range(64):
            link.write(bytes(65536))
            if link.stats.dropped_writes:
                break
        assert link.stats.dropped_writes == 1
        assert time.monotonic() - t0 < 5


def test_a_link_opened_on_a_file_that_is_not_a_tty_is_refused(tmp_path):
    plain = tmp_path / "not-a-tty"
    plain.write_bytes(b"")
    with pytest.raises(LinkError, match="cannot open serial link"):
        open_link(str(plain))


def test_pyserial_socket_url_talks_to_our_tcp_listener():
    with open_link("tcp-listen://127.0.0.1:0") as server:
        with open_link(f"socket://127.0.0.1:{server.local_address[1]}") as client:
            client.write(b"via pyserial")
            assert read_exactly(server, 12) == b"via pyserial"
            server.write(b"back")
            assert read_exactly(client, 4) == b"back"
