"""The lossless lane decoder's output: sixteen lanes' pixels into each record's rows.

``lane_emit`` undoes the colour transform for one pixel of every lane into the row buffer
``row`` ((P, W, 16) int32, lane ``l`` of pixel ``i`` of plane ``p`` at
``(p * W + i) * 16 + l``); at the end of a row the ``lane_block16`` intrinsics
write sixteen pixels of all sixteen lanes at a time, transposed in registers,
and ``lane_row16`` one lane's sixteen values with one gather (a lane's last,
overlapping, sixteen). :func:`lane_plane_row` drives them for a row of one plane, in
``lossless_lanes.decode_lanes`` and ``ls_lanes.decode_ls_lanes``.
"""

from llvmlite import ir
from numba import njit, types
from numba.extending import intrinsic

from .lane_steps import ST_ACT, ST_BAD, data_pointers
from .pixel_model import COLOUR_SUBTRACT_GREEN
from .simd import I32, I64, LANES, V32, at, const, gather, load, splat, store

__all__ = ["lane_block16", "lane_block16_mixed", "lane_colour_inverse", "lane_emit",
           "lane_plane_row", "lane_row16"]


def lane_colour_inverse(b, yv, co, cg, colour, maxv):
    """The colour transform ``colour`` (an i64, ``pixel_model.COLOUR_*``, one for all lanes)
    undone in every lane: YCoCg-R, or subtract green (``yv, co, cg`` are then G, B - G and
    R - G); returns ((red, green, blue), 1 in the lanes where one of them leaves
    ``[0, maxv]``, else 0)."""
    t = b.sub(yv, b.ashr(cg, const(1)))
    green = b.add(cg, t)
    blue = b.sub(t, b.ashr(co, const(1)))
    red = b.add(blue, co)
    sg = b.icmp_signed("==", colour, ir.Constant(colour.type, COLOUR_SUBTRACT_GREEN))
    red, g, blue = (b.select(sg, v, c) for v, c in
                    ((b.add(cg, yv), red), (yv, green), (b.add(co, yv), blue)))
    vmax, out = splat(b, maxv), const(0)
    for v in (red, g, blue):
        o = b.or_(b.icmp_signed("<", v, const(0)), b.icmp_signed(">", v, vmax))
        out = b.or_(out, b.zext(o, v.type))
    return (red, g, blue), out


@intrinsic
def lane_emit(typingctx, state, pl, row, c0, stride, i, w, nplanes, colour, maxv):
    """Pixel ``i`` of the current row, every lane, into ``row`` ((P, W, 16) int32): planes at
    ring entries ``c0 + p * stride``, the colour transform undone when ``colour`` (a lane
    whose pixel leaves ``[0, maxv]`` gets its bad flag)."""
    sig = types.void(state, pl, row, c0, stride, i, w, nplanes, colour, maxv)

    def codegen(context, b, sig, args):
        st, ppl, prow = data_pointers(context, b, sig, args, 3)
        c0, stride, i, w, nplanes, colour, maxv = args[3:]
        src = lambda p: b.mul(b.add(c0, b.mul(p, stride)), at(LANES))
        dst = lambda p: b.mul(b.add(b.mul(p, w), i), at(LANES))
        is_colour = b.icmp_signed("!=", colour, ir.Constant(colour.type, 0))
        first = b.select(is_colour, at(3), at(0))
        with b.if_then(is_colour):
            rgb, out = lane_colour_inverse(b, *(load(b, ppl, src(at(p))) for p in range(3)),
                                           colour, maxv)
            out = b.and_(out, load(b, st, at(ST_ACT)))  # only inside the lane's record
            store(b, b.or_(load(b, st, at(ST_BAD)), out), st, at(ST_BAD))
            for p, v in enumerate(rgb):
                store(b, v, prow, dst(at(p)))
        pre = b.block  # the planes not in colour: copied
        test, body, done = (b.append_basic_block(s) for s in ("plane?", "plane", "planes_done"))
        b.branch(test)
        b.position_at_end(test)
        p = b.phi(I64)
        p.add_incoming(first, pre)
        b.cbranch(b.icmp_signed("<", p, nplanes), body, done)
        b.position_at_end(body)
        store(b, load(b, ppl, src(p)), prow, dst(p))
        p.add_incoming(b.add(p, at(1)), body)
        b.branch(test)
        b.position_at_end(done)
        return context.get_dummy_value()
    return sig, codegen


