"""The C TM channel coding (CCSDS 131.0-B-4) against published vectors, `reedsolo` and the
plain-Python reference (gridfree.native.rs_reference)."""
import random

import numpy as np
import pytest
import reedsolo
from hypothesis import given, settings, strategies as st

from gridfree.native import rs
from gridfree.native import rs_reference as ref

# ---- published vectors ------------------------------------------------------------------------

# CCSDS 131.0-B-4 §10 gives the sequence's first 40 bits; the first 16 octets and the last of the
# 255-octet period are as gr-satellites, libfec and SatDump tabulate them.
PN_FIRST_40_BITS = bytes.fromhex("FF480EC09A")
PN_FIRST_16 = bytes.fromhex("FF480EC09A0D70BC8E2C93ADA7B746CE")

# One 255-octet codeword, dual basis, not randomized: bmflynn/ccsds-rs
# (ccsds-lib/src/framing/reed_solomon.rs, FIXTURE_MSG), a decoder used on real polar-orbiter
# downlinks (SNPP, NOAA-20), whose rs2 crate implements the CCSDS code.
BMFLYNN_CODEWORD = bytes.fromhex(
    "67c46ba73ebe4c336cb2233a74062b18abb809e67daf5de5df76253fb914eeecd1a3395f3868f026a68acb09af4ef893"
    "f7454b0da9b8740ef3c7ed6ea30ff6799416e27fad919104aca4aeb451762f62035ea1e55c45f81f7a7be835d8cc510e"
    "ae3a2a641d0310cd18e67fefbad9e89847829ca1584725df41d201623c248890e9d7381ba0a2b423ea7e580df4612414"
    "b041900cb7bb5c591bc669240fb60e14a1b18e480f171dfb0f3842e32458ab82a8fddfac68933d0d8f5052446cbad351"
    "999c3eadd5a8d79dc77f9fc92aace5c2cd9a9bfa2d72ab6ba46b8b7dfa6c8363779f4e9a2035d291cef4211a973c1a15"
    "9dfc98ba721b9aa2e9c94668cead27"
)

# dariol83/ccsds (eu.dariolucia.ccsds.tmtc), ReedSolomonAlgorithmTest.encodedTestFrame: a
# 1115-octet TM frame and its 160 check symbols at depth 5, as its TM_255_223 encoder (F(x) =
# 0x187, alpha^11, first root 112, dual basis) writes them.
DARIOL83_I5_CODEBLOCK = bytes.fromhex(
    "07B11A15185F000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "00000000000C6AC03A012500000000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "00000000000000000000000000000000000C6AC03B012500000000000000000000000000000000000000000000000000"
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "00000000000000000000000000000000000000000000000000000000000C6AC03C012500000000000000000000000000"
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "00000000000000000000000000000000000000000000000000000000000000000000000000000000000C6AC03D012500"
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000"
    "0000000000000000000000FAD47CE809B8EBA844984DFD7D37F544A7F62C75D0FF97937FFE5A5CD424B92D2ACCFF0AEF"
    "AB0977918FCBA0DBDD54E657DC0098CE8B95E0B6398D1AAA177FA134E866B4645EC4C9AD9365954549C85D6BD363F000"
    "DA9CC26E48F067EEDD1A859967FA1120F27484FF3CA64012391C76AA7C38AA19F11C4CF54C9EA3AD5B83AB09895E6F9B"
    "BB416B329C15E3CB9F4019D637081154E182A8ACA395ED45A267CE"
)

