"""Lossless decoder kernel: rANS tokens -> residuals -> MED prediction -> YCoCg-R -> pixels.

Every read is checked against the record's end and every decoded value
against its plane's range; a corrupt record returns a status code instead of
reading outside the payload or writing outside the sample.
"""

import numpy as np
from numba import njit

from .pixel_model import (ACT_LUT, CTX_PER_CLASS, FINE_CONTEXTS, LEVEL_LUT, Q_LUT, TEXTURES,
                          colour_inverse, context_of, med, pad_row_end, pad_row_start, pattern_of,
                          texture_of, unfold)
from .rans import (LOSSLESS_DIRECT, LOSSLESS_START, PROB_SCALE, get_code, get_token0,
                   open_lossless)

__all__ = ["ANY", "BAD_RANGE", "BAD_STATE", "GREY", "OK", "OVERRUN", "RGB", "ROW_DECODERS",
           "copy_raw", "decode_rows", "row_kind"]

OK, OVERRUN, BAD_STATE, BAD_RANGE = 0, 1, 2, 3
ANY, GREY, RGB = 0, 1, 3  # the kinds of record _decode_sample has a row for (row_kind)


@njit(cache=True, nogil=True, inline="always")
def _context(p, w, n, nw, ne, rw, rn, rnw, rne, prev_t, shift):
    """(prediction, context) of plane ``p``'s value from its neighbours (as
    ``pixel_model``'s rings hold them), before plane 0's map (the caller
    looks it up in its own loop: see ``pixel_model.pattern_of``)."""
    pred = med(w, n, nw)
    return pred, context_of(p, w, n, nw, ne, rw, rn, rnw, rne, pred, prev_t, shift, ACT_LUT,
                            Q_LUT, LEVEL_LUT)


@njit(cache=True, nogil=True, inline="always")
def _mapped_context(w, n, nw, ne, rw, rn, rnw, rne, shift, cmap, mapped):
    """Plane 0's (prediction, context) of a one-plane record, through the map's two stages
    where ``mapped`` (``pixel_model``)."""
    pred, c = _context(0, w, n, nw, ne, rw, rn, rnw, rne, 0, shift)
    if mapped:
        c = cmap[np.uint64(pattern_of(w, n, ne, nw, shift) * CTX_PER_CLASS + c)]
        c = cmap[np.uint64(FINE_CONTEXTS + c * TEXTURES + texture_of(w, n, nw, ne, pred))]
    return pred, np.int64(c)


@njit(cache=True, nogil=True, inline="always")
def _value(rec, pos, end, x, cum, coarse, c, pred, folded, maxv):
    """The value in context ``c`` predicted as ``pred``: (value, |residual|, token, state,
    position); the position never passes ``end`` (``rans.get_code`` from ``LOSSLESS_START``:
    a stream that runs out ends in the wrong state). ``folded``: the plane's codes are
    ``pixel_model.fold``'s over ``[0, maxv]``, else zigzag."""
    v, t, x, pos = get_code(rec, pos, end, x, c, cum, coarse, LOSSLESS_DIRECT, LOSSLESS_START)
    r = unfold(v, pred, maxv) if folded else (v >> 1) ^ -(v & 1)
    return pred + r, abs(r), t, x, pos


