"""The lane decoders' rANS: each lane's token from the slot buckets, the renormalisation and
the token's extra bits, as ``<16 x i32>`` LLVM IR (see ``simd``) inside the lane intrinsics
(``lane_steps``, ``lane_row``, ``ls_lanes``, ``lossy_lane_symbols``).

Each lane reads its own record's stream: a read is clamped inside the record (which holds 4
bytes or more), and from ``LOSSLESS_START`` a lane reads only while its record has a word, so
a corrupt lane's position stays inside its record.
"""

from collections import namedtuple

from llvmlite import ir

from .rans import PROB_BITS, RANS_L
from .simd import I32, I64, any_true, at, const, gather, merge, smax, smin, splat

__all__ = ["Buckets", "PACKED_LO_BITS", "PACKED_SHIFTS", "PACKED_TOKEN_BITS", "WIDE_BITS",
           "WIDE_SHIFTS", "lane_token", "packed_arg", "token0_frequency", "token0_state",
           "token_value"]

_MASK = (1 << PROB_BITS) - 1
#: the lane decoders' slot -> token buckets come in two forms, told apart by their shift (the
#: table's last word). Narrow: 2**shift slots in a 32-bit entry each, a token of the bucket (the
#: one covering most of its slots, ``rans_tables.window_tokens``) and its two cumulative
#: frequencies (``rans_tables.packed_buckets``), so a lane whose slot falls in that token gathers
#: no cumulative frequencies. Against byte buckets of 8 slots (the first token alone), 4-slot
#: packed buckets took kernel time x0.91 on MNIST, x0.89 on CIFAR with MED and x0.91 with least
#: squares, lossy CIFAR batches x0.97 (paired runs of 21-41 alternating calls, tables in cache);
#: 8-slot packed x0.93 / x0.96, 2-slot x0.94 and 16-slot x1.00 (MNIST)
PACKED_SHIFTS = (2, 3)
#: Wide: 2**shift slots in two words, the first of three consecutive tokens that cover most of
#: the bucket (``rans_tables.window_tokens``) in the narrow entry's form, then the cumulative
#: frequencies of the two tokens after it (``WIDE_BITS`` each; ``rans_tables.wide_buckets``).
#: One more gather a plane, but 32-slot buckets where 8-slot ones took a lane through ``cum``
#: in 20% of CIFAR's least-squares plane steps take 5%, in half the bytes (384 against 768 KB):
#: kernel x0.83-0.89 (least squares), x0.85 (MED); 16-slot x0.90-0.95 / x0.92-0.97; on MNIST's
#: 512 KB x1.03-1.14 at every size, so small tables stay narrow (``rans_tables.bucket_shift``)
WIDE_SHIFTS = (4, 5)
WIDE_BITS = 13
Buckets = namedtuple("Buckets", "ptr shift wide")
#: bits of a packed entry: the token, then the cumulative frequency below it (< 4096), then the
#: one above it (<= 4096)
PACKED_TOKEN_BITS, PACKED_LO_BITS = 7, 12


def packed_arg(context, b, sig, args, k):
    """The intrinsic's ``k``-th argument, narrow or wide buckets (``rans_tables.lane_buckets``),
    as :class:`Buckets`: its data, its buckets' shift (its last word) in every lane and whether
    they are wide."""
    arr = context.make_array(sig.args[k])(context, b, args[k])
    last = b.load(b.gep(arr.data, [b.sub(arr.nitems, ir.Constant(arr.nitems.type, 1))]))
    wide = b.icmp_signed(">=", last, ir.Constant(last.type, WIDE_SHIFTS[0]))
    return Buckets(arr.data, splat(b, last), wide)


