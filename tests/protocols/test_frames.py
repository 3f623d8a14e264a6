"""TM/TC frames, CLTUs, the multiplexing encoder and the stream decoders.

The native batch decoder is checked against the plain-Python reference on the same streams, the
specs against construct, and the decoders against random and mutated bytes."""
import random

import numpy as np
import pytest
from hypothesis import given, strategies as st

import gridfree.native as native
from gridfree.native import reference as ref
from gridfree.protocols.config import LinkConfig, LinkConfigError
from gridfree.protocols.deframing import CltuDecoder, TmDecoder
from gridfree.protocols.errors import CrcError, InvalidFieldError
from gridfree.protocols.framing import TcFrameEncoder, TmFrameEncoder
from gridfree.protocols.pus import PusTc, PusTm
from gridfree.protocols.tcframe import CLTU_TAIL, TcFrame, TcFrameHeaderSpec, TcFrameSpec, encode_cltu
from gridfree.protocols.tmframe import ASM, FHP_IDLE, TmFrame, TmFrameHeader, TmFrameHeaderSpec, tm_frame_spec

SMALL = LinkConfig(tm_frame_octets=64)  # short frames make packets span several of them


def pus_packets(draw_sizes, apids=(0x10, 0x11, 0x12)):
    return [PusTm(apid=apids[i % len(apids)], service=3, subtype=25, app_data=bytes([i & 0xFF]) * n,
                  seq_count=i).pack() for i, n in enumerate(draw_sizes)]


def encode(config, vc_packets, idle_every=0):
    """Encode (vc, packet) pairs, flushing at the end; returns the stream and per-VC packets."""
    enc = TmFrameEncoder(config)
    stream, per_vc = bytearray(), {}
    for i, (vc, pkt) in enumerate(vc_packets):
        per_vc.setdefault(vc, []).append(pkt)
        for f in enc.add_packet(vc, pkt):
            stream += f
        if idle_every and i % idle_every == 0:
            stream += enc.idle_frame()
    for f in enc.flush_all():
        stream += f
    return bytes(stream), per_vc


vc_packet_lists = st.lists(st.tuples(st.sampled_from([0, 1, 2]), st.integers(0, 150)), min_size=1, max_size=40)


# ---- specs -----------------------------------------------------------------------------------

@given(st.integers(0, 0x3FF), st.integers(0, 7), st.integers(0, 255), st.integers(0, 255), st.integers(0, 0x7FF),
       st.booleans())
def test_tm_header_agrees_with_construct(scid, vcid, mc, vc, fhp, ocf):
    h = TmFrameHeader(scid, vcid, mc, vc, fhp, ocf_flag=ocf)
    raw = h.pack()
    for spec in (TmFrameHeaderSpec, TmFrameHeaderSpec.compile()):
        p = spec.parse(raw)
        assert (p.scid, p.vcid, p.mc_count, p.vc_count, p.fhp, p.ocf_flag) == (scid, vcid, mc, vc, fhp, ocf)
        assert p.segment_length_id == 0b11
    assert TmFrameHeader.unpack(raw) == h


@given(st.binary(min_size=49, max_size=49), st.booleans())
def test_tm_frame_round_trip_and_spec(data, ocf):
    h = TmFrameHeader(42, 3, 1, 2, 0, ocf_flag=ocf)
    frame = TmFrame(h, data[:45] if ocf else data, data[45:] if ocf else None)
    raw = frame.pack()
    assert len(raw) == 57
    assert TmFrame.unpack(raw) == frame
    parsed = tm_frame_spec(57, ocf=ocf).parse(raw)
    assert parsed.data == frame.data and parsed.fecf == native.crc16(raw[:-2])
    bad = bytearray(raw)
    bad[10] ^= 1
    with pytest.raises(CrcError):
        TmFrame.unpack(bytes(bad))


@given(st.integers(0, 0x3FF), st.integers(0, 63), st.integers(0, 255), st.binary(max_size=300), st.booleans())
def test_tc_frame_round_trip_and_spec(scid, vcid, seq, data, bypass):
    f = TcFrame(scid, vcid, seq, data, bypass)
    raw = f.pack()
    assert TcFrame.unpack(raw) == f
    for spec in (TcFrameSpec, TcFrameSpec.compile()):
        p = spec.parse(raw)
        assert (p.header.scid, p.header.vcid, p.header.seq_num, p.data) == (scid, vcid, seq, data)
        assert p.header.frame_length == len(raw) - 1 and p.header.bypass_flag == bypass


