"""Lossy decoder kernel: rANS symbols -> quantised blocks -> dequantise -> 8x8 inverse DCT -> colour.

Every stream read is checked against the record's end and every scale index
and ``last`` against its range; a corrupt record returns a status code and
never reads outside the payload or writes outside its sample.
"""

import numpy as np
from numba import njit

from .block_model import ZIGZAG, ac_context, dc_context, dc_predict, last_context, signed_value
from .lossy_vectors import colour_row8, fill8x8, idct8x8
from .rans import LOSSY_DIRECT, RANS_L, get_code, read_state

__all__ = ["BAD_RANGE", "BAD_STATE", "OK", "OVERRUN", "decode_lossy_rows", "planes_to_pixels"]

OK, OVERRUN, BAD_STATE, BAD_RANGE = 0, 1, 2, 3


@njit(cache=True, nogil=True, fastmath=True)
def planes_to_pixels(plane, psize, wp, nplanes, h, w, mat, mean, out, o, rnd):
    """Colour transform, crop and (with ``rnd``) round and clamp; rows of at least 8 pixels go
    8 at a time through :func:`colour_row8` (the last 8 overlapping the ones before), which
    rounds and clamps by the output's dtype: ``rnd`` is True exactly for a uint8 ``out``."""
    hw = h * w
    row = np.empty(w, dtype=np.float32)
    for c in range(nplanes):
        m0 = mat[0, c]
        m1 = mat[1, c] if nplanes == 3 else np.float32(0.0)
        m2 = mat[2, c] if nplanes == 3 else np.float32(0.0)
        bias = mean[c] + (np.float32(0.5) if rnd else np.float32(0.0))
        for y in range(h):
            src = y * wp
            d = o + c * hw + y * w
            if w >= 8:
                s1 = psize + src if nplanes == 3 else src  # one plane: zero weights
                s2 = 2 * psize + src if nplanes == 3 else src
                for i in range(0, w - 8, 8):
                    colour_row8(plane, src, s1, s2, i, (m0, m1, m2), bias, out, d)
                colour_row8(plane, src, s1, s2, w - 8, (m0, m1, m2), bias, out, d)
                continue
            for i in range(w):
                v = bias + m0 * plane[src + i]
                if nplanes == 3:
                    v += m1 * plane[psize + src + i] + m2 * plane[2 * psize + src + i]
                row[i] = v
            if rnd:
                for i in range(w):
                    out[d + i] = np.int32(min(max(row[i], np.float32(0.0)), np.float32(255.0)))
            else:
                for i in range(w):
                    out[d + i] = row[i]


