"""The C CRC and BCH against published vectors and the bit-by-bit Python reference."""
import binascii

import pytest
from hypothesis import given, strategies as st

import gridfree.native as native
from gridfree.native import reference as ref
from gridfree.native.crc import crc16_impl_name

IMPLS = native.crc16_impls()

# CLTU from the dariolucia/ccsds test suite (BchCltuAlgorithmTest.testDecodeEncodeCltu): start
# sequence, six BCH(63,56) code blocks carrying a 42-octet TC frame plus fill, tail sequence.
PUBLISHED_CLTU = bytes.fromhex(
    "EB90" "2062042900C10036" "0102030405060770" "08090A0BAABBCCC4" "DDEEFFAABBCCDDE6"
    "EEFFAABBCCDDEE10" "FFAABBCCDDEEFF64" "C5C5C5C5C5C5C579"
)
TAIL = bytes.fromhex("C5C5C5C5C5C5C579")


def test_smoke_constant_and_call():
    assert native.lib.GF_OK == 0
    assert native.crc16(b"123456789") == 0x29B1  # the catalogued check value of CRC-16/CCITT-FALSE


@pytest.mark.parametrize("name", sorted(IMPLS))
def test_every_path_has_the_check_value(name):
    assert IMPLS[name](b"123456789") == 0x29B1
    assert IMPLS[name](b"") == 0xFFFF


def test_the_dispatched_path_is_reported():
    assert crc16_impl_name() in IMPLS


@pytest.mark.parametrize("name", sorted(IMPLS))
@given(data=st.binary(max_size=3000), init=st.integers(0, 0xFFFF))
def test_every_path_agrees_with_binascii(name, data, init):
    assert IMPLS[name](data, init) == binascii.crc_hqx(data, init)


@given(st.binary(max_size=200), st.binary(max_size=200))
def test_crc_continues_across_buffers(a, b):
    assert native.crc16(b, native.crc16(a)) == native.crc16(a + b)


@pytest.mark.parametrize("size", [1, 15, 16, 17, 63, 64, 127, 128, 129, 255, 256, 257, 1 << 16, (1 << 20) + 3])
def test_long_buffer_boundaries_all_paths(size):
    data = bytes((i * 131 + 7) & 0xFF for i in range(size))
    expected = binascii.crc_hqx(data, 0xFFFF)
    assert native.crc16(data) == expected
    for fn in IMPLS.values():
        assert fn(data) == expected


def test_reference_crc_matches_binascii():
    assert ref.crc16(b"123456789") == 0x29B1


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(ValueError, match="init"):
        native.crc16(b"x", 0x10000)
    with pytest.raises(TypeError):
        native.crc16("not bytes")
    with pytest.raises(ValueError, match="multiple of 7"):
        native.bch_encode(b"123456")


def test_bch_published_cltu_vector():
    blocks = PUBLISHED_CLTU[2:]
    result = native.bch_decode(blocks)
    assert (result.blocks_ok, result.error_block, result.corrected) == (6, 6, 0)  # stops at the tail
    assert native.bch_encode(result.data) == blocks[:-8]
    assert ref.bch_encode(result.data) == blocks[:-8]
    # The TC frame inside (no FECF in that vector) declares 41 = octets - 1 in its length field.
    assert int.from_bytes(result.data[2:4], "big") & 0x3FF == len(result.data) - 1 == 41


def test_tail_sequence_is_uncorrectable():
    assert native.bch_decode(TAIL).error_block == 0
    assert ref.bch_decode(TAIL)[2] == 0


@given(st.binary(min_size=7, max_size=140).map(lambda b: b[: len(b) // 7 * 7]))
def test_bch_encode_matches_reference(data):
    assert native.bch_encode(data) == ref.bch_encode(data)


@given(st.binary(min_size=7, max_size=70).map(lambda b: b[: len(b) // 7 * 7]), st.data())
def test_any_single_bit_error_per_block_is_corrected(data, draw):
    blocks = bytearray(native.bch_encode(data))
    flips = 0
    for b in range(len(blocks) // 8):
        bit = draw.draw(st.integers(0, 63))
        if bit < 63:  # bit 63 is the filler bit, outside the code
            blocks[8 * b + bit // 8] ^= 0x80 >> (bit % 8)
            flips += 1
    result = native.bch_decode(bytes(blocks))
    assert result.data == data and result.corrected == flips and result.error_block == -1
    assert ref.bch_decode(bytes(blocks)) == (data, flips, len(blocks) // 8)


@given(st.binary(min_size=7, max_size=7), st.sets(st.integers(0, 62), min_size=2, max_size=2))
def test_double_errors_are_never_silently_accepted_as_the_original(info, bits):
    block = bytearray(native.bch_encode(info))
    for bit in bits:
        block[bit // 8] ^= 0x80 >> (bit % 8)
    result = native.bch_decode(bytes(block))
    # Distance 4: two errors are detected, never "corrected" to a wrong block.
    assert result.error_block == 0


@given(st.binary(max_size=200))
def test_bch_decode_matches_reference_on_arbitrary_bytes(blob):
    result = native.bch_decode(blob)
    data, corrected, ok = ref.bch_decode(blob)
    assert (result.data, result.corrected, result.blocks_ok) == (data, corrected, ok)
