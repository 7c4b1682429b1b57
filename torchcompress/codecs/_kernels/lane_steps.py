"""The lossless lane decoder's steps: numba intrinsics over sixteen records at once.

Each builds ``<16 x i32>`` LLVM IR (see ``simd``): lane ``l`` of every vector
belongs to record ``l``. ``lossless_lanes.decode_lanes`` drives them.

Layout: the two-row rings ``pl``/``rs`` of ``pixel_model`` with every entry
widened to 16 lanes (entry ``k`` of lane ``l`` at ``k * 16 + l``), and the
per-lane ``state`` (STATE,) int32 at offsets ``ST_*``: rANS states (as
uint32 bits), stream positions, the tokens of the previous plane's residuals, bad
flags, record ends, widths, heights and whether the lane's record holds the
current pixel (``lane_active``). A lane outside its record steps along
without moving its stream: its ``x``, position and bad flag keep their
values, and the values it stores are kept inside the plane's range. Each
plane's token and its extra bits come from ``lane_coder``.
"""

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from .lane_coder import lane_token, packed_arg, token0_frequency, token0_state, token_value
from .pixel_model import ACT_LUT, CTX_PER_CLASS, LEVEL_LUT, Q_LUT, TEXTURES
from .rans import LOSSLESS_DIRECT, LOSSLESS_START, PROB_BITS
from .simd import (I32, LANES, V32, any_true, at, byte_permutes, const, gather, load, lookup128,
                   merge, smax, smin, splat, store, vabs)

__all__ = ["ACT_TOP", "LUTS", "PERMUTES", "STATE", "ST_ACT", "ST_BAD", "ST_END", "ST_H", "ST_POS",
           "ST_PREV", "ST_W", "ST_X", "activity_bin", "data_pointers", "lane_active", "lane_step",
           "flat_frequency", "level_bin", "lut_mapped", "plane_value", "prev_bin", "unfold",
           "unzigzag", "vmed"]

#: ACT_LUT, LEVEL_LUT and Q_LUT end to end, as int32 (what the gathers read where the CPU
#: has no byte permutes; LEVEL_LUT's bins are computed)
LUTS = np.concatenate([ACT_LUT, LEVEL_LUT, Q_LUT]).astype(np.int32)
ST_X, ST_POS, ST_PREV, ST_BAD, ST_END, ST_W, ST_H, ST_ACT = (k * LANES for k in range(8))
STATE = 8 * LANES
#: the activity and residual bins by byte permutes in registers, not gathers from ``LUTS``
#: (kernel time x0.88-0.94 on CIFAR, x0.97-0.99 on MNIST in paired runs); decided when the
#: kernel compiles
PERMUTES = byte_permutes()
#: where ACT_LUT takes its last bin; from 127 up to there it keeps its bin at 127, so a
#: 128-entry table and one compare give it
ACT_TOP = int(np.flatnonzero(ACT_LUT == ACT_LUT[-1])[0])


def data_pointers(context, b, sig, args, k):
    """The data pointers of an intrinsic's first ``k`` array arguments."""
    return [context.make_array(t)(context, b, a).data for t, a in zip(sig.args[:k], args[:k])]


