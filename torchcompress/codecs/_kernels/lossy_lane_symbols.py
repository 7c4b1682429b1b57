"""The lossy decoder's symbols in 16 lanes: one record per lane, each at its own place.

The scalar decoder (``lossy_decode``) is one serial chain per symbol, about
90 instructions each. Here lane ``l`` of every vector walks record ``l``'s
symbols as a small state machine (a block's ``last``, its DC, its AC
coefficients, then the next block), so every step decodes one symbol in each
of the sixteen lanes, whatever part of its record each lane is in: a lane
only idles once its record is done. The block model is ``block_model``'s, in
vector IR; the quantised blocks go to each lane's region of ``qc``, and the
caller (``lossy_lanes``) dequantises and inverse-transforms them.

A lane's region holds rows of ``ROW`` int32: the 64 quantised coefficients in
raster order (row * 8 + column, so the caller dequantises a block as one
vector loop) and the block's ``last``; row 0 stays zero (a missing neighbour)
and block ``k`` of the record is row ``k + 1``. Coefficients at zigzag
positions at or after a row's ``last`` must be zero when the record starts
(the caller clears each block's coefficients once it has used them), as the
scalar decoder's stale clearing keeps them.

Safety: every stream read is clamped inside the record (records of 5 bytes or
more, in a payload under 2 GiB), a lane's position stops at its end + 2,
``last`` is kept to 64 and a DC to ``maxq`` (with the bad flag), so no table
index or row leaves its array, and every step moves each live lane's state
machine on, so the loop ends after at most 65 steps a block.
"""

import numpy as np
from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from .block_model import (AC_BASE, BAND_LUT, BANDS, DC_BASE, DC_BINS, LAST_BINS, MAG_BINS,
                          NB_BINS, ZIGZAG)
from .lane_coder import lane_token, packed_arg, token_value
from .lane_steps import PERMUTES, data_pointers, unzigzag, vmed
from .rans import LOSSY_DIRECT
from .simd import (LANES, V32, any_true, at, const, gather, load, lookup128, scatter, smax, smin,
                   splat, store, vabs)

__all__ = ["LANE_STATE", "LUTS", "ROW", "SL_BAD", "SL_BASE", "SL_END", "SL_NBT", "SL_NBX", "SL_NBY",
           "SL_POS", "SL_X", "lossy_lane_symbols"]

#: a block's row in a lane's region: 64 coefficients, then its ``last``
ROW = 65
SL_X, SL_POS, SL_END, SL_BAD, SL_BASE, SL_NBX, SL_NBY, SL_NBT = (k * LANES for k in range(8))
#: the (LANE_STATE,) int32 lane state: rANS states (uint32 bits), positions, record ends, bad
#: flags, region starts (in elements of ``qc``), blocks per row and column, blocks in all
LANE_STATE = 8 * LANES
_LAST, _DC, _AC, _DONE = 0, 1, 2, 3
#: ZIGZAG, then each zigzag position's AC band, as int32: what the steps gather where the CPU
#: has no byte permutes
LUTS = np.concatenate([ZIGZAG, BAND_LUT]).astype(np.int32)


def _ctlz(b, v):
    fn_name = "llvm.ctlz.v16i32"
    fn = b.module.globals.get(fn_name) or ir.Function(
        b.module, ir.FunctionType(V32, [V32, ir.IntType(1)]), name=fn_name)
    return b.call(fn, [v, ir.Constant(ir.IntType(1), 0)])


def _bin_log(b, v, top):
    """``block_model._bin_log``: 0 for 0, else 1 + ceil(log2 v), capped at ``top``."""
    bins = b.sub(const(33), _ctlz(b, b.sub(v, const(1))))
    return b.select(b.icmp_signed("<=", v, const(0)), const(0), smin(b, bins, const(top)))


