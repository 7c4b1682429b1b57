"""The least-squares model's decoder (``ls_model``) in 16 lanes: sixteen coded RGB records
decoded in lockstep, as ``lossless_lanes`` does for MED (records of different shapes share a
group as there: it runs over its widest and tallest, a lane outside its own record stepping
along without moving its stream).

The rings are ``ls_model``'s three rows (two columns of padding each side) with every entry
widened to 16 lanes (entry ``k`` of lane ``l`` at ``k * 16 + l``); ``state`` is
``lane_steps``'. A row is one loop of vector IR (:func:`ls_lane_row3`): the lanes' rANS states,
positions and bad flags and each plane's W, WW, W's MED residual and base residual sign stay
in registers; the rows above are vector loads. Each lane's weights are picked from the 16
bins' by one ``vpermd`` per pair of features (gathered on CPUs without AVX-512:
:data:`PERMUTES`) and its bias gathered by its key (CIFAR batched 72 -> 30.7 us an image with
the weights gathered, 23.5 with the permutes). Each pair's two products and their sum are one
``vpmaddwd`` (:data:`PAIRS`). The results are the scalar decoder's,
bit for bit: a lane whose record is not sound (a value out of its plane's range, a read past
its end, a stream that does not end in the start state) gets its bad flag, and the caller
decodes that record alone, which names the error. Values kept in the rings are clamped to their
plane's range, so a corrupt lane's table indices stay in bounds.
"""

import numpy as np
from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from .lane_output import lane_colour_inverse, lane_plane_row
from .lane_row import close_row_loop, open_row_loop
from .lane_coder import lane_token, packed_arg, token_value
from .lane_steps import (ST_BAD, ST_END, ST_H, ST_POS, ST_W, ST_X, activity_bin, data_pointers,
                         level_bin, prev_bin, unzigzag, vmed)
from .lossless_lanes import group_extent, lane_verdicts, open_lanes
from .ls_model import BIAS_KEYS, FEATURES, LS_BINS, LS_SHIFT
from .pixel_model import CTX_PER_CLASS
from .rans import LOSSLESS_DIRECT, LOSSLESS_START
from .simd import (LANES, at, const, dword_permutes, gather, load, madd16, permute16, smax, smin,
                   splat, store, vabs, word_products)

__all__ = ["PAIRS", "PERMUTES", "WEIGHT_PAIRS", "decode_ls_lanes", "lane_weights", "ls_lane_row3",
           "ls_lane_row3_flat", "ls_lane_row3_mixed"]

#: each lane's weights by a ``vpermd`` of a pair of features' 16 bins, not a gather (decided
#: when the kernel compiles)
PERMUTES = dword_permutes()
#: each pair of features' two products and their sum as one ``vpmaddwd`` on 16-bit halves, not
#: two multiplies and two adds (decided when the kernel compiles; CIFAR kernel x0.97 in paired
#: runs, the row 804 -> 723 instructions a step with 108 -> 69 stack accesses)
PAIRS = word_products()
#: the features taken in pairs: 2k in a weight word's low half, 2k + 1 in its high half
WEIGHT_PAIRS = (FEATURES + 1) // 2


def lane_weights(wts):
    """The (3, 16, 11) int16 weights as the lanes read them: (plane, pair of features, bin)
    int32 words, features 2k's weight in the low 16 bits and 2k + 1's (0 past the last) in the
    high ones, flat."""
    w = np.asarray(wts, np.int64).transpose(0, 2, 1)  # (plane, feature, bin)
    w = np.concatenate([w, np.zeros((w.shape[0], 2 * WEIGHT_PAIRS - FEATURES, w.shape[2]),
                                    np.int64)], axis=1)
    words = (w[:, 0::2] & 0xFFFF) | ((w[:, 1::2] & 0xFFFF) << 16)
    return np.ascontiguousarray(words.astype(np.uint32).view(np.int32)).reshape(-1)


