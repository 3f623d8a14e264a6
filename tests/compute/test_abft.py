"""Checksummed products: silent on sound data, and every upset larger than rounding is caught,
located and undone (bit-exactly where it was a flipped bit) or recomputed."""
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from gridfree.flight.compute.abft import (
    DEFAULT_TOL, AbftUncorrectable, abft_matmul, flip_bit, framed, high_bits, verify)

DTYPES = [np.float32, np.float64]


def operands(rng, m, k, n, dtype, kind="gauss", batch=()):
    g = rng.standard_normal
    if kind == "gauss":
        a, b = g(batch + (m, k)), g((k, n))
    elif kind == "uniform":  # all terms positive: rounding errors are correlated
        a, b = rng.random(batch + (m, k)), rng.random((k, n))
    elif kind == "lognormal":
        a, b = g(batch + (m, k)) * np.exp(2 * g(batch + (m, k))), g((k, n)) * np.exp(2 * g((k, n)))
    elif kind == "scaled":  # rows of A and columns of B 2**±30 apart: ill-conditioned magnitudes
        a = g(batch + (m, k)) * 2.0 ** rng.integers(-30, 31, (m, 1))
        b = g((k, n)) * 2.0 ** rng.integers(-30, 31, (1, n))
    return a.astype(dtype), b.astype(dtype)


def within_rounding(c, a, b):
    """|c - a b| <= 2 k u |a| |b|: the classical bound, doubled for two differently blocked GEMMs."""
    u = np.finfo(c.dtype).eps / 2
    bound = 2 * a.shape[-1] * u * (np.abs(a).astype(np.float64) @ np.abs(b).astype(np.float64))
    return np.all(np.abs(c.astype(np.float64) - np.matmul(a, b)) <= bound + np.finfo(c.dtype).tiny)


def flip_once(stage, flat_index, bit):
    """An upset: one bit, once (recomputations run clean)."""
    def inject(where, array, attempt):
        if where == stage and attempt == 0:
            flip_bit(array, flat_index, bit)
    return inject


def elements(rng, c, count, floor=1e-2):
    """Random (i, j) whose value is not negligible next to its row's (|c| >= floor * row rms): an
    element smaller than the tolerance cannot be checked, see test_undetected_flips_are_below_tolerance."""
    rms = np.sqrt(np.mean(c.astype(np.float64) ** 2, axis=-1, keepdims=True))
    ok = np.argwhere(np.abs(c) >= floor * rms)
    return [tuple(ok[t]) for t in rng.choice(len(ok), count, replace=False)]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["gauss", "uniform", "lognormal", "scaled"])
@pytest.mark.parametrize("n", [1, 7, 64, 300])
def test_no_false_alarms_on_random_data(dtype, kind, n):
    a, b = operands(np.random.default_rng(n), n, n + 3, n, dtype, kind)
    r = abft_matmul(a, b)
    assert not r.detected and r.corrected == r.recomputed == 0 and r.residual <= 1
    assert r.c.dtype == dtype and within_rounding(r.c, a, b)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["gauss", "scaled"])
def test_no_false_alarms_at_1024(dtype, kind):
    a, b = operands(np.random.default_rng(1024), 1024, 1024, 1024, dtype, kind)
    r = abft_matmul(a, b)
    assert not r.detected and r.residual <= 1 and within_rounding(r.c, a, b)


@given(seed=st.integers(0, 2**32 - 1), m=st.integers(1, 24), k=st.integers(1, 24), n=st.integers(1, 24),
       batch=st.sampled_from([(), (1,), (3,)]), dtype=st.sampled_from(DTYPES),
       kind=st.sampled_from(["gauss", "uniform", "lognormal", "scaled"]))
