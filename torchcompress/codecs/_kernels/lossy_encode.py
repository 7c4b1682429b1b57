"""Lossy encoder kernels: quantise DCT blocks into (context, code) symbols, and price them.

The symbols then go through the lossless codec's rANS coder
(``lossless_encode.encode_sample``): one entropy coder for both codecs.
"""

import numpy as np
from numba import njit

from .block_model import ac_context, dc_context, dc_predict, last_context, signed_code
from .lossless_encode import count_tokens, encode_sample
from .rans import LOSSY_DIRECT, token_of

__all__ = ["count_many", "curve_blocks", "curves_many", "model_blocks", "price_symbols",
           "sized_curve"]


@njit(cache=True, nogil=True)
def model_blocks(coef, nplanes, nby, nbx, pcls, steps, inv, deadzone, lam, cost, qc, lastc, ctx, val):
    """Quantise one image's blocks and emit its symbols in coding order.

    Args:
        coef: (P * nby * nbx, 64) float32 DCT coefficients in zigzag order,
            plane by plane, blocks in raster order.
        pcls: (P,) int64 plane class; ``steps`` (P, 64) float32 quantiser steps, ``inv``
            their reciprocals.
        deadzone: rounding offset (|c| / step + deadzone, floored); 0.5 rounds.
        lam, cost: rate-distortion trade-off (squared error per bit, in units
            of step**2) and (contexts, T) float32 token prices in bits; with
            ``lam > 0`` a block's trailing +-1 symbols are dropped while
            their bits cost more than their error.
        qc: (>= blocks, 64) int64 scratch; lastc (>= blocks,) int64 scratch.
        ctx, val: (>= blocks * 65,) int32 outputs.

    Returns:
        (number of symbols, squared error in the coefficient domain).
    """
    nb = nby * nbx
    k = 0
    err = 0.0
    for p in range(nplanes):
        pc = pcls[p]
        for by in range(nby):
            for bx in range(nbx):
                b = p * nb + by * nbx + bx
                blk_err = 0.0
                top = 0
                for z in range(64):
                    c = coef[b, z]
                    a = abs(c)
                    q = np.int64(a * inv[p, z] + (0.5 if z == 0 else deadzone))
                    e = a - q * steps[p, z]
                    blk_err += e * e
                    qc[b, z] = q if c >= 0 else -q
                    if q != 0:
                        top = z
                has_l = bx > 0
                has_a = by > 0
                dl = qc[b - 1, 0] if has_l else 0
                da = qc[b - nbx, 0] if has_a else 0
                dal = qc[b - nbx - 1, 0] if has_l and has_a else 0
                s0 = qc[b, 0] - dc_predict(has_l, has_a, dl, da, dal)
                last = top + 1 if top > 0 else 0
                if last == 0 and s0 != 0:
                    last = 1
                ll = lastc[b - 1] if has_l else 0
                la = lastc[b - nbx] if has_a else 0
                if lam > 0.0:  # drop trailing +-1 whose bits cost more than their error
                    while last > 1 and abs(qc[b, last - 1]) == 1:
                        z = last - 1
                        c = abs(coef[b, z])
                        st = steps[p, z]
                        j = z - 1
                        while j > 0 and qc[b, j] == 0:
                            j -= 1
                        bits = 0.0
                        for m in range(j + 1, z + 1):
                            nbm = (abs(qc[b - 1, m]) if has_l else 0) + (abs(qc[b - nbx, m]) if has_a else 0)
                            t = signed_code(qc[b, z]) - 1 if m == z else 0
                            bits += cost[ac_context(pc, m, 0, nbm), t]
                        gain = c * c - (c - st) * (c - st)
                        if gain > lam * st * st * bits:
                            break
                        blk_err += gain
                        qc[b, z] = 0
                        last = j + 1 if j > 0 or s0 != 0 else 0
                err += blk_err
                lastc[b] = last
                ctx[k] = last_context(pc, ll, la)
                val[k] = last
                k += 1
                prev1 = 0
                prev2 = 0
                for z in range(last):
                    if z == 0:
                        v = s0
                        ctx[k] = dc_context(pc, dl, da, dal)
                    else:
                        v = qc[b, z]
                        nbm = (abs(qc[b - 1, z]) if has_l else 0) + (abs(qc[b - nbx, z]) if has_a else 0)
                        ctx[k] = ac_context(pc, z, prev1 + prev2, nbm)
                        prev2 = prev1
                        prev1 = abs(v)
                    code = signed_code(v)
                    val[k] = code - 1 if z == last - 1 else code
                    k += 1
    return k, err


@njit(cache=True, nogil=True)
def price_symbols(ctx, val, n, cost):
    """Bits ``n`` symbols cost under ``cost`` (contexts, T) token prices, extra bits included."""
    bits = 0.0
    for k in range(n):
        t, ne = token_of(val[k], LOSSY_DIRECT)
        bits += cost[ctx[k], t] + ne
    return bits


