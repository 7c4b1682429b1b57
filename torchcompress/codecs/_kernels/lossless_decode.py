"""Lossless decoder kernel: rANS tokens -> residuals -> MED prediction -> YCoCg-R -> pixels.

Every read is checked against the record's end and every decoded value
against its plane's range; a corrupt record returns a status code instead of
reading outside the payload or writing outside the sample.
"""

import numpy as np
from numba import njit

from .pixel_model import (ACT_LUT, LEVEL_LUT, RES_LUT, colour_inverse, context, med, pad_row_end,
                          pad_row_start)
from .rans import COARSE_SHIFT, PROB_BITS, RANS_L, token_base

__all__ = ["BAD_RANGE", "BAD_STATE", "OK", "OVERRUN", "decode_rows"]

OK, OVERRUN, BAD_STATE, BAD_RANGE = 0, 1, 2, 3
_MASK = (1 << PROB_BITS) - 1


@njit(cache=True, nogil=True)
def _decode_sample(rec, start, end, nplanes, h, w, colour, maxv, shift, code_lo, cum, coarse,
                   lo, hi, pl, rs, out, o):
    """Decode one coded record ``rec[start:end]`` into ``out[o : o + P*H*W]``; returns a status."""
    if end - start < 4:
        return OVERRUN
    x = (np.int64(rec[start]) | (np.int64(rec[start + 1]) << 8) | (np.int64(rec[start + 2]) << 16)
         | (np.int64(rec[start + 3]) << 24))
    if x < RANS_L:
        return BAD_STATE
    pos = start + 4
    hw = h * w
    w2 = w + 2
    pl[:nplanes * 2 * w2] = 0
    rs[:nplanes * 2 * w2] = 0
    for y in range(h):
        cur = (y + 1) & 1
        prv = y & 1
        pad_row_start(pl, nplanes, w2, cur, prv)
        for i in range(w):
            prev_r = 0
            for p in range(nplanes):
                ci = (2 * p + cur) * w2 + i + 1
                pi = (2 * p + prv) * w2 + i + 1
                pred = med(pl[ci - 1], pl[pi], pl[pi - 1])
                c = context(pl, rs, p, ci, pi, pred, prev_r, shift, ACT_LUT, RES_LUT, LEVEL_LUT)
                slot = x & _MASK
                t = np.int64(coarse[(c << (PROB_BITS - COARSE_SHIFT)) + (slot >> COARSE_SHIFT)])
                c_hi = np.int64(cum[c, t + 1])
                while slot >= c_hi:
                    t += 1
                    c_hi = np.int64(cum[c, t + 1])
                c_lo = np.int64(cum[c, t])
                x = (c_hi - c_lo) * (x >> PROB_BITS) + slot - c_lo  # frequency: cum's difference
                # one word always suffices for a sound stream; read it without a branch
                need = x < RANS_L
                q = min(pos, end - 2)
                word = np.int64(rec[q]) | (np.int64(rec[q + 1]) << 8)
                x = (x << 16) | word if need else x
                pos += 2 * need
                if pos > end:
                    return OVERRUN
                v, ne = token_base(t)
                while ne > 0:
                    nb = min(ne, 8)
                    f = 1 << (PROB_BITS - nb)
                    slot = x & _MASK
                    x = f * (x >> PROB_BITS) + (slot & (f - 1))
                    if x < RANS_L:
                        if pos + 2 > end:
                            return OVERRUN
                        x = (x << 16) | np.int64(rec[pos]) | (np.int64(rec[pos + 1]) << 8)
                        pos += 2
                    ne -= nb
                    v |= (slot >> (PROB_BITS - nb)) << ne
                r = (v >> 1) ^ -(v & 1)
                val = pred + r
                if val < lo[p] or val > hi[p]:
                    return BAD_RANGE
                pl[ci] = val
                prev_r = abs(r)
                rs[ci] = prev_r
            j = o + y * w + i
            c0 = cur * w2 + i + 1
            if colour:
                rr, gg, bb = colour_inverse(pl[c0], pl[c0 + 2 * w2], pl[c0 + 4 * w2])
                if rr < 0 or rr > maxv or gg < 0 or gg > maxv or bb < 0 or bb > maxv:
                    return BAD_RANGE
                out[j] = rr + code_lo
                out[j + hw] = gg + code_lo
                out[j + 2 * hw] = bb + code_lo
                first = 3
            else:
                first = 0
            for p in range(first, nplanes):
                out[j + p * hw] = pl[c0 + 2 * p * w2] + code_lo
        pad_row_end(pl, nplanes, w2, cur)
    if x != RANS_L or pos != end:
        return BAD_STATE
    return OK


@njit(cache=True, nogil=True)
def _copy_raw(rec, start, n, value_bytes, code_lo, out, o):
    for k in range(n):
        if value_bytes == 1:
            v = np.int64(rec[start + k])
        else:
            v = np.int64(rec[start + 2 * k]) | (np.int64(rec[start + 2 * k + 1]) << 8)
        out[o + k] = v + code_lo


@njit(cache=True, nogil=True)
def decode_rows(payload, offsets, shapes, rows, colour, bits, code_lo, cum, coarse, lo, hi,
                pl, rs, out, out_off, status):
    """Decode shard rows into a flat output.

    Args:
        payload: (P,) uint8 records; ``offsets`` (n + 1,) int64 record bounds.
        shapes: (n, 3) int64 (planes, height, width) of each sample.
        rows: (B,) int64 shard rows (in range).
        colour: 3- and 4-plane samples are YCoCg-R; ``bits`` per code; ``code_lo`` is added
            to each code (the source dtype's offset, e.g. -128 for int8).
        cum, coarse: (contexts, T + 1) uint16 cumulative frequencies and the flat
            (contexts * 256,) uint8 slot-bucket -> first token rANS tables.
        lo, hi: (P,) int64 plane ranges; pl, rs: flat int32 ring scratch of at
            least P * 2 * (W + 2) entries.
        out: (total,) output values; ``out_off`` (B,) where each row starts.
        status: (B,) int64, set per row to OK or an error code.
    """
    maxv = (1 << bits) - 1
    shift = bits - 8
    value_bytes = (bits + 7) // 8
    for b in range(len(rows)):
        i = rows[b]
        nplanes, h, w = shapes[i, 0], shapes[i, 1], shapes[i, 2]
        start, end = offsets[i], offsets[i + 1]
        n = nplanes * h * w
        if end - start == n * value_bytes:
            _copy_raw(payload, start, n, value_bytes, code_lo, out, out_off[b])
            status[b] = OK
        else:
            status[b] = _decode_sample(payload, start, end, nplanes, h, w,
                                       colour and (nplanes == 3 or nplanes == 4), maxv, shift,
                                       code_lo, cum, coarse, lo, hi, pl, rs, out, out_off[b])