@njit(cache=True, nogil=True)
def _grey_row(rec, pos, end, x, w, shift, maxv, cum, coarse, cmap, pl, rs, bc, bp, code_lo, out,
              o):
    """One row of a one-plane record, its neighbours carried in registers from pixel to pixel
    (the loop for other plane counts reads them back from the rings: MNIST one record at a
    time x0.63 to x0.67, paired); returns (state, position, status).

    A value whose neighbours and their residuals are all 0 (a blank background: 69% of
    MNIST's) takes that neighbourhood's context, found once a row, without the MED, activity
    and map work (MNIST one record at a time x0.62 and x0.64, paired runs of 512 random
    records, bit-exact), and where its slot falls in token 0, the value 0 without the token
    search (x0.91 more)."""
    wv, rwv = np.int64(pl[bc - 1]), np.int64(rs[bc - 1])
    nv, rnv = np.int64(pl[bp]), np.int64(rs[bp])
    nwv, rnwv = np.int64(pl[bp - 1]), np.int64(rs[bp - 1])
    mapped = cmap.shape[0] > 0
    flat = _mapped_context(0, 0, 0, 0, 0, 0, 0, 0, shift, cmap, mapped)[1]
    f0 = np.int64(cum[np.uint64(flat), 1])
    for i in range(w):
        k = np.uint64(bp + i + 1)  # unsigned: no negative-index wraparound on the loads
        ne, rne = np.int64(pl[k]), np.int64(rs[k])
        if (wv | nv | nwv | ne | rwv | rnv | rnwv | rne) == 0:  # a blank neighbourhood
            if (x & (PROB_SCALE - 1)) < f0:  # its token 0: the value 0
                val, ar = 0, 0
                x, pos = get_token0(rec, pos, end, x, f0, LOSSLESS_START)
            else:
                val, ar, _, x, pos = _value(rec, pos, end, x, cum, coarse, flat, 0, True, maxv)
        else:
            pred, c = _mapped_context(wv, nv, nwv, ne, rwv, rnv, rnwv, rne, shift, cmap, mapped)
            val, ar, _, x, pos = _value(rec, pos, end, x, cum, coarse, c, pred, True, maxv)
        if val & ~maxv:  # outside [0, maxv] (maxv is 2**bits - 1)
            return x, pos, BAD_RANGE
        c = np.uint64(bc + i)
        pl[c] = val
        rs[c] = ar
        out[np.uint64(o + i)] = val + code_lo
        nwv, rnwv, nv, rnv, wv, rwv = nv, rnv, ne, rne, val, ar
    return x, pos, OK


@njit(cache=True, nogil=True)
def _rgb_row(rec, pos, end, x, w, w2, shift, cum, coarse, pl, rs, bc, bp, colour, maxv, code_lo,
             out, o, hw):
    """One row of a three-plane record, as :func:`_grey_row` (CIFAR one record at a time
    x0.77); colour records have their transform undone; returns (state, position, status).

    (A second copy of the loop for 8-bit codes, the shift a constant, measured ds[i] against PNG
    0.976 -> 0.987 in paired `/tmp` runs, but took a cold first ``compress`` from 8 to 16 s of
    numba compiling: left out.)"""
    s1, s2 = 2 * w2, 4 * w2  # planes 1 and 2 in the rings
    w0, rw0 = np.int64(pl[bc - 1]), np.int64(rs[bc - 1])
    n0, rn0 = np.int64(pl[bp]), np.int64(rs[bp])
    nw0, rnw0 = np.int64(pl[bp - 1]), np.int64(rs[bp - 1])
    w1, rw1 = np.int64(pl[s1 + bc - 1]), np.int64(rs[s1 + bc - 1])
    n1, rn1 = np.int64(pl[s1 + bp]), np.int64(rs[s1 + bp])
    nw1, rnw1 = np.int64(pl[s1 + bp - 1]), np.int64(rs[s1 + bp - 1])
    w2v, rw2 = np.int64(pl[s2 + bc - 1]), np.int64(rs[s2 + bc - 1])
    n2, rn2 = np.int64(pl[s2 + bp]), np.int64(rs[s2 + bp])
    nw2, rnw2 = np.int64(pl[s2 + bp - 1]), np.int64(rs[s2 + bp - 1])
    for i in range(w):
        k = np.uint64(bp + i + 1)  # unsigned: no negative-index wraparound on the loads
        k1, k2 = k + np.uint64(s1), k + np.uint64(s2)
        ne0, rne0 = np.int64(pl[k]), np.int64(rs[k])
        ne1, rne1 = np.int64(pl[k1]), np.int64(rs[k1])
        ne2, rne2 = np.int64(pl[k2]), np.int64(rs[k2])
        pred, c = _context(0, w0, n0, nw0, ne0, rw0, rn0, rnw0, rne0, 0, shift)
        v0, a0, t0, x, pos = _value(rec, pos, end, x, cum, coarse, c, pred, colour == 0, maxv)
        pred, c = _context(1, w1, n1, nw1, ne1, rw1, rn1, rnw1, rne1, t0, shift)
        v1, a1, t1, x, pos = _value(rec, pos, end, x, cum, coarse, c, pred, colour == 0, maxv)
        pred, c = _context(2, w2v, n2, nw2, ne2, rw2, rn2, rnw2, rne2, t1, shift)
        v2, a2, _, x, pos = _value(rec, pos, end, x, cum, coarse, c, pred, colour == 0, maxv)
        j = np.uint64(o + i)
        hwu = np.uint64(hw)
        # one test for the pixel (maxv is 2**bits - 1); for colour as RGB: a sound RGB pixel
        # also puts its transform's values inside their planes' ranges (a bijection)
        rr, gg, bb = colour_inverse(v0, v1, v2, colour) if colour else (v0, v1, v2)
        if (rr | gg | bb) & ~maxv:
            return x, pos, BAD_RANGE
        j2 = j + np.uint64(2) * hwu  # unsigned: no negative-index wraparound on the store
        out[j], out[j + hwu], out[j2] = rr + code_lo, gg + code_lo, bb + code_lo
        c = np.uint64(bc + i)
        c1, c2 = c + np.uint64(s1), c + np.uint64(s2)
        pl[c], pl[c1], pl[c2] = v0, v1, v2
        rs[c], rs[c1], rs[c2] = a0, a1, a2
        nw0, rnw0, n0, rn0, w0, rw0 = n0, rn0, ne0, rne0, v0, a0
        nw1, rnw1, n1, rn1, w1, rw1 = n1, rn1, ne1, rne1, v1, a1
        nw2, rnw2, n2, rn2, w2v, rw2 = n2, rn2, ne2, rne2, v2, a2
    return x, pos, OK