def test_no_false_alarms_on_small_shapes(seed, m, k, n, batch, dtype, kind):
    a, b = operands(np.random.default_rng(seed), m, k, n, dtype, kind, batch)
    r = abft_matmul(a, b)
    assert not r.detected and r.residual <= 1
    assert r.c.shape == batch + (m, n) and within_rounding(r.c, a, b)


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_high_bit_flip_is_corrected_bit_exactly(dtype):
    rng = np.random.default_rng(3)
    m, k, n = 64, 80, 48
    a, b = operands(rng, m, k, n, dtype)
    clean = abft_matmul(a, b).c
    for bit in high_bits(dtype):
        for i, j in elements(rng, clean, 6):
            r = abft_matmul(a, b, inject=flip_once("product", i * (n + 1) + j, bit))
            assert r.detected and r.corrected == 1 and r.recomputed == 0, (bit, i, j)
            assert r.c.tobytes() == clean.tobytes() and r.residual <= 1


@pytest.mark.parametrize("dtype", DTYPES)
def test_an_upset_in_the_arithmetic_is_corrected_from_the_checksum(dtype):
    """Not a flipped bit of the stored result but a wrong sum: no bit to flip back, so the value
    comes from the checksum, right to within rounding."""
    a, b = operands(np.random.default_rng(4), 40, 40, 40, dtype)
    clean = abft_matmul(a, b).c

    def wrong_sum(where, p, attempt):
        if where == "product" and attempt == 0:
            p[5, 7] += 3.0 * np.float64(p[5, 7]) + 1.0

    r = abft_matmul(a, b, inject=wrong_sum)
    assert r.detected and r.corrected == 1 and r.recomputed == 0
    assert within_rounding(r.c, a, b)
    assert abs(float(r.c[5, 7]) - float(clean[5, 7])) < 1e-3 * abs(float(clean[5, 7])) + 1e-4


@pytest.mark.parametrize("dtype", DTYPES)
def test_undetected_flips_are_below_tolerance(dtype):
    """Any bit of any element, tiny ones included: a flip is either caught, or it changed the
    value by less than the tolerance, i.e. by rounding-sized amounts next to its row. (Low
    mantissa bits are mostly of that kind: numerically harmless, by the definition of the bound.)"""
    rng = np.random.default_rng(5)
    m = k = n = 48
    a, b = operands(rng, m, k, n, dtype)
    a[3] *= 1e-3  # a row of small elements, whose high bits may sit below their row's rounding
    clean = abft_matmul(a, b).c
    b_framed = np.concatenate([b, b.sum(axis=1, keepdims=True)], axis=1)
    u = np.finfo(dtype).eps / 2
    # Cauchy-Schwarz bounds both terms of the row tolerance by ‖A[i, :]‖·‖[B, Be]‖_F; an undetected
    # change is at most twice the tolerance (the clean row's own mismatch may take up the other).
    bound = 4 * DEFAULT_TOL * u * np.sqrt(k + n + 1) * np.linalg.norm(a, axis=1) * np.linalg.norm(b_framed)
    missed = 0
    for _ in range(600):
        i, j, bit = rng.integers(m), rng.integers(n), int(rng.integers(8 * np.dtype(dtype).itemsize))
        r = abft_matmul(a, b, inject=flip_once("product", i * (n + 1) + j, bit))
        if r.detected:
            assert r.c.tobytes() == clean.tobytes()
        else:
            missed += 1
            assert abs(float(r.c[i, j]) - float(clean[i, j])) <= bound[i], (i, j, bit)
    assert 0 < missed < 600


@pytest.mark.parametrize("dtype", DTYPES)
def test_two_flips_in_different_rows_and_columns_are_recomputed(dtype):
    rng = np.random.default_rng(6)
    a, b = operands(rng, 50, 30, 40, dtype)
    clean = abft_matmul(a, b).c
    (i1, j1), (i2, j2) = elements(rng, clean[:25, :20], 1)[0], elements(rng, clean[25:, 20:], 1)[0]
    first, second = flip_once("product", i1 * 41 + j1, 30 if dtype == np.float32 else 62), \
        flip_once("product", (25 + i2) * 41 + 20 + j2, 31 if dtype == np.float32 else 63)
    r = abft_matmul(a, b, inject=lambda *args: (first(*args), second(*args)))
    assert r.detected and r.corrected == 0 and r.recomputed == 1
    assert r.c.tobytes() == clean.tobytes()


