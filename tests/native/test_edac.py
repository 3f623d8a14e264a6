"""The C SECDED Hamming(72,64) EDAC against the bit-by-bit Python reference, every path of it,
and the EdacBuffer built on it."""
import itertools
import random

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from gridfree.native import ffi, lib
from gridfree.native import reference as ref
from gridfree.native.edac import EdacBuffer, EdacImpl, ScrubReport, edac_impl_name, edac_impls, encode, scrub

IMPLS = {"dispatched": EdacImpl(encode, scrub), **edac_impls()}
ALL_ONES = (1 << 64) - 1
KNOWN = [0, ALL_ONES, 0x5555555555555555, 0xAAAAAAAAAAAAAAAA, 0x0123456789ABCDEF, 0x8000000000000001,
         *(1 << j for j in range(64))]
words_st = st.lists(st.integers(0, ALL_ONES), max_size=40)  # past several 8- and 16-word blocks


def as_words(values) -> np.ndarray:
    return np.array(values, dtype=np.uint64).reshape(-1)


def corrupt(word: int, check: int, positions) -> tuple[int, int]:
    """Flip bits of the 72-bit (word, check) pair: 0..63 data bits, 64..71 check bits 0..7."""
    for p in positions:
        if p < 64:
            word ^= 1 << p
        else:
            check ^= 1 << (p - 64)
    return word, check


@pytest.fixture(params=sorted(IMPLS))
def impl(request):
    return IMPLS[request.param]


# ---- the reference itself -------------------------------------------------------------------

def test_reference_layout_is_the_textbook_one():
    assert ref.EDAC_DATA_POSITIONS[:8] == [3, 5, 6, 7, 9, 10, 11, 12]
    assert ref.EDAC_DATA_POSITIONS[-1] == 71
    assert ref.edac_encode(0) == 0
    assert ref.edac_encode(1) == 0b0000_0011 | 1 << 7  # position 3 = 1 + 2; three ones: odd
    assert ref.edac_encode(1 << 3) == 0b0000_0111  # position 7 = 1 + 2 + 4; four ones: even
    assert ref.edac_encode(1 << 63) == 0b0100_0111 | 1 << 7  # position 71 = 64 + 4 + 2 + 1


def test_reference_corrects_every_single_flip_and_detects_every_double():
    word = 0x0123456789ABCDEF
    check = ref.edac_encode(word)
    for p in range(72):
        assert ref.edac_decode(*corrupt(word, check, [p])) == (word, check, "corrected")
    for pair in random.Random(1).sample(list(itertools.combinations(range(72), 2)), 300):
        bad = corrupt(word, check, pair)
        assert ref.edac_decode(*bad) == (*bad, "uncorrectable")


# ---- encoding ---------------------------------------------------------------------------------

def test_the_dispatched_path_is_reported():
    assert edac_impl_name() in edac_impls()


def test_check_bytes_of_known_patterns(impl):
    assert impl.encode(as_words(KNOWN)).tolist() == [ref.edac_encode(w) for w in KNOWN]


@given(words=words_st)
def test_check_bytes_agree_with_the_reference(words):
    expected = [ref.edac_encode(w) for w in words]
    for name, fn in IMPLS.items():
        assert fn.encode(as_words(words)).tolist() == expected, name


def test_encode_reads_any_buffer_of_whole_words():
    words = as_words(KNOWN)
    expected = encode(words)
    assert encode(words.tobytes()).tolist() == expected.tolist()
    assert encode(bytearray(words.tobytes())).tolist() == expected.tolist()
    assert encode(words.view(np.float64).reshape(-1, 2)).tolist() == expected.tolist()
    out = np.full(len(words), 0xEE, np.uint8)
    assert encode(words, out=out) is out and out.tolist() == expected.tolist()
    assert len(encode(np.empty(0, np.uint64))) == 0


# ---- scrubbing: single errors, double errors, counts ----------------------------------------