def _lookup64(b, z, table, plut, at_entry):
    """``table[min(z, 63)]`` in every lane: a byte permute in registers where the CPU has one,
    else a gather from ``LUTS`` (which holds ``table`` from entry ``at_entry``)."""
    z = smin(b, z, const(63))  # a LAST step carries the block before's last, up to 64
    if PERMUTES:
        return lookup128(b, z, table)
    return gather(b, plut, b.shl(b.add(z, const(at_entry)), const(2)))


def _step(b, ptrs, lanes, carried, tstride, maxq):
    """One symbol in every live lane: returns the carried vectors after it."""
    pqc, prec, pco, pcum, plut = ptrs
    end, base, nbx, nby, nbt = lanes
    x, pos, bad, ph, blk, bx, by, p, z, last, prev1, prev2 = carried
    sel = b.select
    eq = lambda u, v: b.icmp_signed("==", u, v)  # noqa: E731
    active = b.icmp_signed("!=", ph, const(_DONE))
    is_l, is_d, is_a = eq(ph, const(_LAST)), eq(ph, const(_DC)), eq(ph, const(_AC))
    row = b.add(blk, const(1))
    has_l, has_a = b.icmp_signed(">", bx, const(0)), b.icmp_signed(">", by, const(0))
    lrow = sel(has_l, b.sub(row, const(1)), const(0))
    arow = sel(has_a, b.sub(row, nbx), const(0))
    alrow = sel(b.and_(has_l, has_a), b.sub(b.sub(row, nbx), const(1)), const(0))
    col = sel(is_l, const(ROW - 1), sel(is_a, _lookup64(b, z, ZIGZAG, plut, 0), const(0)))

    def at_row(r, c):  # byte offset of element (r, c) of the lane's region
        return b.shl(b.add(base, b.add(b.mul(r, const(ROW)), c)), const(2))
    nl = gather(b, pqc, at_row(lrow, col), active)
    na = gather(b, pqc, at_row(arow, col), active)
    nal = gather(b, pqc, at_row(alrow, const(0)), is_d)
    pc = b.zext(b.icmp_signed(">", p, const(0)), V32)  # plane class: 0 first plane, 1 others
    # block_model.last_context, dc_context and ac_context, every lane all three
    c_last = b.add(b.mul(pc, const(LAST_BINS)),
                   _bin_log(b, b.ashr(b.add(b.add(nl, na), const(1)), const(1)), LAST_BINS - 1))
    g = b.add(vabs(b, b.sub(nl, nal)), vabs(b, b.sub(na, nal)))
    c_dc = b.add(const(DC_BASE), b.add(b.mul(pc, const(DC_BINS)), _bin_log(b, g, DC_BINS - 1)))
    s = b.add(prev1, prev2)
    m = b.add(smin(b, s, const(3)), b.zext(b.icmp_signed(">=", s, const(5)), V32))
    nbm = smin(b, b.add(vabs(b, nl), vabs(b, na)), const(NB_BINS - 1))
    band = _lookup64(b, z, BAND_LUT, plut, 64)
    c_ac = b.add(b.mul(b.add(b.mul(pc, const(BANDS)), band), const(MAG_BINS)), m)
    c_ac = b.add(const(AC_BASE), b.add(b.mul(c_ac, const(NB_BINS)), nbm))
    c = sel(is_l, c_last, sel(is_d, c_dc, c_ac))
    # a block with last == 0 sends no DC: its DC step takes the prediction and reads nothing
    takes = b.and_(active, b.not_(b.and_(is_d, eq(last, const(0)))))
    t, x1 = lane_token(b, x, c, pco, pcum, tstride)
    x1, pos1, code = token_value(b, t, x1, pos, prec, end, LOSSY_DIRECT, takes)
    x, pos = sel(takes, x1, x), sel(takes, pos1, pos)
    # the symbol's value, by phase
    last_v = smin(b, code, const(64))
    dc = b.add(vmed(b, nl, na, nal),
               sel(eq(last, const(0)), const(0),
                   unzigzag(b, b.add(code, b.zext(eq(last, const(1)), V32)))))
    dc_out = b.or_(b.icmp_signed(">", dc, splat(b, maxq)),
                   b.icmp_signed("<", dc, b.sub(const(0), splat(b, maxq))))
    dc = smax(b, smin(b, dc, splat(b, maxq)), b.sub(const(0), splat(b, maxq)))
    final = eq(b.add(z, const(1)), last)
    ca = b.add(code, b.zext(final, V32))
    val = sel(is_l, last_v, sel(is_d, dc, unzigzag(b, ca)))
    scatter(b, val, pqc, at_row(row, col), active)
    flag = b.or_(b.and_(is_l, b.icmp_signed(">", code, const(64))), b.and_(is_d, dc_out))
    bad = b.or_(bad, b.zext(b.and_(active, flag), V32))
    # the next state: the block ends after its DC (last <= 1) or its final AC symbol
    ends = b.or_(b.and_(is_d, b.icmp_signed("<=", last, const(1))), b.and_(is_a, final))
    bx1 = b.add(bx, const(1))
    wrap_x = eq(bx1, nbx)
    by1 = b.add(by, b.zext(wrap_x, V32))
    wrap_y = eq(by1, nby)
    nxt = b.add(blk, const(1))
    after = sel(ends, sel(eq(nxt, nbt), const(_DONE), const(_LAST)), const(_AC))
    ph = sel(active, sel(is_l, const(_DC), after), ph)
    return [x, pos, bad, ph, sel(ends, nxt, blk), sel(ends, sel(wrap_x, const(0), bx1), bx),
            sel(ends, sel(wrap_y, const(0), by1), by),
            sel(ends, b.add(p, b.zext(wrap_y, V32)), p), sel(is_d, const(1), b.add(z, const(1))),
            sel(is_l, last_v, last), sel(is_a, b.ashr(b.add(ca, const(1)), const(1)), const(0)),
            sel(is_a, prev1, const(0))]


