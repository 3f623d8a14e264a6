"""Key and SA commands of the node's security component, against real keystore files: OTAR, the key
life cycle, challenge/response, SA start/stop/rekey/window, and the refusals that keep the ground
from locking itself out. Every change must be on disk before the command completes, and a refused
command must leave the file as it was."""
from __future__ import annotations

import hashlib
import hmac
import os

import pytest

from gridfree.flight.core.messages import Origin, UplinkFrame
from gridfree.flight.core.tester import ComponentTester
from gridfree.flight.security.component import SecurityComponent
from gridfree.protocols.keystore import KeyState, SaState, wrap_key
from gridfree.protocols.services.verification import FailureCode
from tests.flight.security_keydir import (MASTER_ID, OPERATOR_KEY_ID, OPERATOR_SPI, SPARE_OPERATOR_SPI, TENANT_KEY_ID,
                                          TM_KEY_ID, make_keydir, operator_frame, packet, tc_frame)

NEW_KEY_ID = 12


@pytest.fixture
def kd(tmp_path):
    return make_keydir(tmp_path / "node")


def sec_tester(kd) -> ComponentTester:
    return ComponentTester(SecurityComponent("sec", 0x00C0, keys_dir=kd.path))


def upload(t: ComponentTester, kd, key: bytes, key_id: int = NEW_KEY_ID, *, master: bytes | None = None,
           wrapped_as: int | None = None):
    nonce = os.urandom(12)
    wrapped = wrap_key(master or kd.keys[MASTER_ID], MASTER_ID, wrapped_as or key_id, key, nonce)
    return t.command("UploadKey", master_id=MASTER_ID, key_id=key_id, nonce=nonce, wrapped=wrapped)


def accepted(t: ComponentTester, frame: bytes) -> bool:
    before = len(t.sent("commandOut"))
    t.send("frameIn", UplinkFrame(frame))
    return len(t.sent("commandOut")) > before


def test_otar_verify_activate_rekey_then_only_the_new_key_is_obeyed(kd):
    t = sec_tester(kd)
    assert accepted(t, operator_frame(kd, iv=500))
    new_key = os.urandom(32)
    assert upload(t, kd, new_key).ok
    entry = kd.load().keys[NEW_KEY_ID]
    assert (entry.state, entry.key) == (KeyState.PRE_ACTIVE, new_key)  # on disk when the command completed

    challenge = os.urandom(16)
    assert t.command("VerifyKey", key_id=NEW_KEY_ID, challenge=challenge).ok
    derived = hmac.new(new_key, b"gridfree key verification", hashlib.sha256).digest()
    expected = hmac.new(derived, challenge, hashlib.sha256).digest()[:16].hex()
    assert t.events("KeyVerified")[-1] == {"key_id": NEW_KEY_ID, "response": expected}

    assert t.command("ActivateKey", key_id=NEW_KEY_ID).ok
    assert t.command("RekeySa", spi=OPERATOR_SPI, key_id=NEW_KEY_ID).ok
    assert kd.load().sas[OPERATOR_SPI].key_id == NEW_KEY_ID

    assert accepted(t, tc_frame(new_key, OPERATOR_SPI, 1, packet(7)))  # a new key: its window starts again
    assert t.sent("commandOut")[-1].origin == Origin(OPERATOR_SPI, "operator", 0)
    assert not accepted(t, operator_frame(kd, iv=501))  # the old key no longer opens anything
    t.run("slow", 1.0)
    assert t.tlm("RejectedMac") == 1

    rebooted = sec_tester(kd)  # and so after a reboot
    assert accepted(rebooted, tc_frame(new_key, OPERATOR_SPI, 2, packet(8)))
    assert not accepted(rebooted, tc_frame(new_key, OPERATOR_SPI, 1, packet(7)))


@pytest.mark.parametrize("wrong", ["another master", "another key id", "tampered"])
def test_a_wrongly_wrapped_upload_is_refused_and_nothing_is_stored(kd, wrong):
    t = sec_tester(kd)
    before = kd.keystore.read_bytes()
    key = os.urandom(32)
    if wrong == "another master":
        result = upload(t, kd, key, master=os.urandom(32))
    elif wrong == "another key id":
        result = upload(t, kd, key, key_id=13, wrapped_as=NEW_KEY_ID)  # the ids are bound by the wrap
    else:
        nonce = os.urandom(12)
        wrapped = bytearray(wrap_key(kd.keys[MASTER_ID], MASTER_ID, NEW_KEY_ID, key, nonce))
        wrapped[0] ^= 1
        result = t.command("UploadKey", master_id=MASTER_ID, key_id=NEW_KEY_ID, nonce=nonce, wrapped=bytes(wrapped))
    assert not result.ok
    assert result.code == FailureCode.AUTHENTICATION_FAILED and "does not unwrap" in result.reason
    assert kd.keystore.read_bytes() == before


def test_an_upload_is_refused_for_a_short_wrap_an_unknown_master_or_a_key_id_in_use(kd):
    t = sec_tester(kd)
    before = kd.keystore.read_bytes()
    short = t.command("UploadKey", master_id=MASTER_ID, key_id=NEW_KEY_ID, nonce=os.urandom(12), wrapped=b"x" * 40)
    assert not short.ok and "48" in short.reason
    no_master = t.command("UploadKey", master_id=9, key_id=NEW_KEY_ID, nonce=os.urandom(12), wrapped=bytes(48))
    assert not no_master.ok and "no key 9" in no_master.reason
    reused = upload(t, kd, os.urandom(32), key_id=OPERATOR_KEY_ID)
    assert not reused.ok and "already exists" in reused.reason
    not_master = upload(t, kd, os.urandom(32), master=kd.keys[TM_KEY_ID])
    assert not not_master.ok
    assert kd.keystore.read_bytes() == before


