"""The node's security component with key material as `gridfree keys init` makes it and frames as the
ground sends them: the operator's and a tenant's commands arrive with their roles, an OTAR rekey
built by the ground's tools works end to end, and the TM the node seals checks at the ground."""
from __future__ import annotations

import os

from gridfree.flight.core.messages import Origin, UplinkFrame
from gridfree.flight.core.tester import ComponentTester
from gridfree.flight.security.component import SecurityComponent
from gridfree.ground.keys.material import init
from gridfree.ground.keys.otar import build_upload, use_key
from gridfree.ground.keys.session import GroundSecurity
from gridfree.protocols.config import LinkConfig
from gridfree.protocols.framing import TmFrameEncoder
from gridfree.protocols.keystore import Keystore, key_verification
from gridfree.protocols.sdls import protect
from gridfree.protocols.sdls_tm import TmVerifier
from tests.flight.security_keydir import packet


def ground_frame(security: GroundSecurity, n: int) -> bytes:
    return protect(security.tc_sa, security.next_iv(), 0x2A, 0, n & 0xFF, packet(n))


def obeyed(t: ComponentTester, frame: bytes):
    before = len(t.sent("commandOut"))
    t.send("frameIn", UplinkFrame(frame))
    sent = t.sent("commandOut")[before:]
    return sent[0] if sent else None


def test_operator_and_tenant_frames_from_the_ground_tools_arrive_with_their_roles(tmp_path):
    material = init(tmp_path / "mission", tenants=2)
    t = ComponentTester(SecurityComponent("sec", 0x00C0, keys_dir=material.node))
    operator = GroundSecurity.load(material.ground)
    tenant2 = GroundSecurity.load(material.tenants[1])
    assert obeyed(t, ground_frame(operator, 1)).origin == Origin(operator.tc_sa.spi, "operator", 0)
    command = obeyed(t, ground_frame(tenant2, 2))
    assert command.origin == Origin(tenant2.tc_sa.spi, "tenant", 2) and command.packet == packet(2)


def test_an_otar_rekey_built_by_the_ground_tools_works_end_to_end(tmp_path):
    material = init(tmp_path / "mission", tenants=1)
    t = ComponentTester(SecurityComponent("sec", 0x00C0, keys_dir=material.node))
    old = GroundSecurity.load(material.ground)
    assert obeyed(t, ground_frame(old, 1))

    upload = build_upload(material.ground, master_id=1, key_id=12)
    assert t.command("UploadKey", master_id=upload.master_id, key_id=upload.key_id, nonce=upload.nonce,
                     wrapped=upload.wrapped).ok
    challenge = os.urandom(16)
    assert t.command("VerifyKey", key_id=12, challenge=challenge).ok
    expected = key_verification(Keystore.load(material.ground / "keystore.bin").keys[12].key, challenge).hex()
    assert t.events("KeyVerified")[-1]["response"] == expected  # node and ground hold the same key
    assert t.command("ActivateKey", key_id=12).ok
    assert t.command("RekeySa", spi=old.tc_sa.spi, key_id=12).ok
    use_key(material.ground, old.tc_sa.spi, 12)

    new = GroundSecurity.load(material.ground)
    assert obeyed(t, ground_frame(new, 2)).packet == packet(2)
    stale = protect(old.tc_sa, 10_000, 0x2A, 0, 3, packet(3))  # a sender still on the old key
    assert obeyed(t, stale) is None


def test_tm_the_node_seals_checks_at_the_ground(tmp_path):
    material = init(tmp_path / "mission", tenants=0)
    t = ComponentTester(SecurityComponent("sec", 0x00C0, keys_dir=material.node))
    t.run("fast", 0.1)
    (protection,) = t.sent("tmOut")
    config = LinkConfig(sdls=True)
    encoder = TmFrameEncoder(config, with_asm=False, protector=protection.protector)
    frames = encoder.add_packet(0, b"\x08\x01\xc0\x00\x00\x03tm!!") + encoder.flush_all()
    assert frames
    ground = TmVerifier(GroundSecurity.load(material.ground).tm_sa, config)
    for frame in frames:
        ground.open(frame)  # raises SdlsRejected unless the MAC checks under the ground's TM key
