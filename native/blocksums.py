"""Row-block sums and sums of squares in one pass over a matrix (src/blocksums.c): the first look
of ABFT's checks (gridfree.flight.compute.abft_check), which numpy makes in two passes."""
from __future__ import annotations

import math

import numpy as np

from gridfree.native._core import ffi, lib
from gridfree.native.errors import check as _check_rc

_KERNELS = {np.dtype(np.float32): (lib.gf_block_sums_f32, "float *"),
            np.dtype(np.float64): (lib.gf_block_sums_f64, "double *")}


def _rows(x: np.ndarray, rows: int, cols: int) -> tuple[np.ndarray, int]:
    """x as rows x cols, each row contiguous and the rows one stride apart (a view when x already
    is, as a slice of columns of a contiguous array), and that stride in elements."""
    if x.ndim != 2:
        x = x.reshape(rows, cols)  # a copy only when the rows are not evenly spaced
    ld = x.strides[0] // x.itemsize if rows > 1 else cols  # a lone row's stride means nothing
    if x.strides[1] != x.itemsize or ld < cols or x.strides[0] % x.itemsize:
        x = np.ascontiguousarray(x)
        ld = cols
    return x, ld


def block_sums(x: np.ndarray, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's sums over its blocks of w columns (the last block shorter when w does not divide
    them) and the sums of their squares, in float64: two arrays of shape x.shape[:-1] + (nb,)."""
    kernel = _KERNELS.get(x.dtype)
    if kernel is None:
        raise TypeError(f"block_sums sums float32 or float64, not {x.dtype}")
    if x.ndim < 1 or w < 1:
        raise ValueError(f"block_sums needs a matrix and a block width >= 1, got shape {x.shape}, w={w}")
    cols, rows = x.shape[-1], math.prod(x.shape[:-1])
    nb = -(-cols // w) if cols else 0
    out = np.empty((2,) + x.shape[:-1] + (nb,), np.float64)
    if rows and cols:
        flat, ld = _rows(x, rows, cols)
        fn, ctype = kernel
        sums = ffi.from_buffer("double[]", out, require_writable=True)
        _check_rc(fn(ffi.cast(ctype, flat.ctypes.data), rows, cols, ld, w, sums, sums + rows * nb), "block_sums")
    return out[0], out[1]
