"""The lossless lane decoder's step for three-plane records: one pixel, all three planes.

``lane_step`` decodes one plane's value and goes through ``state`` in memory
between calls; for the three planes of an RGB pixel (the usual images) this
intrinsic chains the three steps with the lanes' rANS states, stream
positions, bad flags and the previous plane's residual in registers, takes
each plane's context bins without a branch on the plane, and undoes YCoCg-R
from the values it has just decoded (``lane_emit``'s work) instead of loading
them again. Kernel time x0.92-0.94 for the fused steps and x0.97-0.98 for the
fused write-out on CIFAR, x0.93 and x0.98 on photos (paired runs of 30 and 6
against the kernel before, ``/tmp`` harness); the values are the same.
"""

from llvmlite import ir
from numba import types
from numba.extending import intrinsic

from .lane_output import ycocg_inverse
from .lane_steps import data_pointers, lane_state, plane_step, store_state
from .simd import LANES, V32, at, const, store

__all__ = ["lane_pixel3"]


@intrinsic
def lane_pixel3(typingctx, state, pl, rs, rec, coarse, cum, luts, lo, hi, row, ci, pi, stride,
                shift, tstride, i, w, colour, maxv):
    """Planes 0, 1 and 2 of pixel ``i`` in every lane: plane ``p`` at ring entries
    ``ci + p * stride`` (the entry above: ``pi + p * stride``), in ``[lo[p], hi[p]]``; then the
    pixel into ``row`` ((3, W, 16) int32), YCoCg-R undone when ``colour`` (a live lane whose
    pixel leaves ``[0, maxv]`` gets its bad flag), as ``lane_emit`` does."""
    sig = types.void(state, pl, rs, rec, coarse, cum, luts, lo, hi, row, ci, pi, stride, shift,
                     tstride, i, w, colour, maxv)

    def codegen(context, b, sig, args):
        st, *ptrs, plo, phi, prow = data_pointers(context, b, sig, args, 10)
        ci, pi, stride, shift, tstride, i, w, colour, maxv = args[10:]
        x, pos, prevr, bad, end, live = lane_state(b, st)
        planes = []
        for p in range(3):
            step = b.mul(stride, at(p))
            lo, hi = b.load(b.gep(plo, [at(p)])), b.load(b.gep(phi, [at(p)]))
            x, pos, prevr, bad, v = plane_step(b, ptrs, x, pos, prevr, bad, end, live,
                                               b.add(ci, step), b.add(pi, step), p, shift,
                                               tstride, lo, hi, None)
            planes.append(v)
        pre = b.block
        with b.if_then(b.icmp_signed("!=", colour, ir.Constant(colour.type, 0))):
            rgb, out = ycocg_inverse(b, *planes, maxv)
            bad_rgb = b.or_(bad, b.select(live, out, const(0)))  # only inside the record
            in_rgb = b.block
        outs = []  # phi nodes first, then the stores
        for before, after in zip(planes + [bad], list(rgb) + [bad_rgb]):
            v = b.phi(V32)
            v.add_incoming(before, pre)
            v.add_incoming(after, in_rgb)
            outs.append(v)
        for p in range(3):
            store(b, outs[p], prow, b.mul(b.add(b.mul(at(p), w), i), at(LANES)))
        store_state(b, st, x, pos, prevr, outs[3])
        return context.get_dummy_value()
    return sig, codegen