@pytest.mark.parametrize("where", ["checksum column", "same row"])
def test_a_damaged_checksum_or_two_flips_in_a_row_are_recomputed(where):
    a, b = operands(np.random.default_rng(7), 30, 20, 30, np.float64)
    clean = abft_matmul(a, b).c
    flat = {"checksum column": 4 * 31 + 30, "same row": 4 * 31 + 9}[where]
    hooks = [flip_once("product", flat, 62)] + ([flip_once("product", 4 * 31 + 2, 63)] if where == "same row" else [])
    r = abft_matmul(a, b, inject=lambda *args: [h(*args) for h in hooks])
    assert r.detected and r.corrected == 0 and r.recomputed == 1
    assert r.c.tobytes() == clean.tobytes()


@pytest.mark.parametrize("where", ["checksum row", "corner"])
def test_the_checksum_row_is_taken_for_a_repair_and_checked_there(where):
    """The first computation checks rows only, so a hit on the (not yet taken) checksum row
    changes nothing. A repair takes it; damaged during a recomputation, it fails its own check
    and the matrix is computed once more."""
    a, b = operands(np.random.default_rng(7), 30, 20, 30, np.float64)
    clean = abft_matmul(a, b).c
    frame = {"checksum row": 30 * 31 + 4, "corner": 30 * 31 + 30}[where]
    r = abft_matmul(a, b, inject=flip_once("product", frame, 62))
    assert not r.detected and r.c.tobytes() == clean.tobytes()

    def upsets(stage, p, attempt):
        if stage == "product" and attempt in (0, 1):  # two flips in a row, then the frame
            for flat in ([4 * 31 + 2, 4 * 31 + 9] if attempt == 0 else [frame]):
                flip_bit(p, flat, 62)

    r = abft_matmul(a, b, inject=upsets)
    assert r.detected and r.corrected == 0 and r.recomputed == 2
    assert r.c.tobytes() == clean.tobytes()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("operand", ["a", "b"])
def test_an_operand_corrupted_after_its_checksum_is_reported_not_multiplied(dtype, operand):
    """A bad element of A spoils a whole row of the product, consistently with the checksum
    column's A (B e) if that is taken afterwards, but not with B's sums, taken before. The
    operand is the caller's: a recomputation reads the same bad data, so the product is refused."""
    rng = np.random.default_rng(8)
    m, k, n = 40, 32, 36
    a, b = operands(rng, m, k, n, dtype)
    shape = (m, k) if operand == "a" else (k, n)
    for bit in high_bits(dtype):
        for idx in elements(rng, a if operand == "a" else b, 3, floor=0.1):
            x, y = a.copy(), b.copy()
            with pytest.raises(AbftUncorrectable):
                abft_matmul(x, y, inject=flip_once(operand, int(np.ravel_multi_index(idx, shape)), bit))
            assert not np.array_equal(x if operand == "a" else y, a if operand == "a" else b)


def test_batches_broadcast_and_are_repaired_matrix_by_matrix():
    rng = np.random.default_rng(9)
    a = rng.standard_normal((2, 3, 20, 16)).astype(np.float32)
    b = rng.standard_normal((3, 16, 12)).astype(np.float32)
    clean = abft_matmul(a, b)
    assert clean.c.shape == (2, 3, 20, 12) and not clean.detected and within_rounding(clean.c, a, b)
    p_shape = (2, 3, 21, 13)
    one = flip_once("product", int(np.ravel_multi_index((1, 2, 5, 6), p_shape)), 29)
    two = [flip_once("product", int(np.ravel_multi_index(idx, p_shape)), 30) for idx in [(0, 1, 2, 3), (0, 1, 9, 9)]]
    r = abft_matmul(a, b, inject=lambda *args: [h(*args) for h in [one, *two]])
    assert r.detected and r.corrected == 1 and r.recomputed == 1
    assert r.c.tobytes() == clean.c.tobytes()