def test_clean_buffers_scrub_with_zero_counts(impl):
    for n in [0, 1, 7, 8, 9, 15, 16, 17, 33, 1000]:
        words = np.random.default_rng(n).integers(0, ALL_ONES, n, np.uint64, endpoint=True)
        check = impl.encode(words)
        before = words.copy(), check.copy()
        assert impl.scrub(words, check) == ScrubReport(0, 0, -1)
        assert (words == before[0]).all() and (check == before[1]).all()


@pytest.mark.parametrize("word", [0, ALL_ONES, 0x0123456789ABCDEF, 0xDEADBEEFCAFEF00D, 1 << 63])
def test_every_single_flip_is_corrected(impl, word):
    # One word per position, all 72 in one buffer: every flip lands somewhere different in the
    # 8- and 16-word blocks, and the count says each was corrected once.
    check = ref.edac_encode(word)
    bad = [corrupt(word, check, [p]) for p in range(72)]
    words, checks = as_words([w for w, _ in bad]), np.array([c for _, c in bad], np.uint8)
    assert impl.scrub(words, checks) == ScrubReport(72, 0, -1)
    assert (words == np.uint64(word)).all() and (checks == check).all()
    assert impl.scrub(words, checks) == ScrubReport(0, 0, -1)


def test_single_flips_one_at_a_time(impl):
    word = 0xFEEDFACE12345678
    check = ref.edac_encode(word)
    for p in range(72):
        w, c = corrupt(word, check, [p])
        words, checks = as_words([w]), np.array([c], np.uint8)
        assert impl.scrub(words, checks) == ScrubReport(1, 0, -1), p
        assert (int(words[0]), int(checks[0])) == (word, check), p


def test_every_double_flip_is_detected_and_left_alone(impl):
    word = 0x0F1E2D3C4B5A6978
    check = ref.edac_encode(word)
    pairs = list(itertools.combinations(range(72), 2))
    assert len(pairs) == 72 * 71 // 2
    bad = [corrupt(word, check, pair) for pair in pairs]
    words, checks = as_words([w for w, _ in bad]), np.array([c for _, c in bad], np.uint8)
    before = words.copy(), checks.copy()
    assert impl.scrub(words, checks) == ScrubReport(0, len(pairs), 0)
    assert (words == before[0]).all() and (checks == before[1]).all()  # never "corrected"


@given(word=st.integers(0, ALL_ONES), pair=st.lists(st.integers(0, 71), min_size=2, max_size=2, unique=True))
def test_random_double_flips_are_detected(word, pair):
    bad_word, bad_check = corrupt(word, ref.edac_encode(word), pair)
    for name, fn in IMPLS.items():
        words, checks = as_words([0, bad_word, 0]), np.array([0, bad_check, 0], np.uint8)
        assert fn.scrub(words, checks) == ScrubReport(0, 1, 1), name
        assert (int(words[1]), int(checks[1])) == (bad_word, bad_check), name


@settings(max_examples=300)
@given(word=st.integers(0, ALL_ONES), check=st.integers(0, 255))
def test_any_received_word_decodes_as_the_reference_does(word, check):
    # Arbitrary (word, check) pairs: clean, single, double and heavier damage (including the
    # syndromes past position 71 that only three or more errors give) decide as the reference.
    fixed_word, fixed_check, status = ref.edac_decode(word, check)
    expected = {"ok": ScrubReport(0, 0, -1), "corrected": ScrubReport(1, 0, -1),
                "uncorrectable": ScrubReport(0, 1, 0)}[status]
    for name, fn in IMPLS.items():
        words, checks = as_words([word]), np.array([check], np.uint8)
        assert fn.scrub(words, checks) == expected, name
        assert (int(words[0]), int(checks[0])) == (fixed_word, fixed_check), name