def _weighted_pair(b, wk, u, v):
    """``lo(wk) * u + hi(wk) * v`` in every lane (``v`` None: 0), the features ``u``, ``v``
    within 16 signed bits."""
    if PAIRS:
        pair = u if v is None else b.or_(b.and_(u, const(0xFFFF)), b.shl(v, const(16)))
        return madd16(b, pair, wk)  # v None: u's high half meets a zero weight
    s = b.mul(b.ashr(b.shl(wk, const(16)), const(16)), u)
    return s if v is None else b.add(s, b.mul(b.ashr(wk, const(16)), v))


def _below(b, v, base):
    return b.zext(b.icmp_signed("<", v, base), v.type)


def _predict(b, p, f, a, g, pw, pbias):
    """(prediction, base) of plane ``p`` in every lane: ``f`` the features in
    ``ls_model.FEATURES``' order, ``a`` the activity bins, ``g`` W's base residual signs;
    ``pw`` the weights as ``lane_weights`` lays them out, ``pbias`` the biases (None: none)."""
    s = const(1 << (LS_SHIFT - 1))
    for k in range(WEIGHT_PAIRS):
        row = (p * WEIGHT_PAIRS + k) * LS_BINS
        if PERMUTES:  # the pair's weights of the 16 bins, one vector, each lane's by its bin
            wk = permute16(b, load(b, pw, at(row)), a)
        else:
            wk = gather(b, pw, b.shl(b.add(a, const(row)), const(2)))
        second = f[2 * k + 1] if 2 * k + 1 < len(f) else None
        s = b.add(s, _weighted_pair(b, wk, f[2 * k], second))
    lo, hi = const(0 if p == 0 else -255), const(255)
    base = smax(b, smin(b, b.ashr(s, const(LS_SHIFT)), hi), lo)
    if pbias is None:
        return base, base
    _, w, n, nw, ne, ww, nn = f[:7]
    tex = _below(b, n, base)
    for bit, v in enumerate((w, nw, ne, nn, ww), start=1):
        tex = b.or_(tex, b.shl(_below(b, v, base), const(bit)))
    key = b.add(b.shl(b.add(b.shl(tex, const(3)), b.ashr(a, const(1))), const(1)), g)
    key = b.add(key, const(p * BIAS_KEYS))
    pred = b.add(base, gather(b, pbias, b.shl(key, const(2))))
    return smax(b, smin(b, pred, hi), lo), base


def _row3(biased: bool, mixed: bool):
    """:func:`ls_lane_row3` (``biased``: with the biases ``btab``; ``mixed``: lanes may leave
    their records), :func:`ls_lane_row3_mixed` (no biases: ``btab`` is not read) or
    :func:`ls_lane_row3_flat` (no biases, records of one shape)."""

    def row3(typingctx, state, pl, rs, rec, coarse, cum, luts, wtab, btab, row, cb, pb, qb,
             stride, tstride, w, y, colour):
        sig = types.void(state, pl, rs, rec, coarse, cum, luts, wtab, btab, row, cb, pb, qb,
                         stride, tstride, w, y, colour)
        return sig, _row3_codegen(biased, mixed)
    row3.__name__ = row3.__qualname__ = "ls_lane_row3" + ("" if biased else
                                                           "_mixed" if mixed else "_flat")
    return intrinsic(row3)


