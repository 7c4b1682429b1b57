"""Lossless encoder kernels: model pass (contexts and residuals), token counts, rANS streams."""

import numpy as np
from numba import njit

from .pixel_model import (ACT_LUT, CTX_PER_CLASS, FINE_CONTEXTS, LEVEL_LUT, Q_LUT, TEXTURES,
                          context_of, fold, med, pad_row_end, pad_row_start, pattern_of,
                          ring_row_in, texture_of)
from .rans import LOSSLESS_DIRECT, LOSSLESS_START, PROB_BITS, RANS_L, put_symbol, token_of

__all__ = ["count_samples", "count_tokens", "encode_sample", "encode_samples", "model_sample"]


@njit(cache=True, nogil=True)
def model_sample(x, colour, shift, pl, rs, ctx, val, cmap):
    """Context and coded residual (zigzag on YCoCg-R's planes, else ``pixel_model.fold``) of
    every value of one sample, in coding order.

    Coding order is row by row, pixel by pixel, and the planes of a pixel in
    turn (the colour transform's planes first when ``colour``). The encoder knows every value,
    so it models a row a plane at a time, each step a loop over the row that LLVM vectorizes
    (predictions, contexts, codes), and interleaves the planes at the end. Every 8th photo of
    ``benchmarks/`` (31, RGB): 10.0 ns a value pixel by pixel, 5.3 by rows (`/tmp` harness,
    medians of five, the same contexts and codes).

    Args:
        x: (P, H, W) int32 codes in ``[0, 2**bits)``; ``shift`` = bits - 8.
        colour: code planes 0..2 through that transform
            (``pixel_model.COLOUR_*``; 0: none). ``cmap``: plane 0's map of fine contexts
            (``pixel_model``; empty: none; only its first stage: ``FINE_CONTEXTS`` entries);
            the fit counts with one that maps each fine context to a row of its own.
        pl, rs: (>= P * 2 * (W + 2),) int32 ring scratch (zeroed here).
        ctx, val: (>= P*H*W,) int32 outputs.
    """
    nplanes, h, w = x.shape
    w2 = w + 2
    maxv = (1 << (shift + 8)) - 1
    pl[:nplanes * 2 * w2] = 0
    rs[:nplanes * 2 * w2] = 0
    pred = np.empty(nplanes * w, dtype=np.int32)  # a row's predictions, contexts and codes,
    cx = np.empty(nplanes * w, dtype=np.int32)  # plane after plane
    code = np.empty(nplanes * w, dtype=np.int32)
    tok = np.zeros(w, dtype=np.int32)  # the previous plane's tokens
    k = 0
    for y in range(h):
        cur = (y + 1) & 1
        prv = y & 1
        ring_row_in(x, y, colour, pl, 2, w2, 1, cur)
        pad_row_start(pl, nplanes, w2, cur, prv)
        for p in range(nplanes):
            _row_residuals(pl, rs, (2 * p + cur) * w2 + 1, (2 * p + prv) * w2 + 1, w,
                           pred[p * w:(p + 1) * w])
        for p in range(nplanes):
            c0, p0 = (2 * p + cur) * w2 + 1, (2 * p + prv) * w2 + 1
            o, e = p * w, (p + 1) * w
            if p == 0:
                _row_contexts0(pl, rs, c0, p0, w, pred[o:e], shift, cmap, cx[o:e])
            else:
                _row_contexts(pl, rs, p, c0, p0, w, shift, tok, cx[o:e])
            _row_codes(pl, c0, w, pred[o:e], colour != 0 and p < 3, maxv, code[o:e], tok)
        for i in range(w):  # the planes of a pixel in turn
            for p in range(nplanes):
                ctx[k] = cx[p * w + i]
                val[k] = code[p * w + i]
                k += 1
        pad_row_end(pl, nplanes, w2, cur)
    return k


@njit(cache=True, nogil=True, inline="always")
def _row_residuals(pl, rs, c0, p0, w, pred):
    """MED's prediction of a plane's row (``c0``, ``p0``: its first pixel and the one above in
    the ring) into ``pred``, and its absolute residuals into the ring ``rs``."""
    one = np.uint64(1)
    for i in range(w):
        ci, pi = np.uint64(c0 + i), np.uint64(p0 + i)
        m = med(pl[ci - one], pl[pi], pl[pi - one])
        pred[i] = m
        rs[ci] = abs(pl[ci] - m)