def test_tc_frame_length_is_checked_only_after_the_fecf():
    raw = bytearray(TcFrame(1, 0, 0, b"hello").pack())
    raw[3] ^= 0x04  # corrupt the length field: the FECF catches it first
    with pytest.raises(CrcError):
        TcFrame.unpack(bytes(raw))
    good = TcFrame(1, 0, 0, b"hello").pack()
    with pytest.raises((CrcError, InvalidFieldError)):
        TcFrame.unpack(good + b"\x00")


def test_config_errors_name_the_key():
    with pytest.raises(LinkConfigError, match="spacecraft_id"):
        LinkConfig(spacecraft_id=2000)
    with pytest.raises(LinkConfigError, match="tm_frame_octets"):
        LinkConfig.from_dict({"tm_frame_octets": "big"})
    with pytest.raises(LinkConfigError, match="unknown key"):
        LinkConfig.from_dict({"tm_frame_length": 1115})
    assert LinkConfig.from_dict({"tm_virtual_channels": {"0": "hk", "7": "idle"}}).tm_virtual_channels == {0: "hk", 7: "idle"}
    assert LinkConfig(sdls=True).tm_data_field_octets == LinkConfig().tm_data_field_octets - 30


# ---- encoder -> decoder ----------------------------------------------------------------------

@given(vc_packet_lists, st.integers(0, 5))
def test_packets_survive_encoding_in_order_per_vc(items, idle_every):
    pkts = pus_packets([n for _, n in items])
    stream, per_vc = encode(SMALL, [(vc, p) for (vc, _), p in zip(items, pkts)], idle_every)
    dec = TmDecoder(SMALL)
    batch = dec.feed_batch(stream)
    got = {}
    for i in range(len(batch.packets)):
        got.setdefault(int(batch.packets.vcid[i]), []).append(batch.packets.packet(i))
    assert got == per_vc
    assert dec.stats.frames_bad == dec.stats.frames_lost == dec.stats.resyncs == dec.stats.bytes_skipped == 0
    assert dec.stats.packets_ok == len(pkts)


@given(vc_packet_lists, st.lists(st.integers(1, 97), max_size=20))
def test_feeding_in_arbitrary_chunks_gives_the_same_packets(items, cuts):
    pkts = pus_packets([n for _, n in items])
    stream, _ = encode(SMALL, [(vc, p) for (vc, _), p in zip(items, pkts)])
    whole = TmDecoder(SMALL).feed(stream)
    dec, got, pos = TmDecoder(SMALL), [], 0
    for c in cuts:
        got += dec.feed(stream[pos:pos + c])
        pos += c
    got += dec.feed(stream[pos:])
    assert sorted(got) == sorted(whole) == sorted(pkts)


def test_frame_counters_wrap_and_idle_frames_are_marked():
    enc = TmFrameEncoder(SMALL)
    frames = [enc.idle_frame() for _ in range(300)]
    headers = [TmFrameHeader.unpack(f[4:]) for f in frames]
    assert [h.mc_count for h in headers[:258]] == [i & 0xFF for i in range(258)]
    assert all(h.fhp == FHP_IDLE and h.vcid == 7 for h in headers)
    dec = TmDecoder(SMALL)
    assert dec.feed(b"".join(frames)) == [] and dec.stats.frames_ok == 300 and dec.stats.frames_lost == 0


def test_flush_with_less_room_than_an_idle_packet_spans_one_more_frame():
    enc = TmFrameEncoder(SMALL)
    dlen = enc.data_octets
    pkt = PusTm(apid=5, service=1, subtype=1, app_data=bytes(dlen - 3 - 21)).pack()
    assert enc.add_packet(0, pkt) == [] and enc.pending(0) == dlen - 3
    frames = enc.flush(0)
    assert len(frames) == 2
    assert TmDecoder(SMALL).feed(b"".join(frames)) == [pkt]


def test_encoder_rejects_the_idle_vc_and_unknown_vcs():
    enc = TmFrameEncoder(SMALL)
    with pytest.raises(LinkConfigError):
        enc.add_packet(7, b"x" * 10)
    with pytest.raises(LinkConfigError):
        enc.add_packet(5, b"x" * 10)


# ---- damage ----------------------------------------------------------------------------------

