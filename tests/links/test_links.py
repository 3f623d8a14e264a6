"""Links on real ptys and loopback sockets: bytes arrive intact and in order, peers come and go."""
import os
import pty
import subprocess
import sys
import threading
import tty

import pytest

from gridfree.protocols.links import LinkError, LinkReader, Protocol, open_link
from gridfree.protocols.ptypair import PtyPair

MB = 1 << 20


def read_exactly(link, n, timeout_s=20.0):
    """Read until n octets arrived; fails (does not hang) if they do not within the timeout."""
    import time

    out, deadline = bytearray(), time.monotonic() + timeout_s
    while len(out) < n and time.monotonic() < deadline:
        out += link.read(n - len(out), timeout=0.2)
    return bytes(out)


def writer_thread(link, data, chunk=4096):
    def run():
        for i in range(0, len(data), chunk):
            link.write(data[i:i + chunk])
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def test_loop_url_echoes():
    with open_link("loop://") as link:
        link.write(b"ping")
        assert read_exactly(link, 4) == b"ping"
        assert link.stats.bytes_out == 4 and link.stats.bytes_in == 4


def test_pty_slave_path_as_a_serial_device():
    master, slave = pty.openpty()
    tty.setraw(slave)
    try:
        with open_link(os.ttyname(slave)) as link:
            os.write(master, b"\x1a\xcf\xfc\x1dframe")
            assert read_exactly(link, 9) == b"\x1a\xcf\xfc\x1dframe"
            link.write(b"uplink")
            got = b""
            while len(got) < 6:
                got += os.read(master, 6 - len(got))
            assert got == b"uplink"
    finally:
        os.close(master)
        os.close(slave)


def test_ptypair_carries_a_megabyte_both_ways_intact():
    payload = os.urandom(MB)
    with PtyPair() as pair:
        a, b = open_link(pair.paths[0]), open_link(pair.paths[1])
        try:
            t = writer_thread(a, payload)
            assert read_exactly(b, MB) == payload
            t.join(10)
            t = writer_thread(b, payload[::-1])
            assert read_exactly(a, MB) == payload[::-1]
            t.join(10)
        finally:
            a.close()
            b.close()


def test_ptypair_between_processes_with_a_fault_hook():
    flipped = []

    def flip_first_bit(data: bytes) -> bytes:
        flipped.append(len(data))
        return bytes([data[0] ^ 0x01]) + data[1:] if not flipped[1:] else data

    echo = ("import sys, serial\n"
            "p = serial.Serial(sys.argv[1], timeout=5)\n"
            "print('ready', flush=True)\n"
            "data = p.read(5)\n"
            "p.write(data[::-1]); p.flush()\n")
    with PtyPair(transform_ab=flip_first_bit) as pair:
        child = subprocess.Popen([sys.executable, "-c", echo, pair.paths[1]], stdout=subprocess.PIPE, text=True)
        try:
            # pyserial flushes the input on open, so wait until the child holds its port open.
            assert child.stdout.readline().strip() == "ready"
            with open_link(pair.paths[0]) as link:
                link.write(b"hello")
                assert read_exactly(link, 5) == b"olleh"[:4] + bytes([ord("h") ^ 1])
        finally:
            assert child.wait(20) == 0
            child.stdout.close()


def test_tcp_listen_connect_and_reconnect_after_the_peer_drops():
    server = open_link("tcp://127.0.0.1:0?listen=1")
    host, port = server.local_address
    try:
        client = open_link(f"tcp://{host}:{port}")
        client.write(b"first")
        assert read_exactly(server, 5) == b"first"
        server.write(b"ack")
        assert read_exactly(client, 3) == b"ack"
        client.close()
        assert server.read(timeout=0.5) == b""  # notices the drop
        server.write(b"into the void")
        assert server.stats.dropped_writes == 1
        client2 = open_link(f"tcp://{host}:{port}")
        client2.write(b"second")
        assert read_exactly(server, 6) == b"second"
        assert server.stats.reconnects == 1
        client2.close()
    finally:
        server.close()


def test_tcp_client_reconnects_when_the_server_comes_back():
    probe = open_link("tcp://127.0.0.1:0?listen=1")
    port = probe.local_address[1]
    probe.close()
    client = open_link(f"tcp://127.0.0.1:{port}")  # nobody listening yet: not fatal
    client.write(b"lost")
    assert client.stats.dropped_writes == 1 and not client.stats.connected
    server = open_link(f"tcp://127.0.0.1:{port}?listen=1")
    try:
        import time
        deadline = time.monotonic() + 10
        while not client.stats.connected and time.monotonic() < deadline:
            client.read(timeout=0.1)
        assert client.stats.connected
        client.write(b"found")
        assert read_exactly(server, 5) == b"found"
    finally:
        client.close()
        server.close()


def test_tcp_carries_a_megabyte_in_order():
    payload = os.urandom(MB)
    with open_link("tcp-listen://127.0.0.1:0") as server:
        with open_link(f"tcp://127.0.0.1:{server.local_address[1]}") as client:
            t = writer_thread(client, payload, chunk=65536)
            assert read_exactly(server, MB) == payload
            t.join(10)


def test_udp_keeps_datagram_boundaries_and_replies_to_the_last_peer():
    with open_link("udp-listen://127.0.0.1:0") as ground:
        port = ground.local_address[1]
        with open_link(f"udp://127.0.0.1:{port}") as node:
            assert node.is_datagram
            for size in (7, 1115, 3000):
                node.write(bytes([size & 0xFF]) * size)
            assert [len(ground.read(timeout=5)) for _ in range(3)] == [7, 1115, 3000]
            ground.write(b"cmd")
            assert node.read(timeout=5) == b"cmd"
            assert ground.stats.datagrams_in == 3 and node.stats.datagrams_in == 1


@pytest.mark.parametrize("url,match", [
    ("gopher://x:1", "unknown link scheme"),
    ("tcp://nohost", "expected tcp://host:port"),
    ("tcp://127.0.0.1:1?colour=red", "unknown option 'colour'"),
    ("udp://127.0.0.1:1?bind=nonsense", "bind must be host:port"),
    ("serial:///dev/null?parity=Z", "unknown option"),
    ("/dev/does-not-exist-gridfree", "cannot open serial link"),
    ("", "non-empty"),
])
def test_bad_urls_say_what_was_expected(url, match):
    with pytest.raises(LinkError, match=match):
        open_link(url)


def test_reader_thread_delivers_and_survives_protocol_errors():
    received, lost = [], threading.Event()
    done = threading.Event()

    class Collector(Protocol):
        def data_received(self, data):
            if data == b"boom":
                raise ValueError("decoder bug")
            received.append(data)
            if b"".join(received).endswith(b"end"):
                done.set()

        def connection_lost(self, exc):
            lost.set()

    with open_link("udp-listen://127.0.0.1:0") as rx:
        tx = open_link(f"udp://127.0.0.1:{rx.local_address[1]}")
        reader = LinkReader(rx, Collector())
        with reader:
            tx.write(b"boom")
            tx.write(b"data")
            tx.write(b"end")
            assert done.wait(5)
        tx.close()
        assert lost.wait(5)
        assert reader.protocol_errors == 1 and isinstance(reader.last_error, ValueError)
        assert received == [b"data", b"end"]
