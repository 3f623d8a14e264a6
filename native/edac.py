"""SECDED Hamming(72,64) EDAC for data held in RAM for hours: model weights, resident buffers.

Every 64-bit word gets a check byte (the textbook extended Hamming code; layout in src/edac.c).
A scrub reads every word, corrects a single flipped bit in place (in the word or in its check
byte) and reports a word with two flipped bits as uncorrectable, leaving it as it is. Run scrubs
periodically, as flight memory controllers do, so that single upsets are repaired before a
second one lands in the same word.

`EdacBuffer` owns a protected copy of a numpy array; `encode` and `scrub` work on any caller's
words in place. Nothing here copies the protected data: the C reads and writes it where it lies.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, NamedTuple

import numpy as np

from gridfree.native._core import ffi, lib
from gridfree.native.errors import check as _check_rc

WORD_OCTETS = 8


@dataclass(frozen=True)
class ScrubReport:
    corrected: int  # words whose single flipped bit was repaired (in the data or the check byte)
    uncorrectable: int  # words with two (or more) flipped bits, left untouched
    first_bad_word: int  # index of the first uncorrectable word, -1 if none

    @property
    def clean(self) -> bool:
        return not (self.corrected or self.uncorrectable)


def _words(buf, what: str, writable: bool):
    """(uint64_t * into buf, word count) for a C-contiguous buffer of whole, aligned words."""
    try:
        view = memoryview(buf)
    except TypeError:
        raise TypeError(f"{what} must be a buffer (numpy array, bytearray, ...), "
                        f"got {type(buf).__name__}") from None
    if not view.c_contiguous:
        raise ValueError(f"{what} must be C-contiguous (copy it with np.ascontiguousarray first)")
    if view.nbytes % WORD_OCTETS:
        raise ValueError(f"{what} must be whole 64-bit words, got {view.nbytes} octets "
                         f"(not a multiple of {WORD_OCTETS})")
    if writable and view.readonly:
        raise ValueError(f"{what} must be writable: a scrub corrects it in place")
    ptr = ffi.from_buffer(buf, require_writable=writable)
    if int(ffi.cast("uintptr_t", ptr)) % WORD_OCTETS:
        raise ValueError(f"{what} must start on a 64-bit boundary")
    return ffi.cast("uint64_t *", ptr), view.nbytes // WORD_OCTETS


def _check_bytes(buf, nwords: int, what: str, writable: bool):
    try:
        view = memoryview(buf)
    except TypeError:
        raise TypeError(f"{what} must be a buffer, got {type(buf).__name__}") from None
    if not view.c_contiguous:
        raise ValueError(f"{what} must be C-contiguous")
    if view.nbytes != nwords:
        raise ValueError(f"{what} must hold one check byte per word: {nwords} octets, got {view.nbytes}")
    if writable and view.readonly:
        raise ValueError(f"{what} must be writable: a scrub corrects check bits in place")
    return ffi.cast("uint8_t *", ffi.from_buffer(buf, require_writable=writable))


class EdacImpl(NamedTuple):
    encode: Callable
    scrub: Callable


def _make(c_encode, c_scrub) -> EdacImpl:
    def encode(words, out=None) -> np.ndarray:
        """The check bytes of `words` (any C-contiguous buffer of whole 64-bit words), one per
        word, as a uint8 array; written into `out` when given (a uint8 buffer of that length)."""
        ptr, n = _words(words, "words", writable=False)
        if out is None:
            out = np.empty(n, np.uint8)
        _check_rc(c_encode(ptr, n, _check_bytes(out, n, "out", writable=True)), "edac_encode")
        return out

    def scrub(words, check) -> ScrubReport:
        """Verify every word of `words` against `check` and correct single-bit errors in place."""
        ptr, n = _words(words, "words", writable=True)
        stats = ffi.new("gf_edac_stats *")
        _check_rc(c_scrub(ptr, _check_bytes(check, n, "check", writable=True), n, stats), "edac_scrub")
        return ScrubReport(stats.corrected, stats.uncorrectable, stats.first_uncorrectable)

    return EdacImpl(encode, scrub)


encode, scrub = _make(lib.gf_edac_encode, lib.gf_edac_scrub)


def edac_impls() -> dict[str, EdacImpl]:
    """Every EDAC path this CPU can run, by name, so tests exercise each and not only the default."""
    impls = {"table": _make(lib.gf_edac_encode_table, lib.gf_edac_scrub_table)}
    if lib.gf_edac_have_gfni():
        impls["gfni"] = _make(lib.gf_edac_encode_gfni, lib.gf_edac_scrub_gfni)
    return impls


def edac_impl_name() -> str:
    return ffi.string(lib.gf_edac_impl_name()).decode()


class EdacBuffer:
    """A numpy array kept under EDAC: its data padded with zeros to whole 64-bit words, plus a
    check byte per word.

    Read and compute through `.array` (the original dtype and shape, a view of the protected
    words). After writing to it on purpose, call `reencode()`; until then a scrub takes the
    changes for upsets. Scrubs and writes must not overlap (the C runs without the GIL).
    """

    def __init__(self, words: np.ndarray, check: np.ndarray, dtype: np.dtype, shape: tuple, nbytes: int):
        self.words, self.check = words, check  # uint64[nwords], uint8[nwords]
        self.array = words.view(np.uint8)[:nbytes].view(dtype).reshape(shape)
        self.corrected_total = 0
        self.uncorrectable_total = 0
        self.scrubs = 0

    @classmethod
    def protect(cls, array) -> EdacBuffer:
        """A protected copy of `array` (any shape; any dtype without Python objects)."""
        array = np.asarray(array)
        if array.dtype.hasobject:
            raise TypeError(f"EDAC protects raw memory; dtype {array.dtype} holds Python objects")
        nbytes = array.nbytes
        words = np.zeros(-(-nbytes // WORD_OCTETS), np.uint64)  # zero padding, protected too
        buf = cls(words, np.empty(len(words), np.uint8), array.dtype, array.shape, nbytes)
        buf.array[...] = array
        buf.reencode()
        return buf

    @property
    def nwords(self) -> int:
        return len(self.words)

    @property
    def nbytes(self) -> int:
        return self.array.nbytes

    def reencode(self) -> None:
        """Recompute every check byte from the data as it stands (after deliberate writes)."""
        encode(self.words, out=self.check)

    def scrub(self) -> ScrubReport:
        """Verify the whole buffer, repair single-bit errors, count into the running totals."""
        report = scrub(self.words, self.check)
        self.scrubs += 1
        self.corrected_total += report.corrected
        self.uncorrectable_total += report.uncorrectable
        return report

    def flip_bit(self, bit_index: int, in_check: bool = False) -> None:
        """Fault injection: flip bit `bit_index` of the data (bit i % 8 of octet i // 8 of the
        padded storage) or, with `in_check`, of the check bytes (bit i % 8 of check byte i // 8)."""
        octets = self.check if in_check else self.words.view(np.uint8)
        index = int(bit_index)
        if not 0 <= index < 8 * len(octets):
            where = "check" if in_check else "data"
            raise IndexError(f"{where} bit {bit_index} out of range 0..{8 * len(octets) - 1}")
        octets[index // 8] ^= np.uint8(1 << (index % 8))

    def __repr__(self) -> str:
        return (f"EdacBuffer({self.array.dtype}{list(self.array.shape)}, {self.nwords} words, "
                f"scrubs={self.scrubs}, corrected={self.corrected_total}, "
                f"uncorrectable={self.uncorrectable_total})")
