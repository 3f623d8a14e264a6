"""SDLS on TM frames: a frame built here by hand with raw AES-GCM (independent of sdls_tm.py) is
accepted and is what the encoder makes; any flipped bit under the MAC is refused; injected,
forged and replayed frames are dropped and counted while the genuine telemetry around them comes
through; encoder to decoder round trips, authenticated and encrypted; lengths that lie; and the
data field's size accounting."""
import binascii
import itertools
import random
import struct

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gridfree.protocols.config import LinkConfig
from gridfree.protocols.deframing import RECENT_AUTH_FRAMES, TmDecoder
from gridfree.protocols.framing import TmFrameEncoder
from gridfree.protocols.pus import CucTime, PusTm
from gridfree.protocols.sdls import Refusal, SdlsRejected, SecurityAssociation
from gridfree.protocols.sdls_tm import TmProtector, TmVerifier
from gridfree.protocols.tmframe import ASM

KEY = bytes(range(32, 64))
SPI = 2
CFG = LinkConfig(sdls=True)


def sa(**kw) -> SecurityAssociation:
    return SecurityAssociation(SPI, KEY, **{"encrypt": False, **kw})


def counter(start: int = 1):
    c = itertools.count(start)
    return lambda: next(c)


def encoder(config=CFG, encrypt=False, next_iv=None) -> TmFrameEncoder:
    return TmFrameEncoder(config, protector=TmProtector(sa(encrypt=encrypt), next_iv or counter()))


def decoder(config=CFG, encrypt=False, **kw) -> TmDecoder:
    return TmDecoder(config, TmVerifier(sa(encrypt=encrypt, **kw), config))


def packets(n: int, seed: int = 1) -> list[bytes]:
    rng = random.Random(seed)
    return [PusTm(apid=0x40 + i % 3, service=3, subtype=25, app_data=rng.randbytes(rng.randint(8, 400)),
                  seq_count=i & 0x3FFF, time=CucTime(i)).pack() for i in range(n)]


def downlink(enc: TmFrameEncoder, pkts: list[bytes], vc=lambda i: i % 3) -> list[bytes]:
    frames = [f for i, p in enumerate(pkts) for f in enc.add_packet(vc(i), p)]
    return frames + enc.flush_all()


def refecf(frame) -> bytes:
    body = bytes(frame[:-2])
    return body + struct.pack(">H", binascii.crc_hqx(body, 0xFFFF))


def hand_built_frame(iv: int, data: bytes, *, encrypt=False, scid=42, vcid=1, mc=3, vc_count=4, fhp=0) -> bytes:
    """CCSDS 132.0 primary header + 355.0 security header + data field + MAC + FECF, by hand."""
    header = struct.pack(">HBBH", (scid << 4) | (vcid << 1), mc, vc_count, (0b11 << 11) | fhp)
    security = struct.pack(">H", SPI) + iv.to_bytes(12, "big")
    nonce = iv.to_bytes(12, "big")
    if encrypt:
        body = AESGCM(KEY).encrypt(nonce, data, header + security)
    else:
        body = data + AESGCM(KEY).encrypt(nonce, b"", header + security + data)
    frame = header + security + body
    return frame + struct.pack(">H", binascii.crc_hqx(frame, 0xFFFF))


@pytest.mark.parametrize("encrypt", [False, True])
def test_a_frame_built_by_hand_is_accepted_and_the_encoder_makes_the_same_octets(encrypt):
    data_octets = 1115 - 6 - 14 - 16 - 2
    pkt = packets(1)[0]
    idle = data_octets - len(pkt)  # the packet, then an idle packet (APID 0x7FF) filling the field
    data = pkt + struct.pack(">HHH", 0x07FF, 0xC000, idle - 7) + b"\x55" * (idle - 6)
    frame = hand_built_frame(7, data, encrypt=encrypt, vcid=1, mc=0, vc_count=0)
    assert len(frame) == 1115
    verifier = TmVerifier(sa(encrypt=encrypt), CFG)
    assert verifier.open(frame) == data
    assert (pkt in frame) is not encrypt  # authentication only leaves the telemetry readable
    enc = encoder(encrypt=encrypt, next_iv=counter(7))
    enc.add_packet(1, pkt)
    assert enc.flush(1) == [ASM + frame]


