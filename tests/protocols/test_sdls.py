"""SDLS on TC frames: the published AES-GCM vector, a frame built here by hand with raw AES-GCM
(independent of protocols/sdls.py) accepted, and every way a frame is refused: forged MAC,
unknown SPI, stopped SA, replay, an IV behind the window, reordering inside it, and security
fields whose lengths lie."""
import binascii
import random
import struct

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from gridfree.protocols.sdls import (MAX_DATA_OCTETS, Refusal, SdlsRejected, SecurityAssociation, protect,
                                     unprotect)

KEY = bytes(range(32))
PUS = bytes.fromhex("1864c0000004" "2f110100" "abcd")  # a TC packet's octets, as the frame carries them


def sas(**kw):
    return {9: SecurityAssociation(9, KEY, **kw)}


def test_aes_256_gcm_matches_the_published_vector():
    """GCM specification (McGrew & Viega), test case 16: AES-256, 96-bit IV, with AAD."""
    key = bytes.fromhex("feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308")
    iv = bytes.fromhex("cafebabefacedbaddecaf888")
    plain = bytes.fromhex("d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a721c3c0c95956809532fcf0e24"
                          "49a6b525b16aedf5aa0de657ba637b39")
    aad = bytes.fromhex("feedfacedeadbeeffeedfacedeadbeefabaddad2")
    out = AESGCM(key).encrypt(iv, plain, aad)
    assert out[:-16].hex() == ("522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa8cb08e48590dbb3da7b08b1056"
                               "828838c5f61e6393ba7a0abcc9f662")
    assert out[-16:].hex() == "76fc6ece0f4e1768cddf8853bb2d551b"


@pytest.mark.parametrize("plain, sealed", [
    (b"", "530f8afbc74536b9a963b4f1c4cb738b"),  # test case 13: the tag alone (as on an authenticated TM frame)
    (bytes(16), "cea7403d4d606b6e074ec5d3baf39d18" "d0d1c8a799996bf0265b98b5d48ab919"),  # test case 14
])
def test_aes_256_gcm_matches_the_published_zero_key_vectors(plain, sealed):
    """GCM specification (McGrew & Viega, submitted to NIST), test cases 13 and 14: AES-256, zero
    key and IV, no AAD."""
    assert AESGCM(bytes(32)).encrypt(bytes(12), plain, b"").hex() == sealed


def hand_built_frame(iv: int, data: bytes, scid=42, vcid=0, seq=0) -> bytes:
    """CCSDS 232.0 primary header + 355.0 security header + AES-GCM + MAC + FECF, by hand."""
    total = 5 + 2 + 12 + len(data) + 16 + 2
    header = struct.pack(">HHB", (0b00 << 14) | (1 << 13) | scid, (vcid << 10) | (total - 1), seq)
    security = struct.pack(">H", 9) + iv.to_bytes(12, "big")
    sealed = AESGCM(KEY).encrypt(iv.to_bytes(12, "big"), data, header + security)
    frame = header + security + sealed
    return frame + struct.pack(">H", binascii.crc_hqx(frame, 0xFFFF))


def test_a_frame_built_by_hand_is_accepted_and_ours_is_the_same_octets():
    frame = hand_built_frame(7, PUS)
    tc, data = unprotect(frame, sas())
    assert data == PUS and (tc.scid, tc.vcid) == (42, 0)
    assert protect(SecurityAssociation(9, KEY), 7, 42, 0, 0, PUS) == frame


def test_authentication_only_sends_the_data_in_clear_and_still_covers_it():
    sa = {9: SecurityAssociation(9, KEY, encrypt=False)}
    frame = protect(sa[9], 1, 42, 0, 0, PUS)
    assert PUS in frame
    assert unprotect(frame, sa)[1] == PUS
    tampered = bytearray(frame)
    tampered[5 + 14] ^= 1  # one bit of the clear data, FECF fixed up
    with pytest.raises(SdlsRejected) as exc:
        unprotect(refecf(tampered), {9: SecurityAssociation(9, KEY, encrypt=False)})
    assert exc.value.reason is Refusal.MAC