@intrinsic
def lossy_lane_symbols(typingctx, state, qc, rec, coarse, cum, luts, tstride, maxq):
    """Decode every symbol of the sixteen records ``state`` describes into their regions of
    ``qc`` (see the module docstring); ``state``'s x, position and bad flag are updated."""
    sig = types.void(state, qc, rec, coarse, cum, luts, tstride, maxq)

    def codegen(context, b, sig, args):
        st, *ptrs = data_pointers(context, b, sig, args, 6)
        ptrs[2] = packed_arg(context, b, sig, args, 3)
        tstride, maxq = args[6:]
        lanes = [load(b, st, at(k)) for k in (SL_END, SL_BASE, SL_NBX, SL_NBY, SL_NBT)]
        nbt = lanes[-1]
        first = [load(b, st, at(SL_X)), load(b, st, at(SL_POS)), load(b, st, at(SL_BAD)),
                 b.select(b.icmp_signed(">", nbt, const(0)), const(_LAST), const(_DONE))]
        first += [const(0)] * 8  # block, its column and row, plane, z, last, two magnitudes
        pre = b.block
        head, body, done = (b.append_basic_block(s) for s in ("symbols", "symbol", "records_done"))
        b.branch(head)
        b.position_at_end(head)
        carried = [b.phi(V32) for _ in first]
        for phi, v in zip(carried, first):
            phi.add_incoming(v, pre)
        b.cbranch(any_true(b, b.icmp_signed("!=", carried[3], const(_DONE))), body, done)
        b.position_at_end(body)
        nxt = _step(b, ptrs, lanes, carried, tstride, maxq)
        latch = b.block
        for phi, v in zip(carried, nxt):
            phi.add_incoming(v, latch)
        b.branch(head)
        b.position_at_end(done)
        for k, v in ((SL_X, carried[0]), (SL_POS, carried[1]), (SL_BAD, carried[2])):
            store(b, v, st, at(k))
        return context.get_dummy_value()
    return sig, codegen

