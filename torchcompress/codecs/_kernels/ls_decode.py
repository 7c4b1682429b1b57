"""The least-squares model's decoder (``ls_model``): one 8-bit RGB(A) record at a time.

As ``lossless_decode``: every read is checked against the record's end and every value
against its plane's range (a sound RGB pixel puts its transform's values inside their
ranges); a corrupt record returns a status code.
"""

import numpy as np
from numba import njit

from .ls_model import LS_PLANES, ls_predict, ls_row_end, ls_row_start
from .pixel_model import (ACT_LUT, CTX_PER_CLASS, LEVEL_LUT, Q_LUT, activity, colour_inverse,
                          context_of, med, unfold)
from .rans import LOSSLESS_DIRECT, LOSSLESS_START, get_code, read_state, state_bytes

__all__ = ["decode_ls_sample"]

OK, OVERRUN, BAD_STATE, BAD_RANGE = 0, 1, 2, 3  # lossless_decode's status codes


@njit(cache=True, nogil=True)
def decode_ls_sample(rec, start, end, nplanes, h, w, colour, code_lo, cum, coarse, wts, bias,
                     v, am, out, o):
    """Decode the coded record ``rec[start:end]`` of a (``nplanes`` in 3..4, h, w) 8-bit sample
    into ``out[o : o + P*H*W]``; returns a status (``lossless_decode``'s codes)."""
    if end - start < 3:
        return OVERRUN
    nbytes = state_bytes(end - start)
    x = read_state(rec, start, nbytes)
    pos = start + nbytes
    hw = h * w
    w4 = w + 4
    v[:nplanes * 3 * w4] = 0
    am[:nplanes * 3 * w4] = 0
    neg = np.zeros(LS_PLANES, dtype=np.int64)
    for y in range(h):
        cur, prv, pp = y % 3, (y + 2) % 3, (y + 1) % 3
        ls_row_start(v, nplanes, w4, cur, prv)
        neg[:] = 0
        for i in range(w):
            prev_t = 0
            for p in range(nplanes):
                ci = (3 * p + cur) * w4 + i + 2
                pi = (3 * p + prv) * w4 + i + 2
                qi = (3 * p + pp) * w4 + i + 2
                wv, nv = np.int64(v[ci - 1]), np.int64(v[pi])
                nw, ne = np.int64(v[pi - 1]), np.int64(v[pi + 1])
                rw, rn = np.int64(am[ci - 1]), np.int64(am[pi])
                rnw, rne = np.int64(am[pi - 1]), np.int64(am[pi + 1])
                m = med(wv, nv, nw)
                if p >= LS_PLANES:  # alpha: MED, folded codes
                    c = context_of(p, wv, nv, nw, ne, rw, rn, rnw, rne, m, prev_t, 0, ACT_LUT,
                                   Q_LUT, LEVEL_LUT)
                    code, prev_t, x, pos = get_code(rec, pos, end, x, c, cum, coarse,
                                                    LOSSLESS_DIRECT, LOSSLESS_START)
                    val = m + unfold(code, m, 255)
                    if val < 0 or val > 255:
                        return BAD_RANGE
                else:
                    a = activity(wv, nv, nw, ne, rw, rn, rnw, rne, 0, ACT_LUT)
                    lo = 0 if p == 0 else -255
                    pred, base, _ = ls_predict(v, p, ci, pi, qi, m, a, neg[p], wts, bias, lo,
                                               255)
                    c = a * 8 + LEVEL_LUT[pred] if p == 0 else \
                        p * CTX_PER_CLASS + a * 8 + Q_LUT[prev_t]
                    code, prev_t, x, pos = get_code(rec, pos, end, x, c, cum, coarse,
                                                    LOSSLESS_DIRECT, LOSSLESS_START)
                    val = pred + ((code >> 1) ^ -(code & 1))
                    if val < lo or val > 255:
                        return BAD_RANGE
                    neg[p] = val < base
                v[ci] = val
                am[ci] = abs(val - m)
            j = o + y * w + i
            c0 = cur * w4 + i + 2
            rr, gg, bb = colour_inverse(v[c0], v[c0 + 3 * w4], v[c0 + 6 * w4], colour)
            if rr < 0 or rr > 255 or gg < 0 or gg > 255 or bb < 0 or bb > 255:
                return BAD_RANGE
            out[j] = rr + code_lo
            out[j + hw] = gg + code_lo
            out[j + 2 * hw] = bb + code_lo
            if nplanes == 4:
                out[j + 3 * hw] = v[c0 + 9 * w4] + code_lo
        ls_row_end(v, nplanes, w4, cur)
    if x != LOSSLESS_START or pos != end:
        return BAD_STATE
    return OK
