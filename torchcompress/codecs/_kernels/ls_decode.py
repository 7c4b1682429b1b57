"""The least-squares model's decoder (``ls_model``): one 8-bit RGB(A) record at a time.

As ``lossless_decode``: every read is checked against the record's end and every value
against its plane's range (a sound RGB pixel puts its transform's values inside their
ranges); a corrupt record returns a status code.

Three entry points, RGB rows without the biases, with them, and RGBA rows, so that a process
compiles only the decoder its records need: numba's inlining of these rows took most of a
first ``ds[i]``'s compile, 55-59 s on the 2-core EPYC host, for MED archives (MNIST) that never
run them and for the row with biases that archives since the fit left them at zero never take.
"""

import numpy as np
from numba import njit

from .lossless_decode import BAD_RANGE, BAD_STATE, OK, OVERRUN, copy_raw
from .ls_model import LS_PLANES, ls_base, ls_predict, ls_predict_at, ls_row_end, ls_row_start
from .pixel_model import (ACT_LUT, CTX_PER_CLASS, LEVEL_LUT, Q_LUT, activity, colour_inverse,
                          context_of, med, unfold)
from .rans import LOSSLESS_DIRECT, LOSSLESS_START, get_code, open_lossless

__all__ = ["decode_ls_rgba_rows", "decode_ls_rows", "decode_ls_rows_biased"]


@njit(cache=True, nogil=True, inline="always")
def _step(p, rec, pos, end, x, cum, coarse, wts, bias, biased, prev_t, wv, nv, nw, ne, ww, nn,
          nne, nnw, nww, nee, rw, rn, rnw, rne, neg):
    """One value of plane ``p`` (< 3) from its neighbours: (value, |MED residual|, token,
    state, position, base residual sign). ``biased`` (a constant where the row is compiled)
    adds ``bias``; without it the prediction is the base."""
    m = med(wv, nv, nw)
    a = activity(wv, nv, nw, ne, rw, rn, rnw, rne, 0, ACT_LUT)
    lo = 0 if p == 0 else -255
    if biased:
        pred, base, _ = ls_predict(p, wv, nv, nw, ne, ww, nn, nne, nnw, nww, nee, m, a, neg, wts,
                                   bias, lo, 255)
    else:
        base = ls_base(p, wv, nv, nw, ne, ww, nn, nne, nnw, nww, nee, m, a, wts, lo, 255)
        pred = base
    c = a * 8 + LEVEL_LUT[np.uint64(pred)] if p == 0 else \
        p * CTX_PER_CLASS + a * 8 + Q_LUT[np.uint64(prev_t)]
    code, t, x, pos = get_code(rec, pos, end, x, c, cum, coarse, LOSSLESS_DIRECT, LOSSLESS_START)
    val = pred + ((code >> 1) ^ -(code & 1))
    return val, abs(val - m), t, x, pos, np.int64(val < base)


@njit(cache=True, nogil=True, inline="always")
def _plane(p, k, kq, rec, pos, end, x, cum, coarse, wts, bias, biased, prev_t, v, am, wv, ww,
           rw, g):
    """:func:`_step` of plane ``p`` at ring index ``k`` of the row above (``kq``: two rows
    above), the row above's values loaded from the rings (off the chain from W to W)."""
    one, two = np.uint64(1), np.uint64(2)
    return _step(p, rec, pos, end, x, cum, coarse, wts, bias, biased, prev_t, wv, np.int64(v[k]),
                 np.int64(v[k - one]), np.int64(v[k + one]), ww, np.int64(v[kq]),
                 np.int64(v[kq + one]), np.int64(v[kq - one]), np.int64(v[k - two]),
                 np.int64(v[k + two]), rw, np.int64(am[k]), np.int64(am[k - one]),
                 np.int64(am[k + one]), g)


@njit(cache=True, nogil=True)
def _rgb_row(rec, pos, end, x, w, w4, colour, code_lo, cum, coarse, wts, bias, v, am, bc, bp, bq,
             out, o, hw):
    """:func:`_rgb_row_of` with the biases."""
    return _rgb_row_of(rec, pos, end, x, w, w4, colour, code_lo, cum, coarse, wts, bias, True, v,
                       am, bc, bp, bq, out, o, hw)


