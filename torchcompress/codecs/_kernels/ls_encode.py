"""The least-squares model's encoder pass (``ls_model``): one 8-bit RGB(A) sample's contexts
and codes, or the fit's normal equations, a row at a time.

The encoder knows every value, so nothing chains from pixel to pixel: a row of each plane
goes through one loop per step (MED and its residuals, the activity bins, the base
predictions, the biases, the codes and tokens), loops LLVM vectorizes, and the planes are
interleaved into coding order at the end (``lossless_encode.model_sample`` does the same
for MED). The rings are ``ls_model``'s. CIFAR's code pass (1,500 images under fitted
weights): 65.3 us an image pixel by pixel, 36.8 by rows; the normal equations of every 16th
photo of ``benchmarks/`` 0.42 -> 0.14 s with ``_add_value`` (`/tmp` harness, medians of
five and three; the same contexts, codes and sums, with biases and without, RGB and RGBA).
"""

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.core.errors import TypingError
from numba.extending import intrinsic

from .ls_model import (FEATURES, LS_BINS, LS_PLANES, ls_base, ls_biased, ls_neighbours,
                       ls_row_end, ls_row_start)
from .pixel_model import (ACT_LUT, CTX_PER_CLASS, LEVEL_LUT, Q_LUT, activity, context_of, fold,
                          med, ring_row_in)
from .rans import LOSSLESS_DIRECT, token_of
from .simd import splat

__all__ = ["MODE_CODE", "MODE_NORMAL", "NORMAL_WIDTH", "ls_model_sample"]

#: columns of each row of :func:`ls_model_sample`'s normal equations: the features, the value
NORMAL_WIDTH = FEATURES + 1
_V8D, _V4D = ir.VectorType(ir.DoubleType(), 8), ir.VectorType(ir.DoubleType(), 4)
#: :func:`ls_model_sample`'s passes: the normal equations, the coded values
MODE_NORMAL, MODE_CODE = 0, 1
_ONE = np.uint64(1)


@njit(cache=True, nogil=True)
def ls_model_sample(x, colour, wts, bias, mode, v, am, ctx, val, normal, cnt):
    """One 8-bit RGB(A) sample ``x`` (P, H, W) int32 through the least-squares model.

    ``mode`` ``MODE_NORMAL`` adds each value of planes 0..2 to the normal equations of its
    (plane, activity bin) ``k`` in ``normal`` (48, 11, NORMAL_WIDTH) float64: ``normal[k, r, s]``
    sums feature r times feature s (s < 11: X'X, whole) or times the value (s = 11: X'y), and
    counts it in ``cnt`` (48,) int64; ``MODE_CODE`` writes every value's context and
    code under ``wts`` and ``bias`` (``ls_model.ls_predict``'s) to ``ctx`` and ``val`` in
    coding order (as ``lossless_encode.model_sample``) and returns their number. ``v``,
    ``am``: rings of ``ls_model.ls_ring_size`` (zeroed here).
    """
    nplanes, h, w = x.shape
    w4 = w + 4
    v[:nplanes * 3 * w4] = 0
    am[:nplanes * 3 * w4] = 0
    flat = normal.reshape(normal.size)
    m = np.empty(nplanes * w, dtype=np.int64)  # a row's MED predictions, activity bins,
    act = np.empty(LS_PLANES * w, dtype=np.int64)  # base predictions, contexts and codes,
    base = np.empty(w, dtype=np.int64)  # plane after plane
    cx = np.empty(nplanes * w, dtype=np.int32)
    code = np.empty(nplanes * w, dtype=np.int32)
    tok = np.zeros(w, dtype=np.int64)  # the previous plane's tokens
    k = 0
    for y in range(h):
        cur, prv, pp = y % 3, (y + 2) % 3, (y + 1) % 3
        ls_row_start(v, nplanes, w4, cur, prv)
        ring_row_in(x, y, colour, v, 3, w4, 2, cur)
        for p in range(nplanes):
            _row_med(v, am, (3 * p + cur) * w4 + 2, (3 * p + prv) * w4 + 2, w,
                     m[p * w:(p + 1) * w])
        for p in range(min(nplanes, LS_PLANES)):
            c0, p0, q0 = (3 * p + cur) * w4 + 2, (3 * p + prv) * w4 + 2, (3 * p + pp) * w4 + 2
            o, e = p * w, (p + 1) * w
            _row_activity(v, am, c0, p0, w, act[o:e])
            if mode == MODE_NORMAL:
                _row_normal(v, p, c0, p0, q0, w, m[o:e], act[o:e], flat, cnt)
                continue
            _row_base(v, p, c0, p0, q0, w, m[o:e], act[o:e], wts, base)
            _row_codes(v, p, c0, p0, q0, w, act[o:e], base, bias, tok, cx[o:e], code[o:e])
        ls_row_end(v, nplanes, w4, cur)
        if mode == MODE_NORMAL:
            continue
        for p in range(LS_PLANES, nplanes):  # alpha: the MED model's contexts and codes
            c0, p0 = (3 * p + cur) * w4 + 2, (3 * p + prv) * w4 + 2
            o, e = p * w, (p + 1) * w
            _row_alpha(v, am, p, c0, p0, w, m[o:e], tok, cx[o:e], code[o:e])
        for i in range(w):  # the planes of a pixel in turn
            for p in range(nplanes):
                ctx[k] = cx[p * w + i]
                val[k] = code[p * w + i]
                k += 1
    return k