# dariol83/ccsds, TmDecoderTest.EXPECTED_TM: ASM + randomized depth-5 codeblock of a TM frame
# (SCID 123, VC 1, MC count 22, VC count 14, zero data, OCF zero).
DARIOL83_I5_CADU = bytes.fromhex(
    "1ACFFC1DF8FB18CEDDF270BC8E2C93ADA7B746CE5A977DCC32A2BF3E0A10F18894CDEAB1FE901D81341AE1791C59275B"
    "4F6E8D9CB52EFB9865457E7C1421E311299BD563FD203B026835C2F238B24EB69EDD1B396A5DF730CA8AFCF82843C622"
    "5337AAC7FA407604D06B85E471649D6D3DBA3672D4BBEE619515F9F050878C44A66F558FF480EC09A0D70BC8E2C93ADA"
    "7B746CE5A977DCC32A2BF3E0A10F18894CDEAB1FE901D81341AE1791C59275B4F6E8D9CB52EFB9865457E7C1421E3112"
    "99BD563FD203B026835C2F238B24EB69EDD1B396A5DF730CA8AFCF82843C6225337AAC7FA407604D06B85E471649D6D3"
    "DBA3672D4BBEE619515F9F050878C44A66F558FF480EC09A0D70BC8E2C93ADA7B746CE5A977DCC32A2BF3E0A10F18894"
    "CDEAB1FE901D81341AE1791C59275B4F6E8D9CB52EFB9865457E7C1421E311299BD563FD203B026835C2F238B24EB69E"
    "DD1B396A5DF730CA8AFCF82843C6225337AAC7FA407604D06B85E471649D6D3DBA3672D4BBEE619515F9F050878C44A6"
    "6F558FF480EC09A0D70BC8E2C93ADA7B746CE5A977DCC32A2BF3E0A10F18894CDEAB1FE901D81341AE1791C59275B4F6"
    "E8D9CB52EFB9865457E7C1421E311299BD563FD203B026835C2F238B24EB69EDD1B396A5DF730CA8AFCF82843C622533"
    "7AAC7FA407604D06B85E471649D6D3DBA3672D4BBEE619515F9F050878C44A66F558FF480EC09A0D70BC8E2C93ADA7B7"
    "46CE5A977DCC32A2BF3E0A10F18894CDEAB1FE901D81341AE1791C59275B4F6E8D9CB52EFB9865457E7C1421E311299B"
    "D563FD203B026835C2F238B24EB69EDD1B396A5DF730CA8AFCF82843C6225337AAC7FA407604D06B85E471649D6D3DBA"
    "3672D4BBEE619515F9F050878C44A66F558FF480EC09A0D70BC8E2C93ADA7B746CE5A977DCC32A2BF3E0A10F18894CDE"
    "AB1FE901D81341AE1791C59275B4F6E8D9CB52EFB9865457E7C1421E311299BD563FD203B026835C2F238B24EB69EDD1"
    "B396A5DF730CA8AFCF82843C6225337AAC7FA407604D06B85E471649D6D3DBA3672D4BBEE619515F9F050878C44A66F5"
    "58FF480EC09A0D70BC8E2C93ADA7B746CE5A977DCC32A2BF3E0A10F18894CDEAB1FE901D81341AE1791C59275B4F6E8D"
    "9CB52EFB9865457E7C1421E311299BD563FD203B026835C2F238B24EB69EDD1B396A5DF730CA8AFCF82843C6225337AA"
    "C7FA407604D06B85E471649D6D3DBA3672D4BBEE619515F9F050878C44A66F558FF480EC09A0D70BC8E2C93ADA7B746C"
    "E5A977DCC32A2BF3E0A10F18894CDEAB1FE901D81341AE1791C59275B4F6E8D9CB52EFB9865457E7C1421E311299BD56"
    "3FD203B026835C2F238B24EB69EDD1B396A5DF730CA8AFCF82843C6225337AAC7FA407604D06B85E471649D6D3DBA367"
    "2D4BBEE619515F9F050878C44A66F558FF480EC09A0D70BC8E2C93ADA7B746CE5A977DCC32A2BF3E0A10F18894CDEAB1"
    "FE901D81341AE1791C59275B4F6E8D9CB52EFB9865457E7C1421E311299BD563FD203B026835C2F238B24EB69EDD1B39"
    "6A5DF730CA8AFCF82843C6225337AAE249567843CA1921B540FCCF81769D6A4628A02A22B3949C3E58B92ADF0B5013D7"
    "BE755698B916EDDD8E83EA508ADC278C5767F7ECFC39F6D8CEEB6DE1A77E6E16D635240885C3A7FD520F714ADF606FCE"
    "18240CC2B0A9CE49F4D6817E0E203A0B2E1874A668FCEA2AB71C848D98D398B973CD59A4E3C63186E876B2AF30EBB5BE"
    "424F26154C4D3879B0D27B0CFD2202E3418A1A0295F8CDE9435F2638C2A469"
)
ASM = bytes.fromhex("1ACFFC1D")

