"""The lossless codec's least-squares pixel model (``predictor="least_squares"``, format 10).

A model for 8-bit RGB(A) archives (the default where the fit finds it 1% smaller), slower
one record at a time. Planes 0..2 (after the archive's colour transform) are predicted by a
linear predictor fit on the dataset per plane and activity bin, over MED and ten causal
neighbours (:data:`FEATURES`), plus a static bias per texture (which ``ls_fit`` leaves at
zero; with none, :func:`ls_predict` skips it); plane 3 (alpha) keeps MED. The contexts are the MED model's (``pixel_model.context_of``): the
activity comes from the MED residuals of the neighbours (kept beside the values), so the
predictor's bin does not wait on its own residuals.

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
"""

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core.errors import TypingError
from numba.extending import intrinsic

from .pixel_model import (ACT_LUT, CTX_PER_CLASS, LEVEL_LUT, Q_LUT, activity, colour_forward,
                          context_of, fold, med)
from .rans import LOSSLESS_DIRECT, token_of
from .simd import splat

__all__ = ["BIAS_KEYS", "FEATURES", "LS_BINS", "LS_PLANES", "LS_SHIFT", "MODE_CODE",
           "MODE_NORMAL", "NORMAL_WIDTH", "ls_base", "ls_model_sample", "ls_predict",
           "ls_predict_at", "ls_ring_size", "ls_row_end", "ls_row_start"]

#: the features, in the weights' order: MED, W, N, NW, NE, WW, NN, NNE, NNW, NWW, NEE
FEATURES = 11
#: planes with a least-squares predictor, and activity bins (``pixel_model.ACT_LUT``'s) each
LS_PLANES, LS_BINS = 3, 16
#: the weights are integers in units of 2**-LS_SHIFT
LS_SHIFT = 8
#: bias keys per plane: 64 textures x 8 activity levels x W's residual sign
BIAS_KEYS = 1024
#: columns of each row of :func:`ls_model_sample`'s normal equations: the features, the value
NORMAL_WIDTH = FEATURES + 1
_V8D, _V4D = ir.VectorType(ir.DoubleType(), 8), ir.VectorType(ir.DoubleType(), 4)
#: :func:`ls_model_sample`'s passes: the normal equations, the coded values
MODE_NORMAL, MODE_CODE = 0, 1


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
    tex = (_below(nv, base) | (_below(wv, base) << 1) | (_below(nw, base) << 2)
           | (_below(ne, base) << 3) | (_below(nn, base) << 4) | (_below(ww, base) << 5))
    key = np.uint64(p * BIAS_KEYS + ((tex * 8 + (a >> 1)) << 1) + neg)
    return min(max(base + bias[key], lo), hi), base, key


@njit(cache=True, nogil=True, inline="always")
def ls_predict_at(v, p, ci, pi, qi, m, a, neg, wts, bias, lo, hi):
    """:func:`ls_predict` with the neighbours read from the ring ``v`` at flat index ``ci``
    (``pi``, ``qi``: the same column one and two rows up)."""
    return ls_predict(p, np.int64(v[ci - 1]), np.int64(v[pi]), np.int64(v[pi - 1]),
                      np.int64(v[pi + 1]), np.int64(v[ci - 2]), np.int64(v[qi]),
                      np.int64(v[qi + 1]), np.int64(v[qi - 1]), np.int64(v[pi - 2]),
                      np.int64(v[pi + 2]), m, a, neg, wts, bias, lo, hi)


@intrinsic
def _add_value(typingctx, flat, at, f0, f1, f2, f3, f4, f5, f6, f7, f8, f9, f10, y):
    """One value's products added to its (plane, bin)'s rows at ``flat[at:]``, 11 rows of
    ``NORMAL_WIDTH``: row r += feature r times (features, value), the whole X'X (both
    triangles) and X'y, each row one 8-wide and one 4-wide multiply and add. LLVM left the
    upper triangle's 77 scalar adds as they were, and a row's twelve as well; in vectors the
    fit's pass on every 4th photo of ``benchmarks/`` (61) took 1.53 -> 0.77-0.94 s, on CIFAR's
    0.108 -> 0.06-0.07 s (`/tmp` harness, medians of three). The sums are exact (integers
    below 2**53), so their order does not change them: the same weights, the same bytes."""
    if not (isinstance(flat, types.Array) and flat.dtype == types.float64 and flat.ndim == 1
            and flat.layout == "C"):
        raise TypingError(f"_add_value: flat must be a C-contiguous 1-D float64 array, got {flat}")
    scalars = (f0, f1, f2, f3, f4, f5, f6, f7, f8, f9, f10, y)
    if not all(t == types.float64 for t in scalars):
        raise TypingError(f"_add_value: the features must be float64, got {scalars}")
    sig = types.void(flat, at, *scalars)

    def codegen(context, b, sig, args):
        ptr = context.make_array(sig.args[0])(context, b, args[0]).data
        fs = args[2:]
        lo = _vector(b, fs[:8], _V8D)
        hi = _vector(b, fs[8:], _V4D)
        for r in range(FEATURES):
            row = b.add(args[1], ir.Constant(ir.IntType(64), r * NORMAL_WIDTH))
            for k, part in ((0, lo), (8, hi)):
                at_k = b.add(row, ir.Constant(ir.IntType(64), k))
                dst = b.bitcast(b.gep(ptr, [at_k]), part.type.as_pointer())
                prod = b.fmul(splat(b, fs[r], part.type), part)
                b.store(b.fadd(b.load(dst, align=8), prod), dst, align=8)
        return context.get_dummy_value()

    return sig, codegen


