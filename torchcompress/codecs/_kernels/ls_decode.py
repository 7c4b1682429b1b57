"""The least-squares model's decoder (``ls_model``): one 8-bit RGB(A) record at a time.

As ``lossless_decode``: every read is checked against the record's end and every value
against its plane's range (a sound RGB pixel puts its transform's values inside their
ranges); a corrupt record returns a status code.
"""

import numpy as np
from numba import njit

from .ls_model import LS_PLANES, ls_predict, ls_predict_at, ls_row_end, ls_row_start
from .pixel_model import (ACT_LUT, CTX_PER_CLASS, LEVEL_LUT, Q_LUT, activity, colour_inverse,
                          context_of, med, unfold)
from .rans import LOSSLESS_DIRECT, LOSSLESS_START, get_code, read_state, state_bytes

__all__ = ["decode_ls_sample"]

OK, OVERRUN, BAD_STATE, BAD_RANGE = 0, 1, 2, 3  # lossless_decode's status codes


@njit(cache=True, nogil=True, inline="always")
def _step(p, rec, pos, end, x, cum, coarse, wts, bias, prev_t, wv, nv, nw, ne, ww, nn, nne, nnw,
          nww, nee, rw, rn, rnw, rne, neg):
    """One value of plane ``p`` (< 3) from its neighbours: (value, |MED residual|, token,
    state, position, base residual sign)."""
    m = med(wv, nv, nw)
    a = activity(wv, nv, nw, ne, rw, rn, rnw, rne, 0, ACT_LUT)
    pred, base, _ = ls_predict(p, wv, nv, nw, ne, ww, nn, nne, nnw, nww, nee, m, a, neg, wts,
                               bias, 0 if p == 0 else -255, 255)
    c = a * 8 + LEVEL_LUT[np.uint64(pred)] if p == 0 else \
        p * CTX_PER_CLASS + a * 8 + Q_LUT[np.uint64(prev_t)]
    code, t, x, pos = get_code(rec, pos, end, x, c, cum, coarse, LOSSLESS_DIRECT, LOSSLESS_START)
    val = pred + ((code >> 1) ^ -(code & 1))
    return val, abs(val - m), t, x, pos, np.int64(val < base)


