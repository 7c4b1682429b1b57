"""The lossless codec's causal pixel model: prediction and context, shared by both directions.

Two rows of each plane live in a ring of padded int32 scratch ``pl``
(P, 2, W + 2): image row y uses ring row ``(y + 1) & 1`` and pixel x sits at
column x + 1. The row above the image is zero; column 0 of a row is the pixel
above the row's first pixel and column W + 1 repeats the row's last pixel, so
every pixel has W, N, NW and NE neighbours. ``rs`` has the same shape and
holds absolute residuals (zero padding).

The predictor is MED (LOCO-I). The context of a value is
``cls * CTX_PER_CLASS + activity_bin * 8 + second`` where ``cls`` is
``min(plane, 3)``, the activity is ``|r_W| + |r_N| + (|W-NW| + |N-NW| + |N-NE|) / 2``
(scaled to 8 bits) in 16 bins, and ``second`` is the predicted level in 8 bins
for plane 0, else the absolute residual of the previous plane at the same
pixel in 8 bins.
"""

import numpy as np
from numba import njit

__all__ = ["ACT_LUT", "CTX_PER_CLASS", "NUM_CLASSES", "RES_LUT", "colour_forward",
           "colour_inverse", "context", "med", "pad_row_end", "pad_row_start", "plane_bounds",
           "predict"]

CTX_PER_CLASS = 128
NUM_CLASSES = 4


def _lut(edges) -> np.ndarray:
    return np.searchsorted(np.asarray(edges), np.arange(256), side="right").astype(np.int32) - 1


#: activity 0..255 -> bin 0..15
ACT_LUT = _lut([0, 1, 2, 3, 4, 6, 8, 11, 15, 20, 27, 36, 50, 70, 100, 140])
#: previous plane's absolute residual 0..255 -> bin 0..7
RES_LUT = _lut([0, 1, 2, 4, 7, 12, 20, 32])


@njit(cache=True, nogil=True, inline="always")
def med(w, n, nw):
    """Median edge detector: min(w, n) above an edge, max below, else the plane fit."""
    if w < n:
        lo, hi = w, n
    else:
        lo, hi = n, w
    if nw >= hi:
        return lo
    if nw <= lo:
        return hi
    return w + n - nw


@njit(cache=True, nogil=True, inline="always")
def context(pl, rs, p, cur, prv, xx, pred, shift, maxv, act_lut, res_lut):
    """Context index of plane ``p``'s value at ring row ``cur``, padded column ``xx``."""
    w = pl[p, cur, xx - 1]
    n = pl[p, prv, xx]
    nw = pl[p, prv, xx - 1]
    ne = pl[p, prv, xx + 1]
    act = rs[p, cur, xx - 1] + rs[p, prv, xx] + ((abs(w - nw) + abs(n - nw) + abs(n - ne)) >> 1)
    act >>= shift
    a = act_lut[min(act, 255)]
    if p == 0:
        if pred <= 0:
            s = 0
        elif pred >= maxv:
            s = 7
        else:
            s = 1 + ((pred * 6) // (maxv + 1))
        return a * 8 + s
    r = rs[p - 1, cur, xx] >> shift
    return min(p, 3) * 128 + a * 8 + res_lut[min(r, 255)]


@njit(cache=True, nogil=True, inline="always")
def predict(pl, p, cur, prv, xx):
    return med(pl[p, cur, xx - 1], pl[p, prv, xx], pl[p, prv, xx - 1])


@njit(cache=True, nogil=True, inline="always")
def pad_row_start(pl, nplanes, cur, prv):
    """Column 0 of the new row takes the pixel above its first pixel."""
    for p in range(nplanes):
        pl[p, cur, 0] = pl[p, prv, 1]


@njit(cache=True, nogil=True, inline="always")
def pad_row_end(pl, nplanes, cur, w):
    """The last column repeats the row's last pixel (the next row's NE there)."""
    for p in range(nplanes):
        pl[p, cur, w + 1] = pl[p, cur, w]


@njit(cache=True, nogil=True)
def plane_bounds(nplanes, colour, maxv, lo, hi):
    """Value range of each plane: YCoCg-R chroma (planes 1, 2 with colour) is signed."""
    for p in range(nplanes):
        hi[p] = maxv
        lo[p] = -maxv if colour and (p == 1 or p == 2) else 0


@njit(cache=True, nogil=True, inline="always")
def colour_forward(r, g, b):
    """(Y, Co, Cg) of one pixel, YCoCg-R (exact in integers)."""
    co = r - b
    t = b + (co >> 1)
    cg = g - t
    return t + (cg >> 1), co, cg


@njit(cache=True, nogil=True, inline="always")
def colour_inverse(yv, co, cg):
    """(R, G, B) of one YCoCg-R pixel."""
    t = yv - (cg >> 1)
    g = cg + t
    b = t - (co >> 1)
    return b + co, g, b
