"""The native row-block sums (src/blocksums.c) against the correctly rounded Python reference:
within what a sequential sum in the element's type may be off by, for any block width, row
stride and view an ABFT check hands it."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from gridfree.native import reference as ref
from gridfree.native.blocksums import block_sums


def assert_close(x: np.ndarray, w: int):
    """Off from the correctly rounded sums by no more than the classic bound of a sequential sum
    in x's dtype: (terms - 1) u sum |v| (Higham, Accuracy and Stability, 4.2), plus the final
    rounding to float64."""
    s, q = block_sums(x, w)
    rows = x.reshape(-1, x.shape[-1]) if x.size else np.zeros((int(np.prod(x.shape[:-1])), 0))
    want_s, want_q = (np.array(v, dtype=np.float64).reshape(s.shape) for v in ref.block_sums(rows.tolist(), w))
    u = np.finfo(x.dtype).eps / 2
    terms = min(w, x.shape[-1])
    mags, _ = ref.block_sums(np.abs(rows).tolist(), w)
    mags = np.array(mags, dtype=np.float64).reshape(s.shape)
    assert np.all(np.abs(s - want_s) <= terms * u * mags + 1e-300)
    assert np.all(np.abs(q - want_q) <= (terms + 1) * u * want_q + 1e-300)


@settings(max_examples=150, deadline=None)
@given(rows=st.integers(0, 4), cols=st.integers(0, 300), w=st.integers(1, 320), pad=st.integers(0, 17),
       dtype=st.sampled_from([np.float32, np.float64]), scale=st.sampled_from([1e-15, 1.0, 1e15]),
       seed=st.integers(0, 2**32 - 1))
def test_sums_match_the_reference_for_any_width_and_row_stride(rows, cols, w, pad, dtype, scale, seed):
    rng = np.random.default_rng(seed)
    base = (rng.standard_normal((rows, cols + pad)) * scale).astype(dtype)
    assert_close(base[:, :cols], w)  # the product's frame: columns of a padded array, a view


@pytest.mark.parametrize("make", [
    lambda x: x.reshape(3, 4, 70)[..., :64],  # a batch of framed products: evenly spaced rows
    lambda x: x.reshape(12, 70).T,  # rows not contiguous: copied first
    lambda x: x[5, :64][None],  # a lone row, whose numpy stride is 0
    lambda x: x.reshape(12, 70)[::2, :50],  # every other row
], ids=["batch", "transposed", "lone-row", "strided-rows"])
def test_views_are_summed_where_they_lie_or_copied(make):
    x = make(np.random.default_rng(1).standard_normal(840).astype(np.float32).reshape(12, 70))
    assert_close(x, 16)
    assert block_sums(x, 16)[0].shape == x.shape[:-1] + (-(-x.shape[-1] // 16),)


def test_a_non_finite_element_poisons_its_block_only():
    x = np.ones((2, 96), np.float32)
    x[0, 40], x[1, 70] = np.inf, np.nan
    s, q = block_sums(x, 32)
    assert s[0].tolist() == [32, np.inf, 32] and q[0].tolist() == [32, np.inf, 32]
    assert np.isnan(s[1, 2]) and np.isnan(q[1, 2]) and s[1, :2].tolist() == [32, 32]


def test_squares_beyond_the_dtype_overflow_as_a_sequential_sum_in_it_would():
    """The checks then see an infinite tolerance and take the float64, rescaled second look."""
    s, q = block_sums(np.full((1, 64), 1e20, np.float32), 64)
    assert s[0, 0] == pytest.approx(64e20, rel=1e-6) and q[0, 0] == np.inf


def test_bad_arguments_are_refused_with_a_one_line_error():
    with pytest.raises(TypeError, match="float32 or float64"):
        block_sums(np.ones((2, 2), np.int32), 1)
    with pytest.raises(ValueError, match="block width"):
        block_sums(np.ones((2, 2)), 0)
