"""The node's security component alone: uplink frames checked under SDLS before anything is obeyed,
refusals counted, audited and reported without flooding, TM protection handed to the radio, the
insecure mode loud, damaged key material a one-line error. Frames are made by hand with AES-GCM
(security_keydir.py), key material is real files."""
from __future__ import annotations

import binascii
import os
import threading

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gridfree.flight.core.messages import INSECURE, CommandAudit, CommandPacket, Origin, TmProtection, UplinkFrame
from gridfree.flight.core.tester import ComponentTester
from gridfree.flight.security.component import SecurityComponent, SecurityConfigError
from gridfree.flight.security.replay import ReplayStore
from gridfree.protocols.audit import AuditRecord
from gridfree.protocols.keystore import KeyEntry, KeyKind, KeyState, Keystore
from gridfree.protocols.sdls_tm import TmProtector
from tests.flight.security_keydir import (OPERATOR_KEY_ID, OPERATOR_SPI, TENANT_KEY_ID, TENANT_SPI, TM_KEY_ID,
                                          TM_SPI, make_keydir, operator_frame, packet, plain_frame, tc_frame,
                                          tenant_frame)

REFUSAL_CHANNELS = ("RejectedLength", "RejectedFecf", "RejectedUnknownSpi", "RejectedSaStopped", "RejectedMac",
                    "RejectedReplay")


@pytest.fixture
def kd(tmp_path):
    return make_keydir(tmp_path / "node")


def sec_tester(keys_dir) -> ComponentTester:
    return ComponentTester(SecurityComponent("sec", 0x00C0, keys_dir=keys_dir))


def uplink(t: ComponentTester, *frames: bytes) -> None:
    for frame in frames:
        t.send("frameIn", UplinkFrame(frame))


def test_frames_sealed_by_hand_with_aes_gcm_go_to_dispatch_with_their_sa_origin(kd):
    t = sec_tester(kd.path)
    uplink(t, operator_frame(kd, iv=1, n=1), tenant_frame(kd, iv=1, n=2))
    assert t.sent("commandOut") == [CommandPacket(packet(1), Origin(OPERATOR_SPI, "operator", 0)),
                                    CommandPacket(packet(2), Origin(TENANT_SPI, "tenant", 1))]
    t.run("slow", 1.0)
    assert t.tlm("FramesAccepted") == 2
    assert t.tlm("Insecure") is False
    assert all(t.tlm(c) == 0 for c in REFUSAL_CHANNELS)
    assert t.sent("auditOut") == []


def test_the_anti_replay_state_is_on_disk_before_the_command_is_handed_on(kd):
    t = sec_tester(kd.path)
    on_disk_when_handed_on = []
    t.answer("commandOut", lambda cp: on_disk_when_handed_on.append(ReplayStore(kd.path).load()) or True)
    uplink(t, operator_frame(kd, iv=7))
    (states,) = on_disk_when_handed_on
    assert states[OPERATOR_KEY_ID].highest_iv == 7


def refused_frames(kd):
    """One frame per refusal kind, each with the channel that must count it."""
    good = operator_frame(kd, iv=50)
    forged = bytearray(operator_frame(kd, iv=51))
    forged[-3] ^= 0x01  # in the MAC; the FECF is recomputed so only the MAC can catch it
    forged[-2:] = binascii.crc_hqx(bytes(forged[:-2]), 0xFFFF).to_bytes(2, "big")
    bad_fecf = bytearray(operator_frame(kd, iv=52))
    bad_fecf[-1] ^= 0xFF
    return good, {
        "RejectedLength": good[:20],
        "RejectedFecf": bytes(bad_fecf),
        "RejectedUnknownSpi": tc_frame(os.urandom(32), 77, 1, packet()),
        "RejectedMac": bytes(forged),
        "RejectedReplay": good,  # sent a second time
    }


@pytest.mark.parametrize("channel", ["RejectedLength", "RejectedFecf", "RejectedUnknownSpi", "RejectedMac",
                                     "RejectedReplay"])
def test_each_refusal_is_counted_by_reason_audited_and_obeys_nothing(kd, channel):
    t = sec_tester(kd.path)
    good, bad = refused_frames(kd)
    uplink(t, good, bad[channel])
    assert len(t.sent("commandOut")) == 1  # the good frame only
    t.run("fast", 0.1)
    t.run("slow", 1.0)
    assert {c: t.tlm(c) for c in REFUSAL_CHANNELS} == {c: int(c == channel) for c in REFUSAL_CHANNELS}
    (record,) = t.sent("auditOut")
    assert isinstance(record, CommandAudit)
    assert (record.name, record.outcome) == ("TC frame", "rejected")
    (event,) = t.events("FrameRejected")
    assert event["suppressed"] == 0 and event["reason"] in record.reason
    o = record.origin  # a record the audit log can store
    stored = AuditRecord.unpack(AuditRecord(0, record.time_s, o.spi, o.role, o.tenant, record.name, record.outcome,
                                            record.code, record.reason).pack())
    assert (stored.name, stored.outcome) == ("TC frame", "rejected")
    if channel in ("RejectedMac", "RejectedReplay"):
        assert record.origin == Origin(OPERATOR_SPI, "operator", 0)  # the SA the frame claimed