# reedsolo in CCSDS terms: the field polynomial 0x187, the generator's primitive element
# beta = alpha^11 (0xAD as a field element: reedsolo takes the element, not its log) and first
# consecutive root 112, so g(x) = prod_{j=112}^{143} (x - beta^j). It works in the conventional
# basis, so words go through T^-1 on the way in and T on the way out.
ALPHA_11 = 0xAD
REEDSOLO = reedsolo.RSCodec(nsym=32, nsize=255, fcr=112, prim=0x187, generator=ALPHA_11, c_exp=8)


def to_conventional(octets) -> bytes:
    return bytes(ref.from_dual(o) for o in octets)


def to_dual(octets) -> bytes:
    return bytes(ref.to_dual(o) for o in octets)


def damage(block: bytes, depth: int, errors_per_codeword: list[int], rng: random.Random) -> bytes:
    """block with errors_per_codeword[j] octets of codeword j changed to something else."""
    out = bytearray(block)
    n = len(block) // depth
    for j, count in enumerate(errors_per_codeword):
        for m in rng.sample(range(n), count):
            out[m * depth + j] ^= rng.randrange(1, 256)
    return bytes(out)


# ---- the randomizer ---------------------------------------------------------------------------

def test_randomizer_is_the_published_sequence():
    assert rs.randomize(bytes(5)) == PN_FIRST_40_BITS
    assert rs.randomize(bytes(16)) == PN_FIRST_16
    assert ref.pn_sequence(16) == PN_FIRST_16
    seq = rs.randomize(bytes(3 * 255 + 7))
    assert seq == ref.pn_sequence(len(seq))
    assert seq[:255] == seq[255:510] and seq[254] == 0x58  # period 255 octets


@given(st.binary(max_size=2000))
def test_randomizer_is_its_own_inverse_and_agrees_with_the_reference(data):
    once = rs.randomize(data)
    assert once == ref.randomize(data)
    assert rs.randomize(once) == data
    buf = bytearray(data)
    rs.randomize_into(buf)
    assert bytes(buf) == once


# ---- RS against published vectors -------------------------------------------------------------

def test_field_and_generator_are_the_standards():
    assert ref.EXP[11] == ALPHA_11
    assert ref.GENERATOR == ref.GENERATOR[::-1]  # roots beta^112..143 make g self-reciprocal
    for x in range(256):
        assert ref.from_dual(ref.to_dual(x)) == x  # the standard's T^-1 inverts its T


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 5])
def test_all_zero_information_gives_all_zero_check_symbols(depth):
    assert rs.rs_encode(bytes(223 * depth), depth) == bytes(255 * depth)
    assert rs.rs_decode(bytes(255 * depth), depth) == rs.RsDecoded(bytes(223 * depth), (0,) * depth)


def test_bmflynn_codeword_encodes_and_decodes_clean():
    assert rs.rs_encode(BMFLYNN_CODEWORD[:223], 1) == BMFLYNN_CODEWORD
    assert ref.encode(BMFLYNN_CODEWORD[:223], 1) == BMFLYNN_CODEWORD
    assert rs.rs_decode(BMFLYNN_CODEWORD, 1).corrected == (0,)
    # In the conventional basis it is not a codeword: the dual basis is what was checked.
    assert ref.parity_conventional(list(BMFLYNN_CODEWORD[:223])) != list(BMFLYNN_CODEWORD[223:])


def test_dariol83_depth_5_codeblock():
    frame = DARIOL83_I5_CODEBLOCK[:1115]
    assert rs.rs_encode(frame, 5) == DARIOL83_I5_CODEBLOCK
    assert rs.rs_decode(DARIOL83_I5_CODEBLOCK, 5) == rs.RsDecoded(frame, (0,) * 5)


def test_dariol83_cadu_derandomizes_and_decodes():
    assert DARIOL83_I5_CADU[:4] == ASM and len(DARIOL83_I5_CADU) == 4 + 1275
    decoded = rs.rs_decode(rs.randomize(DARIOL83_I5_CADU[4:]), 5)
    assert decoded.corrected == (0,) * 5
    frame = decoded.data
    assert (frame[0] << 8 | frame[1]) >> 4 & 0x3FF == 123  # SCID
    assert frame[2:4] == bytes([22, 14])  # master and VC frame counts
    assert ASM + rs.randomize(rs.rs_encode(frame, 5)) == DARIOL83_I5_CADU


# ---- RS against reedsolo ----------------------------------------------------------------------