def test_a_flipped_bit_anywhere_under_the_mac_is_refused():
    """Every bit of the primary header, security header, data field and MAC, FECF made good."""
    frame = encoder().add_packet(0, packets(1)[0] * 12)[0][4:]
    verifier = TmVerifier(sa(window=1024), CFG)
    mac_end = 1115 - 2
    for bit in range(mac_end * 8):
        bad = bytearray(frame)
        bad[bit // 8] ^= 0x80 >> bit % 8
        with pytest.raises(SdlsRejected) as exc:
            verifier.open(refecf(bad))
        # the SPI names no SA, or the MAC fails; nothing else is believed first
        assert exc.value.reason in (Refusal.MAC, Refusal.UNKNOWN_SPI), bit
    assert verifier.open(frame)  # and the window was never moved by any of them


@pytest.mark.parametrize("encrypt", [False, True])
@pytest.mark.parametrize("ocf", [False, True])
def test_many_packets_across_frames_come_through_in_order_per_vc(encrypt, ocf):
    cfg = LinkConfig(sdls=True, tm_ocf=ocf)
    pkts = packets(800)
    stream = b"".join(downlink(encoder(cfg, encrypt), pkts))
    dec = decoder(cfg, encrypt)
    got = []
    for i in range(0, len(stream), 3001):  # arbitrary chunks: frames split across reads
        got += dec.feed(stream[i:i + 3001])
    for vc in range(3):
        assert [p for p in got if p in pkts[vc::3]] == pkts[vc::3]
    assert len(got) == len(pkts)
    st = dec.stats
    assert st.auth_ok == st.frames_ok == len(stream) // 1119 and st.auth_failed == st.replayed == 0
    assert st.frames_lost == 0 and dec.recent_auth == (True,) * RECENT_AUTH_FRAMES


def test_injected_frames_with_no_or_a_forged_mac_are_dropped_and_counted():
    """Someone with the SCID, the APIDs and the CRC (all public) builds frames of their own."""
    pkts = packets(60)
    genuine = downlink(encoder(), pkts, vc=lambda i: 0)
    evil = PusTm(apid=0x40, service=5, subtype=4, app_data=b"EVIL" * 30, seq_count=1, time=CucTime(9)).pack()
    unkeyed = TmFrameEncoder(CFG).add_packet(0, evil * 10)[0]  # no SA: SPI 0, MAC zero
    forged = encoder(next_iv=counter(10_000)).add_packet(0, evil * 10)[0]
    forged = ASM + refecf(forged[4:4 + 1097] + bytes(16) + forged[-2:])  # a guessed MAC
    wrong_key = TmFrameEncoder(CFG, protector=TmProtector(SecurityAssociation(SPI, bytes(32), encrypt=False),
                                                          counter(20_000))).add_packet(0, evil * 10)[0]
    stream = genuine[:3] + [unkeyed, forged, wrong_key] + genuine[3:]
    dec = decoder()
    got = dec.feed(b"".join(stream))
    assert got == pkts and evil not in got
    assert dec.stats.auth_failed == 3 and dec.stats.auth_ok == len(genuine)
    assert "MAC" in dec.last_auth_error
    assert dec.recent_auth.count(False) == 3


def test_a_replayed_frame_is_counted_and_its_packets_not_delivered_twice():
    pkts = packets(30)
    frames = downlink(encoder(), pkts, vc=lambda i: 0)
    dec = decoder()
    first = dec.feed(b"".join(frames))
    assert first == pkts
    again = dec.feed(frames[1] + frames[0])  # a recording played back at the ground
    assert again == [] and dec.stats.replayed == 2 and dec.stats.auth_ok == len(frames)
    assert "already seen" in dec.last_auth_error


def test_frames_reordered_inside_the_window_are_accepted_behind_it_refused():
    frames = [f[4:] for f in downlink(encoder(), packets(200), vc=lambda i: 0)]
    assert len(frames) > 20
    verifier = TmVerifier(sa(window=8), CFG)
    verifier.open(frames[10])
    verifier.open(frames[5])  # inside the window: accepted once
    with pytest.raises(SdlsRejected) as exc:
        verifier.open(frames[1])  # behind it
    assert exc.value.reason is Refusal.REPLAY


def test_stopped_sa_and_unknown_spi_are_refused_not_trusted():
    frame = encoder().add_packet(0, packets(1)[0] * 12)[0][4:]
    with pytest.raises(SdlsRejected) as exc:
        TmVerifier(sa(operational=False), CFG).open(frame)
    assert exc.value.reason is Refusal.SA_NOT_OPERATIONAL
    with pytest.raises(SdlsRejected) as exc:
        TmVerifier(SecurityAssociation(3, KEY, encrypt=False), CFG).open(frame)
    assert exc.value.reason is Refusal.UNKNOWN_SPI


def test_lengths_that_lie_cost_one_frame_never_a_stall():
    frame = encoder().add_packet(0, packets(1)[0] * 12)[0][4:]
    verifier = TmVerifier(sa(), CFG)
    for wrong in (frame[:-1], frame + b"\0", b"", frame[:20]):
        with pytest.raises(SdlsRejected) as exc:
            verifier.open(wrong)
        assert exc.value.reason is Refusal.LENGTH
    with pytest.raises(SdlsRejected) as exc:
        verifier.open(frame[:-2] + bytes(2))
    assert exc.value.reason is Refusal.FECF
    # In a stream: a frame cut short, and a frame of a link without SDLS (the same length, its
    # data where the security header should be): each costs itself and the packets it carried.
    pkts = packets(40, seed=3)
    frames = downlink(encoder(), pkts, vc=lambda i: 0)
    plain = TmFrameEncoder(LinkConfig()).add_packet(0, pkts[0] * 12)[0]
    stream = b"".join(frames[:3]) + frames[3][:600] + b"".join(frames[4:6]) + plain + b"".join(frames[6:])
    dec = decoder()
    got = dec.feed(stream)
    assert set(got) <= set(pkts) and got == [p for p in pkts if p in got]
    assert pkts[0] in got and pkts[-1] in got  # before and after the damage, telemetry comes through
    assert dec.stats.auth_failed == 1  # the non-SDLS frame (the cut one never passed its FECF)
    assert dec.stats.resyncs >= 1 and dec.stats.auth_ok >= len(frames) - 3


@pytest.mark.parametrize("ocf,fecf", [(False, True), (True, True), (False, False), (True, False)])
def test_the_data_field_is_the_frame_less_headers_sdls_fields_and_trailers(ocf, fecf):
    cfg = LinkConfig(sdls=True, tm_ocf=ocf, tm_fecf=fecf)
    expected = 1115 - 6 - 14 - 16 - (4 if ocf else 0) - (2 if fecf else 0)
    assert cfg.tm_data_field_octets == expected
    assert LinkConfig(tm_ocf=ocf, tm_fecf=fecf).tm_data_field_octets == expected + 30
    enc = encoder(cfg)
    enc.ocf = b"CLCW"
    frames = downlink(enc, packets(50), vc=lambda i: 0)
    assert all(len(f) == 4 + 1115 for f in frames)
    if ocf:  # the CLCW after the MAC, outside it: readable by a station without keys
        assert all(f[4 + 1115 - (2 if fecf else 0) - 4:][:4] == b"CLCW" for f in frames)
    if fecf:
        dec = decoder(cfg)
        assert dec.feed(b"".join(frames)) == packets(50) and dec.stats.auth_ok == len(frames)


def test_without_an_sa_the_node_marks_frames_unprotected_and_the_ground_refuses_them():
    enc = TmFrameEncoder(CFG)
    frames = downlink(enc, packets(20), vc=lambda i: 0)
    assert enc.unprotected == len(frames) and enc.authenticated == 0 and "no TM security" in enc.protect_error
    assert all(f[4 + 6:4 + 20] == bytes(14) for f in frames)  # SPI 0, IV 0
    dec = decoder()
    assert dec.feed(b"".join(frames)) == [] and dec.stats.auth_failed == len(frames)


def test_a_failing_iv_counter_sends_frames_unprotected_rather_than_crash():
    def spent():
        raise RuntimeError("every IV of this key is used; rekey the SA")

    enc = TmFrameEncoder(CFG, protector=TmProtector(sa(), spent))
    frames = downlink(enc, packets(5), vc=lambda i: 0)
    assert frames and enc.unprotected == len(frames) and "rekey" in enc.protect_error


def test_a_ground_without_the_tm_key_still_reads_authentication_only_telemetry_as_unchecked():
    pkts = packets(50)
    frames = downlink(encoder(), pkts, vc=lambda i: 0)
    dec = TmDecoder(CFG)
    assert dec.feed(b"".join(frames)) == pkts
    assert dec.stats.auth_unchecked == len(frames) and dec.stats.auth_ok == 0 and dec.recent_auth == ()


def test_the_downlink_reports_whether_the_latest_frames_authenticated(dictionary):
    from gridfree.ground.link.downlink import Downlink

    d = Downlink("loop://", dictionary, CFG)
    assert d.tm_auth.verified is None and d.tm_auth.sdls and not d.tm_auth.checking
    d.authenticate_tm(sa())
    enc = encoder()
    d.data_received(b"".join(downlink(enc, packets(60), vc=lambda i: 0)))
    state = d.tm_auth
    assert state.checking and state.verified is True and state.authenticated > 0 and state.failed == 0
    d.data_received(TmFrameEncoder(CFG).idle_frame())  # one injected (unprotected) frame
    state = d.tm_auth
    assert state.verified is False and state.failed == 1 and state.recent_ok == state.recent - 1
    assert "SPI 0" in state.last_error
    d.data_received(b"".join(enc.idle_frame() for _ in range(RECENT_AUTH_FRAMES)))
    assert d.tm_auth.verified is True  # the latest frames are genuine again; the count stays
    assert d.tm_auth.failed == 1