@settings(max_examples=60)
@given(n=st.integers(1, 200), seed=st.integers(0, 2**32), data=st.data())
def test_many_damaged_words_are_counted_and_the_first_bad_one_found(n, seed, data):
    rng = np.random.default_rng(seed)
    clean = rng.integers(0, ALL_ONES, n, np.uint64, endpoint=True)
    clean_check = encode(clean)
    damaged = data.draw(st.lists(st.integers(0, n - 1), unique=True, max_size=n))
    n_single = data.draw(st.integers(0, len(damaged)))
    singles, doubles = damaged[:n_single], damaged[n_single:]
    words, checks = clean.copy(), clean_check.copy()
    for i in damaged:
        positions = rng.choice(72, 1 if i in singles else 2, replace=False).tolist()
        w, c = corrupt(int(words[i]), int(checks[i]), positions)
        words[i], checks[i] = w, c
    expected_words, expected_checks = words.copy(), checks.copy()
    expected_words[singles], expected_checks[singles] = clean[singles], clean_check[singles]
    for name, fn in IMPLS.items():
        w, c = words.copy(), checks.copy()
        assert fn.scrub(w, c) == ScrubReport(len(singles), len(doubles), min(doubles, default=-1)), name
        assert (w == expected_words).all() and (c == expected_checks).all(), name


