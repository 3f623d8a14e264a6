"""The C CRC-32 against zlib, the C CRC-32C against published vectors and the bit-by-bit reference,
every dispatch path of each included."""
import random
import zlib

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from gridfree.native import reference as ref
from gridfree.native.crc import crc32, crc32_impl_name, crc32_impls, crc32c, crc32c_impl_name, crc32c_impls

CRC32_IMPLS = {"dispatched": crc32, **crc32_impls()}
CRC32C_IMPLS = {"dispatched": crc32c, **crc32c_impls()}

# Lengths around every path's internal boundaries: slice widths (4, 8, 16), the folding block
# (64) and dispatch threshold (128), the SSE4.2 three-stream run (3 x 512), and a long buffer.
SIZES = [0, 1, 3, 4, 7, 8, 9, 15, 16, 17, 20, 24, 31, 63, 64, 65, 79, 80, 127, 128, 129, 255, 256, 1023, 1024,
         1535, 1536, 1537, 1543, 3071, 3072, 3080, 4607, 4609, 1 << 16, (1 << 20) + 3]


_i = np.arange(max(SIZES) + 8, dtype=np.int64)
PATTERN = ((_i * 131 + 7 + (_i >> 8)) & 0xFF).astype(np.uint8).tobytes()


def pattern(size: int) -> bytes:
    return PATTERN[:size]


def test_the_dispatched_paths_are_reported():
    assert crc32_impl_name() in crc32_impls()
    assert crc32c_impl_name() in crc32c_impls()


@pytest.mark.parametrize("name", sorted(CRC32_IMPLS))
def test_crc32_check_value(name):
    assert CRC32_IMPLS[name](b"123456789") == 0xCBF43926 == zlib.crc32(b"123456789")
    assert CRC32_IMPLS[name](b"") == 0


@pytest.mark.parametrize("name", sorted(CRC32C_IMPLS))
@pytest.mark.parametrize("data, expected", [
    (b"123456789", 0xE3069283),                # the catalogued check value of CRC-32C
    (bytes(32), 0x8A9136AA),                   # RFC 3720 B.4: 32 bytes of zeros
    (b"\xff" * 32, 0x62A8AB43),                # 32 bytes of ones
    (bytes(range(32)), 0x46DD794E),            # 32 bytes incrementing 00..1f
    (bytes(range(31, -1, -1)), 0x113FDB5C),    # 32 bytes decrementing 1f..00
    (b"", 0),
])
def test_crc32c_published_vectors(name, data, expected):
    assert CRC32C_IMPLS[name](data) == expected
    assert ref.crc32c(data) == expected


@pytest.mark.parametrize("name", sorted(CRC32_IMPLS))
@given(data=st.binary(max_size=3000), crc=st.integers(0, 0xFFFFFFFF), skip=st.integers(0, 15))
def test_crc32_agrees_with_zlib(name, data, crc, skip):
    # Slicing a memoryview moves the start off any alignment the allocator gave.
    view = memoryview(data)[min(skip, len(data)):]
    assert CRC32_IMPLS[name](view, crc) == zlib.crc32(view, crc)


@pytest.mark.parametrize("name", sorted(CRC32C_IMPLS))
@given(data=st.binary(max_size=2000), crc=st.integers(0, 0xFFFFFFFF), skip=st.integers(0, 15))
def test_crc32c_agrees_with_the_bitwise_reference(name, data, crc, skip):
    view = memoryview(data)[min(skip, len(data)):]
    assert CRC32C_IMPLS[name](view, crc) == ref.crc32c(bytes(view), crc)


@settings(max_examples=30)
@given(size=st.integers(1536 * 3, 1536 * 3 + 700), seed=st.integers(0, 2**32), crc=st.integers(0, 0xFFFFFFFF))
def test_crc32c_long_buffers_agree_with_the_reference(size, seed, crc):
    data = random.Random(seed).randbytes(size)  # past one three-stream run of the SSE4.2 path
    expected = ref.crc32c(data, crc)
    assert {name: fn(data, crc) for name, fn in CRC32C_IMPLS.items()} == dict.fromkeys(CRC32C_IMPLS, expected)


@given(size=st.integers(0, 70000), seed=st.integers(0, 2**32), crc=st.integers(0, 0xFFFFFFFF),
       skip=st.integers(0, 15))
def test_crc32_long_buffers_agree_with_zlib(size, seed, crc, skip):
    view = memoryview(random.Random(seed).randbytes(size + skip))[skip:]
    expected = zlib.crc32(view, crc)
    assert {name: fn(view, crc) for name, fn in CRC32_IMPLS.items()} == dict.fromkeys(CRC32_IMPLS, expected)
    assert len({fn(view, crc) for fn in CRC32C_IMPLS.values()}) == 1


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("offset", [0, 1, 3, 7])
def test_long_buffer_boundaries_all_paths(size, offset):
    data = memoryview(pattern(size + offset))[offset:]
    expected = zlib.crc32(data)
    assert {name: fn(data) for name, fn in CRC32_IMPLS.items()} == dict.fromkeys(CRC32_IMPLS, expected)
    expected_c = crc32c_impls()["slice8"](data)
    assert {name: fn(data) for name, fn in CRC32C_IMPLS.items()} == dict.fromkeys(CRC32C_IMPLS, expected_c)


def test_long_portable_crc32c_matches_the_reference():
    data = pattern(20000)
    assert crc32c_impls()["slice8"](data) == ref.crc32c(data)


@given(a=st.binary(max_size=2000), b=st.binary(max_size=2000), crc=st.integers(0, 0xFFFFFFFF))
def test_chaining_is_zlibs(a, b, crc):
    assert crc32(b, crc32(a, crc)) == crc32(a + b, crc) == zlib.crc32(b, zlib.crc32(a, crc))
    assert crc32c(b, crc32c(a, crc)) == crc32c(a + b, crc)
    for fn in [*crc32_impls().values(), *crc32c_impls().values()]:
        assert fn(b, fn(a, crc)) == fn(a + b, crc)


def test_every_buffer_type_is_read_in_place():
    raw = pattern(5000)
    expected, expected_c = zlib.crc32(raw), ref.crc32c(raw)
    words = np.frombuffer(raw[:4996], np.uint32)  # len() counts items; the CRC must cover the octets
    for buf in (raw, bytearray(raw), memoryview(raw), np.frombuffer(raw, np.uint8)):
        assert (crc32(buf), crc32c(buf)) == (expected, expected_c)
    assert crc32(words) == zlib.crc32(raw[:4996])
    assert crc32c(words) == ref.crc32c(raw[:4996])


def test_bad_arguments_raise_clear_errors():
    for fn in (crc32, crc32c):
        with pytest.raises(ValueError, match="init"):
            fn(b"x", 1 << 32)
        with pytest.raises(ValueError, match="init"):
            fn(b"x", -1)
        with pytest.raises(TypeError):
            fn("not bytes")
        with pytest.raises(BufferError):
            fn(memoryview(b"abcdef")[::2])  # not contiguous: refused, never silently copied