@njit(cache=True, nogil=True)
def _rgb_row_flat(rec, pos, end, x, w, w4, colour, code_lo, cum, coarse, wts, bias, v, am, bc,
                  bp, bq, out, o, hw):
    """:func:`_rgb_row_of` without biases (none, or all zero, as ``ls_fit`` leaves them): no
    texture, key or bias lookup on the chain (CIFAR one record at a time, an archive with zero
    biases: 88.0 us through the row with them, 59.4 through this one, 69.8 through one loop
    that tested for them on every value; min of 15 alternating runs of 512 records, `/tmp`
    harness)."""
    return _rgb_row_of(rec, pos, end, x, w, w4, colour, code_lo, cum, coarse, wts, bias, False, v,
                       am, bc, bp, bq, out, o, hw)


@njit(cache=True, nogil=True, inline="always")
def _rgb_row_of(rec, pos, end, x, w, w4, colour, code_lo, cum, coarse, wts, bias, biased, v, am,
                bc, bp, bq, out, o, hw):
    """One row of a three-plane record (``bc``, ``bp``, ``bq``: plane 0's pixel 0 in the ring
    rows of this row and the two above). Each plane's W, WW, W's MED residual and base
    residual sign stay in registers from pixel to pixel; the rows above are loaded from the
    rings, off the chain; returns (state, position, status).

    CIFAR one record at a time: every neighbour from the rings (the loop below) 121 us; every
    one carried in registers (spilled to the stack as they shift) 73; these alone 71 (min of
    15 alternating runs of 512 records: 69.5 against 69.1). The least-squares arithmetic is
    throughput, not latency: with MED-only weights (the same values as MED's), computing the
    prediction off the chain took 64 us and leaving it out 35 (same harness), so interleaving
    records would not hide it; the 16 lanes (``ls_lanes``) share it among sixteen records."""
    s1, s2 = np.uint64(3 * w4), np.uint64(6 * w4)  # planes 1 and 2 in the rings
    w0, ww0, rw0 = np.int64(v[bc - 1]), np.int64(v[bc - 2]), np.int64(am[bc - 1])
    w1, ww1, rw1 = np.int64(v[s1 + bc - 1]), np.int64(v[s1 + bc - 2]), np.int64(am[s1 + bc - 1])
    w2, ww2, rw2 = np.int64(v[s2 + bc - 1]), np.int64(v[s2 + bc - 2]), np.int64(am[s2 + bc - 1])
    g0 = g1 = g2 = np.int64(0)  # W's base residual signs
    hwu = np.uint64(hw)
    for i in range(w):
        k = np.uint64(bp + i)  # unsigned: no negative-index wraparound on the loads
        kq = np.uint64(bq + i)
        v0, a0, t0, x, pos, g0 = _plane(0, k, kq, rec, pos, end, x, cum, coarse, wts, bias,
                                        biased, 0, v, am, w0, ww0, rw0, g0)
        v1, a1, t1, x, pos, g1 = _plane(1, k + s1, kq + s1, rec, pos, end, x, cum, coarse, wts,
                                        bias, biased, t0, v, am, w1, ww1, rw1, g1)
        v2, a2, _, x, pos, g2 = _plane(2, k + s2, kq + s2, rec, pos, end, x, cum, coarse, wts,
                                       bias, biased, t1, v, am, w2, ww2, rw2, g2)
        # one test for the pixel: a sound RGB pixel puts its transform's values inside their
        # planes' ranges (a bijection)
        rr, gg, bb = colour_inverse(v0, v1, v2, colour)
        if (rr | gg | bb) & ~255:
            return x, pos, BAD_RANGE
        j = np.uint64(o + i)
        out[j], out[j + hwu], out[j + np.uint64(2) * hwu] = rr + code_lo, gg + code_lo, bb + code_lo
        c = np.uint64(bc + i)
        v[c], v[c + s1], v[c + s2] = v0, v1, v2
        am[c], am[c + s1], am[c + s2] = a0, a1, a2
        ww0, w0, rw0 = w0, v0, a0
        ww1, w1, rw1 = w1, v1, a1
        ww2, w2, rw2 = w2, v2, a2
    return x, pos, OK