# ---- EdacBuffer -------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int8, np.uint16, np.complex64])
@pytest.mark.parametrize("shape", [(0,), (1,), (7,), (13,), (3, 5), (2, 3, 3), ()])
def test_buffer_round_trip_with_padding(dtype, shape):
    original = (np.random.default_rng(3).standard_normal(shape) * 50).astype(dtype)
    buf = EdacBuffer.protect(original)
    assert buf.array.dtype == original.dtype and buf.array.shape == original.shape
    assert buf.array.tobytes() == original.tobytes()
    assert buf.nwords == -(-original.nbytes // 8) and buf.nbytes == original.nbytes
    assert np.shares_memory(buf.array, buf.words) or original.nbytes == 0  # a view, not a copy
    assert buf.scrub() == ScrubReport(0, 0, -1)
    for w in range(buf.nwords):  # one flip in every word, padding included: all corrected
        buf.flip_bit(64 * w + 13 * w % 64)
    flips = buf.nwords
    assert buf.scrub() == ScrubReport(flips, 0, -1)
    assert buf.array.tobytes() == original.tobytes()
    assert (buf.words.view(np.uint8)[original.nbytes:] == 0).all()  # the padding came back too
    assert buf.corrected_total == flips and buf.uncorrectable_total == 0 and buf.scrubs == 2


def test_buffer_corrects_check_bits_and_reports_double_errors():
    original = np.arange(10, dtype=np.float64)
    buf = EdacBuffer.protect(original)
    buf.flip_bit(8 * 3 + 7, in_check=True)  # the overall parity bit of word 3
    buf.flip_bit(8 * 5 + 2, in_check=True)  # a Hamming bit of word 5
    assert buf.scrub() == ScrubReport(2, 0, -1)
    assert (buf.check == encode(buf.words)).all()
    buf.flip_bit(64 * 6 + 1)
    buf.flip_bit(64 * 6 + 40)  # two in word 6: detected, left alone
    buf.flip_bit(64 * 8 + 9)
    buf.flip_bit(8 * 8, in_check=True)  # one in the data and one in the check of word 8
    buf.flip_bit(64 * 9)  # a single one after them, still corrected
    assert buf.scrub() == ScrubReport(1, 2, 6)
    assert buf.array[6] != original[6] and (buf.array[:6] == original[:6]).all() and buf.array[9] == 9
    assert (buf.corrected_total, buf.uncorrectable_total, buf.scrubs) == (3, 2, 2)
    assert buf.scrub() == ScrubReport(0, 2, 6)  # nothing repairs a double error: it stays reported
    assert buf.uncorrectable_total == 4


def test_buffer_copies_its_input_and_reencodes_deliberate_writes():
    original = np.arange(12, dtype=np.int32).reshape(3, 4)
    buf = EdacBuffer.protect(original[:, ::2])  # a non-contiguous input is copied in
    assert buf.array.tolist() == [[0, 2], [4, 6], [8, 10]]
    assert not np.shares_memory(buf.array, original)
    buf.array[1, 1] = 99
    buf.reencode()
    assert buf.scrub() == ScrubReport(0, 0, -1) and buf.array[1, 1] == 99
    buf.array[0, 0] = 1  # a write without reencode looks like an upset (here a single bit)
    assert buf.scrub() == ScrubReport(1, 0, -1) and buf.array[0, 0] == 0


def test_buffer_rejects_bad_arguments():
    buf = EdacBuffer.protect(np.zeros(3, np.float32))  # 12 octets: 2 words
    with pytest.raises(IndexError, match="data bit 128"):
        buf.flip_bit(128)
    with pytest.raises(IndexError, match="check bit 16"):
        buf.flip_bit(16, in_check=True)
    with pytest.raises(IndexError):
        buf.flip_bit(-1)
    with pytest.raises(TypeError, match="Python objects"):
        EdacBuffer.protect(np.array([1, "a"], dtype=object))
    assert buf.scrub() == ScrubReport(0, 0, -1)
    assert "float32[3]" in repr(buf)


# ---- bad arguments to the plain functions -----------------------------------------------------

def test_length_not_whole_words_is_refused():
    with pytest.raises(ValueError, match="whole 64-bit words, got 7 octets"):
        encode(b"1234567")
    with pytest.raises(ValueError, match="whole 64-bit words"):
        scrub(np.zeros(3, np.float32), np.zeros(1, np.uint8))


def test_non_contiguous_arrays_are_refused():
    words = np.zeros(16, np.uint64)
    with pytest.raises(ValueError, match="C-contiguous"):
        encode(words[::2])
    with pytest.raises(ValueError, match="C-contiguous"):
        scrub(words[::2], np.zeros(8, np.uint8))
    with pytest.raises(ValueError, match="check must be C-contiguous"):
        scrub(words[:8], np.zeros(16, np.uint8)[::2])


def test_misaligned_start_is_refused():
    octets = np.zeros(17, np.uint8)
    start = -octets.ctypes.data % 8 + 1  # one past a 64-bit boundary
    with pytest.raises(ValueError, match="64-bit boundary"):
        encode(octets[start:start + 8])


def test_check_bytes_must_match_and_be_writable():
    words = np.zeros(4, np.uint64)
    with pytest.raises(ValueError, match="one check byte per word: 4 octets, got 3"):
        scrub(words, np.zeros(3, np.uint8))
    with pytest.raises(ValueError, match="check must be writable"):
        scrub(words, bytes(4))
    with pytest.raises(ValueError, match="words must be writable"):
        scrub(bytes(32), np.zeros(4, np.uint8))
    with pytest.raises(ValueError, match="out"):
        encode(words, out=np.zeros(5, np.uint8))
    with pytest.raises(TypeError, match="must be a buffer"):
        encode([1, 2, 3])


def test_the_core_refuses_null_pointers():
    st_ = ffi.new("gf_edac_stats *")
    assert lib.gf_edac_scrub(ffi.NULL, ffi.NULL, 1, st_) == lib.GF_EINVAL
    assert lib.gf_edac_scrub(ffi.NULL, ffi.NULL, 0, ffi.NULL) == lib.GF_EINVAL
    assert lib.gf_edac_encode(ffi.NULL, 1, ffi.NULL) == lib.GF_EINVAL
    assert lib.gf_edac_scrub(ffi.NULL, ffi.NULL, 0, st_) == lib.GF_OK
    assert (st_.corrected, st_.uncorrectable, st_.first_uncorrectable) == (0, 0, -1)
