"""CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF; check value 0x29B1 for b"123456789")."""
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
