"""BCH(63,56) code blocks for CLTUs (CCSDS 231.0-B-4 §3.3)."""
from dataclasses import dataclass

from gridfree.native._core import ffi, lib
from gridfree.native.errors import check

INFO_OCTETS = 7
BLOCK_OCTETS = 8


@dataclass(frozen=True)
class BchResult:
    data: bytes  # information octets of the blocks decoded (7 per block)
    corrected: int  # single-bit errors corrected
    blocks_ok: int  # blocks decoded before the end or the first uncorrectable block
    error_block: int  # index of the first uncorrectable block, -1 if none


def bch_encode(data) -> bytes:
    """Code blocks for `data`, whose length must be a multiple of 7 (filling is the caller's)."""
    if len(data) % INFO_OCTETS:
        raise ValueError(f"BCH encoding needs a multiple of 7 octets, got {len(data)}")
    out = ffi.new("uint8_t[]", len(data) // INFO_OCTETS * BLOCK_OCTETS or 1)
    check(lib.gf_bch_encode(ffi.from_buffer(data), len(data), out, len(out)), "bch_encode")
    return bytes(ffi.buffer(out, len(data) // INFO_OCTETS * BLOCK_OCTETS))


def bch_decode(blocks) -> BchResult:
    """Decode whole 8-octet blocks until the end or the first uncorrectable one (the tail)."""
    n = len(blocks) // BLOCK_OCTETS
    out = ffi.new("uint8_t[]", n * INFO_OCTETS or 1)
    corrected = ffi.new("size_t *")
    ok = check(lib.gf_bch_decode(ffi.from_buffer(blocks), n * BLOCK_OCTETS, out, len(out), corrected),
               "bch_decode")
    return BchResult(bytes(ffi.buffer(out, ok * INFO_OCTETS)), corrected[0], ok, -1 if ok == n else ok)
