"""The lossy codec's block model: zigzag order, DC prediction and contexts, shared by both directions.

A plane is coded as 8x8 blocks in raster order. Each block sends ``last``,
the number of zigzag positions up to its last nonzero symbol (0..64), then
``last`` symbols: position 0 is the DC coefficient minus its prediction (MED
of the left, above and above-left blocks' quantised DC), the others the
quantised AC coefficients. Symbols are signed, mapped to ``2v`` / ``-2v - 1``
and coded as the lossless codec's hybrid tokens; the final symbol is nonzero,
so it sends its mapped value minus one.

Contexts (all per plane class: 0 for the first plane, 1 for the others):
``last`` by the mean of the left and above blocks' ``last``; the DC residual
by the neighbours' DC gradient; an AC symbol by its zigzag band, the two
previous symbols' magnitudes and the same position in the left and above
blocks.
"""

import numpy as np
from numba import njit

__all__ = ["AC_BASE", "BANDS", "BAND_LUT", "DC_BASE", "DC_BINS", "LAST_BINS", "MAG_BINS",
           "NB_BINS", "NUM_CONTEXTS", "ZIGZAG", "ac_context", "dc_context", "dc_predict",
           "last_context", "signed_code", "signed_value"]


def _zigzag() -> np.ndarray:
    order = sorted(((u, v) for u in range(8) for v in range(8)),
                   key=lambda t: (t[0] + t[1], t[1] if (t[0] + t[1]) % 2 == 0 else t[0]))
    return np.array([u * 8 + v for u, v in order], dtype=np.int64)


#: zigzag position -> raster index (row * 8 + column) in an 8x8 block
ZIGZAG = _zigzag()

LAST_BINS = 8   # mean neighbour ``last``: 0, 1, 2, 3-4, 5-8, 9-16, 17-32, 33-64
DC_BINS = 6     # DC gradient: 0, 1, 2, 3-4, 5-8, 9+
BANDS = 7       # zigzag 1-2, 3-5, 6-9, 10-14, 15-20, 21-35, 36-63
MAG_BINS = 5    # |previous two symbols|: 0, 1, 2, 3-4, 5+
NB_BINS = 3     # |left| + |above| at the same position: 0, 1, 2+
CLASSES = 2

DC_BASE = CLASSES * LAST_BINS
AC_BASE = DC_BASE + CLASSES * DC_BINS
NUM_CONTEXTS = AC_BASE + CLASSES * BANDS * MAG_BINS * NB_BINS

_LAST_LUT = np.array([0, 1, 2, 3, 3] + [4] * 4 + [5] * 8 + [6] * 16 + [7] * 32, dtype=np.int64)
BAND_LUT = np.array([0, 0, 0] + [1] * 3 + [2] * 4 + [3] * 5 + [4] * 6 + [5] * 15 + [6] * 28,
                    dtype=np.int64)


@njit(cache=True, nogil=True, inline="always")
def _bin_log(v, top):
    """0, 1, 2, 3-4, 5-8, ... of ``v >= 0``, capped at ``top``."""
    b = 0
    while v > 0 and b < top:
        b += 1
        v = (v - 1) >> 1 if b > 2 else v - 1
    return b


@njit(cache=True, nogil=True, inline="always")
def signed_code(v):
    """Signed symbol -> non-negative code: 0, -1, 1, -2, ... -> 0, 1, 2, 3, ..."""
    return 2 * v if v >= 0 else -2 * v - 1


@njit(cache=True, nogil=True, inline="always")
def signed_value(c):
    """Inverse of :func:`signed_code`."""
    return c >> 1 if (c & 1) == 0 else -((c + 1) >> 1)


@njit(cache=True, nogil=True, inline="always")
def last_context(pc, last_left, last_above):
    return pc * LAST_BINS + _LAST_LUT[(last_left + last_above + 1) >> 1]


@njit(cache=True, nogil=True, inline="always")
def dc_predict(has_left, has_above, left, above, above_left):
    """MED of the neighbouring blocks' quantised DC (one neighbour: that one; none: 0)."""
    if has_left and has_above:
        hi = max(left, above)
        lo = min(left, above)
        if above_left >= hi:
            return lo
        if above_left <= lo:
            return hi
        return left + above - above_left
    if has_left:
        return left
    if has_above:
        return above
    return 0


@njit(cache=True, nogil=True, inline="always")
def dc_context(pc, left, above, above_left):
    g = abs(left - above_left) + abs(above - above_left)
    return DC_BASE + pc * DC_BINS + _bin_log(g, DC_BINS - 1)


@njit(cache=True, nogil=True, inline="always")
def ac_context(pc, z, prev_mag, nb_mag):
    """Context of the AC symbol at zigzag ``z`` (1..63)."""
    # 0, 1, 2, 3, 3, then 4 from 5 on: arithmetic, not a table load, on the decoder's chain
    # from one value to the next context (lossy decode x0.95 with the decoder's change, paired)
    m = min(prev_mag, 3) + (prev_mag >= 5)
    nb = min(nb_mag, 2)
    return AC_BASE + ((pc * BANDS + BAND_LUT[z]) * MAG_BINS + m) * NB_BINS + nb
