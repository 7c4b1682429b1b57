"""The lossless codec's least-squares pixel model (``predictor="least_squares"``, format 10).

A model for 8-bit RGB(A) archives (the default where the fit finds it 1% smaller), slower
one record at a time. Planes 0..2 (after the archive's colour transform) are predicted by a
linear predictor fit on the dataset per plane and activity bin, over MED and ten causal
neighbours (:data:`FEATURES`), plus a static bias per texture (which ``ls_fit`` leaves at
zero; with none, :func:`ls_predict` skips it); plane 3 (alpha) keeps MED. The contexts are
the MED model's (``pixel_model.context_of``): the activity comes from the MED residuals of
the neighbours (kept beside the values), so the predictor's bin does not wait on its own
residuals.

Three rows of each plane live in a ring of flat int32 scratch ``v``: entry
``(p * 3 + row) * (W + 4) + x + 2`` holds pixel x of plane p in ring row ``row`` (image row y
uses ring row ``y % 3``). The rows above the image are zero; columns 0 and 1 of a row hold the
pixel above the row's first pixel, columns W + 2 and W + 3 repeat the row's last pixel (as
``pixel_model``'s ring, two deep). ``am`` has the same layout and holds the absolute MED
residuals (its padding stays zero).

The base prediction of plane p < 3 at activity bin a is
``clip((sum_j wts[p * 16 + a, j] * f_j + 128) >> 8)`` over the features f; the bias key is
``p * 1024 + (texture * 8 + a // 2) * 2 + (W's base residual < 0)``, the texture the six bits
of N, W, NW, NE, NN and WW below the base, and the prediction ``clip(base + bias[key])``
(clipped to the plane's range). Residuals are zigzag coded, as the colour planes' are under MED.
The encoder's pass (and the fit's normal equations) is ``ls_encode``; the decoders are
``ls_decode`` (one record) and ``ls_lanes`` (16 at a time).
"""

import numpy as np
from numba import njit

__all__ = ["BIAS_KEYS", "FEATURES", "LS_BINS", "LS_PLANES", "LS_SHIFT", "ls_base", "ls_biased",
           "ls_neighbours", "ls_predict", "ls_predict_at", "ls_ring_size", "ls_row_end",
           "ls_row_start"]

#: the features, in the weights' order: MED, W, N, NW, NE, WW, NN, NNE, NNW, NWW, NEE
FEATURES = 11
#: planes with a least-squares predictor, and activity bins (``pixel_model.ACT_LUT``'s) each
LS_PLANES, LS_BINS = 3, 16
#: the weights are integers in units of 2**-LS_SHIFT
LS_SHIFT = 8
#: bias keys per plane: 64 textures x 8 activity levels x W's residual sign
BIAS_KEYS = 1024


def ls_ring_size(planes: int, width: int) -> int:
    """Entries of each ring (``v`` and ``am``) for samples of up to ``planes`` and ``width``."""
    return planes * 3 * (width + 4)


@njit(cache=True, nogil=True, inline="always")
def ls_row_start(v, nplanes, w4, cur, prv):
    """Columns 0 and 1 of the new row take the pixel above its first pixel."""
    for p in range(nplanes):
        above = v[(3 * p + prv) * w4 + 2]
        v[(3 * p + cur) * w4] = above
        v[(3 * p + cur) * w4 + 1] = above


@njit(cache=True, nogil=True, inline="always")
def ls_row_end(v, nplanes, w4, cur):
    """The last two columns repeat the row's last pixel."""
    for p in range(nplanes):
        base = (3 * p + cur) * w4
        v[base + w4 - 2] = v[base + w4 - 3]
        v[base + w4 - 1] = v[base + w4 - 3]


@njit(cache=True, nogil=True, inline="always")
def _below(a, base):
    return np.int64(a < base)


