"""Checksummed products: silent on sound data, and every upset that would leave an element off by
more than the issue's bound (1e-4 of its row's rms in float32, 1e-10 in float64) is caught,
located and undone (bit-exactly where it was a flipped bit) or recomputed."""
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gridfree.flight.compute.abft import AbftUncorrectable, abft_matmul, block_width, flip_bit, high_bits
from gridfree.flight.compute.abft_check import THRESHOLD_RMS

DTYPES = [np.float32, np.float64]
KINDS = ["gauss", "uniform", "lognormal", "scaled", "shifted", "constant"]


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
    elif kind == "shifted":  # a large mean and small spread: the terms cancel in no way but add up
        a, b = 10 + g(batch + (m, k)), 3 + 0.01 * g((k, n))
    elif kind == "constant":  # every element the same sum: its rounding errors all alike
        a, b = np.full(batch + (m, k), 0.1), np.full((k, n), 0.3)
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


def in_product(i, j):
    """An upset of C[i, j], wherever the framed product puts it."""
    def inject(where, array, attempt):
        if where == "product" and attempt == 0:
            flip_bit(array, i * array.shape[-1] + j, in_product.bit)
    return inject


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("m,k,n", [(1, 1, 1), (7, 9, 7), (64, 67, 64), (300, 303, 300), (40, 1024, 301)])
def test_no_false_alarms_on_random_data(dtype, kind, m, k, n):
    a, b = operands(np.random.default_rng(n + k), m, k, n, dtype, kind)
    r = abft_matmul(a, b)
    assert not r.detected and r.corrected == r.recomputed == 0 and r.residual <= 1
    assert r.c.dtype == dtype and within_rounding(r.c, a, b)


@pytest.mark.parametrize("dtype", DTYPES)
def test_no_false_alarms_on_200_products_of_several_scales(dtype):
    rng = np.random.default_rng(200)
    scales = 2.0 ** np.array([-16, -6, 0, 6, 16] if dtype == np.float32 else [-300, -40, 0, 40, 300]) / 2
    for t in range(200):
        m, k, n = (int(x) for x in rng.integers(16, 160, 3))
        a, b = operands(rng, m, k, n, dtype, KINDS[t % 4])
        a, b = a * dtype(rng.choice(scales)), b * dtype(rng.choice(scales))
        r = abft_matmul(a, b)
        assert not r.detected and r.residual <= 1 and within_rounding(r.c, a, b), (t, m, k, n)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["gauss", "scaled", "uniform"])
def test_no_false_alarms_at_1024(dtype, kind):
    a, b = operands(np.random.default_rng(1024), 1024, 1024, 1024, dtype, kind)
    r = abft_matmul(a, b)
    assert not r.detected and r.residual <= 1 and within_rounding(r.c, a, b)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), m=st.integers(1, 24), k=st.integers(0, 24), n=st.integers(1, 40),
       batch=st.sampled_from([(), (1,), (3,)]), dtype=st.sampled_from(DTYPES), kind=st.sampled_from(KINDS))
def test_no_false_alarms_on_small_shapes(seed, m, k, n, batch, dtype, kind):
    a, b = operands(np.random.default_rng(seed), m, k, n, dtype, kind, batch)
    r = abft_matmul(a, b)
    assert not r.detected and r.residual <= 1
    assert r.c.shape == batch + (m, n) and within_rounding(r.c, a, b)


def test_blocks_are_as_narrow_as_the_bound_needs():
    """The module docstring's widths: float32 blocks of 256, 128 and 64 at n = 256, 1024 and 2048,
    whole rows in float64."""
    assert [block_width(n, n, np.float32) for n in (256, 1024, 2048)] == [256, 128, 64]
    assert [block_width(n, n, np.float64) for n in (256, 1024, 2048)] == [256, 1024, 2048]
    assert block_width(1024, 301, np.float32) == 76  # four blocks, the last one shorter