@njit(cache=True, nogil=True)
def _rgb_row(rec, pos, end, x, w, w4, colour, code_lo, cum, coarse, wts, bias, v, am, bc, bp, bq,
             out, o, hw):
    """One row of a three-plane record, its neighbours carried in registers from pixel to pixel
    (``bc``, ``bp``, ``bq``: plane 0's pixel 0 in the ring rows of this row and the two above;
    CIFAR one record at a time 121 -> 73 us, against the loop below); returns (state,
    position, status)."""
    s1, s2 = 3 * w4, 6 * w4  # planes 1 and 2 in the rings
    # plane p's window: row y - 2 (NNW, NN; NNE loaded per pixel), row y - 1 (NWW, NW, N, NE;
    # NEE), this row (WW, W) and the MED residuals (NW, N; NE) and W's
    nnw0, nn0, nww0, nw0, n0, ne0 = v[bq - 1], v[bq], v[bp - 2], v[bp - 1], v[bp], v[bp + 1]
    ww0, w0, rnw0, rn0, rw0 = v[bc - 2], v[bc - 1], am[bp - 1], am[bp], am[bc - 1]
    nnw1, nn1, nww1, nw1 = v[s1 + bq - 1], v[s1 + bq], v[s1 + bp - 2], v[s1 + bp - 1]
    n1, ne1, ww1, w1 = v[s1 + bp], v[s1 + bp + 1], v[s1 + bc - 2], v[s1 + bc - 1]
    rnw1, rn1, rw1 = am[s1 + bp - 1], am[s1 + bp], am[s1 + bc - 1]
    nnw2, nn2, nww2, nw2 = v[s2 + bq - 1], v[s2 + bq], v[s2 + bp - 2], v[s2 + bp - 1]
    n2, ne2, ww2, w2 = v[s2 + bp], v[s2 + bp + 1], v[s2 + bc - 2], v[s2 + bc - 1]
    rnw2, rn2, rw2 = am[s2 + bp - 1], am[s2 + bp], am[s2 + bc - 1]
    g0 = g1 = g2 = np.int64(0)  # W's base residual signs
    for i in range(w):
        k = np.uint64(bp + i)  # unsigned: no negative-index wraparound on the loads
        kq = np.uint64(bq + i)
        nne0, nee0, rne0 = v[kq + np.uint64(1)], v[k + np.uint64(2)], am[k + np.uint64(1)]
        k1, kq1 = k + np.uint64(s1), kq + np.uint64(s1)
        nne1, nee1, rne1 = v[kq1 + np.uint64(1)], v[k1 + np.uint64(2)], am[k1 + np.uint64(1)]
        k2, kq2 = k + np.uint64(s2), kq + np.uint64(s2)
        nne2, nee2, rne2 = v[kq2 + np.uint64(1)], v[k2 + np.uint64(2)], am[k2 + np.uint64(1)]
        v0, a0, t0, x, pos, g0 = _step(0, rec, pos, end, x, cum, coarse, wts, bias, 0,
                                       np.int64(w0), np.int64(n0), np.int64(nw0),
                                       np.int64(ne0), np.int64(ww0), np.int64(nn0),
                                       np.int64(nne0), np.int64(nnw0), np.int64(nww0),
                                       np.int64(nee0), np.int64(rw0), np.int64(rn0),
                                       np.int64(rnw0), np.int64(rne0), g0)
        v1, a1, t1, x, pos, g1 = _step(1, rec, pos, end, x, cum, coarse, wts, bias, t0,
                                       np.int64(w1), np.int64(n1), np.int64(nw1),
                                       np.int64(ne1), np.int64(ww1), np.int64(nn1),
                                       np.int64(nne1), np.int64(nnw1), np.int64(nww1),
                                       np.int64(nee1), np.int64(rw1), np.int64(rn1),
                                       np.int64(rnw1), np.int64(rne1), g1)
        v2, a2, _, x, pos, g2 = _step(2, rec, pos, end, x, cum, coarse, wts, bias, t1,
                                      np.int64(w2), np.int64(n2), np.int64(nw2),
                                      np.int64(ne2), np.int64(ww2), np.int64(nn2),
                                      np.int64(nne2), np.int64(nnw2), np.int64(nww2),
                                      np.int64(nee2), np.int64(rw2), np.int64(rn2),
                                      np.int64(rnw2), np.int64(rne2), g2)
        # one test for the pixel: a sound RGB pixel puts its transform's values inside their
        # planes' ranges (a bijection)
        rr, gg, bb = colour_inverse(v0, v1, v2, colour)
        if (rr | gg | bb) & ~255:
            return x, pos, BAD_RANGE
        j = np.uint64(o + i)
        hwu = np.uint64(hw)
        out[j], out[j + hwu], out[j + np.uint64(2) * hwu] = rr + code_lo, gg + code_lo, bb + code_lo
        c = np.uint64(bc + i)
        v[c], v[c + np.uint64(s1)], v[c + np.uint64(s2)] = v0, v1, v2
        am[c], am[c + np.uint64(s1)], am[c + np.uint64(s2)] = a0, a1, a2
        nnw0, nn0, nww0, nw0, n0, ne0, ww0, w0 = nn0, nne0, nw0, n0, ne0, nee0, w0, v0
        nnw1, nn1, nww1, nw1, n1, ne1, ww1, w1 = nn1, nne1, nw1, n1, ne1, nee1, w1, v1
        nnw2, nn2, nww2, nw2, n2, ne2, ww2, w2 = nn2, nne2, nw2, n2, ne2, nee2, w2, v2
        rnw0, rn0, rw0 = rn0, rne0, a0
        rnw1, rn1, rw1 = rn1, rne1, a1
        rnw2, rn2, rw2 = rn2, rne2, a2
    return x, pos, OK


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
        if nplanes == 3:
            x, pos, st = _rgb_row(rec, pos, end, x, w, w4, colour, code_lo, cum, coarse, wts,
                                  bias, v, am, cur * w4 + 2, prv * w4 + 2, pp * w4 + 2, out,
                                  o + y * w, hw)
            if st != OK:
                return st
            ls_row_end(v, nplanes, w4, cur)
            continue
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
                    pred, base, _ = ls_predict_at(v, p, ci, pi, qi, m, a, neg[p], wts, bias,
                                                  lo, 255)
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