@njit(cache=True, nogil=True, inline="always")
def _row_contexts0(pl, rs, c0, p0, w, pred, shift, cmap, cx):
    """Plane 0's contexts of a row, through the map where there is one."""
    one = np.uint64(1)
    mapped = cmap.shape[0] > 0
    staged = cmap.shape[0] > FINE_CONTEXTS
    for i in range(w):
        ci, pi = np.uint64(c0 + i), np.uint64(p0 + i)
        wv, nv, nw, ne = pl[ci - one], pl[pi], pl[pi - one], pl[pi + one]
        m = pred[i]
        c = context_of(0, wv, nv, nw, ne, rs[ci - one], rs[pi], rs[pi - one], rs[pi + one], m,
                       0, shift, ACT_LUT, Q_LUT, LEVEL_LUT)
        if mapped:
            c = cmap[np.uint64(pattern_of(wv, nv, ne, nw, shift) * CTX_PER_CLASS + c)]
            if staged:
                c = cmap[np.uint64(FINE_CONTEXTS + c * TEXTURES + texture_of(wv, nv, nw, ne, m))]
        cx[i] = c


@njit(cache=True, nogil=True, inline="always")
def _row_contexts(pl, rs, p, c0, p0, w, shift, tok, cx):
    """Plane ``p`` (> 0)'s contexts of a row (``tok``: the previous plane's tokens)."""
    one = np.uint64(1)
    for i in range(w):
        ci, pi = np.uint64(c0 + i), np.uint64(p0 + i)
        cx[i] = context_of(p, pl[ci - one], pl[pi], pl[pi - one], pl[pi + one], rs[ci - one],
                           rs[pi], rs[pi - one], rs[pi + one], 0, tok[i], shift, ACT_LUT, Q_LUT,
                           LEVEL_LUT)


@njit(cache=True, nogil=True, inline="always")
def _row_codes(pl, c0, w, pred, zigzag, maxv, code, tok):
    """A plane's codes of a row (zigzag, or folded over the range) and their tokens."""
    for i in range(w):
        r = pl[np.uint64(c0 + i)] - pred[i]
        v = (r << 1) ^ (r >> 31) if zigzag else fold(r, pred[i], maxv)
        code[i] = v
        tok[i] = token_of(v, LOSSLESS_DIRECT)[0]


@njit(cache=True, nogil=True)
def count_tokens(ctx, val, n, counts, direct):
    """Add the tokens of ``n`` (context, value) pairs to ``counts`` (contexts, tokens) int64
    (``direct``: the codec's tokens, see ``rans``)."""
    for k in range(n):
        t, _ = token_of(val[k], direct)
        counts[ctx[k], t] += 1


@njit(cache=True, nogil=True)
def encode_sample(ctx, val, n, freq, cum, words, out, pos, cap, direct, start=RANS_L):
    """rANS-code ``n`` values into ``out[pos:]`` (tokens with ``direct``, from state ``start``,
    see ``rans``); returns the byte length, or -1 past ``cap``.

    The stream is the final state (LE: 4 bytes, or from ``LOSSLESS_START`` 3 where they hold
    it) and then 16-bit LE words in decoding order. Values are encoded last to first; a
    value's extra bits are put before its token, so the decoder reads the token first.
    """
    x = np.int64(start)
    nw = 0
    limit = (cap - 3) // 2
    for k in range(n - 1, -1, -1):
        v = val[k]
        c = ctx[k]
        tok, ne = token_of(v, direct)
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
    nbytes = 4 if start == RANS_L or x >= 1 << 24 else 3
    total = nbytes + 2 * nw
    if total > cap:
        return -1
    for b in range(nbytes):
        out[pos + b] = (x >> (8 * b)) & 0xFF
    o = pos + nbytes
    for j in range(nw - 1, -1, -1):
        out[o] = words[j] & 0xFF
        out[o + 1] = words[j] >> 8
        o += 2
    return total


@njit(cache=True, nogil=True)
def encode_samples(codes, colour, shift, freq, cum, cmap, pl, rs, ctx, val, words, out, sizes):
    """Model and code each sample of ``codes`` (B, P, H, W) int32 in one call (no GIL held).

    Record b goes to ``out[b]`` ((B, raw bytes) uint8) and ``sizes[b]`` is its
    length, or -1 when the stream would not be smaller than the raw codes.
    """
    cap = out.shape[1] - 1
    for b in range(codes.shape[0]):
        k = model_sample(codes[b], colour, shift, pl, rs, ctx, val, cmap)
        sizes[b] = encode_sample(ctx, val, k, freq, cum, words, out[b], 0, cap, LOSSLESS_DIRECT,
                                 LOSSLESS_START)


@njit(cache=True, nogil=True)
def count_samples(codes, colour, shift, cmap, pl, rs, ctx, val, counts):
    """Add the tokens of every sample of ``codes`` (B, P, H, W) int32 to ``counts``."""
    for b in range(codes.shape[0]):
        k = model_sample(codes[b], colour, shift, pl, rs, ctx, val, cmap)
        count_tokens(ctx, val, k, counts, LOSSLESS_DIRECT)