@njit(cache=True, nogil=True, inline="always")
def ls_base(p, wv, nv, nw, ne, ww, nn, nne, nnw, nww, nee, m, a, wts, lo, hi):
    """The base prediction of plane ``p`` (< 3) from its neighbours (int64), MED ``m`` and
    activity bin ``a`` under flat (48, 11) int64 weights, clipped to ``[lo, hi]``."""
    k = np.uint64(p * LS_BINS + a)
    s = (wts[k, 0] * m + wts[k, 1] * wv + wts[k, 2] * nv + wts[k, 3] * nw + wts[k, 4] * ne
         + wts[k, 5] * ww + wts[k, 6] * nn + wts[k, 7] * nne + wts[k, 8] * nnw
         + wts[k, 9] * nww + wts[k, 10] * nee)
    return min(max((s + (1 << (LS_SHIFT - 1))) >> LS_SHIFT, lo), hi)


@njit(cache=True, nogil=True, inline="always")
def ls_predict(p, wv, nv, nw, ne, ww, nn, nne, nnw, nww, nee, m, a, neg, wts, bias, lo, hi):
    """(prediction, base, bias key) of plane ``p`` (< 3): :func:`ls_base` plus the bias of its
    key (``neg``: W's base residual sign, 1 when negative) from (3072,) int64 ``bias``, or no
    bias when ``bias`` is empty (all zero: then no texture or key work); clipped to
    ``[lo, hi]``."""
    base = ls_base(p, wv, nv, nw, ne, ww, nn, nne, nnw, nww, nee, m, a, wts, lo, hi)
    if bias.shape[0] == 0:
        return base, base, np.uint64(0)
    pred, key = ls_biased(p, base, wv, nv, nw, ne, ww, nn, a, neg, bias, lo, hi)
    return pred, base, key


@njit(cache=True, nogil=True, inline="always")
def ls_biased(p, base, wv, nv, nw, ne, ww, nn, a, neg, bias, lo, hi):
    """(prediction, bias key) of plane ``p``'s ``base`` under the non-empty ``bias``."""
    tex = (_below(nv, base) | (_below(wv, base) << 1) | (_below(nw, base) << 2)
           | (_below(ne, base) << 3) | (_below(nn, base) << 4) | (_below(ww, base) << 5))
    key = np.uint64(p * BIAS_KEYS + ((tex * 8 + (a >> 1)) << 1) + neg)
    return min(max(base + bias[key], lo), hi), key


@njit(cache=True, nogil=True, inline="always")
def ls_neighbours(v, ci, pi, qi):
    """The ten neighbours of :data:`FEATURES`' order (W, N, NW, NE, WW, NN, NNE, NNW, NWW, NEE;
    int64) of the value at flat index ``ci`` of the ring ``v`` (``pi``, ``qi``: the same column
    one and two rows up; unsigned indices give no negative-index wraparound)."""
    one, two = np.uint64(1), np.uint64(2)
    ci, pi, qi = np.uint64(ci), np.uint64(pi), np.uint64(qi)
    return (np.int64(v[ci - one]), np.int64(v[pi]), np.int64(v[pi - one]), np.int64(v[pi + one]),
            np.int64(v[ci - two]), np.int64(v[qi]), np.int64(v[qi + one]), np.int64(v[qi - one]),
            np.int64(v[pi - two]), np.int64(v[pi + two]))


@njit(cache=True, nogil=True, inline="always")
def ls_predict_at(v, p, ci, pi, qi, m, a, neg, wts, bias, lo, hi):
    """:func:`ls_predict` with the neighbours read from the ring ``v`` at flat index ``ci``
    (``pi``, ``qi``: the same column one and two rows up)."""
    wv, nv, nw, ne, ww, nn, nne, nnw, nww, nee = ls_neighbours(v, ci, pi, qi)
    return ls_predict(p, wv, nv, nw, ne, ww, nn, nne, nnw, nww, nee, m, a, neg, wts, bias, lo, hi)