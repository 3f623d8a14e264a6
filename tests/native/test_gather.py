"""The bulk decoder's row gathering and big-endian field unpacking, against numpy doing the same."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from gridfree.native import reference
from gridfree.native.errors import NativeError
from gridfree.native.frames import gather_rows, unpack_at, unpack_columns

TYPES = [">u1", ">i1", ">u2", ">i2", ">u4", ">i4", ">u8", ">i8", ">f4", ">f8", "S5"]


@given(st.binary(min_size=1, max_size=300), st.data())
def test_gather_rows_matches_numpy_indexing(src, data):
    width = data.draw(st.integers(0, len(src)))
    offsets = data.draw(st.lists(st.integers(0, len(src) - width), max_size=40))
    assert gather_rows(src, np.array(offsets, np.int64), width).tolist() == \
        reference.gather_rows(src, offsets, width).tolist()


def test_a_row_outside_the_buffer_is_refused_and_nothing_is_read():
    with pytest.raises(NativeError, match="leaves the buffer"):
        gather_rows(bytes(10), np.array([0, 5], np.int64), 6)
    with pytest.raises(NativeError):
        gather_rows(bytes(10), np.array([-1], np.int64), 1)


@given(st.lists(st.sampled_from(TYPES), min_size=1, max_size=8), st.integers(0, 30), st.data())
def test_unpacked_columns_equal_a_big_endian_structured_view(types, n, data):
    dtype = np.dtype({"names": [f"f{k}" for k in range(len(types))], "formats": types})
    raw = np.frombuffer(data.draw(st.binary(min_size=n * dtype.itemsize, max_size=n * dtype.itemsize)), np.uint8)
    rows = raw.reshape(n, dtype.itemsize)
    fields = [(dtype.fields[f][1], dtype.fields[f][0].newbyteorder("=")) for f in dtype.names]
    view = rows.view(dtype).reshape(-1) if n else np.empty(0, dtype)
    for (name, col) in zip(dtype.names, unpack_columns(rows, fields)):
        expected = view[name].astype(view[name].dtype.newbyteorder("="))
        assert col.tobytes() == expected.tobytes()  # bit-exact, NaNs included
    # In place, at scattered offsets of a larger buffer, into scattered destination rows.
    src = np.concatenate([np.zeros(7, np.uint8), raw, np.zeros(3, np.uint8)])
    dest = np.array(data.draw(st.permutations(range(n))), np.int64)
    outs = [np.zeros(n, dt) for _, dt in fields]
    unpack_at(src, 7 + np.arange(n, dtype=np.int64) * dtype.itemsize, dest, dtype.itemsize, fields, outs)
    for (name, col) in zip(dtype.names, outs):
        expected = view[name].astype(view[name].dtype.newbyteorder("="))
        assert col[dest].tobytes() == expected.tobytes()


def test_unpack_at_refuses_rows_outside_source_or_outputs():
    fields = [(0, np.dtype("u4"))]
    out = [np.zeros(2, np.uint32)]
    with pytest.raises(NativeError):
        unpack_at(bytes(8), np.array([6], np.int64), np.array([0], np.int64), 4, fields, out)
    with pytest.raises(NativeError):
        unpack_at(bytes(8), np.array([0], np.int64), np.array([2], np.int64), 4, fields, out)
    assert out[0].tolist() == [0, 0]