def _context(b, w, n, nw, ne, rw, rn, rnw, rne, prevt, pred, lut, p, shift, mapped):
    """``pixel_model.context_of`` in every lane (``mapped``: an i1, ``lut`` carries the archive's
    map of plane 0's fine contexts after ``LUTS``)."""
    a = b.shl(activity_bin(b, w, n, nw, ne, rw, rn, rnw, rne, lut, shift), const(3))
    # plane 0 bins the prediction by LEVEL_LUT's arithmetic (0; 1 + 6v / 256 for 0 < v < 255;
    # 7), the others the previous plane's residual by Q_LUT: one gather fewer on plane 0
    # (kernel time x0.89-1.00 on MNIST, x0.96-0.99 on CIFAR and x0.94 on photos, paired runs)
    if isinstance(p, int):  # a plane known when the kernel compiles: no branch
        if p == 0:
            return _mapped(b, b.add(a, level_bin(b, pred, shift)), w, n, ne, nw, pred, shift,
                           lut, mapped)
        return b.add(b.add(const(min(p, 3) * CTX_PER_CLASS), a), prev_bin(b, prevt, lut, shift))
    with b.if_else(b.icmp_signed("==", p, at(0))) as (then, otherwise):
        with then:  # plane 0: class 0
            c0 = _mapped(b, b.add(a, level_bin(b, pred, shift)), w, n, ne, nw, pred, shift,
                         lut, mapped)
            b_then = b.block
        with otherwise:
            cls = splat(b, b.mul(b.select(b.icmp_signed("<", p, at(3)), p, at(3)),
                                 at(CTX_PER_CLASS)))
            c1 = b.add(b.add(cls, a), prev_bin(b, prevt, lut, shift))
            b_else = b.block
    c = b.phi(c0.type)
    c.add_incoming(c0, b_then)
    c.add_incoming(c1, b_else)
    return c


def activity_bin(b, w, n, nw, ne, rw, rn, rnw, rne, lut, shift):
    """``pixel_model.activity`` in every lane (0..15)."""
    grad = b.add(b.add(vabs(b, b.sub(w, nw)), vabs(b, b.sub(n, nw))), vabs(b, b.sub(n, ne)))
    act = b.add(b.add(rw, rn), b.add(b.ashr(b.add(rnw, rne), const(1)), b.ashr(grad, const(1))))
    act = smin(b, b.ashr(act, shift), const(255))
    if PERMUTES:
        return b.add(lookup128(b, smin(b, act, const(127)), ACT_LUT[:128]),
                     b.zext(b.icmp_signed(">=", act, const(ACT_TOP)), V32))
    return gather(b, lut, b.shl(act, const(2)))


def _mapped(b, c, w, n, ne, nw, pred, shift, lut, mapped):
    """Plane 0's context ``c`` through the archive's map, both stages, where ``mapped``
    (``pixel_model.pattern_of`` and ``texture_of``); else (or ``mapped`` None) ``c``. The lanes
    read the two stages as one table after ``LUTS`` (``LosslessTables.lane_luts``): a byte for
    each fine context and texture, the first stage's context already through the second (one
    gather where the stages took two dependent ones: MNIST kernel 3.43-3.55 -> 2.97-3.00 us
    an image, min of 25 runs in two alternating processes each; the table is 2.6 MB)."""
    if mapped is None:
        return c
    pre = b.block
    with b.if_then(mapped):
        pattern = const(0)
        for v, at_bit in ((w, 6), (n, 4), (ne, 2), (nw, 0)):  # pixel_model.level4's arithmetic
            u = b.ashr(v, shift)
            q = b.add(b.ashr(b.add(u, const(32)), const(7)), smin(b, u, const(1)))
            pattern = b.or_(pattern, b.shl(q, const(at_bit)))
        texture = const(0)
        for v in (w, n, nw, ne):  # 1 + (v > pred) - (v < pred), in base 3
            side = b.sub(b.zext(b.icmp_signed(">", v, pred), V32),
                         b.zext(b.icmp_signed("<", v, pred), V32))
            texture = b.add(b.mul(texture, const(3)), b.add(side, const(1)))
        # the fused map's bytes follow the LUTS' words
        fine = b.add(b.mul(pattern, const(CTX_PER_CLASS)), c)
        at_byte = b.add(b.mul(fine, const(TEXTURES)), texture)
        m = b.and_(gather(b, lut, b.add(at_byte, const(4 * len(LUTS)))), const(0xFF))
        b_map = b.block
    out = b.phi(c.type)
    out.add_incoming(m, b_map)
    out.add_incoming(c, pre)
    return out


