"""CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF; check value 0x29B1 for b"123456789"), CRC-32 as
zlib.crc32 computes it, and CRC-32C (Castagnoli)."""
from gridfree.native._core import ffi, lib


def crc16(data, init: int = 0xFFFF) -> int:
    """CRC of a bytes-like object; pass a previous CRC as `init` to continue over more data."""
    if not 0 <= init <= 0xFFFF:
        raise ValueError(f"CRC init must be 0..0xFFFF, got {init!r}")
    if type(data) is bytes:
        return lib.gf_crc16_chars(data, len(data), init)
    return lib.gf_crc16(ffi.from_buffer(data), len(data), init)


def _wrap(fn):
    def crc(data, init: int = 0xFFFF) -> int:
        return fn(ffi.from_buffer(data), len(data), init)
    return crc


def crc16_impls() -> dict:
    """Every CRC path this CPU can run, by name, so tests exercise each and not only the default."""
    impls = {"bytewise": _wrap(lib.gf_crc16_bytewise), "slice16": _wrap(lib.gf_crc16_slice16)}
    if lib.gf_crc16_have_clmul():
        impls["clmul"] = _wrap(lib.gf_crc16_clmul)
    return impls


def crc16_impl_name() -> str:
    return ffi.string(lib.gf_crc16_impl_name()).decode()


# ---- CRC-32/ISO-HDLC (zlib.crc32; check 0xCBF43926) and CRC-32C (Castagnoli; check 0xE3069283) ----
# Both chain like zlib.crc32: pass 0 for a fresh CRC, or a previous result to continue.

def _bad_init(crc) -> ValueError:
    return ValueError(f"CRC-32 init must be 0..0xFFFFFFFF, got {crc!r}")


def crc32(data, crc: int = 0) -> int:
    """zlib.crc32(data, crc) for any contiguous bytes-like object (bytes, bytearray, memoryview,
    numpy array), read in place."""
    # cffi range-checks crc on the way in; the call costs about as much as a 100-octet CRC, so
    # nothing else is done before it.
    try:
        if type(data) is bytes:
            return _crc32_chars(crc, data, len(data))
        buf = ffi.from_buffer(data)
        return _crc32(crc, buf, len(buf))  # len of the cdata is in octets, whatever the item size
    except OverflowError:
        raise _bad_init(crc) from None


def crc32c(data, crc: int = 0) -> int:
    """CRC-32C (Castagnoli, as in iSCSI and ext4) of any contiguous bytes-like object, read in place."""
    try:
        if type(data) is bytes:
            return _crc32c_chars(crc, data, len(data))
        buf = ffi.from_buffer(data)
        return _crc32c(crc, buf, len(buf))
    except OverflowError:
        raise _bad_init(crc) from None


_crc32, _crc32_chars, _crc32c, _crc32c_chars = lib.gf_crc32, lib.gf_crc32_chars, lib.gf_crc32c, lib.gf_crc32c_chars


def _wrap32(fn):
    def impl(data, crc: int = 0) -> int:
        buf = ffi.from_buffer(data)
        return fn(crc, buf, len(buf))
    return impl


def crc32_impls() -> dict:
    """Every CRC-32 path this CPU can run, by name, so tests exercise each and not only the default."""
    impls = {"slice16": _wrap32(lib.gf_crc32_slice16)}
    if lib.gf_crc32_have_clmul():
        impls["clmul"] = _wrap32(lib.gf_crc32_clmul)
    return impls


def crc32c_impls() -> dict:
    """Every CRC-32C path this CPU can run, by name."""
    impls = {"slice8": _wrap32(lib.gf_crc32c_portable)}
    if lib.gf_crc32c_have_sse42():
        impls["sse42"] = _wrap32(lib.gf_crc32c_sse42)
    return impls


def crc32_impl_name() -> str:
    return ffi.string(lib.gf_crc32_impl_name()).decode()


def crc32c_impl_name() -> str:
    return ffi.string(lib.gf_crc32c_impl_name()).decode()
