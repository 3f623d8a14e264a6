"""UDP over 127.0.0.1: one datagram per read and per write, replies to the last peer heard from,
and datagrams too long for the read dropped and counted rather than cut short."""
import socket

from gridfree.protocols.links import open_link


def test_datagram_boundaries_are_kept():
    with open_link("udp-listen://127.0.0.1:0") as ground:
        with open_link(f"udp://127.0.0.1:{ground.local_address[1]}") as node:
            assert node.is_datagram and ground.is_datagram
            sizes = [1, 7, 1115, 3000, 65507]
            for size in sizes:
                node.write(bytes([size & 0xFF]) * size)
            got = [ground.read(timeout=5) for _ in sizes]
            assert [len(d) for d in got] == sizes
            assert all(d == bytes([len(d) & 0xFF]) * len(d) for d in got)
            assert ground.stats.datagrams_in == len(sizes) == node.stats.datagrams_out


def test_the_listener_replies_to_the_last_peer_it_heard_from():
    with open_link("udp-listen://127.0.0.1:0") as ground:
        url = f"udp://127.0.0.1:{ground.local_address[1]}"
        with open_link(url) as first, open_link(url) as second:
            ground.write(b"nobody yet")
            assert ground.stats.dropped_writes == 1
            first.write(b"1")
            assert ground.read(timeout=5) == b"1"
            ground.write(b"to first")
            assert first.read(timeout=5) == b"to first"
            second.write(b"2")
            assert ground.read(timeout=5) == b"2"
            assert ground.peer_address[1] == second.local_address[1]
            ground.write(b"to second")
            assert second.read(timeout=5) == b"to second"
            assert first.read(timeout=0.1) == b""


def test_a_datagram_longer_than_the_read_is_dropped_and_counted():
    with open_link("udp-listen://127.0.0.1:0") as rx:
        with open_link(f"udp://127.0.0.1:{rx.local_address[1]}") as tx:
            tx.write(bytes(200))
            tx.write(b"fits")
            assert rx.read(100, timeout=5) == b"fits"
            assert rx.stats.errors == 1 and "longer than max_bytes=100" in rx.last_error
            assert rx.stats.datagrams_in == 1


def test_a_datagram_too_long_for_udp_is_counted_as_dropped():
    with open_link("udp://127.0.0.1:9") as tx:
        tx.write(bytes(70000))
        assert tx.stats.dropped_writes == 1 and tx.stats.errors == 1 and tx.stats.writes == 0


def test_bind_in_the_url():
    with open_link("udp-listen://127.0.0.1:0") as rx:
        with open_link(f"udp://127.0.0.1:{rx.local_address[1]}?bind=127.0.0.1:0") as tx:
            assert tx.local_address[0] == "127.0.0.1"


def test_bind_sets_the_sending_address():
    with open_link("udp-listen://127.0.0.1:0") as rx:
        with open_link(f"udp://127.0.0.1:{rx.local_address[1]}", bind=("127.0.0.1", 0)) as tx:
            assert tx.local_address[0] == "127.0.0.1" and tx.local_address[1] != 0
            tx.write(b"from a chosen port")
            assert rx.read(timeout=5) == b"from a chosen port"
            assert rx.peer_address == tx.local_address


def test_an_empty_datagram_is_skipped_not_mistaken_for_a_timeout():
    with open_link("udp-listen://127.0.0.1:0") as rx, socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        tx.sendto(b"", rx.local_address)
        tx.sendto(b"next", rx.local_address)
        assert rx.read(timeout=5) == b"next"
        assert rx.stats.datagrams_in == 2 and rx.stats.reads == 1