@njit(cache=True, nogil=True, fastmath=True)
def _decode_blocks(rec, start, end, nplanes, h, w, ladder, qmul, pcls, cum, coarse, maxq,
                   basis, qc, lastc, blk, plane):
    """Decode record ``rec[start:end]`` into the padded planes ``plane``; returns a status.

    It takes no output array, so one compiled copy serves uint8 and float32
    outputs: a second output dtype compiles only the colour step (measured
    3.5 s -> 1.0 s of numba compile on a first run).
    """
    if end - start < 5:
        return OVERRUN
    s = np.int64(rec[start])
    if s >= ladder.shape[0]:
        return BAD_RANGE
    delta = ladder[s]
    x = read_state(rec, start + 1)
    if x < RANS_L:
        return BAD_STATE
    pos = start + 5
    nby = (h + 7) >> 3
    nbx = (w + 7) >> 3
    nb = nby * nbx
    zero = qc.shape[0] - 1
    wp = nbx * 8
    psize = nby * 8 * wp
    for p in range(nplanes):
        pc = pcls[p]
        for by in range(nby):
            for bx in range(nbx):
                b = p * nb + by * nbx + bx
                has_l = bx > 0
                has_a = by > 0
                ll = lastc[b - 1] if has_l else 0
                la = lastc[b - nbx] if has_a else 0
                last, _, x, pos = get_code(rec, pos, end, x, last_context(pc, ll, la), cum, coarse,
                                         LOSSY_DIRECT)
                if pos > end:
                    return OVERRUN
                if last > 64:
                    return BAD_RANGE
                stale = lastc[b]  # qc[b, z] is zero from the last decoded image's lastc[b] on
                lastc[b] = last
                lb = b - 1 if has_l else zero  # a missing neighbour reads the all-zero row
                ab = b - nbx if has_a else zero
                dl = qc[lb, 0]
                da = qc[ab, 0]
                dal = qc[b - nbx - 1, 0] if has_l and has_a else 0
                pred = dc_predict(has_l, has_a, dl, da, dal)
                qc[b, 0] = pred
                for z in range(max(last, 1), stale):  # neighbours' contexts read every position
                    qc[b, z] = 0
                nnz = 0
                if last > 0:
                    code, _, x, pos = get_code(rec, pos, end, x, dc_context(pc, dl, da, dal), cum,
                                               coarse, LOSSY_DIRECT)
                    qc[b, 0] = pred + signed_value(code + (last == 1))
                    prev1 = 0
                    prev2 = 0
                    for z in range(1, last):
                        nbm = abs(qc[lb, z]) + abs(qc[ab, z])
                        code, _, x, pos = get_code(rec, pos, end, x,
                                                   ac_context(pc, z, prev1 + prev2, nbm), cum,
                                                   coarse, LOSSY_DIRECT)
                        code += z == last - 1
                        qc[b, z] = signed_value(code)
                        prev2 = prev1
                        prev1 = (code + 1) >> 1  # |v|, straight from the code
                        nnz += code != 0
                    if pos > end:  # reads past the end stay inside the record and are caught here
                        return OVERRUN
                if abs(qc[b, 0]) > maxq:
                    return BAD_RANGE
                off = p * psize + by * 8 * wp + bx * 8
                if nnz == 0:  # the DC alone: a flat block
                    v0 = np.float32(qc[b, 0] * delta * qmul[p, 0] * np.float32(0.125))
                    fill8x8(plane, off, wp, v0)
                else:
                    for z in range(64):
                        blk[z] = 0.0
                    for z in range(last):  # no branch on zeros: it mispredicted (lanes x0.78)
                        blk[ZIGZAG[z]] = qc[b, z] * delta * qmul[p, z]
                    idct8x8(blk, basis, plane, off, wp)
    if x != RANS_L or pos != end:
        return BAD_STATE
    return OK


@njit(cache=True, nogil=True)
def decode_lossy_rows(payload, offsets, dims, rows, ladder, qmul, pcls, cum, coarse, maxq,
                      basis, mat, mean, qc, lastc, plane, out, out_off, rnd, status):
    """Decode shard rows into a flat output.

    Args:
        payload: (P,) uint8 records; ``offsets`` (n + 1,) int64 record bounds.
        dims: (n, 3) int64 (planes, height, width) of each sample.
        rows: (B,) int64 shard rows (in range).
        ladder: (S,) float32 quantiser scales (a record's first byte picks
            one); ``qmul`` (P, 64) float32 step multipliers per zigzag position.
        pcls: (P,) int64 plane classes; cum, coarse: rANS tables.
        maxq: largest magnitude a quantised DC may have.
        basis: (8, 8) float32 orthonormal DCT-II matrix; ``mat`` (P, P) and
            ``mean`` (P,) float32: pixel = mean + mat.T @ planes.
        qc, lastc, plane: scratch for the largest sample: (blocks + 1, 64) int64
            whose last row stays zero (a missing neighbour), (blocks,) int64
            and (P * padded pixels,) float32. Between calls ``qc[b, z]`` is zero for
            every ``z >= max(lastc[b], 1)`` (both start zeroed), so only those stale
            positions are cleared.
        out: (total,) float32 or uint8 output; ``out_off`` (B,) row starts;
            ``rnd``: round and clamp to 0..255.
        status: (B,) int64, set per row to OK or an error code.
    """
    blk = np.empty(64, dtype=np.float32)
    for b in range(len(rows)):
        i = rows[b]
        p, h, w = dims[i, 0], dims[i, 1], dims[i, 2]
        status[b] = _decode_blocks(payload, offsets[i], offsets[i + 1], p, h, w, ladder, qmul,
                                   pcls, cum, coarse, maxq, basis, qc, lastc, blk, plane)
        if status[b] == OK:
            wp = ((w + 7) >> 3) * 8
            planes_to_pixels(plane, ((h + 7) >> 3) * 8 * wp, wp, p, h, w, mat, mean, out,
                              out_off[b], rnd)