@settings(max_examples=60, deadline=None)
@given(info=st.binary(min_size=1, max_size=223))
def test_encoder_agrees_with_reedsolo_through_the_dual_basis(info):
    theirs = to_dual(REEDSOLO.encode(to_conventional(info)))
    assert rs.rs_encode(info, 1) == theirs


@settings(max_examples=40, deadline=None)
@given(info=st.binary(min_size=223, max_size=223), count=st.integers(0, 16), seed=st.integers(0, 2**32))
def test_decoder_agrees_with_reedsolo_up_to_16_errors(info, count, seed):
    received = damage(rs.rs_encode(info, 1), 1, [count], random.Random(seed))
    ours = rs.rs_decode(received, 1)
    message, _, errata = REEDSOLO.decode(to_conventional(received))
    assert ours.data == to_dual(message) == info
    assert ours.corrected == (len(errata),) == (count,)


# ---- round trips, beyond the limit, and the reference -----------------------------------------

@settings(max_examples=80, deadline=None)
@given(depth=st.integers(1, 5), k=st.sampled_from([223, 222, 200, 100, 33, 1]),
       data=st.data(), seed=st.integers(0, 2**32))
def test_up_to_16_errors_per_codeword_are_corrected_exactly(depth, k, data, seed):
    info = data.draw(st.binary(min_size=k * depth, max_size=k * depth))
    counts = data.draw(st.lists(st.integers(0, min(16, k + 32)), min_size=depth, max_size=depth))
    block = rs.rs_encode(info, depth)
    decoded = rs.rs_decode(damage(block, depth, counts, random.Random(seed)), depth)
    assert decoded.data == info
    assert decoded.corrected == tuple(counts)


@settings(max_examples=40, deadline=None)
@given(depth=st.integers(1, 5), data=st.data(), seed=st.integers(0, 2**32))
def test_17_or_more_errors_fail_or_miscorrect_to_a_codeword_never_crash(depth, data, seed):
    counts = data.draw(st.lists(st.integers(17, 60), min_size=depth, max_size=depth))
    info = bytes(random.Random(seed).randbytes(223 * depth))
    received = damage(rs.rs_encode(info, depth), depth, counts, random.Random(seed + 1))
    work = bytearray(received)
    corrected = rs.rs_decode_into(work, depth)[0]
    for j, c in enumerate(corrected):
        if c < 0:  # left as received
            assert work[j::depth] == received[j::depth]
        else:  # a (rare) miscorrection still lands on a codeword within 16 symbols
            assert c <= 16
    assert rs.rs_encode(bytes(work[:223 * depth]), depth) == bytes(work) or (corrected < 0).any()


def test_17_errors_toward_another_codeword_miscorrect_to_it():
    """Past the limit a bounded-distance decoder lands on whichever codeword is within 16
    symbols, if one is: here the all-zero word moved 17 symbols toward g(x), a weight-33
    codeword (information 0..0 1), comes out as g(x) with 16 'corrections'."""
    heavy = rs.rs_encode(bytes(222) + bytes([ref.to_dual(1)]), 1)
    support = [m for m, o in enumerate(heavy) if o]
    assert len(support) == 33  # the minimum distance of RS(255,223)
    received = bytearray(255)
    for m in support[:17]:
        received[m] = heavy[m]
    decoded = rs.rs_decode(bytes(received), 1)
    assert decoded.corrected == (16,) and decoded.data == heavy[:223]
    assert ref.decode(bytes(received), 1) == (heavy, [16])
    outside = next(m for m in range(255) if not heavy[m])
    received[outside] = 0x5A  # now 18 from the zero word, 17 from g(x): nothing within 16
    assert rs.rs_decode(bytes(received), 1).corrected == (-1,)
    assert ref.decode(bytes(received), 1)[1] == [-1]


@settings(max_examples=40, deadline=None)
@given(depth=st.integers(1, 5), k=st.sampled_from([223, 150, 40, 1]), data=st.data(),
       seed=st.integers(0, 2**32))
def test_c_agrees_with_the_reference_on_any_damage(depth, k, data, seed):
    info = data.draw(st.binary(min_size=k * depth, max_size=k * depth))
    counts = data.draw(st.lists(st.integers(0, min(24, k + 32)), min_size=depth, max_size=depth))
    block = rs.rs_encode(info, depth)
    assert block == ref.encode(info, depth)
    received = damage(block, depth, counts, random.Random(seed))
    work = bytearray(received)
    corrected = rs.rs_decode_into(work, depth)
    ref_block, ref_counts = ref.decode(received, depth)
    assert bytes(work) == ref_block
    assert list(corrected[0]) == ref_counts


