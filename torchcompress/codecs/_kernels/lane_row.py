"""The lossless lane decoder's rows for one- and three-plane records: a whole row in one loop.

``lane_step`` decodes one plane's value and goes through ``state`` and the
rings in memory between calls. For the usual images (one plane, or RGB) these
intrinsics run a whole row of every lane as one loop of vector IR: the lanes'
rANS states, stream positions and bad flags stay in registers, and so do each
plane's neighbours (the value just decoded is the next pixel's W, the row
above's N and NE become the next pixel's NW and N), so a step loads only the
NE entries of the row above. Each plane's context bins are fixed as the kernel
compiles, and the pixel goes into ``row`` from the values just decoded
(the colour transform undone for colour records), as ``lane_emit`` would write it.
"""

from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from .lane_output import lane_colour_inverse
from .lane_coder import packed_arg
from .lane_steps import (ST_BAD, ST_END, ST_H, ST_POS, ST_W, ST_X, data_pointers, flat_frequency,
                         lut_mapped, plane_value)
from .simd import I32, I64, LANES, at, const, load, splat, store

I1 = ir.IntType(1)

__all__ = ["close_row_loop", "lane_row1", "lane_row3", "open_row_loop"]


def _row_intrinsic(planes: int):
    """The row intrinsic for records of ``planes`` planes (see the module docstring)."""

    def lane_row(typingctx, state, pl, rs, rec, coarse, cum, luts, lo, hi, row, cb, pb, stride,
                 shift, tstride, w, y, colour, maxv):
        sig = types.void(state, pl, rs, rec, coarse, cum, luts, lo, hi, row, cb, pb, stride,
                         shift, tstride, w, y, colour, maxv)

        def codegen(context, b, sig, args):
            st, *ptrs, plo, phi, prow = data_pointers(context, b, sig, args, 10)
            ptrs[3] = packed_arg(context, b, sig, args, 4)
            cb, pb, stride, shift, tstride, w, y, colour, maxv = args[10:]
            ppl, prs = ptrs[:2]
            end, wv = load(b, st, at(ST_END)), load(b, st, at(ST_W))
            in_rows = b.icmp_signed("<", splat(b, y), load(b, st, at(ST_H)))
            bounds = [(b.load(b.gep(plo, [at(p)])), b.load(b.gep(phi, [at(p)])))
                      for p in range(planes)]
            is_colour = b.icmp_signed("!=", colour, ir.Constant(colour.type, 0))
            # one plane: plane 0's map, where the LUTs carry one; three: never (they go the
            # other way with a map)
            mapped = lut_mapped(context, b, sig, args, 6) if planes == 1 else None
            # one plane: blank backgrounds straight to 0 (``lane_steps._flat_step``)
            flat = flat_frequency(b, ptrs, 0, shift, tstride, mapped) if planes == 1 else None
            # what the loop carries: x, pos, bad, then per plane W, N, NW, |W|, |N|, |NW| residuals
            first = [load(b, st, at(ST_X)), load(b, st, at(ST_POS)), load(b, st, at(ST_BAD))]
            for p in range(planes):
                c16 = b.mul(b.add(cb, b.mul(stride, at(p))), at(LANES))
                p16 = b.mul(b.add(pb, b.mul(stride, at(p))), at(LANES))
                west, nw = b.sub(c16, at(LANES)), b.sub(p16, at(LANES))
                first += [load(b, ppl, west), load(b, ppl, p16), load(b, ppl, nw),
                          load(b, prs, west), load(b, prs, p16), load(b, prs, nw)]
            i, carried, loop, done = open_row_loop(b, first)
            x, pos, bad = carried[:3]
            live = b.and_(in_rows, b.icmp_signed("<", splat(b, i), wv))
            prevt, after, vals = const(0), [], []
            for p in range(planes):
                w0, n0, nw0, rw0, rn0, rnw0 = carried[3 + 6 * p:9 + 6 * p]
                step = b.add(b.mul(stride, at(p)), i)
                c16 = b.mul(b.add(cb, step), at(LANES))
                ne16 = b.mul(b.add(b.add(pb, step), at(1)), at(LANES))
                ne, rne = load(b, ppl, ne16), load(b, prs, ne16)
                lo, hi = bounds[p]
                x, pos, ar, prevt, bad, v = plane_value(
                    b, ptrs, (w0, n0, nw0, ne, rw0, rn0, rnw0, rne), x, pos, prevt, bad, end,
                    live, c16, p, shift, tstride, lo, hi, b.not_(is_colour), mapped, flat)
                after += [v, ne, n0, ar, rne, rn0]  # the next pixel's W, N, NW and residuals
                vals.append(v)
            dst = [b.mul(b.add(b.mul(at(p), w), i), at(LANES)) for p in range(planes)]
            if planes == 3:  # the colour transform undone for colour records, else the planes
                rgb, out = lane_colour_inverse(b, *vals, colour, maxv)
                vals = [b.select(is_colour, c, v) for c, v in zip(rgb, vals)]
                # a live lane whose pixel leaves [0, maxv] gets its bad flag
                bad = b.or_(bad, b.select(b.and_(live, _splat_bool(b, is_colour)), out, const(0)))
            for p in range(planes):
                store(b, vals[p], prow, dst[p])
            close_row_loop(b, st, i, carried, [x, pos, bad] + after, w, loop, done)
            return context.get_dummy_value()
        return sig, codegen
    lane_row.__name__ = f"lane_row{planes}"
    lane_row.__qualname__ = lane_row.__name__
    return intrinsic(lane_row)


def open_row_loop(b, first):
    """Start a loop over a row's pixels ``i`` (an i64 from 0) that carries ``first``: the lanes'
    state, position and bad flags, then whatever the row keeps in registers; returns (``i``,
    the carried values' phis, the loop block, the block after it)."""
    pre = b.block
    loop, done = b.append_basic_block("row"), b.append_basic_block("row_done")
    b.branch(loop)
    b.position_at_end(loop)
    i = b.phi(I64)
    i.add_incoming(ir.Constant(I64, 0), pre)
    carried = [b.phi(v.type) for v in first]
    for ph, v in zip(carried, first):
        ph.add_incoming(v, pre)
    return i, carried, loop, done


def close_row_loop(b, st, i, carried, values, w, loop, done):
    """Close :func:`open_row_loop`'s loop: ``values`` for the next pixel while ``i + 1 < w``,
    then the lanes' state, position and bad flags (``values[:3]``) back into ``state``."""
    nxt = b.add(i, at(1))
    latch = b.block
    i.add_incoming(nxt, latch)
    for ph, v in zip(carried, values):
        ph.add_incoming(v, latch)
    b.cbranch(b.icmp_signed("<", nxt, w), loop, done)
    b.position_at_end(done)
    for k, v in zip((ST_X, ST_POS, ST_BAD), values[:3]):
        store(b, v, st, at(k))


def _splat_bool(b, flag):
    """An i1 scalar in every lane of a ``<16 x i1>`` mask."""
    vt = ir.VectorType(I1, LANES)
    v = b.insert_element(ir.Constant(vt, ir.Undefined), flag, ir.Constant(I32, 0))
    return b.shuffle_vector(v, ir.Constant(vt, ir.Undefined),
                            ir.Constant(ir.VectorType(I32, LANES), [0] * LANES))


lane_row1 = _row_intrinsic(1)
lane_row3 = _row_intrinsic(3)