@njit(cache=True, nogil=True, inline="always")
def _ls_sample(rec, start, end, nplanes, h, w, colour, code_lo, cum, coarse, wts, bias, biased,
               rgb, v, am, out, o):
    """Decode the coded record ``rec[start:end]`` of a (``nplanes``, h, w) 8-bit sample into
    ``out[o : o + P*H*W]``; returns a status (``lossless_decode``'s codes). ``rgb`` (3 planes,
    else 4) and ``biased`` (its RGB row with the biases or without) are constants where it is
    inlined: numba prunes the other branches, so their rows are not compiled."""
    if end - start < 3:
        return OVERRUN
    x, pos = open_lossless(rec, start, end)
    hw = h * w
    w4 = w + 4
    v[:nplanes * 3 * w4] = 0
    am[:nplanes * 3 * w4] = 0
    neg = np.zeros(LS_PLANES, dtype=np.int64)
    for y in range(h):
        cur, prv, pp = y % 3, (y + 2) % 3, (y + 1) % 3
        ls_row_start(v, nplanes, w4, cur, prv)
        neg[:] = 0
        if rgb:
            bc, bp, bq = cur * w4 + 2, prv * w4 + 2, pp * w4 + 2
            if biased:
                x, pos, st = _rgb_row(rec, pos, end, x, w, w4, colour, code_lo, cum, coarse, wts,
                                      bias, v, am, bc, bp, bq, out, o + y * w, hw)
            else:
                x, pos, st = _rgb_row_flat(rec, pos, end, x, w, w4, colour, code_lo, cum, coarse,
                                           wts, bias, v, am, bc, bp, bq, out, o + y * w, hw)
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


@njit(cache=True, nogil=True, inline="always")
def _ls_rows(payload, offsets, shapes, rows, colour, code_lo, cum, coarse, wts, bias, biased,
             rgb, v, am, out, out_off, status):
    """``lossless_decode.decode_rows`` for the 3-plane (``rgb``) or the 4-plane 8-bit rows of
    a least-squares archive (``rows`` holds no others): a record of exactly its raw size is
    stored raw."""
    for b in range(len(rows)):
        i = rows[b]
        nplanes, h, w = shapes[i, 0], shapes[i, 1], shapes[i, 2]
        start, end = offsets[i], offsets[i + 1]
        n = nplanes * h * w
        if end - start == n:
            copy_raw(payload, start, n, 1, code_lo, out, out_off[b])
            status[b] = OK
        else:
            status[b] = _ls_sample(payload, start, end, nplanes, h, w, colour, code_lo, cum,
                                   coarse, wts, bias, biased, rgb, v, am, out, out_off[b])


@njit(cache=True, nogil=True)
def decode_ls_rows(payload, offsets, shapes, rows, colour, code_lo, cum, coarse, wts, bias, v,
                   am, out, out_off, status):
    """:func:`_ls_rows` of RGB rows without biases (an empty ``bias``: none, or all zero)."""
    _ls_rows(payload, offsets, shapes, rows, colour, code_lo, cum, coarse, wts, bias, False,
             True, v, am, out, out_off, status)


@njit(cache=True, nogil=True)
def decode_ls_rows_biased(payload, offsets, shapes, rows, colour, code_lo, cum, coarse, wts,
                          bias, v, am, out, out_off, status):
    """:func:`_ls_rows` of RGB rows with the (3072,) int64 biases."""
    _ls_rows(payload, offsets, shapes, rows, colour, code_lo, cum, coarse, wts, bias, True, True,
             v, am, out, out_off, status)


@njit(cache=True, nogil=True)
def decode_ls_rgba_rows(payload, offsets, shapes, rows, colour, code_lo, cum, coarse, wts, bias,
                        v, am, out, out_off, status):
    """:func:`_ls_rows` of RGBA rows (their loop takes the biases where ``bias`` holds them)."""
    _ls_rows(payload, offsets, shapes, rows, colour, code_lo, cum, coarse, wts, bias, False,
             False, v, am, out, out_off, status)