@njit(cache=True, nogil=True, inline="always")
def _decode_sample(rec, start, end, nplanes, h, w, colour, maxv, shift, code_lo, cum, coarse,
                   cmap, pl, rs, out, o, kind):
    """Decode one coded record ``rec[start:end]`` into ``out[o : o + P*H*W]``; returns a status.
    ``kind`` (a constant where it is inlined: numba prunes the other rows, which are then not
    compiled) is ``GREY`` for one plane, ``RGB`` for three without a map, else ``ANY``."""
    if end - start < 3:
        return OVERRUN
    x, pos = open_lossless(rec, start, end)
    hw = h * w
    w2 = w + 2
    pl[:nplanes * 2 * w2] = 0
    rs[:nplanes * 2 * w2] = 0
    for y in range(h):
        cur = (y + 1) & 1
        prv = y & 1
        pad_row_start(pl, nplanes, w2, cur, prv)
        # grey and RGB: neighbours carried in registers (three planes with a map, which only
        # archives without colour have, take the loop below: the map in the RGB rows cost
        # CIFAR one record x1.02)
        if kind != ANY:
            bc, bp = cur * w2 + 1, prv * w2 + 1
            if kind == GREY:
                x, pos, st = _grey_row(rec, pos, end, x, w, shift, maxv, cum, coarse, cmap, pl,
                                       rs, bc, bp, code_lo, out, o + y * w)
            else:
                x, pos, st = _rgb_row(rec, pos, end, x, w, w2, shift, cum, coarse, pl, rs, bc,
                                      bp, colour, maxv, code_lo, out, o + y * w, hw)
            if st != OK:
                return st
            pad_row_end(pl, nplanes, w2, cur)
            continue
        for i in range(w):
            prev_t = 0
            for p in range(nplanes):
                ci = (2 * p + cur) * w2 + i + 1
                pi = (2 * p + prv) * w2 + i + 1
                wv, nv, nev = np.int64(pl[ci - 1]), np.int64(pl[pi]), np.int64(pl[pi + 1])
                nwv = np.int64(pl[pi - 1])
                pred, c = _context(p, wv, nv, nwv, nev, np.int64(rs[ci - 1]),
                                   np.int64(rs[pi]), np.int64(rs[pi - 1]), np.int64(rs[pi + 1]),
                                   prev_t, shift)
                if p == 0 and cmap.shape[0]:
                    c = cmap[np.uint64(pattern_of(wv, nv, nev, nwv, shift) * CTX_PER_CLASS + c)]
                    c = cmap[np.uint64(FINE_CONTEXTS + c * TEXTURES
                                       + texture_of(wv, nv, nwv, nev, pred))]
                val, ar, prev_t, x, pos = _value(rec, pos, end, x, cum, coarse, c, pred,
                                                 colour == 0 or p >= 3, maxv)
                # the colour transform's planes 1 and 2 lie in [-maxv, maxv], the rest in
                # [0, maxv]
                if val > maxv or val < (-maxv if colour != 0 and (p == 1 or p == 2) else 0):
                    return BAD_RANGE
                pl[ci] = val
                rs[ci] = ar
            j = o + y * w + i
            c0 = cur * w2 + i + 1
            if colour:
                rr, gg, bb = colour_inverse(pl[c0], pl[c0 + 2 * w2], pl[c0 + 4 * w2], colour)
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
    if x != LOSSLESS_START or pos != end:
        return BAD_STATE
    return OK