@pytest.mark.parametrize("dtype", DTYPES)
def test_at_most_one_percent_of_random_flips_leave_an_element_off(dtype):
    """The issue's bound, measured: 2000 flips of a random bit of a random element of the product
    (n = 256), each element after the checks held against a reference product in a wider format,
    relative to its row's rms."""
    rng = np.random.default_rng(18)
    n = 256
    a, b = operands(rng, n, n, n, dtype)
    wide = np.float64 if dtype == np.float32 else np.longdouble
    reference = a.astype(wide) @ b.astype(wide)
    rms = np.sqrt(np.mean(reference.astype(np.float64) ** 2, axis=1))
    clean = abft_matmul(a, b).c
    assert (np.abs(clean - reference) / rms[:, None]).max() < THRESHOLD_RMS[np.dtype(dtype)] / 10
    off = detected = 0
    for _ in range(2000):
        i, j, in_product.bit = (int(x) for x in (rng.integers(n), rng.integers(n), rng.integers(8 * a.itemsize)))
        r = abft_matmul(a, b, inject=in_product(i, j))
        detected += r.detected
        changed = np.argwhere(r.c != clean)
        assert r.detected or len(changed) <= 1
        errors = np.abs(r.c[tuple(changed.T)].astype(wide) - reference[tuple(changed.T)]) / rms[changed[:, 0]]
        off += bool(len(changed)) and not np.all(errors <= THRESHOLD_RMS[np.dtype(dtype)])
        if r.detected:
            assert r.c.tobytes() == clean.tobytes() or r.corrected == 1
    assert off / 2000 <= 0.01
    assert detected > 1000  # the checks do work: most bits move an element by more than the bound


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [256, 301])
def test_a_flip_in_every_position_class_is_corrected_bit_exactly(dtype, n):
    """First and last rows and columns, and both sides of every block boundary, with k large
    enough that float32 checks cut the rows into blocks (n = 301: blocks of 76, the last of 73)."""
    rng = np.random.default_rng(n)
    m, k = 40, 1024
    a, b = operands(rng, m, k, n, dtype)
    clean = abft_matmul(a, b).c
    w = block_width(k, n, dtype)
    edges = sorted({0, n - 1} | {x for e in range(w, n, w) for x in (e - 1, e)})
    assert dtype == np.float64 or len(edges) >= 4
    for i in (0, m // 2, m - 1):
        for j in edges:
            for bit in (np.finfo(dtype).nmant + 1, 8 * np.dtype(dtype).itemsize - 1):  # an exponent bit, the sign
                if clean[i, j] == 0:
                    continue
                in_product.bit = bit
                r = abft_matmul(a, b, inject=in_product(i, j))
                assert r.detected and r.corrected == 1 and r.recomputed == 0, (i, j, bit)
                assert r.c.tobytes() == clean.tobytes() and r.residual <= 1
    in_product.bit = np.finfo(dtype).nmant + 1
    for i in (0, m - 1):  # and each checksum in the frame, after C: its block's check fails, the row is sound
        for j in range(n, n + -(-n // w)):
            r = abft_matmul(a, b, inject=in_product(i, j))
            assert r.detected and r.corrected == 0 and r.recomputed == 1, (i, j)
            assert r.c.tobytes() == clean.tobytes()


@pytest.mark.parametrize("dtype", DTYPES)
def test_every_high_bit_flip_is_corrected_bit_exactly(dtype):
    rng = np.random.default_rng(3)
    m, k, n = 64, 80, 48
    a, b = operands(rng, m, k, n, dtype)
    clean = abft_matmul(a, b).c
    rms = np.sqrt(np.mean(clean.astype(np.float64) ** 2, axis=1))
    for bit in high_bits(dtype):
        for i, j in np.argwhere(np.abs(clean) >= 1e-2 * rms[:, None])[rng.choice(m * n // 2, 6, replace=False)]:
            in_product.bit = bit
            r = abft_matmul(a, b, inject=in_product(int(i), int(j)))
            assert r.detected and r.corrected == 1 and r.recomputed == 0, (bit, i, j)
            assert r.c.tobytes() == clean.tobytes() and r.residual <= 1


@pytest.mark.parametrize("dtype", DTYPES)
def test_an_upset_in_the_arithmetic_is_corrected_from_the_row_computed_again(dtype):
    """Not a flipped bit of the stored result but a wrong sum: no bit to flip back, so the value
    comes from the row computed on its own, right to within rounding."""
    a, b = operands(np.random.default_rng(4), 40, 40, 40, dtype)
    clean = abft_matmul(a, b).c

    def wrong_sum(where, p, attempt):
        if where == "product" and attempt == 0:
            p[5, 7] += 3.0 * np.float64(p[5, 7]) + 1.0

    r = abft_matmul(a, b, inject=wrong_sum)
    assert r.detected and r.corrected == 1 and r.recomputed == 0
    assert within_rounding(r.c, a, b)
    assert abs(float(r.c[5, 7]) - float(clean[5, 7])) < 1e-4 * abs(float(clean[5, 7])) + 1e-5


@pytest.mark.parametrize("dtype", DTYPES)
def test_two_flips_in_different_rows_are_recomputed(dtype):
    a, b = operands(np.random.default_rng(6), 50, 30, 40, dtype)
    clean = abft_matmul(a, b).c
    top = 8 * np.dtype(dtype).itemsize - 2
    hooks = [flip_once("product", 3 * 41 + 4, top), flip_once("product", 30 * 41 + 25, top + 1)]
    r = abft_matmul(a, b, inject=lambda *args: [h(*args) for h in hooks])
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


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("operand", ["a", "b"])
def test_an_operand_corrupted_after_its_checksum_is_reported_not_multiplied(dtype, operand):
    """A bad element of A spoils a whole row of the product, consistently with a row computed again
    from it, but not with B's block sums, taken before. The operand is the caller's: a
    recomputation reads the same bad data, so the product is refused."""
    rng = np.random.default_rng(8)
    m, k, n = 40, 32, 36
    a, b = operands(rng, m, k, n, dtype)
    x = a if operand == "a" else b
    for bit in high_bits(dtype):
        for idx in np.argwhere(np.abs(x) >= 0.1)[rng.choice(100, 3, replace=False)]:
            x2, y2 = a.copy(), b.copy()
            with pytest.raises(AbftUncorrectable):
                abft_matmul(x2, y2, inject=flip_once(operand, int(np.ravel_multi_index(idx, x.shape)), bit))
            assert not np.array_equal(x2 if operand == "a" else y2, x)


def test_batches_broadcast_and_are_repaired_matrix_by_matrix():
    rng = np.random.default_rng(9)
    a = rng.standard_normal((2, 3, 20, 16)).astype(np.float32)
    b = rng.standard_normal((3, 16, 12)).astype(np.float32)
    clean = abft_matmul(a, b)
    assert clean.c.shape == (2, 3, 20, 12) and not clean.detected and within_rounding(clean.c, a, b)

    def upsets(where, p, attempt):
        if where == "product" and attempt == 0:
            assert p.shape[:3] == (2, 3, 20)
            flip_bit(p[1, 2], 5 * p.shape[-1] + 6, 29)  # one element: corrected
            flip_bit(p[0, 1], 2 * p.shape[-1] + 3, 30)  # two, in two rows: recomputed
            flip_bit(p[0, 1], 9 * p.shape[-1] + 9, 30)

    r = abft_matmul(a, b, inject=upsets)
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
    b = np.ones((4, 4))
    b[3, 0] = np.inf
    with pytest.raises(ValueError, match="finite"):
        abft_matmul(np.ones((4, 4)), b)
    with pytest.raises(TypeError):
        abft_matmul(np.ones((4, 4), np.int64), np.ones((4, 4), np.int64))
    with pytest.raises(ValueError, match="inner"):
        abft_matmul(np.ones((4, 3)), np.ones((4, 4)))


def test_empty_and_mixed_precision_products():
    assert abft_matmul(np.ones((3, 0)), np.ones((0, 2))).c.tolist() == [[0.0, 0.0]] * 3
    assert abft_matmul(np.ones((0, 3)), np.ones((3, 2))).c.shape == (0, 2)
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
