"""Lossless encoder kernels: model pass (contexts and residuals), token counts, rANS streams."""

import numpy as np
from numba import njit

from .pixel_model import (ACT_LUT, RES_LUT, colour_forward, context, pad_row_end, pad_row_start,
                          predict)
from .rans import PROB_BITS, RANS_L, put_symbol, token_of

__all__ = ["count_tokens", "encode_sample", "model_sample"]


@njit(cache=True, nogil=True)
def model_sample(x, colour, maxv, shift, pl, rs, ctx, val):
    """Context and zigzag residual of every value of one sample, in coding order.

    Coding order is row by row, pixel by pixel, and the planes of a pixel in
    turn (YCoCg-R planes first when ``colour``).

    Args:
        x: (P, H, W) int32 codes in ``[0, maxv]``.
        colour: code planes 0..2 as YCoCg-R.
        maxv: largest code (2**bits - 1); ``shift`` = bits - 8.
        pl, rs: (P, 2, >= W + 2) int32 ring scratch (zeroed here).
        ctx, val: (>= P*H*W,) int32 outputs.
    """
    nplanes, h, w = x.shape
    pl[:] = 0
    rs[:] = 0
    k = 0
    for y in range(h):
        cur = (y + 1) & 1
        prv = y & 1
        if y == 0:
            pl[:, prv, :] = 0
            rs[:, prv, :] = 0
        pad_row_start(pl, nplanes, cur, prv)
        for i in range(w):
            xx = i + 1
            first = 0
            if colour:
                yv, co, cg = colour_forward(x[0, y, i], x[1, y, i], x[2, y, i])
                pl[0, cur, xx] = yv
                pl[1, cur, xx] = co
                pl[2, cur, xx] = cg
                first = 3
            for p in range(first, nplanes):
                pl[p, cur, xx] = x[p, y, i]
            for p in range(nplanes):
                pred = predict(pl, p, cur, prv, xx)
                ctx[k] = context(pl, rs, p, cur, prv, xx, pred, shift, maxv, ACT_LUT, RES_LUT)
                r = pl[p, cur, xx] - pred
                rs[p, cur, xx] = abs(r)
                val[k] = 2 * r if r >= 0 else -2 * r - 1
                k += 1
        pad_row_end(pl, nplanes, cur, w)
    return k


@njit(cache=True, nogil=True)
def count_tokens(ctx, val, n, counts):
    """Add the tokens of ``n`` (context, value) pairs to ``counts`` (contexts, tokens) int64."""
    for k in range(n):
        t, _ = token_of(val[k])
        counts[ctx[k], t] += 1


@njit(cache=True, nogil=True)
def encode_sample(ctx, val, n, freq, cum, words, out, pos, cap):
    """rANS-code ``n`` values into ``out[pos:]``; returns the byte length, or -1 past ``cap``.

    The stream is the final state (4 bytes LE) and then 16-bit LE words in
    decoding order. Values are encoded last to first; a value's extra bits are
    put before its token, so the decoder reads the token first.
    """
    x = np.int64(RANS_L)
    nw = 0
    limit = (cap - 4) // 2
    for k in range(n - 1, -1, -1):
        v = val[k]
        c = ctx[k]
        tok, ne = token_of(v)
        if ne > 0:
            nch = (ne + 7) // 8
            for j in range(nch - 1, -1, -1):
                nb = min(8, ne - 8 * j)
                bits = (v >> (ne - 8 * j - nb)) & ((1 << nb) - 1)
                f = 1 << (PROB_BITS - nb)
                x, nw = put_symbol(x, f, bits * f, words, nw)
        x, nw = put_symbol(x, np.int64(freq[c, tok]), np.int64(cum[c, tok]), words, nw)
        if nw > limit:
            return -1
    total = 4 + 2 * nw
    if total > cap:
        return -1
    for b in range(4):
        out[pos + b] = (x >> (8 * b)) & 0xFF
    o = pos + 4
    for j in range(nw - 1, -1, -1):
        out[o] = words[j] & 0xFF
        out[o + 1] = words[j] >> 8
        o += 2
    return total
