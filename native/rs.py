"""TM channel coding of CCSDS 131.0-B-4: the pseudo-randomizer (§10) and RS(255,223) E = 16
(§4) with interleaving depth I = 1..5, in the dual basis a standard ground station expects.

A codeblock is I interleaved codewords: codeword j takes octets j, j + I, j + 2I, ... Its
first I * k octets are the information (the transfer frame), the last 32 * I the check
symbols; k = 223 normally, less with virtual fill (223 - k leading zero symbols per codeword
that are never sent). The randomizer runs over the whole codeblock after the ASM.

The C does the work (src/rs.c, src/randomizer.c); these wrappers only check arguments and raise
a one-line ValueError on bad ones. `gridfree.native.rs_reference` is the plain-Python oracle.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gridfree.native._core import ffi, lib
from gridfree.native.errors import check

N = 255  # octets per codeword
K = 223  # information octets per codeword
E = 16  # symbol errors corrected per codeword
PARITY = 2 * E  # check symbols per codeword
MAX_DEPTH = lib.GF_RS_MAX_DEPTH


@dataclass(frozen=True)
class RsDecoded:
    data: bytes  # the information octets (the frame), corrected where it could be
    corrected: tuple[int, ...]  # per codeword: symbols corrected, or -1 if uncorrectable

    @property
    def ok(self) -> bool:
        """Every codeword decoded: `data` is what was sent (up to a rare miscorrection)."""
        return all(c >= 0 for c in self.corrected)

    @property
    def symbols_corrected(self) -> int:
        return sum(c for c in self.corrected if c > 0)


def _writable(buf, what: str):
    try:
        view = memoryview(buf)
    except TypeError:
        raise TypeError(f"{what} must be a writable buffer (bytearray, numpy array), "
                        f"got {type(buf).__name__}") from None
    if view.readonly:
        raise ValueError(f"{what} must be writable: it is coded in place")
    if not view.c_contiguous:
        raise ValueError(f"{what} must be C-contiguous")
    return ffi.from_buffer(buf, require_writable=True), view.nbytes


def _check_depth(depth) -> int:
    if isinstance(depth, bool) or not isinstance(depth, int) or not 1 <= depth <= MAX_DEPTH:
        raise ValueError(f"interleaving depth must be an integer 1..{MAX_DEPTH}, got {depth!r}")
    return depth


def _check_block_len(block_len: int, depth: int) -> None:
    n, rest = divmod(block_len, depth)
    if rest or not PARITY < n <= N:
        raise ValueError(f"a codeblock at depth {depth} is {depth} x (33..255) octets, got {block_len}")


def randomize(data) -> bytes:
    """`data` XOR the TM pseudo-random sequence from its start; its own inverse."""
    try:
        out = bytearray(memoryview(data))
    except TypeError:
        raise TypeError(f"data must be a buffer (bytes, bytearray, ...), got {type(data).__name__}") from None
    lib.gf_tm_randomize(ffi.from_buffer(out), len(out))
    return bytes(out)


def randomize_into(buf) -> None:
    """Randomize (or derandomize) a writable buffer in place."""
    ptr, nbytes = _writable(buf, "buf")
    lib.gf_tm_randomize(ptr, nbytes)


def rs_encode(info, depth: int) -> bytes:
    """The codeblock of `info` (depth x k octets, k in 1..223): info, then 32 x depth check symbols."""
    _check_depth(depth)
    k, rest = divmod(len(info), depth)
    if rest or not 1 <= k <= K:
        raise ValueError(f"information at depth {depth} is {depth} x (1..223) octets, got {len(info)}")
    block = bytearray(len(info) + PARITY * depth)
    block[:len(info)] = info
    check(lib.gf_rs_encode(ffi.from_buffer(block), len(block), len(block), depth), "rs_encode")
    return bytes(block)


def _codeblocks(blocks, depth: int, block_len: int | None):
    """(pointer, octets, codeblock length) of a writable run of whole codeblocks, checked."""
    _check_depth(depth)
    ptr, nbytes = _writable(blocks, "blocks")
    block_len = nbytes if block_len is None else block_len
    _check_block_len(block_len, depth)
    if nbytes % block_len:
        raise ValueError(f"blocks must be whole codeblocks of {block_len} octets, got {nbytes}")
    return ptr, nbytes, block_len


def rs_encode_into(blocks, depth: int, block_len: int | None = None) -> None:
    """Fill in the check symbols (the last 32 x depth octets) of every codeblock of `blocks`,
    consecutive codeblocks of block_len octets each (default: one codeblock)."""
    ptr, nbytes, block_len = _codeblocks(blocks, depth, block_len)
    check(lib.gf_rs_encode(ptr, nbytes, block_len, depth), "rs_encode")


def rs_decode_into(blocks, depth: int, block_len: int | None = None) -> np.ndarray:
    """Correct every codeblock of `blocks` in place; returns int8[nblocks, depth]: symbols
    corrected per codeword, -1 where it was uncorrectable (those octets are left as received)."""
    ptr, nbytes, block_len = _codeblocks(blocks, depth, block_len)
    corrected = np.empty((nbytes // block_len, depth), np.int8)
    check(lib.gf_rs_decode(ptr, nbytes, block_len, depth, ffi.from_buffer("int8_t[]", corrected,
                                                                          require_writable=True),
                           corrected.size), "rs_decode")
    return corrected


def rs_decode(block, depth: int) -> RsDecoded:
    """Decode one codeblock (depth x n octets, n in 33..255); the input is not modified."""
    _check_depth(depth)
    _check_block_len(len(block), depth)
    work = bytearray(block)
    corrected = rs_decode_into(work, depth)
    return RsDecoded(bytes(work[:len(work) - PARITY * depth]), tuple(int(c) for c in corrected[0]))
