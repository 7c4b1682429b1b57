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
values, and the values it stores are kept inside the plane's range.
"""

from collections import namedtuple

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from .pixel_model import ACT_LUT, CTX_PER_CLASS, LEVEL_LUT, Q_LUT, TEXTURES
from .rans import LOSSLESS_DIRECT, LOSSLESS_START, PROB_BITS, RANS_L
from .simd import (I32, I64, LANES, V32, any_true, at, byte_permutes, const, gather, load,
                   lookup128, smax, smin, splat, store, vabs)

__all__ = ["ACT_TOP", "Buckets", "LUTS", "PACKED_LO_BITS", "PACKED_SHIFTS", "PACKED_TOKEN_BITS",
           "PERMUTES", "STATE", "ST_ACT", "ST_BAD", "ST_END", "ST_H", "ST_POS", "ST_PREV", "ST_W",
           "ST_X", "activity_bin", "data_pointers", "lane_active", "lane_step", "lane_token",
           "level_bin", "lut_mapped", "packed_arg", "plane_value", "prev_bin", "token_value",
           "unfold", "unzigzag", "vmed"]

#: ACT_LUT, LEVEL_LUT and Q_LUT end to end, as int32 (what the gathers read where the CPU
#: has no byte permutes; LEVEL_LUT's bins are computed)
LUTS = np.concatenate([ACT_LUT, LEVEL_LUT, Q_LUT]).astype(np.int32)
ST_X, ST_POS, ST_PREV, ST_BAD, ST_END, ST_W, ST_H, ST_ACT = (k * LANES for k in range(8))
STATE = 8 * LANES
_MASK = (1 << PROB_BITS) - 1
#: the lane decoders' slot -> token buckets hold 2**shift slots in a 32-bit entry each: the
#: bucket's first token and its two cumulative frequencies (``lossless_tables.packed_buckets``,
#: whose last word is the shift), so a lane whose slot falls in that token gathers no cumulative
#: frequencies. Against byte buckets of 8 slots (the first token alone), 4-slot packed buckets
#: took kernel time x0.91 on MNIST, x0.89 on CIFAR with MED and x0.91 with least squares, lossy
#: CIFAR batches x0.97 (paired runs of 21-41 alternating calls, tables in cache); 8-slot packed
#: x0.93 / x0.96, 2-slot x0.94 and 16-slot x1.00 (MNIST). Tables past the L2 take 8 slots
#: (``lossless_tables.bucket_shift``)
PACKED_SHIFTS = (2, 3)
Buckets = namedtuple("Buckets", "ptr shift")
#: bits of a packed entry: the token, then the cumulative frequency below it (< 4096), then the
#: one above it (<= 4096)
PACKED_TOKEN_BITS, PACKED_LO_BITS = 7, 12
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


def _read_word(b, rec, pos, end):
    """Each lane's 16-bit word at ``min(pos, end - 2)``: the 32 bits two bytes earlier, shifted
    (``pos >= start + 4``, so the four bytes read lie inside the record)."""
    q = smin(b, pos, b.sub(end, const(2)))
    return b.lshr(gather(b, rec, b.sub(q, const(2))), const(16))


def _context(b, w, n, nw, ne, rw, rn, rnw, rne, prevt, pred, lut, p, shift, mapped):
    """``pixel_model.context`` in every lane (``mapped``: an i1, ``lut`` carries the archive's
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


def packed_arg(context, b, sig, args, k):
    """The intrinsic's ``k``-th argument, packed buckets (``lossless_tables.packed_buckets``),
    as :class:`Buckets`: its data and its buckets' shift (its last word) in every lane."""
    arr = context.make_array(sig.args[k])(context, b, args[k])
    last = b.load(b.gep(arr.data, [b.sub(arr.nitems, ir.Constant(arr.nitems.type, 1))]))
    return Buckets(arr.data, splat(b, last))


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


def lane_token(b, x, c, coarse, cum, tstride):
    """rANS-decode one token in context ``c`` through the packed buckets ``coarse`` (a
    :class:`Buckets`): (token, state before renormalisation). A lane whose slot lies past its
    bucket's first token steps on through ``cum``, in the lanes that need it, until its slot is
    below the next token's cumulative frequency."""
    slot = b.and_(x, const(_MASK))
    bucket = b.add(b.shl(c, b.sub(const(PROB_BITS), coarse.shift)), b.lshr(slot, coarse.shift))
    e = gather(b, coarse.ptr, b.shl(bucket, const(2)))
    t0 = b.and_(e, const((1 << PACKED_TOKEN_BITS) - 1))
    lo0 = b.and_(b.lshr(e, const(PACKED_TOKEN_BITS)), const((1 << PACKED_LO_BITS) - 1))
    hi0 = b.lshr(e, const(PACKED_TOKEN_BITS + PACKED_LO_BITS))
    adv0 = b.icmp_unsigned(">=", slot, hi0)
    t1 = b.add(t0, b.zext(adv0, t0.type))
    row = b.mul(c, splat(b, tstride))
    pre = b.block
    up, found = b.append_basic_block("up"), b.append_basic_block("found")
    b.cbranch(any_true(b, adv0), up, found)
    b.position_at_end(up)  # while slot >= cum[t + 1]: t += 1, in the lanes that need it
    t = b.phi(t0.type)
    t.add_incoming(t1, pre)
    pair = gather(b, cum, b.shl(b.add(row, t), const(1)))  # cum[t] and cum[t + 1]
    lo, hi = b.and_(pair, const(0xFFFF)), b.lshr(pair, const(16))
    adv = b.icmp_unsigned(">=", slot, hi)
    t.add_incoming(b.add(t, b.zext(adv, t0.type)), up)
    loop_end = b.block
    b.cbranch(any_true(b, adv), up, found)
    b.position_at_end(found)
    tf, lof, hif = (b.phi(t0.type) for _ in range(3))
    for ph, first, stepped in ((tf, t0, t), (lof, lo0, lo), (hif, hi0, hi)):
        ph.add_incoming(first, pre)
        ph.add_incoming(stepped, loop_end)
    return tf, b.add(b.mul(b.sub(hif, lof), b.lshr(x, const(PROB_BITS))), b.sub(slot, lof))


def _read_words(b, rec, pos, end):
    """(the word :func:`_read_word` reads at ``pos``, the one it would read at ``pos + 2``)
    from one gather of the four bytes at ``min(pos, end - 4)`` (records hold 4 bytes or more)."""
    q = smin(b, pos, b.sub(end, const(4)))
    bits = gather(b, rec, q)
    d = b.shl(smin(b, b.sub(pos, q), const(2)), const(3))
    return b.and_(b.lshr(bits, d), const(0xFFFF)), b.lshr(bits, const(16))


def _token_maybe_uniform(b, x, c, coarse, cum, tstride, uniform):
    """:func:`lane_token`, or where ``uniform`` and every lane is in one context and decodes its
    token 0 (a flat background), that token from one scalar load of the context's row instead
    of two gathers. Asked for one-plane groups only: on MNIST kernel time x0.93 (paired runs),
    where on RGB the lanes' contexts almost never agree and the check alone costs."""
    slot = b.and_(x, const(_MASK))
    c0 = b.extract_element(c, ir.Constant(I32, 0))
    check, fast, general, join = (b.append_basic_block(s) for s in (
        "uniform?", "token0", "gathered", "token"))
    b.cbranch(b.icmp_unsigned("!=", uniform, ir.Constant(uniform.type, 0)), check, general)
    b.position_at_end(check)
    spread = b.icmp_signed("!=", c, splat(b, c0))
    row = b.mul(b.sext(c0, I64), tstride)  # cum[c0, 0] = 0 and cum[c0, 1], as one 32-bit load
    pair = b.load(b.bitcast(b.gep(cum, [b.shl(row, at(1))]), I32.as_pointer()), align=1)
    f0 = splat(b, b.lshr(pair, ir.Constant(I32, 16)))
    other = b.or_(spread, b.icmp_unsigned(">=", slot, f0))
    b.cbranch(any_true(b, other), general, fast)
    b.position_at_end(fast)
    x0 = b.add(b.mul(f0, b.lshr(x, const(PROB_BITS))), slot)
    b.branch(join)
    b.position_at_end(general)
    t1, x1 = lane_token(b, x, c, coarse, cum, tstride)
    done = b.block
    b.branch(join)
    b.position_at_end(join)
    tp, xp = b.phi(x.type), b.phi(x.type)
    tp.add_incoming(const(0), fast)
    xp.add_incoming(x0, fast)
    tp.add_incoming(t1, done)
    xp.add_incoming(x1, done)
    return tp, xp


def _renormalise(b, x, pos, word, end, start):
    """Each lane's ``(x, pos, whether it read)`` after reading ``word`` where ``x`` is below
    ``2**16``: from ``RANS_L`` a position past the end stays at ``end + 2`` (the group's final
    check, position == end, flags it); from ``LOSSLESS_START`` a lane reads only while its
    record has a word."""
    lim = const(RANS_L)
    if start != RANS_L:  # the bound from ``pos`` alone, off the state's chain (``rans.get_code``)
        lim = b.select(b.icmp_signed("<=", b.add(pos, const(2)), end), lim, const(0))
    need = b.icmp_unsigned("<", x, lim)
    x = b.select(need, b.or_(b.shl(x, const(16)), word), x)
    pos2 = b.add(pos, b.shl(b.zext(need, x.type), const(1)))
    return x, (pos2 if start != RANS_L else smin(b, pos2, b.add(end, const(2)))), need


def _extra_chunk(b, x, pos, v, ne, word, end, start):
    """Up to 8 of each live lane's ``ne`` uniform low bits, renormalising with ``word``."""
    live = b.icmp_signed(">", ne, const(0))
    nb = smin(b, ne, const(8))
    f = b.shl(const(1), b.sub(const(PROB_BITS), nb))
    slot = b.and_(x, const(_MASK))
    x2 = b.add(b.mul(f, b.lshr(x, const(PROB_BITS))), b.and_(slot, b.sub(f, const(1))))
    x2, pos2, _ = _renormalise(b, x2, pos, word, end, start)
    ne2 = b.sub(ne, nb)
    v2 = b.or_(v, b.shl(b.lshr(slot, b.sub(const(PROB_BITS), nb)), ne2))
    return [b.select(live, n, o) for n, o in zip((x2, pos2, v2, ne2), (x, pos, v, ne))]


def _extra_bits(b, x, pos, v, ne, rec, end, word, start):
    """Read the ``ne`` uniform low bits of each lane's value, in chunks of at most 8; the first
    chunk renormalises with ``word`` (the word at ``pos``, already read), the others read."""
    vals = [x, pos, v, ne]
    pre = b.block
    with b.if_then(any_true(b, b.icmp_signed(">", ne, const(0)))):
        first = _extra_chunk(b, x, pos, v, ne, word, end, start)
        after = b.block
    merged = []
    for old, new in zip(vals, first):
        ph = b.phi(x.type)
        ph.add_incoming(old, pre)
        ph.add_incoming(new, after)
        merged.append(ph)
    pre = b.block
    test, body, done = (b.append_basic_block(s) for s in ("extra?", "extra", "value"))
    b.branch(test)
    b.position_at_end(test)
    phis = [b.phi(x.type) for _ in range(4)]
    for ph, val in zip(phis, merged):
        ph.add_incoming(val, pre)
    x, pos, v, ne = phis
    b.cbranch(any_true(b, b.icmp_signed(">", ne, const(0))), body, done)
    b.position_at_end(body)
    new = _extra_chunk(b, x, pos, v, ne, _read_word(b, rec, pos, end), end, start)
    for ph, n in zip(phis, new):
        ph.add_incoming(n, body)
    b.branch(test)
    b.position_at_end(done)
    return x, pos, v


def _plane_step(b, ptrs, x, pos, prevt, bad, end, live, ci, pi, p, shift, tstride, lo, hi,
                uniform, folds, mapped):
    """Plane ``p``'s value at ring entry ``ci`` (the entry above: ``pi``) in every lane, as IR:
    :func:`plane_value` with the neighbours loaded from the rings."""
    ppl, prs = ptrs[:2]
    c16, p16 = b.mul(ci, at(LANES)), b.mul(pi, at(LANES))
    prev_entry, next_entry = (lambda k: b.sub(k, at(LANES))), (lambda k: b.add(k, at(LANES)))
    nbrs = (load(b, ppl, prev_entry(c16)), load(b, ppl, p16), load(b, ppl, prev_entry(p16)),
            load(b, ppl, next_entry(p16)), load(b, prs, prev_entry(c16)), load(b, prs, p16),
            load(b, prs, prev_entry(p16)), load(b, prs, next_entry(p16)))
    return plane_value(b, ptrs, nbrs, x, pos, prevt, bad, end, live, c16, p, shift, tstride,
                       lo, hi, uniform, folds, mapped)


def plane_value(b, ptrs, nbrs, x, pos, prevt, bad, end, live, c16, p, shift, tstride, lo, hi,
                uniform, folds, mapped):
    """Plane ``p``'s value in every lane, its neighbours ``nbrs`` given (the values W, N, NW,
    NE, then their absolute residuals; ``prevt``: the previous plane's tokens); stores the value
    and its absolute residual at element ``c16`` of the rings and returns the lanes' new ``(x,
    pos, |residual|, token, bad)`` (lanes not ``live`` keep their ``x``, ``pos`` and ``bad``)
    and the value stored.

    ``ptrs``: the data pointers of ``pl``, ``rs``, ``rec``, ``coarse`` (a :class:`Buckets`),
    ``cum`` and ``luts``;
    ``p``: an i64 value, or a Python int when the plane is known as the kernel compiles (its
    bins then take no branch); ``uniform``: an i1 value asking for
    :func:`_token_maybe_uniform`'s short cut, or None (never); ``folds``: an i1, the plane's
    codes are folded (:func:`unfold`); ``mapped``: an i1 from :func:`lut_mapped`."""
    ppl, prs, prec, pco, pcum, plut = ptrs
    w, n, nw, ne, rw, rn, rnw, rne = nbrs
    x0, pos0, bad0 = x, pos, bad
    pred = vmed(b, w, n, nw)
    c = _context(b, w, n, nw, ne, rw, rn, rnw, rne, prevt, pred, plut, p, splat(b, shift),
                 mapped)
    if uniform is None:
        t, x = lane_token(b, x, c, pco, pcum, tstride)
    else:
        t, x = _token_maybe_uniform(b, x, c, pco, pcum, tstride, uniform)
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


def token_value(b, t, x, pos, rec, end, direct, live=None, start=RANS_L):
    """Each lane's value of token ``t`` (``x``: the state after :func:`lane_token`; ``direct``:
    the tokens' ``d`` and ``start`` the encoder's start state, as in ``rans``): renormalise,
    then read the token's extra bits (lanes off in ``live``, when given, read none). Returns
    the new ``(x, pos, value)``."""
    w0, w1 = _read_words(b, rec, pos, end)
    x, pos, need = _renormalise(b, x, pos, w0, end, start)  # one word always suffices here
    nxt = b.select(need, w1, w0)  # the word at the new position
    # rans.token_base: tokens >= 2**direct are an exponent and two bits, then extra bits
    small = b.icmp_signed("<", t, const(1 << direct))
    if live is not None:
        small = b.or_(small, b.not_(live))
    tt = smax(b, b.sub(t, const(1 << direct)), const(0))
    e2 = b.add(b.ashr(tt, const(2)), const(direct - 2))
    v = b.select(small, t, b.shl(b.or_(b.and_(tt, const(3)), const(4)), e2))
    return _extra_bits(b, x, pos, v, b.select(small, const(0), e2), rec, end, nxt, start)


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
              uniform, folds):
    """Decode plane ``p``'s value at ring entry ``ci`` (the entry above: ``pi``) in every lane
    (``uniform``: try :func:`_token_maybe_uniform`'s short cut; ``folds``: the plane's codes
    are folded)."""
    sig = types.void(state, pl, rs, rec, coarse, cum, luts, ci, pi, p, shift, tstride, lo, hi,
                     uniform, folds)

    def codegen(context, b, sig, args):
        st, *ptrs = data_pointers(context, b, sig, args, 7)
        ptrs[3] = packed_arg(context, b, sig, args, 4)
        ci, pi, p, shift, tstride, lo, hi, uniform, folds = args[7:]
        x, pos, prevt, bad, end, live = _lane_state(b, st)
        x, pos, _, t, bad, _ = _plane_step(b, ptrs, x, pos, prevt, bad, end, live, ci, pi, p,
                                           shift, tstride, lo, hi, uniform, folds,
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