def _row3_codegen(biased: bool, mixed: bool):
    """Row ``y`` of sixteen three-plane records, ``w`` the group's widest (``cb``, ``pb``,
    ``qb``: plane 0's pixel 0 in the ring rows of this row and the two above; ``stride``:
    entries between planes); the pixels (colour undone) go to ``row`` ((3, W, 16) int32).
    ``mixed``: a lane outside its record (``state``'s heights and widths) steps along without
    moving its stream or its bad flag (a mask on every plane's step, which one shape does
    without: CIFAR's lanes x1.03 and x1.04 with it, paired runs)."""

    def codegen(context, b, sig, args):
        st, ppl, prs, prec, pco, pcum, plut, pw, pbias, prow = data_pointers(
            context, b, sig, args, 10)
        pco = packed_arg(context, b, sig, args, 4)
        cb, pb, qb, stride, tstride, w, y, colour = args[10:]
        end = load(b, st, at(ST_END))
        if mixed:  # the lanes whose record has row y, and each one's width
            in_rows = b.icmp_signed("<", splat(b, y), load(b, st, at(ST_H)))
            widths = load(b, st, at(ST_W))
        first = [load(b, st, at(ST_X)), load(b, st, at(ST_POS)), load(b, st, at(ST_BAD))]
        for p in range(3):  # W, WW, |W - MED|, W's base residual sign
            c16 = b.mul(b.add(cb, b.mul(stride, at(p))), at(LANES))
            first += [load(b, ppl, b.sub(c16, at(LANES))), load(b, ppl, b.sub(c16, at(2 * LANES))),
                      load(b, prs, b.sub(c16, at(LANES))), const(0)]
        i, carried, loop, done = open_row_loop(b, first)
        x, pos, bad = carried[:3]
        live = b.and_(in_rows, b.icmp_signed("<", splat(b, i), widths)) if mixed else None
        prevt, after, vals = const(0), [], []
        for p in range(3):
            wv, ww, rw, g = carried[3 + 4 * p:7 + 4 * p]
            step = b.add(b.mul(stride, at(p)), i)
            c16 = b.mul(b.add(cb, step), at(LANES))
            p16 = b.mul(b.add(pb, step), at(LANES))
            q16 = b.mul(b.add(qb, step), at(LANES))
            above = lambda ptr, base, k: load(b, ptr, b.add(base, at(k * LANES)))  # noqa: E731
            nww, nw, n, ne, nee = (above(ppl, p16, k) for k in (-2, -1, 0, 1, 2))
            nnw, nn, nne = (above(ppl, q16, k) for k in (-1, 0, 1))
            rnw, rn, rne = (above(prs, p16, k) for k in (-1, 0, 1))
            m = vmed(b, wv, n, nw)
            a = activity_bin(b, wv, n, nw, ne, rw, rn, rnw, rne, plut, const(0))
            pred, base = _predict(b, p, (m, wv, n, nw, ne, ww, nn, nne, nnw, nww, nee), a, g, pw,
                                  pbias if biased else None)
            a8 = b.shl(a, const(3))
            c = b.add(a8, level_bin(b, pred, const(0))) if p == 0 else \
                b.add(b.add(const(p * CTX_PER_CLASS), a8), prev_bin(b, prevt, plut, const(0)))
            x0, pos0 = x, pos
            t, x = lane_token(b, x, c, pco, pcum, tstride)
            x, pos, v = token_value(b, t, x, pos, prec, end, LOSSLESS_DIRECT, live=live,
                                    start=LOSSLESS_START)
            val = b.add(pred, unzigzag(b, v))
            lo, hi = const(0 if p == 0 else -255), const(255)
            kept = smax(b, smin(b, val, hi), lo)  # in range, whatever a corrupt lane decodes
            clamped = b.icmp_signed("!=", val, kept)
            if mixed:
                x, pos = b.select(live, x, x0), b.select(live, pos, pos0)
                clamped = b.and_(live, clamped)
            bad = b.or_(bad, b.zext(clamped, val.type))
            ar = vabs(b, b.sub(kept, m))
            store(b, kept, ppl, c16)
            store(b, ar, prs, c16)
            after += [kept, wv, ar, _below(b, kept, base)]
            vals.append(kept)
            prevt = t
        rgb, out = lane_colour_inverse(b, *vals, colour, ir.Constant(colour.type, 255))
        bad = b.or_(bad, b.select(live, out, const(0)) if mixed else out)
        for p in range(3):
            store(b, rgb[p], prow, b.mul(b.add(b.mul(at(p), w), i), at(LANES)))
        close_row_loop(b, st, i, carried, [x, pos, bad] + after, w, loop, done)
        return context.get_dummy_value()
    return codegen


#: a row of the lanes with the biases (archives written before ``ls_fit`` left them at zero),
#: and without them, for groups of mixed shapes and of one
ls_lane_row3, ls_lane_row3_mixed, ls_lane_row3_flat = (_row3(True, True), _row3(False, True),
                                                       _row3(False, False))


