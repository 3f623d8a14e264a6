"""TCP over 127.0.0.1: listen and connect on port 0, peers that drop and come back, stalled
peers that must not block a writer, and a megabyte in order."""
import os
import socket
import time

import pytest

from gridfree.protocols.links import LinkError, open_link
from tests.links.util import MB, in_thread, read_exactly, wait_until, write_all


def test_listen_connect_then_a_new_peer_after_the_first_drops():
    with open_link("tcp://127.0.0.1:0?listen=1") as server:
        host, port = server.local_address
        assert port != 0 and server.listening
        client = open_link(f"tcp://{host}:{port}")
        client.write(b"first")
        assert read_exactly(server, 5) == b"first"
        assert server.stats.connected and server.peer_address[0] == "127.0.0.1"
        server.write(b"ack")
        assert read_exactly(client, 3) == b"ack"
        client.close()
        assert server.read(timeout=0.5) == b""  # sees the EOF
        assert not server.stats.connected
        server.write(b"into the void")  # no ground station in view
        assert server.stats.dropped_writes == 1
        with open_link(f"tcp://{host}:{port}") as client2:
            client2.write(b"second")
            assert read_exactly(server, 6) == b"second"
            assert server.stats.reconnects == 1 and server.stats.connected
            server.write(b"hello again")
            assert read_exactly(client2, 11) == b"hello again"


def test_client_reconnects_when_its_server_restarts():
    server = open_link("tcp-listen://127.0.0.1:0")
    port = server.local_address[1]
    client = open_link(f"tcp://127.0.0.1:{port}")
    try:
        client.write(b"one")
        assert read_exactly(server, 3) == b"one"
        server.close()  # the ground station goes away
        assert client.read(timeout=0.5) == b""
        assert not client.stats.connected and client.stats.losses == 1
        assert "lost" in client.down_reason or "cannot connect" in client.down_reason
        server = open_link(f"tcp-listen://127.0.0.1:{port}")
        assert wait_until(lambda: client.read(timeout=0.05) == b"" and client.stats.connected, 10)
        assert client.stats.reconnects == 1
        client.write(b"two")
        assert read_exactly(server, 3) == b"two"
        server.write(b"three")
        assert read_exactly(client, 5) == b"three"
    finally:
        client.close()
        server.close()


def test_client_opened_before_its_server_connects_when_it_appears():
    probe = open_link("tcp://127.0.0.1:0?listen=1")
    port = probe.local_address[1]
    probe.close()
    client = open_link(f"tcp://127.0.0.1:{port}")  # nobody listening yet: not fatal
    try:
        client.write(b"lost")
        assert client.stats.dropped_writes == 1 and not client.stats.connected
        assert "connect" in client.last_error
        with open_link(f"tcp://127.0.0.1:{port}?listen=true") as server:
            assert wait_until(lambda: client.read(timeout=0.05) == b"" and client.stats.connected, 10)
            assert client.stats.reconnects == 0  # the first connection is not a reconnection
            client.write(b"found")
            assert read_exactly(server, 5) == b"found"
    finally:
        client.close()


def test_a_second_peer_does_not_cut_off_the_first():
    with open_link("tcp-listen://127.0.0.1:0") as server:
        url = f"tcp://127.0.0.1:{server.local_address[1]}"
        with open_link(url) as ground, open_link(url) as second:
            ground.write(b"old")
            assert read_exactly(server, 3) == b"old"
            second.write(b"new")
            assert read_exactly(server, 3) == b"new"
            server.write(b"to all in view")  # the downlink reaches both, as a radio would
            assert read_exactly(ground, 14) == b"to all in view"
            assert read_exactly(second, 14) == b"to all in view"
            ground.write(b"still commanding")  # the first one's uplink still works
            assert read_exactly(server, 16) == b"still commanding"
            assert ground.stats.reconnects == 0 and ground.stats.losses == 0 and ground.stats.connected
            assert server.peers == 2 and server.stats.refused_peers == 0
        assert wait_until(lambda: server.read(timeout=0.05) == b"" and server.peers == 0, 5)
        assert server.stats.losses == 1 and not server.stats.connected  # the last one leaving is the loss
        assert server.down_reason == "last ground peer left (closed by the peer)"


def test_a_peer_past_the_limit_is_turned_away_and_counted():
    from gridfree.protocols.links.tcp import MAX_PEERS

    with open_link("tcp-listen://127.0.0.1:0") as server:
        url = f"tcp://127.0.0.1:{server.local_address[1]}"
        peers = [open_link(url) for _ in range(MAX_PEERS)]
        extra = socket.create_connection(("127.0.0.1", server.local_address[1]), timeout=5)
        try:
            assert wait_until(lambda: server.read(timeout=0.05) == b"" and server.stats.refused_peers == 1, 5)
            assert server.peers == MAX_PEERS
            assert extra.recv(16) == b""  # closed at once: it knows, rather than waiting on silence
            server.write(b"hk")
            assert all(read_exactly(p, 2) == b"hk" for p in peers)  # nobody already there lost anything
        finally:
            extra.close()
            for p in peers:
                p.close()


def test_a_client_with_nobody_listening_says_connection_refused():
    probe = open_link("tcp-listen://127.0.0.1:0")
    port = probe.local_address[1]
    probe.close()
    with open_link(f"tcp://127.0.0.1:{port}") as client:
        assert not client.stats.connected
        assert client.down_reason == f"cannot connect to 127.0.0.1:{port}: Connection refused"
        assert client.stats.errors == 0  # the normal state of a link whose peer is not up yet


def test_a_listener_that_only_writes_still_finds_its_peer():
    with open_link("tcp-listen://127.0.0.1:0") as server:
        with open_link(f"tcp://127.0.0.1:{server.local_address[1]}") as client:
            assert wait_until(lambda: (server.write(b"tm"), server.stats.writes)[1] > 0, 5)
            assert read_exactly(client, 2) == b"tm"


def test_a_stalled_peer_costs_one_write_timeout_then_the_connection():
    with socket.socket() as lazy:  # a peer that accepts and never reads
        lazy.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        lazy.bind(("127.0.0.1", 0))
        lazy.listen()
        with open_link(f"tcp://127.0.0.1:{lazy.getsockname()[1]}?write_timeout=0.2") as client:
            accepted, _ = lazy.accept()
            with accepted:
                t0 = time.monotonic()
                for _ in range(64):
                    client.write(bytes(MB))
                    if client.stats.dropped_writes:
                        break
                assert client.stats.dropped_writes == 1 and client.stats.errors == 1
                assert not client.stats.connected
                assert "timed out" in client.last_error
                assert time.monotonic() - t0 < 10


def test_a_megabyte_arrives_intact_and_in_order():
    payload = os.urandom(MB)
    with open_link("tcp-listen://127.0.0.1:0") as server:
        with open_link(f"tcp://127.0.0.1:{server.local_address[1]}") as client:
            writer, _ = in_thread(write_all, client, payload, 65536)
            assert read_exactly(server, MB) == payload
            writer.join(10)
            assert client.stats.bytes_out == server.stats.bytes_in == MB


def test_ipv6_loopback_when_available():
    try:
        server = open_link("tcp-listen://[::1]:0")
    except LinkError:
        pytest.skip("no IPv6 loopback on this host")
    with server, open_link(f"tcp://[::1]:{server.local_address[1]}") as client:
        client.write(b"v6")
        assert read_exactly(server, 2) == b"v6"
