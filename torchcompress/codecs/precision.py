"""Fixed-point precision of float columns: what fits GeDe's integer width, and the checks."""

from __future__ import annotations

import numpy as np

from ..errors import CodecError
from .gede_model import MAX_WIDTH

__all__ = ["MAX_DIGITS", "auto_precision", "check_precision", "usable_precision"]

MAX_DIGITS = 9


def _fits(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Whether integer columns in [lo, hi] fit a MAX_WIDTH-bit code (zigzag when signed)."""
    need = np.where(lo < 0, np.maximum(2 * hi, -2 * lo - 1), hi)
    return need < 2.0 ** MAX_WIDTH


def usable_precision(flat: np.ndarray) -> np.ndarray:
    """(D,) int: the most decimal digits (0..9) each column of ``flat`` (N, D) keeps within
    the code width; -1 where even whole numbers do not fit."""
    lo = flat.min(axis=0).astype(np.float64)
    hi = flat.max(axis=0).astype(np.float64)
    best = np.full(flat.shape[1], -1, dtype=np.int64)
    for p in range(MAX_DIGITS + 1):
        s = 10.0 ** p
        ok = _fits(np.rint(lo * s), np.rint(hi * s))
        best[ok] = p
    return best


def auto_precision(flat: np.ndarray) -> list[int]:
    """``precision="auto"``: per column, the most digits that fit, or a CodecError listing the
    columns that do not fit even as whole numbers."""
    best = usable_precision(flat)
    bad = np.flatnonzero(best < 0)
    if bad.size:
        cols = "; ".join(f"column {j} holds values in [{flat[:, j].min():g}, {flat[:, j].max():g}]"
                         for j in bad)
        raise CodecError(f"precision='auto' found no precision that fits {MAX_WIDTH}-bit codes: "
                         f"{cols}; rescale those columns (e.g. to thousands) first")
    return best.tolist()


def check_precision(flat: np.ndarray, precision: np.ndarray) -> None:
    """CodecError listing every column whose ``precision`` overflows, with its largest usable one."""
    best = usable_precision(flat)
    p = np.broadcast_to(np.asarray(precision, dtype=np.int64), best.shape)
    bad = np.flatnonzero(p > best)
    if bad.size:
        cols = "; ".join(f"column {j} (values in [{flat[:, j].min():g}, {flat[:, j].max():g}]): "
                         f"precision {p[j]}, largest usable {best[j]}" for j in bad)
        raise CodecError(f"precision too high for {MAX_WIDTH}-bit codes in {bad.size} column(s): "
                         f"{cols}; lower those precisions or pass precision='auto'")