def lut_mapped(context, b, sig, args, k):
    """An i1: the intrinsic's ``k``-th argument, the LUTs, carries a map after ``LUTS``."""
    n = context.make_array(sig.args[k])(context, b, args[k]).nitems
    return b.icmp_signed(">", n, ir.Constant(n.type, len(LUTS)))


def level_bin(b, pred, shift):
    """LEVEL_LUT's bin of the prediction, by arithmetic."""
    v = smax(b, smin(b, b.ashr(pred, shift), const(255)), const(0))
    lv = b.add(const(1), b.ashr(b.mul(v, const(6)), const(8)))
    lv = b.select(b.icmp_signed("==", v, const(0)), const(0), lv)
    return b.select(b.icmp_signed("==", v, const(255)), const(7), lv)


def prev_bin(b, prevt, lut, shift):
    """Q_LUT's bin of the token of the previous plane's residual (its row by ``shift``)."""
    t = smin(b, prevt, const(127))
    if PERMUTES:
        wide = b.icmp_signed("!=", shift, const(0))
        return b.select(wide, lookup128(b, t, Q_LUT[128:]), lookup128(b, t, Q_LUT[:128]))
    row = b.shl(b.lshr(shift, const(3)), const(7))
    return gather(b, lut, b.shl(b.add(b.add(t, row), const(512)), const(2)))


def _plane_step(b, ptrs, x, pos, prevt, bad, end, live, ci, pi, p, shift, tstride, lo, hi,
                folds, mapped):
    """Plane ``p``'s value at ring entry ``ci`` (the entry above: ``pi``) in every lane, as IR:
    :func:`plane_value` with the neighbours loaded from the rings."""
    ppl, prs = ptrs[:2]
    c16, p16 = b.mul(ci, at(LANES)), b.mul(pi, at(LANES))
    prev_entry, next_entry = (lambda k: b.sub(k, at(LANES))), (lambda k: b.add(k, at(LANES)))
    nbrs = (load(b, ppl, prev_entry(c16)), load(b, ppl, p16), load(b, ppl, prev_entry(p16)),
            load(b, ppl, next_entry(p16)), load(b, prs, prev_entry(c16)), load(b, prs, p16),
            load(b, prs, prev_entry(p16)), load(b, prs, next_entry(p16)))
    return plane_value(b, ptrs, nbrs, x, pos, prevt, bad, end, live, c16, p, shift, tstride,
                       lo, hi, folds, mapped)


def plane_value(b, ptrs, nbrs, x, pos, prevt, bad, end, live, c16, p, shift, tstride, lo, hi,
                folds, mapped, flat=None):
    """Plane ``p``'s value in every lane, its neighbours ``nbrs`` given (the values W, N, NW,
    NE, then their absolute residuals; ``prevt``: the previous plane's tokens); stores the value
    and its absolute residual at element ``c16`` of the rings and returns the lanes' new ``(x,
    pos, |residual|, token, bad)`` (lanes not ``live`` keep their ``x``, ``pos`` and ``bad``)
    and the value stored.

    ``ptrs``: the data pointers of ``pl``, ``rs``, ``rec``, ``coarse`` (a :class:`Buckets`),
    ``cum`` and ``luts``;
    ``p``: an i64 value, or a Python int when the plane is known as the kernel compiles (its
    bins then take no branch); ``folds``: an i1, the plane's
    codes are folded (:func:`unfold`); ``mapped``: an i1 from :func:`lut_mapped`; ``flat``:
    :func:`flat_frequency`, for :func:`_flat_step`'s short cut, or None (never)."""
    if flat is not None:
        return _flat_step(b, ptrs, nbrs, x, pos, prevt, bad, end, live, c16, p, shift, tstride,
                          lo, hi, folds, mapped, flat)
    ppl, prs, prec, pco, pcum, plut = ptrs
    w, n, nw, ne, rw, rn, rnw, rne = nbrs
    x0, pos0, bad0 = x, pos, bad
    pred = vmed(b, w, n, nw)
    c = _context(b, w, n, nw, ne, rw, rn, rnw, rne, prevt, pred, plut, p, splat(b, shift),
                 mapped)
    t, x = lane_token(b, x, c, pco, pcum, tstride)
    x, pos, v = token_value(b, t, x, pos, prec, end, LOSSLESS_DIRECT, start=LOSSLESS_START)
    vlo, vhi = splat(b, lo), splat(b, hi)
    r = unfold(b, v, pred, folds, vhi)
    val = b.add(pred, r)
    out = b.or_(b.icmp_signed("<", val, vlo), b.icmp_signed(">", val, vhi))
    bad = b.or_(bad, b.zext(out, x.type))
    ar = vabs(b, r)
    # a value out of range is kept in range: a lane past its record (or in a corrupt one)
    # decodes on, and its ring must not grow towards int32 overflow (negative LUT indices)
    kept = smax(b, smin(b, val, vhi), vlo)
    store(b, kept, ppl, c16)
    store(b, ar, prs, c16)
    x, pos, bad = (b.select(live, v, v0) for v, v0 in ((x, x0), (pos, pos0), (bad, bad0)))
    return x, pos, ar, t, bad, kept


