"""Bare packets on a stream or in datagrams: every good packet survives garbage around it."""
import random

from hypothesis import given, strategies as st

from gridfree.protocols.links import open_link
from gridfree.protocols.packetstream import PacketStreamDecoder, packet_from_datagram
from gridfree.protocols.pus import PusTc, PusTm

packets = st.lists(st.builds(lambda apid, n, s: PusTm(apid=apid, service=5, subtype=1, app_data=bytes([s & 0xFF]) * n,
                                                     seq_count=s).pack(),
                             st.integers(1, 0x7FE), st.integers(0, 200), st.integers(0, 0x3FFF)), max_size=20)


@given(packets, st.lists(st.integers(1, 64), max_size=30))
def test_back_to_back_packets_in_any_chunking(pkts, cuts):
    stream = b"".join(pkts)
    dec, got, pos = PacketStreamDecoder(), [], 0
    for c in cuts:
        got += dec.feed(stream[pos:pos + c])
        pos += c
    got += dec.feed(stream[pos:])
    assert got == pkts
    assert dec.stats.bytes_skipped == 0 and dec.stats.packets_ok == len(pkts)


@given(packets, st.lists(st.binary(max_size=40), max_size=20), st.integers(0, 2**32))
def test_good_packets_after_garbage_are_never_lost(pkts, junk, seed):
    rng = random.Random(seed)
    stream = b""
    for p in pkts:
        stream += rng.choice(junk) if junk else b""
        stream += p
    stream += b"\x00" * 300  # flush: a false header may wait for its declared length
    dec = PacketStreamDecoder(max_packet_octets=300)
    got = dec.feed(stream)
    # Garbage may itself contain a valid packet only by a 1-in-65536 CRC accident; ours are all found.
    assert [p for p in got if p in pkts] == pkts


@given(st.binary(max_size=4000))
def test_random_bytes_never_raise_and_are_accounted_for(blob):
    dec = PacketStreamDecoder()
    got = dec.feed(blob)
    assert dec.stats.bytes_in == len(blob)
    assert sum(map(len, got)) + dec.stats.bytes_skipped <= len(blob)


def test_a_corrupted_length_costs_one_packet_not_a_stall():
    a, b, c = (PusTc(apid=0x64, service=17, subtype=1, app_data=bytes([i]) * 20, seq_count=i).pack() for i in range(3))
    bad = bytearray(a)
    bad[5] = 0xFF  # claims ~260 octets
    dec = PacketStreamDecoder(max_packet_octets=512)
    got = dec.feed(bytes(bad) + b + c + bytes(512))
    assert got == [b, c]
    assert dec.stats.crc_errors + dec.stats.rejected_headers >= 1


def test_apid_filter_rejects_headers_outside_the_set():
    pkt = PusTm(apid=0x10, service=3, subtype=25).pack()
    assert PacketStreamDecoder(apids={0x11}).feed(pkt) == []
    assert PacketStreamDecoder(apids={0x10}).feed(pkt) == [pkt]


def test_one_packet_per_udp_datagram():
    pkt = PusTm(apid=0x10, service=3, subtype=25, app_data=b"hk").pack()
    with open_link("udp-listen://127.0.0.1:0") as rx:
        with open_link(f"udp://127.0.0.1:{rx.local_address[1]}") as tx:
            tx.write(pkt)
            tx.write(pkt[:-1] + bytes([pkt[-1] ^ 1]))
            tx.write(pkt + b"x")
            got = [packet_from_datagram(rx.read(timeout=5)) for _ in range(3)]
    assert got == [pkt, None, None]