@njit(cache=True, nogil=True, inline="always")
def _steps_at(scale, qmul, steps, inv):
    """Quantiser steps ``scale * qmul`` and their float32 reciprocals, in place."""
    for p in range(steps.shape[0]):
        for z in range(64):
            steps[p, z] = scale * qmul[p, z]
            inv[p, z] = 1.0 / steps[p, z]


@njit(cache=True, nogil=True, inline="always")
def _model_at(scale, coef, nplanes, nby, nbx, pcls, qmul, deadzone, lam, cost, qc, lastc, ctx, val,
              steps, inv):
    """:func:`model_blocks` at quantiser scale ``scale`` (steps ``scale * qmul``)."""
    _steps_at(scale, qmul, steps, inv)
    return model_blocks(coef, nplanes, nby, nbx, pcls, steps, inv, deadzone, lam, cost, qc, lastc,
                        ctx, val)


@njit(cache=True, nogil=True)
def curve_blocks(coef, nplanes, nby, nbx, pcls, qmul, ladder, window, deadzone, lam, cost, qc, lastc,
                 ctx, val, bits, dist):
    """One sample's rate-distortion curve: ``bits[j]`` and ``dist[j]`` at scale ``window[j]``
    (step ``ladder[window[j]] * qmul``), as :func:`model_blocks` and :func:`price_symbols`."""
    steps = np.empty((nplanes, 64), dtype=np.float32)
    inv = np.empty((nplanes, 64), dtype=np.float32)
    for j in range(window.shape[0]):
        k, err = _model_at(ladder[window[j]], coef, nplanes, nby, nbx, pcls, qmul, deadzone, lam,
                           cost, qc, lastc, ctx, val, steps, inv)
        bits[j] = price_symbols(ctx, val, k, cost)
        dist[j] = err


@njit(cache=True, nogil=True)
def sized_curve(coef, nplanes, nby, nbx, pcls, qmul, ladder, window, deadzone, lam, cost, freq, cum,
                qc, lastc, ctx, val, words, buf, size, dist):
    """One sample's exact record sizes: ``size[j]`` bytes (the scale byte and the rANS stream)
    and ``dist[j]`` squared error at scale ``window[j]``, coded with tables ``freq``/``cum``.

    ``buf[1:size[-1]]`` is left holding the stream of the last scale, so a
    one-scale window codes a record (``buf[0]`` is the caller's). Returns
    False if a stream did not fit ``buf``.
    """
    steps = np.empty((nplanes, 64), dtype=np.float32)
    inv = np.empty((nplanes, 64), dtype=np.float32)
    for j in range(window.shape[0]):
        k, err = _model_at(ladder[window[j]], coef, nplanes, nby, nbx, pcls, qmul, deadzone, lam,
                           cost, qc, lastc, ctx, val, steps, inv)
        n = encode_sample(ctx, val, k, freq, cum, words, buf, 1, buf.shape[0] - 1, LOSSY_DIRECT)
        if n < 0:
            return False
        size[j] = n + 1
        dist[j] = err
    return True


@njit(cache=True, nogil=True)
def count_many(coef, block_off, dims, scales, pcls, qmul, ladder, deadzone, lam, cost, qc, lastc,
               ctx, val, counts):
    """Add the tokens of samples ``i`` (coefficients ``coef[block_off[i]:block_off[i + 1]]``,
    shape ``dims[i]``) at scale ``scales[i]`` to ``counts`` (contexts, T) int64."""
    steps = np.empty((qmul.shape[0], 64), dtype=np.float32)
    inv = np.empty((qmul.shape[0], 64), dtype=np.float32)
    for i in range(dims.shape[0]):
        _steps_at(ladder[scales[i]], qmul, steps, inv)
        k, _ = model_blocks(coef[block_off[i]:block_off[i + 1]], dims[i, 0], (dims[i, 1] + 7) >> 3,
                            (dims[i, 2] + 7) >> 3, pcls, steps, inv, deadzone, lam, cost, qc, lastc,
                            ctx, val)
        count_tokens(ctx, val, k, counts, LOSSY_DIRECT)


@njit(cache=True, nogil=True)
def curves_many(coef, block_off, dims, pcls, qmul, ladder, window, deadzone, lam, cost, qc, lastc,
                ctx, val, bits, dist):
    """:func:`curve_blocks` of every sample (as :func:`count_many`) into rows of ``bits`` and
    ``dist`` (n, len(window))."""
    for i in range(dims.shape[0]):
        curve_blocks(coef[block_off[i]:block_off[i + 1]], dims[i, 0], (dims[i, 1] + 7) >> 3,
                     (dims[i, 2] + 7) >> 3, pcls, qmul, ladder, window, deadzone, lam, cost, qc,
                     lastc, ctx, val, bits[i], dist[i])