def test_a_replay_flood_is_reported_once_per_10_s_and_the_next_report_says_how_many_were_not(kd):
    t = sec_tester(kd.path)
    frame = operator_frame(kd, iv=1)
    uplink(t, frame)
    for second in range(25):
        t.clock.set(float(second))
        uplink(t, frame, frame)
        t.run("fast", second + 0.1)
    reports = t.events("FrameRejected")
    assert [r["suppressed"] for r in reports] == [1, 19, 19]  # at 0 s, 10 s and 20 s
    t.run("fast", 30.1)
    assert t.events("FrameRejected")[-1]["suppressed"] == 7  # 21..24 s: 8 refused, one is the report
    # The audit takes one record per second of the flood (two frames each second), each saying
    # how many more it stands for: a flood cannot fill the node's disk, and nothing is hidden.
    audited = t.sent("auditOut")
    assert len(audited) == 25
    assert "and 1 more refused" in audited[-1].reason and "more refused" not in audited[0].reason
    t.run("slow", 31.0)
    assert t.tlm("RejectedReplay") == 50


def test_reordering_inside_the_window_is_accepted_and_behind_it_refused(kd):
    t = sec_tester(kd.path)
    uplink(t, operator_frame(kd, 100, 1), operator_frame(kd, 98, 2), operator_frame(kd, 99, 3),
           operator_frame(kd, 36, 4))  # 64 behind: outside the window
    assert [cp.packet for cp in t.sent("commandOut")] == [packet(1), packet(2), packet(3)]
    t.run("slow", 1.0)
    assert t.tlm("RejectedReplay") == 1


def test_frames_from_the_reader_thread_and_commands_from_the_scheduler_do_not_race(kd):
    t = sec_tester(kd.path)
    frames = [operator_frame(kd, iv, iv) for iv in range(1, 201)]
    reader = threading.Thread(target=uplink, args=(t, *frames))
    reader.start()
    for window in [8, 64, 16, 128] * 5:
        assert t.command("SetSaWindow", spi=OPERATOR_SPI, window=window).ok
        t.run("fast", 0.1)
    reader.join()
    uplink(t, *frames)  # every one again: the window the commands rebuilt still knows them
    t.run("slow", 1.0)
    assert t.tlm("FramesAccepted") == 200 and t.tlm("RejectedReplay") == 200
    assert Keystore.load(kd.keystore).sas[OPERATOR_SPI].window == 128


def test_a_frame_whose_anti_replay_state_cannot_be_saved_is_not_obeyed(kd):
    t = sec_tester(kd.path)
    (kd.path / "rx-replay.bin.tmp").mkdir()  # where the store writes before its rename
    uplink(t, operator_frame(kd, 1))
    assert t.sent("commandOut") == []
    t.run("fast", 0.1)
    t.run("slow", 1.0)
    assert t.tlm("StoreErrors") == 1 and t.tlm("FramesAccepted") == 0
    assert "SPI 1" in t.events("ReplayStoreFailed")[0]["reason"]


# ---- TM ---------------------------------------------------------------------------------------------
def sealed_tag_checks(protection: TmProtection, key: bytes) -> int:
    """Seal a frame with the protector the radio got and check its MAC with AES-GCM directly; the IV."""
    protector = protection.protector
    assert isinstance(protector, TmProtector)
    frame = bytearray(6) + bytearray(14) + bytearray(b"telemetry" * 10) + bytearray(16)
    end = len(frame) - 16
    protector.seal(frame, end)
    assert int.from_bytes(frame[6:8], "big") == TM_SPI
    nonce = bytes(frame[8:20])
    AESGCM(key).decrypt(nonce, bytes(frame[end:]), bytes(frame[:end]))  # raises if the MAC is wrong
    return int.from_bytes(nonce, "big")