@njit(cache=True, nogil=True)
def _masked_row(state, pl, rs, rec, coarse, cum, luts, wtab, btab, row, cb, pb, qb, stride,
                tstride, w, y, colour):
    """A row of a group with the biases or of mixed shapes: :func:`ls_lane_row3` or
    :func:`ls_lane_row3_mixed`, called, not inlined (inside ``decode_ls_lanes`` the mixed row's
    code took the flat row x1.02, paired runs on CIFAR: one shape, no biases)."""
    if btab.shape[0]:
        ls_lane_row3(state, pl, rs, rec, coarse, cum, luts, wtab, btab, row, cb, pb, qb, stride,
                     tstride, w, y, colour)
    else:
        ls_lane_row3_mixed(state, pl, rs, rec, coarse, cum, luts, wtab, btab, row, cb, pb, qb,
                           stride, tstride, w, y, colour)


@njit(cache=True, nogil=True)
def decode_ls_lanes(rec, offsets, rows, dims, colour, code_lo, coarse, cum, tstride, luts, wtab,
                    btab, pl, rs, row, state, out, out_off, bad):
    """Decode groups of 16 coded three-plane records (``dims`` (G, 16, 3), each record at least 4
    bytes; a group's shapes may differ, as ``lossless_lanes.decode_lanes``' do) into ``out`` at
    ``out_off[g]``; ``bad[g, l]`` is set for a lane whose record is not sound (as
    ``lossless_lanes.decode_lanes``).

    ``coarse``, ``cum``, ``tstride``, ``luts``: the lane tables of ``LosslessTables``;
    ``wtab`` (3 * 6 * 16,) and ``btab`` (3072,) int32: the weights (:func:`lane_weights`) and
    biases (``btab`` empty: none, and the row without them); ``pl``, ``rs``: (>= 3 * 3 * (W +
    4) * 16,) int32 lane rings; ``row``: (>= 3 * W * 16,) int32.
    """
    for g in range(rows.shape[0]):
        h, w, mixed = group_extent(dims, g)
        w4 = w + 4
        open_lanes(state, rec, offsets, rows, dims, g)
        for k in range(3 * 3 * w4 * LANES):
            pl[k] = 0
            rs[k] = 0
        for y in range(h):
            cur, prv, pp = y % 3, (y + 2) % 3, (y + 1) % 3
            for p in range(3):  # columns 0 and 1 take the pixel above the row's first pixel
                d, src = (3 * p + cur) * w4 * LANES, ((3 * p + prv) * w4 + 2) * LANES
                for k in range(LANES):
                    pl[d + k] = pl[src + k]
                    pl[d + LANES + k] = pl[src + k]
            if btab.shape[0] or mixed:  # the rarer rows, each in a function of its own
                _masked_row(state, pl, rs, rec, coarse, cum, luts, wtab, btab, row,
                            cur * w4 + 2, prv * w4 + 2, pp * w4 + 2, 3 * w4, tstride, w, y,
                            colour)
            else:
                ls_lane_row3_flat(state, pl, rs, rec, coarse, cum, luts, wtab, btab, row,
                                  cur * w4 + 2, prv * w4 + 2, pp * w4 + 2, 3 * w4, tstride, w, y,
                                  colour)
            for p in range(3):
                base = (3 * p + cur) * w4 * LANES
                if mixed:  # each lane's two columns past its last pixel repeat it, residual 0
                    # (the lane stepped on past its record there)
                    for lane in range(LANES):
                        last = base + (dims[g, lane, 2] + 1) * LANES + lane
                        pl[last + LANES] = pl[last + 2 * LANES] = pl[last]
                        rs[last + LANES] = rs[last + 2 * LANES] = 0
                else:  # the last two columns repeat the row's last pixel
                    for k in range(LANES):
                        v = pl[base + (w4 - 3) * LANES + k]
                        pl[base + (w4 - 2) * LANES + k] = v
                        pl[base + (w4 - 1) * LANES + k] = v
                lane_plane_row(row, p, y, h, w, mixed, dims, g, code_lo, out, out_off)
        lane_verdicts(state, bad, g)
