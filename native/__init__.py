"""The gridfree native core: C hot paths behind thin wrappers that raise on bad input.

The core is built by cffi during `pip install`. There is deliberately no pure-Python fallback:
flight code must not silently run ten times slower than it was qualified at. The pure-Python
reference in `gridfree.native.reference` exists only so the tests can check the C.
"""

try:
    from gridfree.native._core import ffi, lib
except ImportError as exc:  # pragma: no cover - exercised only on a broken install
    raise ImportError(
        "gridfree's native core (gridfree.native._core) is not built or failed to load: "
        f"{exc}. Reinstall with `pip install -e .` (needs a C99 compiler and the Python "
        "headers); gridfree has no pure-Python fallback."
    ) from exc

from gridfree.native.bch import BchResult, bch_decode, bch_encode  # noqa: E402
from gridfree.native.crc import crc16, crc16_impls  # noqa: E402
from gridfree.native.errors import NativeError  # noqa: E402
from gridfree.native.frames import (  # noqa: E402
    PacketBatch, PacketExtractor, TmFrameBatch, deframe_tm, extract_packets,
)

__all__ = [
    "ffi", "lib", "NativeError", "crc16", "crc16_impls", "deframe_tm", "TmFrameBatch",
    "extract_packets", "PacketExtractor", "PacketBatch", "bch_encode", "bch_decode", "BchResult",
]