@njit(cache=True, nogil=True, inline="always")
def _row_med(v, am, c0, p0, w, m):
    """A plane's row: MED into ``m``, its absolute residuals into the ring ``am``."""
    for i in range(w):
        ci, pi = np.uint64(c0 + i), np.uint64(p0 + i)
        mi = med(np.int64(v[ci - _ONE]), np.int64(v[pi]), np.int64(v[pi - _ONE]))
        m[i] = mi
        am[ci] = abs(v[ci] - mi)


@njit(cache=True, nogil=True, inline="always")
def _row_activity(v, am, c0, p0, w, act):
    """A least-squares plane's activity bins of a row into ``act`` (after :func:`_row_med`:
    they read W's residual)."""
    for i in range(w):
        ci, pi = np.uint64(c0 + i), np.uint64(p0 + i)
        act[i] = activity(np.int64(v[ci - _ONE]), np.int64(v[pi]), np.int64(v[pi - _ONE]),
                          np.int64(v[pi + _ONE]), np.int64(am[ci - _ONE]), np.int64(am[pi]),
                          np.int64(am[pi - _ONE]), np.int64(am[pi + _ONE]), 0, ACT_LUT)


@njit(cache=True, nogil=True, inline="always")
def _row_base(v, p, c0, p0, q0, w, m, act, wts, base):
    """Plane ``p``'s base predictions of a row into ``base``."""
    lo = 0 if p == 0 else -255
    for i in range(w):
        wv, nv, nw, ne, ww, nn, nne, nnw, nww, nee = ls_neighbours(v, c0 + i, p0 + i, q0 + i)
        base[i] = ls_base(p, wv, nv, nw, ne, ww, nn, nne, nnw, nww, nee, m[i], act[i], wts, lo,
                          255)


@njit(cache=True, nogil=True, inline="always")
def _row_codes(v, p, c0, p0, q0, w, act, base, bias, tok, cx, code):
    """Plane ``p``'s predictions (the base, plus its bias where ``bias`` is not empty; W's base
    residual sign starts each row at 0), zigzag codes, contexts and tokens of a row."""
    lo = 0 if p == 0 else -255
    biased = bias.shape[0] > 0
    for i in range(w):
        pred = base[i]
        if biased:
            wv, nv, nw, ne, ww, nn, _, _, _, _ = ls_neighbours(v, c0 + i, p0 + i, q0 + i)
            neg = np.int64(i > 0 and wv < base[i - 1])
            pred, _ = ls_biased(p, pred, wv, nv, nw, ne, ww, nn, act[i], neg, bias, lo, 255)
        r = np.int64(v[np.uint64(c0 + i)]) - pred
        c = (act[i] * 8 + LEVEL_LUT[np.uint64(pred)]) if p == 0 else \
            p * CTX_PER_CLASS + act[i] * 8 + Q_LUT[np.uint64(tok[i])]
        cv = (r << 1) ^ (r >> 63)
        cx[i] = c
        code[i] = cv
        tok[i] = token_of(cv, LOSSLESS_DIRECT)[0]


@njit(cache=True, nogil=True, inline="always")
def _row_alpha(v, am, p, c0, p0, w, m, tok, cx, code):
    """Alpha's contexts, folded codes and tokens of a row under the MED model."""
    for i in range(w):
        ci, pi = np.uint64(c0 + i), np.uint64(p0 + i)
        cx[i] = context_of(p, np.int64(v[ci - _ONE]), np.int64(v[pi]), np.int64(v[pi - _ONE]),
                           np.int64(v[pi + _ONE]), np.int64(am[ci - _ONE]), np.int64(am[pi]),
                           np.int64(am[pi - _ONE]), np.int64(am[pi + _ONE]), m[i], tok[i], 0,
                           ACT_LUT, Q_LUT, LEVEL_LUT)
        cv = fold(np.int64(v[ci]) - m[i], m[i], 255)
        code[i] = cv
        tok[i] = token_of(cv, LOSSLESS_DIRECT)[0]


@njit(cache=True, nogil=True, inline="always")
def _row_normal(v, p, c0, p0, q0, w, m, act, flat, cnt):
    """Plane ``p``'s values of a row added to the normal equations of their (plane, bin)."""
    for i in range(w):
        wv, nv, nw, ne, ww, nn, nne, nnw, nww, nee = ls_neighbours(v, c0 + i, p0 + i, q0 + i)
        kk = p * LS_BINS + act[i]
        cnt[kk] += 1
        _add_value(flat, np.int64(kk * FEATURES * NORMAL_WIDTH), np.float64(m[i]),
                   np.float64(wv), np.float64(nv), np.float64(nw), np.float64(ne),
                   np.float64(ww), np.float64(nn), np.float64(nne), np.float64(nnw),
                   np.float64(nww), np.float64(nee), np.float64(v[np.uint64(c0 + i)]))


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