def test_a_persistent_fault_is_reported_not_returned():
    a, b = operands(np.random.default_rng(10), 16, 16, 16, np.float64, batch=(2,))

    def stuck(where, p, attempt):  # the same two elements wrong on every computation of matrix 1
        if where == "product":
            target = p[1] if p.ndim == 3 else p
            target[2, 3] += 1.0
            target[4, 5] += 1.0

    with pytest.raises(AbftUncorrectable) as err:
        abft_matmul(a, b, inject=stuck)
    assert err.value.batch_index == (1,) and err.value.residual > 1


@pytest.mark.parametrize("dtype", DTYPES)
def test_operands_in_any_layout_give_the_product_of_contiguous_ones(dtype):
    a, b = operands(np.random.default_rng(12), 33, 20, 17, dtype)
    expected = abft_matmul(a, b).c
    r = abft_matmul(np.asfortranarray(a), b.T.copy().T)  # column-major, and a transposed view
    assert not r.detected and r.c.tobytes() == expected.tobytes()
    r = abft_matmul(a[:, ::-1], b[::-1])  # negative strides: the same sums, reordered
    assert not r.detected and within_rounding(r.c, a, b)


def test_operands_whose_checks_cannot_be_evaluated_are_refused():
    a = np.ones((4, 4))
    a[1, 2] = np.nan
    with pytest.raises(ValueError, match="finite"):
        abft_matmul(a, np.ones((4, 4)))
    with pytest.raises(TypeError):
        abft_matmul(np.ones((4, 4), np.int64), np.ones((4, 4), np.int64))
    with pytest.raises(ValueError, match="inner"):
        abft_matmul(np.ones((4, 3)), np.ones((4, 4)))


def test_empty_and_mixed_precision_products():
    assert abft_matmul(np.ones((3, 0)), np.ones((0, 2))).c.tolist() == [[0.0, 0.0]] * 3
    r = abft_matmul(np.ones((2, 3), np.float32), np.ones((3, 2)))
    assert r.c.dtype == np.float64 and r.c.tolist() == [[3.0, 3.0]] * 2


@pytest.mark.parametrize("dtype", DTYPES)
def test_flip_bit_flips_exactly_one_bit_of_a_view(dtype):
    parent = np.arange(12, dtype=dtype).reshape(3, 4)
    x = parent[:, 1:3]  # not contiguous: x[1, 0] is 5
    flip_bit(x, 2, 8 * np.dtype(dtype).itemsize - 1)
    assert x[1, 0] == -5 and parent[1, 1] == -5
    flip_bit(x, 2, np.finfo(dtype).nmant)  # the lowest exponent bit: 1.25 * 2**2 becomes 1.25 * 2**1
    assert x[1, 0] == -2.5
    flip_bit(x, 0, 0)
    assert x[0, 0] == np.nextafter(dtype(1), dtype(2))


def test_verify_is_the_check_abft_matmul_applies():
    a, b = operands(np.random.default_rng(11), 10, 10, 10, np.float32)
    ops, p = framed(a, b, np.float32)
    p[:10, :10] = a @ b
    assert not verify(p, ops, columns=False).bad_rows().any()
    p[3, 4] *= 2
    assert np.flatnonzero(verify(p, ops, columns=False).bad_rows()).tolist() == [3]
    ops = ops.with_column_sums()
    p[10, :10], p[10, 10] = ops.a_sums @ b, ops.a_sums @ ops.b_sums
    check = verify(p, ops)
    assert np.flatnonzero(check.bad_rows()).tolist() == [3] and np.flatnonzero(check.bad_cols()).tolist() == [4]