def lane_token(b, x, c, coarse, cum, tstride):
    """rANS-decode one token in context ``c`` through the narrow or wide buckets ``coarse`` (a
    :class:`Buckets`): (token, state before renormalisation). A lane whose slot lies outside
    its bucket's tokens steps through ``cum``, up or down, in the lanes that need it, until its
    slot lies within a token's cumulative frequencies (a corrupt lane's slot is still one of
    the context's 4096, so it stops there too)."""
    slot = b.and_(x, const(_MASK))
    bucket = b.add(b.shl(c, b.sub(const(PROB_BITS), coarse.shift)), b.lshr(slot, coarse.shift))
    with b.if_else(coarse.wide) as (wide, narrow):
        with wide:
            at8 = b.shl(bucket, const(3))
            tw, low, hiw = _unpack(b, gather(b, coarse.ptr, at8))
            above = gather(b, coarse.ptr, b.add(at8, const(4)))
            c2 = b.and_(above, const((1 << WIDE_BITS) - 1))
            c3 = b.lshr(above, const(WIDE_BITS))
            u1, u2 = b.icmp_unsigned(">=", slot, hiw), b.icmp_unsigned(">=", slot, c2)
            tw = b.add(b.add(tw, b.zext(u1, tw.type)), b.zext(u2, tw.type))
            low, hiw = (b.select(u2, c2, b.select(u1, hiw, low)),
                        b.select(u2, c3, b.select(u1, c2, hiw)))
            from_wide = b.block
        with narrow:
            tn, lon, hin = _unpack(b, gather(b, coarse.ptr, b.shl(bucket, const(2))))
            from_narrow = b.block
    t0, lo0, hi0 = merge(b, (tw, low, hiw), from_wide, (tn, lon, hin), from_narrow)
    t1, out0 = _step(b, t0, slot, lo0, hi0)
    row = b.mul(c, splat(b, tstride))
    pre = b.block
    look, found = b.append_basic_block("step"), b.append_basic_block("found")
    b.cbranch(any_true(b, out0), look, found)
    b.position_at_end(look)  # while slot is outside [cum[t], cum[t + 1]): step towards it
    t = b.phi(t0.type)
    t.add_incoming(t1, pre)
    pair = gather(b, cum, b.shl(b.add(row, t), const(1)))  # cum[t] and cum[t + 1]
    lo, hi = b.and_(pair, const(0xFFFF)), b.lshr(pair, const(16))
    t_next, out = _step(b, t, slot, lo, hi)
    t.add_incoming(t_next, look)
    loop_end = b.block
    b.cbranch(any_true(b, out), look, found)
    b.position_at_end(found)
    tf, lof, hif = (b.phi(t0.type) for _ in range(3))
    for ph, first, stepped in ((tf, t0, t), (lof, lo0, lo), (hif, hi0, hi)):
        ph.add_incoming(first, pre)
        ph.add_incoming(stepped, loop_end)
    return tf, b.add(b.mul(b.sub(hif, lof), b.lshr(x, const(PROB_BITS))), b.sub(slot, lof))


def _unpack(b, e):
    """A narrow entry's (token, cumulative frequency below it, the one above it)."""
    return (b.and_(e, const((1 << PACKED_TOKEN_BITS) - 1)),
            b.and_(b.lshr(e, const(PACKED_TOKEN_BITS)), const((1 << PACKED_LO_BITS) - 1)),
            b.lshr(e, const(PACKED_TOKEN_BITS + PACKED_LO_BITS)))


def _step(b, t, slot, lo, hi):
    """(``t`` moved one token towards each lane's slot, whether the slot lies outside ``[lo,
    hi)``), ``lo`` and ``hi`` token ``t``'s cumulative frequencies. ``t`` stays a token: the
    slot lies above the last one's ``hi`` (4096) or below the first one's ``lo`` (0) never."""
    up, down = b.icmp_unsigned(">=", slot, hi), b.icmp_unsigned("<", slot, lo)
    return b.sub(b.add(t, b.zext(up, t.type)), b.zext(down, t.type)), b.or_(up, down)


def _read_word(b, rec, pos, end):
    """Each lane's 16-bit word at ``min(pos, end - 2)``: the 32 bits two bytes earlier, shifted
    (``pos >= start + 4``, so the four bytes read lie inside the record)."""
    q = smin(b, pos, b.sub(end, const(2)))
    return b.lshr(gather(b, rec, b.sub(q, const(2))), const(16))


def _read_words(b, rec, pos, end):
    """(the word :func:`_read_word` reads at ``pos``, the one it would read at ``pos + 2``)
    from one gather of the four bytes at ``min(pos, end - 4)`` (records hold 4 bytes or more)."""
    q = smin(b, pos, b.sub(end, const(4)))
    bits = gather(b, rec, q)
    d = b.shl(smin(b, b.sub(pos, q), const(2)), const(3))
    return b.and_(b.lshr(bits, d), const(0xFFFF)), b.lshr(bits, const(16))


def token0_frequency(b, c0, cum, tstride):
    """Token 0's frequency in context ``c0`` (a scalar), in every lane: ``cum[c0, 0]`` (0) and
    ``cum[c0, 1]`` as one 32-bit load."""
    row = b.mul(b.sext(c0, I64), tstride)
    pair = b.load(b.bitcast(b.gep(cum, [b.shl(row, at(1))]), I32.as_pointer()), align=1)
    return splat(b, b.lshr(pair, ir.Constant(I32, 16)))


def token0_state(b, x, f0, pos, rec, end, start=RANS_L):
    """Each lane's ``(x, pos)`` after decoding token 0 (frequency ``f0``, the cumulative
    frequency below it 0: every lane's slot must lie below ``f0``) and renormalising; token 0
    has no extra bits."""
    x = b.add(b.mul(f0, b.lshr(x, const(PROB_BITS))), b.and_(x, const(_MASK)))
    # a frequent token shrinks the states little: where no lane renormalises (none is below
    # RANS_L), no read (MNIST kernel x0.97-0.98, paired runs)
    pre = b.block
    with b.if_then(any_true(b, b.icmp_unsigned("<", x, const(RANS_L)))):
        word, _ = _read_words(b, rec, pos, end)
        x_read, pos_read, _ = _renormalise(b, x, pos, word, end, start)
        read = b.block
    return merge(b, (x, pos), pre, (x_read, pos_read), read)


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
    merged = merge(b, vals, pre, first, after)
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