def test_destroying_a_key_zeroes_it_on_disk(kd):
    t = sec_tester(kd)
    key = os.urandom(32)
    assert upload(t, kd, key).ok
    assert key in kd.keystore.read_bytes()
    assert t.command("DestroyKey", key_id=NEW_KEY_ID).ok
    entry = kd.load().keys[NEW_KEY_ID]
    assert (entry.state, entry.key) == (KeyState.DESTROYED, bytes(32))
    assert key not in kd.keystore.read_bytes()
    assert not t.command("ActivateKey", key_id=NEW_KEY_ID).ok  # destroyed is the end
    again = t.command("VerifyKey", key_id=NEW_KEY_ID, challenge=os.urandom(16))
    assert not again.ok and "destroyed" in again.reason


def test_a_key_in_use_cannot_be_taken_out_of_use_under_its_sa(kd):
    t = sec_tester(kd)
    before = kd.keystore.read_bytes()
    deactivate = t.command("DeactivateKey", key_id=OPERATOR_KEY_ID)
    assert not deactivate.ok and "stop or rekey" in deactivate.reason
    destroy = t.command("DestroyKey", key_id=OPERATOR_KEY_ID)
    assert not destroy.ok and "ACTIVE -> DESTROYED" in destroy.reason
    shared = t.command("RekeySa", spi=OPERATOR_SPI, key_id=TENANT_KEY_ID)
    assert not shared.ok and "one key per SA" in shared.reason
    assert kd.keystore.read_bytes() == before
    assert accepted(t, operator_frame(kd, iv=1))


def test_the_last_operational_operator_tc_sa_cannot_be_stopped(kd):
    t = sec_tester(kd)
    before = kd.keystore.read_bytes()
    refused = t.command("StopSa", spi=OPERATOR_SPI)
    assert not refused.ok and "lock the ground out" in refused.reason
    assert kd.keystore.read_bytes() == before
    assert accepted(t, operator_frame(kd, iv=1))


def test_a_stopped_sa_is_refused_as_not_operational_until_started(tmp_path):
    kd = make_keydir(tmp_path / "node", spare_operator=True)
    t = sec_tester(kd)
    assert t.command("StopSa", spi=OPERATOR_SPI).ok  # the spare operator SA keeps the ground in
    assert kd.load().sas[OPERATOR_SPI].state is SaState.STOPPED
    assert not accepted(t, operator_frame(kd, iv=1))
    t.run("slow", 1.0)
    assert t.tlm("RejectedSaStopped") == 1
    assert not t.command("StopSa", spi=SPARE_OPERATOR_SPI).ok  # now it is the last one
    assert not accepted(sec_tester(kd), operator_frame(kd, iv=2))  # after a reboot too
    assert t.command("StartSa", spi=OPERATOR_SPI).ok
    assert accepted(t, operator_frame(kd, iv=3))


def test_set_sa_window_narrows_and_widens_without_reopening_old_ivs(kd):
    t = sec_tester(kd)
    assert accepted(t, operator_frame(kd, iv=100))
    assert accepted(t, operator_frame(kd, iv=50))  # 50 behind, inside the window of 64
    assert t.command("SetSaWindow", spi=OPERATOR_SPI, window=8).ok
    assert kd.load().sas[OPERATOR_SPI].window == 8
    assert not accepted(t, operator_frame(kd, iv=90))  # 10 behind: outside the window of 8
    assert accepted(t, operator_frame(kd, iv=95))
    assert t.command("SetSaWindow", spi=OPERATOR_SPI, window=128).ok
    # IV 20 was never accepted, but it lay outside the old window: whether it was is not known
    assert not accepted(t, operator_frame(kd, iv=20))
    assert accepted(t, operator_frame(kd, iv=101))
    assert accepted(t, operator_frame(kd, iv=99))  # inside both windows and never seen
    refused = t.command("SetSaWindow", spi=77, window=8)
    assert not refused.ok and "no SA with SPI 77" in refused.reason


def test_list_keys_and_sa_status_report_without_key_octets(kd):
    t = sec_tester(kd)
    assert accepted(t, operator_frame(kd, iv=42))
    assert t.command("ListKeys").ok
    reports = {r["key_id"]: r for r in t.events("KeyReport")}
    assert set(reports) == set(kd.keys)
    assert reports[OPERATOR_KEY_ID] == {"key_id": OPERATOR_KEY_ID, "kind": "SESSION", "state": "ACTIVE",
                                        "used_by": "SPI 1"}
    assert t.command("SaStatus", spi=OPERATOR_SPI).ok
    (status,) = t.events("SaReport")
    assert (status["state"], status["highest_iv"], status["role"], status["window"]) == ("OPERATIONAL", "42",
                                                                                        "operator", 64)
    texts = repr(t.events())
    assert all(key.hex() not in texts for key in kd.keys.values())


def test_a_keystore_the_disk_will_not_take_changes_nothing(kd):
    t = sec_tester(kd)
    assert upload(t, kd, os.urandom(32)).ok
    blocker = kd.path / f".keystore.bin.{os.getpid()}.tmp"  # where the keystore is written before its rename
    blocker.mkdir()
    result = t.command("ActivateKey", key_id=NEW_KEY_ID)
    assert not result.ok and "nothing changed" in result.reason
    blocker.rmdir()
    assert kd.load().keys[NEW_KEY_ID].state is KeyState.PRE_ACTIVE
    assert t.command("ActivateKey", key_id=NEW_KEY_ID).ok  # the live keystore was not changed either
