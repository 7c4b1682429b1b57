"""Fixed-point precision of float columns: what fits GeDe's integer width, and the checks;
and float32 rounding that never goes below a value (ADQ's steps, the lossy codec's sizes).

GeDe codes columns of up to 16 bits and stores wider ones (up to ``WIDE_BITS``)
as two 16-bit columns, so the width that counts here is ``WIDE_BITS``.
"""

from __future__ import annotations

import numpy as np

from ..errors import CodecError

__all__ = ["MAX_DIGITS", "WIDE_BITS", "auto_in_range", "auto_precision", "check_precision",
           "exact_digits", "round_up_f32", "usable_precision"]

MAX_DIGITS = 9
WIDE_BITS = 32


def round_up_f32(v: np.ndarray) -> np.ndarray:
    """Nearest float32 at or above each float64 value (integers stay exact below 2**24)."""
    f = v.astype(np.float32)
    low = f.astype(np.float64) < v
    f[low] = np.nextafter(f[low], np.float32(np.inf))
    return f


def _fits(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Whether integer columns in [lo, hi] fit a WIDE_BITS-bit code (zigzag when signed)."""
    need = np.where(lo < 0, np.maximum(2 * hi, -2 * lo - 1), hi)
    return need < 2.0 ** WIDE_BITS


def usable_precision(flat: np.ndarray) -> np.ndarray:
    """(D,) int: the most decimal digits (0..9) each column of ``flat`` (N, D) keeps within
    the code width; -1 where even whole numbers do not fit."""
    return usable_in_range(flat.min(axis=0), flat.max(axis=0))


def usable_in_range(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """:func:`usable_precision` of columns whose values lie in ``[lo, hi]``."""
    lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    best = np.full(lo.shape, -1, dtype=np.int64)
    for p in range(MAX_DIGITS + 1):
        s = 10.0 ** p
        ok = _fits(np.rint(lo * s), np.rint(hi * s))
        best[ok] = p
    return best


def exact_digits(flat: np.ndarray) -> np.ndarray:
    """(D,) int: per column, the fewest decimal digits (0..9) that reproduce every value to
    float32 rounding; MAX_DIGITS + 1 where none does."""
    out = np.full(flat.shape[1], MAX_DIGITS + 1, dtype=np.int64)
    v = flat.astype(np.float64)
    tol = 1e-6 * np.maximum(np.abs(v).max(axis=0), 1.0)
    for p in range(MAX_DIGITS, -1, -1):
        s = 10.0 ** p
        ok = (np.abs(np.rint(v * s) / s - v) <= tol).all(axis=0)
        out[ok] = p
    return out


def auto_precision(flat: np.ndarray) -> list[int]:
    """``precision="auto"``: per column, the most digits that fit, but no more than the data
    holds (extra digits would only cost bits); a CodecError lists the columns that do not fit
    even as whole numbers."""
    return auto_in_range(flat.min(axis=0), flat.max(axis=0), exact_digits(flat))


def auto_in_range(lo: np.ndarray, hi: np.ndarray, digits: np.ndarray) -> list[int]:
    """:func:`auto_precision` of columns with values in ``[lo, hi]`` that need ``digits``."""
    lo, hi = np.asarray(lo, dtype=np.float64), np.asarray(hi, dtype=np.float64)
    bad = np.flatnonzero(~(np.isfinite(lo) & np.isfinite(hi)))
    if bad.size:
        raise CodecError(f"column {int(bad[0])} of the samples holds NaN or inf ({bad.size} "
                         "column(s) do); GeDe stores finite values only: replace or drop those "
                         "samples before compressing")
    usable = usable_in_range(lo, hi)
    best = np.where(usable < 0, -1, np.minimum(usable, digits))
    bad = np.flatnonzero(best < 0)
    if bad.size:
        cols = "; ".join(f"column {j} holds values in [{lo[j]:g}, {hi[j]:g}]" for j in bad)
        raise CodecError(f"precision='auto' found no precision that fits {WIDE_BITS}-bit codes: "
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
        raise CodecError(f"precision too high for {WIDE_BITS}-bit codes in {bad.size} column(s): "
                         f"{cols}; lower those precisions or pass precision='auto'")