def test_the_radio_gets_tm_protection_at_start_and_again_when_the_tm_sa_changes(kd):
    t = sec_tester(kd.path)
    t.run("fast", 0.1)
    t.run("fast", 0.2)
    (first,) = t.sent("tmOut")  # once, not every tick
    first_iv = sealed_tag_checks(first, kd.keys[TM_KEY_ID])
    assert (kd.path / f"tm-iv-{TM_SPI}.bin").exists()
    assert t.events("TmProtected")[0]["spi"] == TM_SPI

    assert t.command("StopSa", spi=TM_SPI).ok
    assert t.sent("tmOut")[-1] == TmProtection(None)
    assert "no operational TM SA" in t.events("TmUnprotected")[-1]["reason"]
    assert t.command("StartSa", spi=TM_SPI).ok
    assert sealed_tag_checks(t.sent("tmOut")[-1], kd.keys[TM_KEY_ID]) > first_iv

    restarted = sec_tester(kd.path)  # a reboot: the IVs go on after every one reserved before
    restarted.run("fast", 0.1)
    assert sealed_tag_checks(restarted.sent("tmOut")[0], kd.keys[TM_KEY_ID]) > first_iv + 1


def test_a_node_without_a_tm_sa_sends_plain_tm_and_says_so(tmp_path):
    kd = make_keydir(tmp_path / "node", tm=False)
    t = sec_tester(kd.path)
    t.run("fast", 0.1)
    assert t.sent("tmOut") == [TmProtection(None)]
    assert t.events("TmUnprotected")


def test_a_damaged_tm_iv_counter_sends_plain_tm_until_the_tm_sa_is_rekeyed(kd):
    (kd.path / f"tm-iv-{TM_SPI}.bin").write_bytes(b"\x00" * 16)
    t = sec_tester(kd.path)
    t.run("fast", 0.1)
    assert t.sent("tmOut") == [TmProtection(None)]
    assert "rekey" in t.events("TmUnprotected")[0]["reason"]
    new_key = os.urandom(32)
    ks = kd.load()
    ks.keys[12] = KeyEntry(12, KeyKind.SESSION, KeyState.ACTIVE, new_key)
    ks.save(kd.keystore)
    t = sec_tester(kd.path)
    assert t.command("RekeySa", spi=TM_SPI, key_id=12).ok
    assert sealed_tag_checks(t.sent("tmOut")[-1], new_key) == 1  # a new key: its IVs start again
    assert (kd.path / f"tm-iv-{TM_SPI}.bin.damaged").exists()  # kept for the ground to look at


# ---- insecure ---------------------------------------------------------------------------------------
def test_an_insecure_node_obeys_every_frame_as_the_operator_and_keeps_saying_so():
    t = sec_tester(None)
    t.run("fast", 0.1)
    assert t.sent("tmOut") == [TmProtection(None)]
    uplink(t, plain_frame(packet(1)))
    assert t.sent("commandOut") == [CommandPacket(packet(1), INSECURE)]
    for second in range(1, 130):
        t.run("slow", float(second))
    assert len(t.events("Insecure")) == 3  # at start, 60 s and 120 s
    assert t.tlm("Insecure") is True and t.tlm("FramesAccepted") == 1
    insecure = t.dictionary.event_by_name["sec.Insecure"]
    assert insecure.severity.name == "WARNING_HI"
    result = t.command("ListKeys")
    assert not result.ok and "--insecure" in result.reason


def test_an_sa_whose_key_is_not_usable_is_reported_and_refuses_frames(kd):
    ks = kd.load()
    ks.keys[TENANT_KEY_ID].state = KeyState.DEACTIVATED  # a keystore edited by hand, not by command
    ks.save(kd.keystore)
    t = sec_tester(kd.path)
    t.run("fast", 0.1)
    t.run("fast", 0.2)
    (event,) = t.events("SaUnusable")
    assert event["spi"] == TENANT_SPI and "DEACTIVATED" in event["reason"]
    uplink(t, tenant_frame(kd, 1), operator_frame(kd, 1))
    assert [cp.origin.role for cp in t.sent("commandOut")] == ["operator"]
    t.run("slow", 1.0)
    assert t.tlm("RejectedSaStopped") == 1


# ---- key material at start --------------------------------------------------------------------------
def damage(kd, how: str) -> None:
    raw = kd.keystore.read_bytes()
    if how == "missing":
        kd.keystore.unlink()
    elif how == "crc":
        kd.keystore.write_bytes(raw[:-5] + bytes([raw[-5] ^ 1]) + raw[-4:])
    elif how == "truncated":
        kd.keystore.write_bytes(raw[:len(raw) // 2])
    elif how == "world readable":
        kd.keystore.chmod(0o644)
    elif how == "replay state":
        (kd.path / "rx-replay.bin").write_bytes(b"GFS1" + os.urandom(40))


@pytest.mark.parametrize("how", ["missing", "crc", "truncated", "world readable", "replay state"])
def test_damaged_key_material_is_a_one_line_error_naming_the_file(kd, how):
    damage(kd, how)
    with pytest.raises(SecurityConfigError) as caught:
        SecurityComponent("sec", 0x00C0, keys_dir=kd.path)
    assert isinstance(caught.value, ValueError)
    message = str(caught.value)
    assert "\n" not in message and str(kd.path) in message