@njit(cache=True, nogil=True)
def copy_raw(rec, start, n, value_bytes, code_lo, out, o):
    for k in range(n):
        if value_bytes == 1:
            v = np.int64(rec[start + k])
        else:
            v = np.int64(rec[start + 2 * k]) | (np.int64(rec[start + 2 * k + 1]) << 8)
        out[o + k] = v + code_lo


@njit(cache=True, nogil=True, inline="always")
def _rows(payload, offsets, shapes, rows, colour, bits, code_lo, cum, coarse, cmap, pl, rs, out,
          out_off, status, kind):
    """Decode shard rows, all of one ``kind`` (:func:`row_kind`), into a flat output.

    Args:
        payload: (P,) uint8 records; ``offsets`` (n + 1,) int64 record bounds.
        shapes: (n, 3) int64 (planes, height, width) of each sample.
        rows: (B,) int64 shard rows (in range).
        colour: the transform of 3- and 4-plane samples' planes 0..2
            (``pixel_model.COLOUR_*``); ``bits`` per code; ``code_lo`` is added
            to each code (the source dtype's offset, e.g. -128 for int8).
        cum, coarse: (contexts, T + 1) uint16 cumulative frequencies and the flat
            (contexts * 256,) uint8 slot-bucket -> first token rANS tables.
        cmap: (``pixel_model.MAP_SIZE``,) int32 map of plane 0's fine contexts, both stages,
            or empty (a colour archive).
        pl, rs: flat int32 ring scratch of at least P * 2 * (W + 2) entries.
        out: (total,) output values; ``out_off`` (B,) where each row starts.
        status: (B,) int64, set per row to OK or an error code.

    A least-squares archive's 3- and 4-plane rows go to ``ls_decode``'s kernels instead.
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
            copy_raw(payload, start, n, value_bytes, code_lo, out, out_off[b])
            status[b] = OK
        else:
            status[b] = _decode_sample(payload, start, end, nplanes, h, w,
                                       colour if nplanes == 3 or nplanes == 4 else 0, maxv, shift,
                                       code_lo, cum, coarse, cmap, pl, rs, out, out_off[b], kind)


def row_kind(planes: int, mapped: bool) -> int:
    """Which entry decodes a record of ``planes`` planes (``mapped``: the archive has plane 0's
    context map): its rows in registers for one plane (``GREY``) or three without a map
    (``RGB``), else the generic loop (``ANY``)."""
    return GREY if planes == 1 else RGB if planes == 3 and not mapped else ANY


@njit(cache=True, nogil=True)
def decode_rows(payload, offsets, shapes, rows, colour, bits, code_lo, cum, coarse, cmap, pl, rs,
                out, out_off, status):
    """:func:`_rows` of ``ANY`` rows (2 or 4 planes, or 3 with a map)."""
    _rows(payload, offsets, shapes, rows, colour, bits, code_lo, cum, coarse, cmap, pl, rs, out,
          out_off, status, ANY)


@njit(cache=True, nogil=True)
def decode_grey_rows(payload, offsets, shapes, rows, colour, bits, code_lo, cum, coarse, cmap, pl,
                     rs, out, out_off, status):
    """:func:`_rows` of one-plane rows."""
    _rows(payload, offsets, shapes, rows, colour, bits, code_lo, cum, coarse, cmap, pl, rs, out,
          out_off, status, GREY)


@njit(cache=True, nogil=True)
def decode_rgb_rows(payload, offsets, shapes, rows, colour, bits, code_lo, cum, coarse, cmap, pl,
                    rs, out, out_off, status):
    """:func:`_rows` of three-plane rows of an archive without a map."""
    _rows(payload, offsets, shapes, rows, colour, bits, code_lo, cum, coarse, cmap, pl, rs, out,
          out_off, status, RGB)


#: the one-at-a-time entry of each kind of record (:func:`row_kind`), each compiled on first use
#: (one archive of one kind of record compiles one: MNIST's first ``ds[i]`` compiled its grey row,
#: the RGB row and the generic loop)
ROW_DECODERS = {GREY: decode_grey_rows, RGB: decode_rgb_rows, ANY: decode_rows}