def flat_frequency(b, ptrs, p, shift, tstride, mapped):
    """Token 0's frequency, in every lane, in plane ``p``'s context of a value whose neighbours
    and their residuals are all 0 (its MED prediction 0): once per row, for
    :func:`_flat_step`."""
    z = const(0)
    c = _context(b, z, z, z, z, z, z, z, z, z, z, ptrs[5], p, splat(b, shift), mapped)
    return token0_frequency(b, b.extract_element(c, ir.Constant(I32, 0)), ptrs[4], tstride)


def _flat_step(b, ptrs, nbrs, x, pos, prevt, bad, end, live, c16, p, shift, tstride, lo, hi,
               folds, mapped, f0):
    """:func:`plane_value`; where every lane's neighbours and residuals are 0 (a blank
    background) and every lane decodes token 0 of that context (its slot below ``f0``), the
    value 0 (MED's prediction, and token 0's residual) with no MED, activity, map or token
    work, and no read where no lane renormalises (a frequent token shrinks the states little).

    On MNIST 34.5% of steps (groups of 16 random images) take it. Kernel time, two new random
    batches of 256 a call with the L2 cold, 31 paired calls, bit-exact: x0.876-0.896 for the
    context alone, x0.98-0.99 more for this token-0 step, x0.97-0.98 more without the reads;
    x0.858 in all. The uniform short cut it replaces (one scalar load of token 0's
    frequency where all 16 lanes shared a context) then read x0.97-1.02: removed."""
    some = nbrs[0]
    for v in nbrs[1:]:
        some = b.or_(some, v)
    away = b.or_(b.icmp_unsigned("!=", some, const(0)),
                 b.icmp_unsigned(">=", b.and_(x, const((1 << PROB_BITS) - 1)), f0))
    fast, slow, join = (b.append_basic_block(s) for s in ("flat", "general", "valued"))
    b.cbranch(any_true(b, away), slow, fast)
    b.position_at_end(fast)
    ppl, prs, prec = ptrs[:3]
    x1, pos1 = token0_state(b, x, f0, pos, prec, end, start=LOSSLESS_START)
    vlo, vhi, zero = splat(b, lo), splat(b, hi), const(0)
    # the general path's range test, and its value kept in range
    out = b.or_(b.icmp_signed("<", zero, vlo), b.icmp_signed(">", zero, vhi))
    kept = smax(b, smin(b, zero, vhi), vlo)
    store(b, kept, ppl, c16)
    store(b, zero, prs, c16)
    fast_out = [b.select(live, x1, x), b.select(live, pos1, pos), zero, zero,
                b.select(live, b.or_(bad, b.zext(out, x.type)), bad), kept]
    fast_end = b.block
    b.branch(join)
    b.position_at_end(slow)
    slow_out = plane_value(b, ptrs, nbrs, x, pos, prevt, bad, end, live, c16, p, shift, tstride,
                           lo, hi, folds, mapped)
    slow_end = b.block
    b.branch(join)
    b.position_at_end(join)
    return tuple(merge(b, fast_out, fast_end, slow_out, slow_end))