def test_batch_of_codeblocks_stays_inside_its_buffer():
    rng = random.Random(7)
    depth, nblocks = 5, 3
    blocks = b"".join(rs.rs_encode(rng.randbytes(1115), depth) for _ in range(nblocks))
    received = b"".join(damage(blocks[b * 1275:(b + 1) * 1275], depth, [8, 16, 0, 17 + 20, 1], rng)
                        for b in range(nblocks))
    arena = np.full(64 + len(received) + 64, 0xA5, np.uint8)
    arena[64:-64] = np.frombuffer(received, np.uint8)
    corrected = rs.rs_decode_into(arena[64:-64], depth, block_len=1275)
    assert (arena[:64] == 0xA5).all() and (arena[-64:] == 0xA5).all()
    assert corrected.shape == (nblocks, depth)
    for b in range(nblocks):
        assert list(corrected[b][[0, 1, 2, 4]]) == [8, 16, 0, 1]
        assert corrected[b][3] == -1 or corrected[b][3] <= 16
        good = corrected[b] >= 0
        for j in range(depth):
            if good[j]:
                assert bytes(arena[64 + b * 1275:][:1275][j::depth]) == blocks[b * 1275:(b + 1) * 1275][j::depth]
    again = bytearray(blocks)
    again[0:1115] = bytes(1115)  # encode_into rewrites only the check symbols
    rs.rs_encode_into(again, depth, block_len=1275)
    assert bytes(again[1275:]) == blocks[1275:]
    assert bytes(again[:1275]) == rs.rs_encode(bytes(1115), depth)


# ---- bad arguments ----------------------------------------------------------------------------

@pytest.mark.parametrize("call, message", [
    (lambda: rs.rs_encode(bytes(1115), 0), "interleaving depth"),
    (lambda: rs.rs_encode(bytes(1115), 6), "interleaving depth"),
    (lambda: rs.rs_encode(bytes(1115), "5"), "interleaving depth"),
    (lambda: rs.rs_encode(bytes(1115), True), "interleaving depth"),
    (lambda: rs.rs_encode(bytes(1114), 5), "information at depth 5"),
    (lambda: rs.rs_encode(bytes(224), 1), "information at depth 1"),
    (lambda: rs.rs_encode(b"", 1), "information at depth 1"),
    (lambda: rs.rs_decode(bytes(1274), 5), "codeblock at depth 5"),
    (lambda: rs.rs_decode(bytes(256), 1), "codeblock at depth 1"),
    (lambda: rs.rs_decode(bytes(32), 1), "codeblock at depth 1"),
    (lambda: rs.rs_decode(bytes(255), 9), "interleaving depth"),
    (lambda: rs.rs_decode_into(bytearray(2 * 1275 + 1), 5, block_len=1275), "whole codeblocks"),
    (lambda: rs.rs_encode_into(bytes(255), 1), "writable"),
    (lambda: rs.randomize_into(b"abc"), "writable"),
])
def test_bad_arguments_are_refused_in_one_line(call, message):
    with pytest.raises(ValueError, match=message) as info:
        call()
    assert "\n" not in str(info.value)


def test_randomize_takes_only_buffers():
    with pytest.raises(TypeError, match="must be a buffer"):
        rs.randomize(5)  # bytearray(5) would have been five zero octets


def test_the_c_refuses_what_the_wrapper_would():
    lib, ffi = rs.lib, rs.ffi
    buf = bytearray(1275)
    corrected = ffi.new("int8_t[]", 5)
    assert lib.gf_rs_encode(ffi.from_buffer(buf), 1275, 1275, 0) == lib.GF_EINVAL
    assert lib.gf_rs_encode(ffi.from_buffer(buf), 1275, 1275, 6) == lib.GF_EINVAL
    assert lib.gf_rs_encode(ffi.from_buffer(buf), 1275, 0, 5) == lib.GF_EINVAL
    assert lib.gf_rs_decode(ffi.from_buffer(buf), 1275, 1275, 5, corrected, 4) == lib.GF_ECAPACITY
    assert lib.gf_rs_decode(ffi.from_buffer(buf), 1275, 1275, 5, corrected, 5) == 0