def _vector(b, scalars, vtype):
    v = ir.Constant(vtype, ir.Undefined)
    for i, s in enumerate(scalars):
        v = b.insert_element(v, s, ir.Constant(ir.IntType(32), i))
    return v


@njit(cache=True, nogil=True)
def ls_model_sample(x, colour, wts, bias, mode, v, am, ctx, val, normal, cnt):
    """One 8-bit RGB(A) sample ``x`` (P, H, W) int32 through the least-squares model.

    ``mode`` ``MODE_NORMAL`` adds each value of planes 0..2 to the normal equations of its
    (plane, activity bin) ``k`` in ``normal`` (48, 11, NORMAL_WIDTH) float64: ``normal[k, r, s]``
    sums feature r times feature s (s < 11: X'X, whole) or times the value (s = 11: X'y), and
    counts it in ``cnt`` (48,) int64; ``MODE_CODE`` writes every value's context and
    code under ``wts`` and ``bias`` (:func:`ls_predict`'s) to ``ctx`` and ``val`` in coding
    order (as ``lossless_encode.model_sample``) and returns their number. ``v``, ``am``: rings
    of :func:`ls_ring_size` (zeroed here).
    """
    nplanes, h, w = x.shape
    w4 = w + 4
    v[:nplanes * 3 * w4] = 0
    am[:nplanes * 3 * w4] = 0
    flat = normal.reshape(normal.size)
    neg = np.zeros(LS_PLANES, dtype=np.int64)
    k = 0
    for y in range(h):
        cur, prv, pp = y % 3, (y + 2) % 3, (y + 1) % 3
        ls_row_start(v, nplanes, w4, cur, prv)
        neg[:] = 0
        for i in range(w):
            yv, co, cg = colour_forward(x[0, y, i], x[1, y, i], x[2, y, i], colour)
            v[cur * w4 + i + 2] = yv
            v[(3 + cur) * w4 + i + 2] = co
            v[(6 + cur) * w4 + i + 2] = cg
            for p in range(3, nplanes):
                v[(3 * p + cur) * w4 + i + 2] = x[p, y, i]
            prev_t = 0
            for p in range(nplanes):
                ci = (3 * p + cur) * w4 + i + 2
                pi = (3 * p + prv) * w4 + i + 2
                qi = (3 * p + pp) * w4 + i + 2
                wv, nv, nw, ne = v[ci - 1], v[pi], v[pi - 1], v[pi + 1]
                m = med(wv, nv, nw)
                xv = v[ci]
                am[ci] = abs(xv - m)
                if p >= LS_PLANES:  # alpha: the MED model's context and code
                    c = context_of(p, wv, nv, nw, ne, am[ci - 1], am[pi], am[pi - 1],
                                   am[pi + 1], m, prev_t, 0, ACT_LUT, Q_LUT, LEVEL_LUT)
                    code = fold(xv - m, m, 255)
                else:
                    a = activity(wv, nv, nw, ne, am[ci - 1], am[pi], am[pi - 1], am[pi + 1], 0,
                                 ACT_LUT)
                    if mode == MODE_NORMAL:
                        kk = p * LS_BINS + a
                        cnt[kk] += 1
                        _add_value(flat, np.int64(kk * FEATURES * NORMAL_WIDTH),
                                   np.float64(m), np.float64(wv), np.float64(nv),
                                   np.float64(nw), np.float64(ne), np.float64(v[ci - 2]),
                                   np.float64(v[qi]), np.float64(v[qi + 1]),
                                   np.float64(v[qi - 1]), np.float64(v[pi - 2]),
                                   np.float64(v[pi + 2]), np.float64(xv))
                        continue
                    lo = 0 if p == 0 else -255
                    pred, base, _ = ls_predict_at(v, p, ci, pi, qi, m, a, neg[p], wts, bias,
                                                  lo, 255)
                    neg[p] = xv < base
                    r = xv - pred
                    code = (r << 1) ^ (r >> 31)
                    c = a * 8 + LEVEL_LUT[pred] if p == 0 else \
                        p * CTX_PER_CLASS + a * 8 + Q_LUT[prev_t]
                if mode == MODE_CODE:
                    ctx[k] = c
                    val[k] = code
                    prev_t, _ = token_of(code, LOSSLESS_DIRECT)
                k += 1
        ls_row_end(v, nplanes, w4, cur)
    return k