def vmed(b, w, n, nw):
    """MED in every lane: the median of ``w``, ``n`` and ``w + n - nw``."""
    return smax(b, smin(b, w, n), smin(b, smax(b, w, n), b.sub(b.add(w, n), nw)))


def unzigzag(b, v):
    """Each lane's code ``v >= 0`` back to its signed value: 0, 1, 2, 3, ... -> 0, -1, 1, -2."""
    return b.xor(b.lshr(v, const(1)), b.sub(const(0), b.and_(v, const(1))))


def unfold(b, v, pred, folds, hi):
    """Each lane's residual of code ``v`` predicted as ``pred``: ``pixel_model.unfold`` over
    ``[0, hi]`` where ``folds`` (an i1: the plane is not YCoCg-R's), else zigzag."""
    room = b.sub(hi, pred)
    k = b.select(folds, smin(b, pred, room), const(1 << 29))  # 2k > any code: zigzag alone
    far = b.sub(v, k)
    far = b.select(b.icmp_signed("<", pred, room), far, b.sub(const(0), far))
    return b.select(b.icmp_signed("<=", v, b.add(k, k)), unzigzag(b, v), far)


def _lane_state(b, st):
    """The lanes' (x, pos, previous plane's token, bad, end, live) from ``state``."""
    live = b.icmp_signed("!=", load(b, st, at(ST_ACT)), const(0))
    return (load(b, st, at(ST_X)), load(b, st, at(ST_POS)), load(b, st, at(ST_PREV)),
            load(b, st, at(ST_BAD)), load(b, st, at(ST_END)), live)


def _store_state(b, st, x, pos, prevt, bad):
    """Back into ``state``: what :func:`_lane_state` read, less the ends and ``live``."""
    for k, v in ((ST_X, x), (ST_POS, pos), (ST_PREV, prevt), (ST_BAD, bad)):
        store(b, v, st, at(k))


@intrinsic
def lane_step(typingctx, state, pl, rs, rec, coarse, cum, luts, ci, pi, p, shift, tstride, lo, hi,
              folds):
    """Decode plane ``p``'s value at ring entry ``ci`` (the entry above: ``pi``) in every lane
    (``folds``: the plane's codes are folded)."""
    sig = types.void(state, pl, rs, rec, coarse, cum, luts, ci, pi, p, shift, tstride, lo, hi,
                     folds)

    def codegen(context, b, sig, args):
        st, *ptrs = data_pointers(context, b, sig, args, 7)
        ptrs[3] = packed_arg(context, b, sig, args, 4)
        ci, pi, p, shift, tstride, lo, hi, folds = args[7:]
        x, pos, prevt, bad, end, live = _lane_state(b, st)
        x, pos, _, t, bad, _ = _plane_step(b, ptrs, x, pos, prevt, bad, end, live, ci, pi, p,
                                           shift, tstride, lo, hi, folds,
                                           lut_mapped(context, b, sig, args, 6))
        _store_state(b, st, x, pos, t, bad)
        return context.get_dummy_value()
    return sig, codegen


@intrinsic
def lane_active(typingctx, state, i, y):
    """Mark the lanes whose record holds pixel ``(y, i)``: 1 in ``state[ST_ACT:]``, else 0."""
    sig = types.void(state, i, y)

    def codegen(context, b, sig, args):
        st = context.make_array(sig.args[0])(context, b, args[0]).data
        inside = b.and_(b.icmp_signed("<", splat(b, args[1]), load(b, st, at(ST_W))),
                        b.icmp_signed("<", splat(b, args[2]), load(b, st, at(ST_H))))
        store(b, b.zext(inside, V32), st, at(ST_ACT))
        return context.get_dummy_value()
    return sig, codegen