def mutate(stream: bytes, rng: random.Random, kind: str) -> bytes:
    s = bytearray(stream)
    if kind == "flip":
        for _ in range(rng.randint(1, 5)):
            i = rng.randrange(len(s) * 8)
            s[i // 8] ^= 1 << (i % 8)
    elif kind == "drop":
        i = rng.randrange(len(s))
        del s[i:i + rng.randint(1, 80)]
    elif kind == "insert":
        i = rng.randrange(len(s))
        s[i:i] = rng.randbytes(rng.randint(1, 80))
    elif kind == "truncate":
        del s[rng.randrange(len(s)):]
    return bytes(s)


@given(vc_packet_lists, st.integers(0, 2**32), st.sampled_from(["flip", "drop", "insert", "truncate"]))
def test_native_decoder_agrees_with_python_reference_on_damaged_streams(items, seed, kind):
    pkts = pus_packets([n for _, n in items])
    stream, _ = encode(SMALL, [(vc, p) for (vc, _), p in zip(items, pkts)], idle_every=3)
    damaged = mutate(stream, random.Random(seed), kind)
    frames = native.deframe_tm(damaged, 64)
    rframes, consumed, resyncs, skipped, locked = ref.deframe(damaged, 64)
    assert [dict(offset=int(frames.offset[i]), scid=int(frames.scid[i]), vcid=int(frames.vcid[i]),
                 mc_count=int(frames.mc_count[i]), vc_count=int(frames.vc_count[i]), fhp=int(frames.fhp[i]),
                 fecf_ok=bool(frames.fecf_ok[i])) for i in range(len(frames))] == rframes
    assert (frames.consumed, frames.resyncs, frames.bytes_skipped, frames.locked) == (consumed, resyncs, skipped, locked)
    packets = native.extract_packets(damaged, frames)
    rx = ref.Extractor(64)
    rpackets = rx.feed(damaged, rframes)
    assert [packets.packet(i) for i in range(len(packets))] == [p["data"] for p in rpackets]
    assert packets.crc_ok.tolist() == [p["crc_ok"] for p in rpackets]
    assert packets.apid.tolist() == [p["apid"] for p in rpackets]
    assert packets.frame_index.tolist() == [p["frame_index"] for p in rpackets]
    assert (packets.packets_dropped, packets.idle_packets, packets.malformed) == (rx.dropped, rx.idle, rx.malformed)


@given(st.binary(max_size=3000))
def test_decoders_survive_random_bytes(blob):
    dec = TmDecoder(SMALL)
    dec.feed(blob)
    dec.feed(ASM + blob)
    assert dec.stats.bytes_in == 2 * len(blob) + 4
    cl = CltuDecoder()
    cl.feed(blob)
    cl.feed(b"\xeb\x90" + blob)


def test_a_corrupted_frame_costs_only_the_packets_touching_it():
    pkts = pus_packets([30] * 40)
    stream, _ = encode(SMALL, [(0, p) for p in pkts])
    step = 4 + 64
    damaged = bytearray(stream)
    damaged[5 * step + 20] ^= 0xFF  # inside frame 5's data field
    dec = TmDecoder(SMALL)
    got = dec.feed(bytes(damaged))
    assert dec.stats.frames_bad == 1 and dec.stats.frames_lost == 1 and dec.stats.resyncs == 0
    lost = [p for p in pkts if p not in got]
    # Frame 5 carries data octets [5*dlen, 6*dlen) of the VC's packet stream.
    dlen = SMALL.tm_data_field_octets
    starts = np.cumsum([0] + [len(p) for p in pkts])
    touching = [p for p, a, b in zip(pkts, starts[:-1], starts[1:]) if a < 6 * dlen and b > 5 * dlen]
    assert lost == touching
    assert dec.stats.packets_dropped + dec.stats.malformed >= 1


def test_garbage_between_frames_costs_nothing_but_is_counted():
    pkts = pus_packets([40] * 10)
    stream, _ = encode(SMALL, [(1, p) for p in pkts])
    step = 4 + 64
    frames = [stream[i:i + step] for i in range(0, len(stream), step)]
    noisy = frames[0] + b"junk \x1a\xcf\xfc\x1d with a fake ASM" + b"".join(frames[1:])
    dec = TmDecoder(SMALL)
    assert dec.feed(noisy) == pkts
    assert dec.stats.resyncs == 1 and dec.stats.bytes_skipped == 25 and dec.stats.frames_lost == 0


# ---- uplink ----------------------------------------------------------------------------------

@given(st.lists(st.binary(max_size=200), min_size=1, max_size=5), st.integers(0, 2**32))
def test_cltus_round_trip_with_single_bit_errors_corrected(payloads, seed):
    rng = random.Random(seed)
    enc = TcFrameEncoder()
    cmds = [PusTc(apid=0x64, service=17, subtype=1, app_data=p, seq_count=i).pack() for i, p in enumerate(payloads)]
    stream, flips = bytearray(), 0
    for c in cmds:
        cltu = bytearray(enc.cltu(c))
        block = rng.randrange((len(cltu) - 2 - 8) // 8)
        bit = rng.randrange(63)
        cltu[2 + 8 * block + bit // 8] ^= 0x80 >> (bit % 8)
        flips += 1
        stream += rng.randbytes(rng.randint(0, 5)).replace(b"\xeb", b"\x00") + cltu
    dec = CltuDecoder()
    frames = dec.feed(bytes(stream))
    assert [f.data for f in frames] == cmds
    assert [f.seq_num for f in frames] == list(range(len(cmds)))
    assert dec.stats.bits_corrected == flips and dec.stats.frames_bad == 0


def test_a_cltu_with_a_corrupted_frame_is_rejected_and_the_next_one_survives():
    good = TcFrame(0x2A, 0, 1, b"second").pack()
    bad = bytearray(TcFrame(0x2A, 0, 0, b"first").pack())
    bad[3] ^= 0x3F  # length field: the FECF fails, so it is never believed
    dec = CltuDecoder()
    frames = dec.feed(encode_cltu(bytes(bad)) + encode_cltu(good))
    assert [f.data for f in frames] == [b"second"]
    assert dec.stats.frames_bad == 1 and "FECF" in dec.last_error


def test_a_cltu_without_tail_is_abandoned_not_waited_on_forever():
    dec = CltuDecoder()
    body = native.bch_encode(bytes(7 * 200))  # 200 good blocks: longer than any legal CLTU
    assert dec.feed(b"\xeb\x90" + body) == []
    assert dec.stats.cltus_abandoned == 1
    good = TcFrame(0x2A, 0, 1, b"after").pack()
    assert [f.data for f in dec.feed(encode_cltu(good))] == [b"after"]


def test_cltu_layout():
    cltu = encode_cltu(TcFrame(1, 0, 0, b"abc").pack())
    assert cltu[:2] == b"\xeb\x90" and cltu.endswith(CLTU_TAIL)
    assert (len(cltu) - 2 - 8) % 8 == 0
    assert TcFrameHeaderSpec.parse(native.bch_decode(cltu[2:]).data).frame_length == 5 + 3 + 2 - 1


def test_a_frame_batch_naming_a_vc_past_seven_is_refused_not_written_past_the_state():
    """The C core keeps reassembly state for VCs 0..7; a batch a caller built with VCID 8 (or with
    arrays of unequal length) must be an error, never a write outside that state."""
    import dataclasses

    stream, _ = encode(SMALL, [(1, p) for p in pus_packets([20, 30])], idle_every=0)
    frames = native.deframe_tm(stream, 64)
    assert len(native.extract_packets(stream, frames)) == 2
    lying = dataclasses.replace(frames, vcid=np.full(len(frames), 8, np.uint8))
    with pytest.raises(ValueError, match="virtual channel 8 out of range 0..7"):
        native.extract_packets(stream, lying)
    short = dataclasses.replace(frames, fhp=frames.fhp[:-1])
    with pytest.raises(ValueError, match="one entry per frame"):
        native.extract_packets(stream, short)


def test_the_c_core_itself_refuses_a_vc_past_seven_with_its_state_untouched(monkeypatch):
    """The Python check above is a convenience; the C entry point must hold on its own (another
    binding, a future caller), refusing the batch before any VC's state changes."""
    import dataclasses

    from gridfree.native import frames as native_frames

    packets = [(1, p) for p in pus_packets([300, 300])]
    stream, _ = encode(SMALL, packets, idle_every=0)
    frames = native.deframe_tm(stream, 64)
    whole = native.extract_packets(stream, frames)

    def part(sl):
        names = ("offset", "scid", "vcid", "mc_count", "vc_count", "fhp", "fecf_ok")
        return dataclasses.replace(frames, **{k: getattr(frames, k)[sl] for k in names})

    extractor = native_frames.PacketExtractor(64)
    first = extractor.extract(stream, part(slice(0, 2)))  # a packet left half-assembled on VC 1
    monkeypatch.setattr(native_frames, "VIRTUAL_CHANNELS", 256)  # past the Python check
    lying = part(slice(2, None))
    lying = dataclasses.replace(lying, vcid=np.where(np.arange(len(lying)) == len(lying) - 1, 200, lying.vcid)
                                .astype(np.uint8))  # only the last frame lies: the first must not be used
    with pytest.raises(Exception, match="extract_packets"):
        extractor.extract(stream, lying)
    rest = extractor.extract(stream, part(slice(2, None)))  # the refused batch changed nothing
    assert len(first) + len(rest) == len(whole) == 2