def _to_output(context, b, v, dtype):
    """``<16 x i32>`` values as a vector of the output array's element type."""
    elt = context.get_data_type(dtype)
    vt = ir.VectorType(elt, LANES)
    if isinstance(elt, ir.IntType):
        return (b.trunc(v, vt) if elt.width < 32 else b.sext(v, vt) if elt.width > 32 else v), vt
    return b.sitofp(v, vt), vt


def _transpose16(b, rows):
    """Sixteen ``<16 x i32>`` rows of a 16 x 16 matrix, transposed: at each of four steps the
    off-diagonal blocks of size 8, 4, 2, 1 swap between row pairs (64 two-vector shuffles)."""
    rows = list(rows)
    for s in (8, 4, 2, 1):
        lo = ir.Constant(ir.VectorType(I32, LANES), [c if not c & s else LANES + c - s
                                                    for c in range(LANES)])
        hi = ir.Constant(ir.VectorType(I32, LANES), [c + s if not c & s else LANES + c
                                                    for c in range(LANES)])
        for r in range(LANES):
            if not r & s:
                a, c = rows[r], rows[r + s]
                rows[r], rows[r + s] = b.shuffle_vector(a, c, lo), b.shuffle_vector(a, c, hi)
    return rows


def _lane_rows(b, prow, k, code_lo):
    """Sixteen pixels from ``row[k:]`` (each a vector of the sixteen lanes), plus ``code_lo``,
    turned into sixteen vectors of one lane's sixteen pixels each."""
    cl = splat(b, code_lo)
    return _transpose16(b, [b.add(load(b, prow, b.add(k, at(LANES * j))), cl)
                            for j in range(LANES)])


# lane_block16 and lane_block16_mixed differ only in where each lane's vector goes; one
# intrinsic with the per-lane checks for both cost MNIST 5-9% (paired runs), so both stay
@intrinsic
def lane_block16(typingctx, row, k, code_lo, out, offs, g, add, i):
    """For every lane ``l``: ``out[offs[g, l] + add + i + j] = row[k + j * 16 + l] + code_lo``
    for j < 16, i.e. sixteen values of each of the sixteen lanes' rows, transposed in
    registers (a group of one shape; :func:`lane_row16` gathers one lane at a time). Kernel
    time x0.85 on MNIST and x0.94 on CIFAR against the gathers (paired runs)."""
    sig = types.void(row, k, code_lo, out, offs, g, add, i)

    def codegen(context, b, sig, args):
        prow, pout, poff = (context.make_array(sig.args[j])(context, b, args[j]).data
                            for j in (0, 3, 4))
        k, code_lo, g, add, i = args[1], args[2], args[5], args[6], args[7]
        base = b.add(add, i)
        for lane, v in enumerate(_lane_rows(b, prow, k, code_lo)):
            o = b.add(b.load(b.gep(poff, [b.add(b.mul(g, at(LANES)), at(lane))])), base)
            v, vt = _to_output(context, b, v, sig.args[3].dtype)
            b.store(v, b.bitcast(b.gep(pout, [o]), vt.as_pointer()), align=1)
        return context.get_dummy_value()
    return sig, codegen


