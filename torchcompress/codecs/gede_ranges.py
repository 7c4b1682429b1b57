"""GeDe column ranges from a scan of every sample: what ``GeDeCodec.columns`` finds in memory.

The streaming encoder sees the source in chunks, so it settles from the
scanned per-model ranges of the values what the in-memory path reads off
the whole array: ``precision="auto"``, the wide (17 to 32 bit) columns, and
the ranges of the integer columns the chunks will produce.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..errors import CodecError
from .gede_model import MAX_WIDTH
from .precision import WIDE_BITS, auto_in_range

__all__ = ["code_ranges", "settle_params", "zigzag_top"]


def zigzag_top(lo, hi):
    """Largest code of columns with values in ``[lo, hi]``: zigzag-coded where ``lo < 0``."""
    return np.where(lo < 0, np.maximum(2 * hi, -2 * lo - 1), hi)


def _fixed(params, v: np.ndarray) -> np.ndarray:
    """Values -> their fixed-point integers under ``params.precision`` (integers stay)."""
    if params.precision is None or np.asarray(v).dtype.kind != "f":
        return np.asarray(v, dtype=np.int64)
    return np.rint(v * 10.0 ** np.asarray(params.precision, dtype=np.float64)).astype(np.int64)


def settle_params(params, lo: np.ndarray, hi: np.ndarray, digits, dtype):
    """``params`` with ``precision="auto"`` and ``wide`` settled from the scanned (G, D)
    ranges of the values (``digits``: (D,) the decimal digits each float column holds)."""
    if params.mode != "none":
        return params
    glo, ghi = lo.min(axis=0), hi.max(axis=0)
    if params.precision == "auto":
        digits_kept = auto_in_range(glo, ghi, digits) if np.dtype(dtype).kind == "f" else None
        params = replace(params, precision=digits_kept)
    if params.wide is None:
        clo, chi = _fixed(params, glo), _fixed(params, ghi)
        need = zigzag_top(clo, chi)
        if (need >= 1 << WIDE_BITS).any():
            j = int(np.argmax(need))
            raise CodecError(f"column {j} holds values in [{int(clo[j])}, {int(chi[j])}], wider "
                             f"than {WIDE_BITS} bits; lower precision= or rescale the data")
        cols = np.flatnonzero(need >= 1 << MAX_WIDTH)
        if cols.size:
            params = replace(params, wide=[[int(j), int(clo[j] < 0)] for j in cols])
    return params


def code_ranges(params, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(G, D') ranges of the integer columns the codec's transform makes (with ``params``
    settled), from the scanned (G, D) ranges: fixed point, then each wide column split in its high half (in
    place) and its 16 low bits (appended, in ``wide`` order)."""
    if params.mode != "none":
        return lo.astype(np.int64), hi.astype(np.int64)
    lo, hi = _fixed(params, lo), _fixed(params, hi)
    if not params.wide:
        return lo, hi
    w = np.asarray(params.wide, dtype=np.int64)
    cols, signed = w[:, 0], w[:, 1].astype(bool)
    zhi = np.where(signed, zigzag_top(lo[:, cols], hi[:, cols]), hi[:, cols])
    zlo = np.where(signed, 0, lo[:, cols])
    lo, hi = lo.copy(), hi.copy()
    lo[:, cols], hi[:, cols] = zlo >> 16, zhi >> 16
    g = lo.shape[0]
    return (np.concatenate([lo, np.zeros((g, len(cols)), dtype=np.int64)], axis=1),
            np.concatenate([hi, np.full((g, len(cols)), 0xFFFF, dtype=np.int64)], axis=1))