def refecf(frame) -> bytes:
    body = bytes(frame[:-2])
    return body + struct.pack(">H", binascii.crc_hqx(body, 0xFFFF))


def refused(frame, table) -> Refusal:
    with pytest.raises(SdlsRejected) as exc:
        unprotect(frame, table)
    return exc.value.reason


def test_forged_unknown_stopped_and_corrupted_frames_are_refused_for_what_they_are():
    good = protect(SecurityAssociation(9, KEY), 1, 42, 0, 0, PUS)
    forged = bytearray(good)
    forged[-4] ^= 0x80  # in the MAC
    assert refused(refecf(forged), sas()) is Refusal.MAC
    assert refused(good, {10: SecurityAssociation(10, KEY)}) is Refusal.UNKNOWN_SPI
    assert refused(good, sas(operational=False)) is Refusal.SA_NOT_OPERATIONAL
    assert refused(good[:-1] + bytes([good[-1] ^ 1]), sas()) is Refusal.FECF
    wrong_key = {9: SecurityAssociation(9, bytes(32))}
    assert refused(good, wrong_key) is Refusal.MAC


def test_replays_are_refused_and_reordering_inside_the_window_is_not():
    table = sas(window=8)
    sender = SecurityAssociation(9, KEY)
    frames = {iv: protect(sender, iv, 42, 0, iv % 256, PUS) for iv in range(1, 30)}
    for iv in (1, 2, 5, 4, 3):  # out of order, within the window
        unprotect(frames[iv], table)
    assert refused(frames[4], table) is Refusal.REPLAY  # a recorded frame, sent again
    unprotect(frames[20], table)
    assert refused(frames[12], table) is Refusal.REPLAY  # behind the window (20 - 12 >= 8)
    unprotect(frames[13], table)  # inside it, never seen
    assert refused(frames[13], table) is Refusal.REPLAY


def test_a_forged_frame_does_not_move_the_window():
    table = sas()
    forged = bytearray(protect(SecurityAssociation(9, bytes(32)), 1000, 42, 0, 0, PUS))  # not our key
    assert refused(bytes(forged), table) is Refusal.MAC
    unprotect(protect(SecurityAssociation(9, KEY), 5, 42, 0, 0, PUS), table)  # 5 is still fresh


def test_lying_lengths_are_refused_never_read_past_what_arrived():
    """The 2025 CryptoLib CVEs: a frame length or security fields that claim more than arrived."""
    rng = random.Random(355)
    good = protect(SecurityAssociation(9, KEY), 3, 42, 0, 0, PUS)
    for cut in range(len(good)):
        assert refused(good[:cut], sas()) in (Refusal.LENGTH, Refusal.FECF)
    for _ in range(500):
        frame = bytearray(good)
        w1 = rng.randrange(1 << 10)  # any frame length field, the FECF recomputed to match it
        frame[2], frame[3] = (frame[2] & 0xFC) | (w1 >> 8), w1 & 0xFF
        claimed = w1 + 1
        frame = refecf(frame[:max(7, min(len(frame), claimed)) - 2] if claimed < len(frame) else frame)
        with pytest.raises(SdlsRejected):
            unprotect(frame, sas())
    assert refused(bytes(2000), sas()) is Refusal.LENGTH


def test_the_largest_data_fits_one_frame_and_one_more_octet_does_not():
    sa = SecurityAssociation(9, KEY)
    frame = protect(sa, 1, 42, 0, 0, bytes(MAX_DATA_OCTETS))
    assert len(frame) == 1024 and unprotect(frame, sas())[1] == bytes(MAX_DATA_OCTETS)
    with pytest.raises(ValueError, match="room for"):
        protect(sa, 2, 42, 0, 0, bytes(MAX_DATA_OCTETS + 1))
    with pytest.raises(ValueError, match="IV"):
        protect(sa, 0, 42, 0, 0, PUS)