@intrinsic
def lane_block16_mixed(typingctx, row, k, code_lo, out, offs, dims, g, p, y, i):
    """:func:`lane_block16` for a group of mixed shapes (``dims`` (G, 16, 3)): a lane gets its
    sixteen values of plane ``p``'s row ``y`` when its record has that row and all sixteen
    columns ``i .. i + 15``."""
    sig = types.void(row, k, code_lo, out, offs, dims, g, p, y, i)

    def codegen(context, b, sig, args):
        prow, pout, poff, pdims = (context.make_array(sig.args[j])(context, b, args[j]).data
                                   for j in (0, 3, 4, 5))
        k, code_lo, g, p, y, i = args[1], args[2], args[6], args[7], args[8], args[9]
        for lane, v in enumerate(_lane_rows(b, prow, k, code_lo)):
            at_lane = b.add(b.mul(g, at(LANES)), at(lane))
            hl, wl = (b.load(b.gep(pdims, [b.add(b.mul(at_lane, at(3)), at(d))])) for d in (1, 2))
            inside = b.and_(b.icmp_signed("<", y, hl),
                            b.icmp_signed("<=", b.add(i, at(LANES)), wl))
            with b.if_then(inside):
                o = b.add(b.load(b.gep(poff, [at_lane])),
                          b.add(b.mul(b.add(b.mul(p, hl), y), wl), i))
                v, vt = _to_output(context, b, v, sig.args[3].dtype)
                b.store(v, b.bitcast(b.gep(pout, [o]), vt.as_pointer()), align=1)
        return context.get_dummy_value()
    return sig, codegen


@intrinsic
def lane_row16(typingctx, row, k, code_lo, out, o):
    """``out[o + i] = row[k + i * 16] + code_lo`` for i < 16: sixteen of one lane's values in
    one gather and one store (the scalar copy was a sixth of the lane decoder's time)."""
    sig = types.void(row, k, code_lo, out, o)

    def codegen(context, b, sig, args):
        prow, pout = (context.make_array(sig.args[j])(context, b, args[j]).data for j in (0, 3))
        k, code_lo, o = args[1], args[2], args[4]
        step = ir.Constant(V32, [4 * LANES * i for i in range(LANES)])
        base = b.bitcast(b.gep(prow, [k]), ir.IntType(8).as_pointer())
        v, vt = _to_output(context, b, b.add(gather(b, base, step), splat(b, code_lo)),
                           sig.args[3].dtype)
        b.store(v, b.bitcast(b.gep(pout, [o]), vt.as_pointer()), align=1)
        return context.get_dummy_value()
    return sig, codegen


@njit(cache=True, nogil=True, inline="always")
def lane_plane_row(row, p, y, h, w, mixed, dims, g, code_lo, out, out_off):
    """Plane ``p``'s row ``y`` of group ``g``'s sixteen records from ``row`` ((P, W, 16), ``w``
    and ``h`` the group's widest and tallest; ``mixed``: its records' shapes differ, ``dims``
    (G, 16, 3)) into each record's place in ``out`` (``out_off`` (G, 16)). Inlined into both
    lane decoders, as the code was before they shared it."""
    if not mixed and w >= LANES:  # one shape: sixteen lanes at a time
        add = p * h * w + y * w
        r = p * w * LANES
        for i in range(0, w - LANES, LANES):
            lane_block16(row, r + i * LANES, code_lo, out, out_off, g, add, i)
        i = w - LANES  # the last 16, overlapping the block before: same values
        lane_block16(row, r + i * LANES, code_lo, out, out_off, g, add, i)
        return
    for i in range(0, w - LANES + 1, LANES):  # whole blocks, where lanes have them
        lane_block16_mixed(row, p * w * LANES + i * LANES, code_lo, out, out_off, dims, g, p, y,
                           i)
    for lane in range(LANES):  # the rest of each lane's row
        hl, wl = dims[g, lane, 1], dims[g, lane, 2]
        if y >= hl:
            continue
        o = out_off[g, lane] + p * hl * wl + y * wl
        r = p * w * LANES + lane
        if wl < LANES:
            for i in range(wl):
                out[o + i] = row[r + i * LANES] + code_lo
        elif wl % LANES:  # its last 16, overlapping the block before: same values
            lane_row16(row, r + (wl - LANES) * LANES, code_lo, out, o + wl - LANES)
