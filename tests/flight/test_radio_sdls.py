"""The radio over a real TCP link with SDLS: uplinked TC frames reach the security component as
the octets received (only ours: spacecraft and virtual channel), never as commands; TM frames
go down sealed under the SA the security component hands in, and the ground checks them; with
no SA on an SDLS link the frames are marked unprotected, an event says so and the ground refuses
them."""
import itertools

import pytest

from gridfree.flight.app.radio import Radio
from gridfree.flight.core.messages import TmProtection, UplinkFrame
from gridfree.flight.core.tester import ComponentTester
from gridfree.protocols.config import LinkConfig
from gridfree.protocols.deframing import TmDecoder
from gridfree.protocols.links import open_link
from gridfree.protocols.pus import CucTime, PusTc, PusTm
from gridfree.protocols.sdls import SecurityAssociation, protect
from gridfree.protocols.sdls_tm import TmProtector, TmVerifier
from gridfree.protocols.tcframe import TcFrame, encode_cltu
from tests.links.util import wait_until

TM_KEY, TC_KEY = bytes(range(32)), bytes(range(1, 33))
CFG = LinkConfig(sdls=True)


@pytest.fixture
def radio():
    r = Radio("radio", 0x0080, url="tcp://127.0.0.1:0?listen=1", link_config=CFG)
    tester = ComponentTester(r)
    r.open()
    ground = open_link(f"tcp://127.0.0.1:{r.link.local_address[1]}")
    assert wait_until(lambda: r.link.stats.connected)
    yield r, tester, ground
    ground.close()
    r.stop()


def tm_packets(n: int) -> list[bytes]:
    return [PusTm(apid=100, service=3, subtype=25, app_data=bytes([i]) * 150, seq_count=i, time=CucTime(i)).pack()
            for i in range(n)]


def receive(ground, decoder: TmDecoder, want: int) -> list[bytes]:
    got: list[bytes] = []
    wait_until(lambda: (got.extend(decoder.feed(ground.read(timeout=0.1))), len(got) >= want)[1])
    return got


def test_uplinked_frames_go_to_the_security_component_as_received_and_only_ours(radio):
    r, tester, ground = radio
    packet = PusTc(apid=100, service=17, subtype=1, app_data=b"").pack()
    ours = protect(SecurityAssociation(1, TC_KEY), 5, CFG.spacecraft_id, CFG.tc_virtual_channel, 0, packet)
    other_scid = protect(SecurityAssociation(1, TC_KEY), 6, 0x3FF, CFG.tc_virtual_channel, 1, packet)
    other_vc = TcFrame(CFG.spacecraft_id, 5, 2, packet).pack()
    damaged = bytearray(encode_cltu(ours))
    damaged[20] ^= 0xFF  # two bit errors in one BCH block: uncorrectable, the CLTU ends there
    damaged[21] ^= 0xFF
    ground.write(encode_cltu(other_scid) + encode_cltu(other_vc) + bytes(damaged) + encode_cltu(ours))
    assert wait_until(lambda: tester.sent("frameOut"))
    assert wait_until(lambda: r.frames_bad >= 3)
    assert tester.sent("frameOut") == [UplinkFrame(ours)]  # its octets exactly: what the MAC covers
    r.flush(1.0)
    assert tester.tlm("FramesOk") == 1 and tester.tlm("FramesBad") == 3


@pytest.mark.parametrize("encrypt", [False, True])
def test_tm_frames_go_down_sealed_under_the_sa_the_security_component_hands_in(radio, encrypt):
    r, tester, ground = radio
    ivs = itertools.count(1)
    sa = SecurityAssociation(2, TM_KEY, encrypt=encrypt)
    tester.send("tmProtectionIn", TmProtection(TmProtector(sa, lambda: next(ivs))))
    assert tester.events("TmProtected") == [{"spi": 2}]
    pkts = tm_packets(40)
    for p in pkts:
        r.sink(0, p)
    r.flush(1.0)
    decoder = TmDecoder(CFG, TmVerifier(SecurityAssociation(2, TM_KEY, encrypt=encrypt), CFG))
    assert receive(ground, decoder, len(pkts)) == pkts
    assert decoder.stats.auth_ok == tester.tlm("TmAuthenticated") == r.encoder.frames_out > 1
    assert decoder.stats.auth_failed == 0 and tester.tlm("TmUnprotected") == 0
    assert tester.events("TmUnprotected") == []


def test_without_an_sa_tm_frames_are_marked_unprotected_and_the_ground_refuses_them(radio):
    r, tester, ground = radio
    for p in tm_packets(10):
        r.sink(0, p)
    r.flush(1.0)
    r.flush(2.0)
    assert tester.events("TmUnprotected") == [{"reason": "no TM security association set"}]  # once
    decoder = TmDecoder(CFG, TmVerifier(SecurityAssociation(2, TM_KEY, encrypt=False), CFG))
    assert wait_until(lambda: (decoder.feed(ground.read(timeout=0.1)), decoder.stats.auth_failed > 1)[1])
    assert decoder.stats.packets_ok == 0 and decoder.stats.auth_ok == 0
    assert tester.tlm("TmUnprotected") == r.encoder.frames_out
    # the SA arrives: from now on the frames authenticate
    ivs = itertools.count(1)
    tester.send("tmProtectionIn", TmProtection(TmProtector(SecurityAssociation(2, TM_KEY, encrypt=False),
                                                           lambda: next(ivs))))
    pkts = tm_packets(5)
    for p in pkts:
        r.sink(1, p)
    r.flush(3.0)
    assert receive(ground, decoder, 5) == pkts and decoder.stats.auth_ok >= 1
    assert len(tester.events("TmUnprotected")) == 1


def test_a_tm_sa_on_a_link_without_sdls_fields_is_reported_and_frames_stay_plain():
    r = Radio("radio", 0x0080, url="loop://", link_config=LinkConfig())
    tester = ComponentTester(r)
    tester.send("tmProtectionIn", TmProtection(TmProtector(SecurityAssociation(2, TM_KEY), lambda: 1)))
    assert "sdls = false" in tester.events("TmUnprotected")[0]["reason"]
    frame = r.encoder.add_packet(0, tm_packets(1)[0] * 8)[0]
    assert TmDecoder(LinkConfig()).feed(frame)  # a plain frame, as the link is configured
    with pytest.raises(TypeError):
        tester.send("tmProtectionIn", TmProtection("not a protector"))
