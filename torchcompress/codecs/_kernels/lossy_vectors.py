"""The lossy decoder's float work in 8-wide vectors: the 8x8 inverse DCT and the colour rows.

Written in numba, the inverse DCT's two matrix passes came out as scalar
multiply-adds and horizontal sums (LLVM vectorized the short inner loops as
reductions, or not at all), about 200 ns a block, and the colour step as
scalar code. Here they are built as vector IR: a row of the inverse DCT is a
sum of eight basis rows, each times one coefficient (a broadcast and a
multiply-add), 128 of them a block; a colour row is eight pixels at a time.
"""

from llvmlite import ir
from numba import njit, types
from numba.core.errors import TypingError
from numba.extending import intrinsic

from .simd import I32 as _I32, I64 as _I64, load, splat

__all__ = ["colour_row8", "fill8x8", "idct8x8"]

_F32 = ir.FloatType()
_V8 = ir.VectorType(_F32, 8)


def _splat(b, s):
    return splat(b, s, _V8)


def _row(b, ptr, k):
    """The 8 floats at ``ptr[k : k + 8]`` (``k`` an i64)."""
    return load(b, ptr, k, _V8)


def _combine(b, weights, rows):
    """``sum_k weights[k] * rows[k]`` (scalar weights, vector rows)."""
    acc = None
    for w, r in zip(weights, rows):
        term = b.fmul(_splat(b, w), r, flags=("fast",))
        acc = term if acc is None else b.fadd(acc, term, flags=("fast",))
    return acc


@intrinsic
def _idct8x8(typingctx, blk, basis, plane, off, stride):
    for name, a in (("blk", blk), ("basis", basis), ("plane", plane)):
        if not (isinstance(a, types.Array) and a.dtype == types.float32 and a.layout == "C"):
            raise TypingError(f"idct8x8: {name} must be a C-contiguous float32 array, got {a}")
    sig = types.void(blk, basis, plane, off, stride)

    def codegen(context, b, sig, args):
        pblk, pbas, pout = (context.make_array(t)(context, b, a).data
                            for t, a in zip(sig.args[:3], args[:3]))
        off, stride = args[3:]
        k = lambda i: ir.Constant(_I64, i)  # noqa: E731
        basis_rows = [_row(b, pbas, k(8 * v)) for v in range(8)]
        coef = [[b.load(b.gep(pblk, [k(8 * u + v)])) for v in range(8)] for u in range(8)]
        tmp = [_combine(b, coef[u], basis_rows) for u in range(8)]  # T[u] = sum_v C[u, v] B[v]
        for i in range(8):  # out[i] = sum_u B[u, i] T[u]
            col = [b.load(b.gep(pbas, [k(8 * u + i)])) for u in range(8)]
            dst = b.add(off, b.mul(stride, k(i)))
            b.store(_combine(b, col, tmp), b.bitcast(b.gep(pout, [dst]), _V8.as_pointer()),
                    align=4)
        return context.get_dummy_value()
    return sig, codegen


@njit(cache=True, nogil=True)
def idct8x8(blk, basis, plane, off, stride):
    """``plane[off + i * stride + j] = sum_uv basis[u, i] blk[u * 8 + v] basis[v, j]``.

    Args:
        blk: (64,) float32 coefficients, row-major (u, v).
        basis: (8, 8) C-contiguous float32 orthonormal DCT-II matrix ``basis[u, i]``.
        plane: float32 output; rows of 8 at ``off + i * stride`` (the caller keeps them
            inside it).
    """
    _idct8x8(blk, basis, plane, off, stride)


@intrinsic
def _fill8x8(typingctx, plane, off, stride, v):
    if not (isinstance(plane, types.Array) and plane.dtype == types.float32 and v == types.float32):
        raise TypingError(f"fill8x8: a float32 plane and value, got {plane} and {v}")
    sig = types.void(plane, off, stride, v)

    def codegen(context, b, sig, args):
        pout = context.make_array(sig.args[0])(context, b, args[0]).data
        off, stride, v = args[1:]
        row = _splat(b, v)
        for i in range(8):
            dst = b.add(off, b.mul(stride, ir.Constant(_I64, i)))
            b.store(row, b.bitcast(b.gep(pout, [dst]), _V8.as_pointer()), align=4)
        return context.get_dummy_value()
    return sig, codegen


@njit(cache=True, nogil=True)
def fill8x8(plane, off, stride, v):
    """``plane[off + i * stride + j] = v`` for i, j < 8 (a flat block)."""
    _fill8x8(plane, off, stride, v)


@intrinsic
def _colour_row8(typingctx, plane, s0, s1, s2, k, m, bias, out, o):
    if not (isinstance(plane, types.Array) and plane.dtype == types.float32
            and isinstance(m, types.UniTuple) and isinstance(out, types.Array)
            and out.dtype in (types.uint8, types.float32)):
        raise TypingError(f"colour_row8: float32 planes, a tuple of weights and a uint8 or "
                          f"float32 output, got {plane}, {m}, {out}")
    sig = types.void(plane, s0, s1, s2, k, m, bias, out, o)

    def codegen(context, b, sig, args):
        pin, pout = (context.make_array(sig.args[j])(context, b, args[j]).data for j in (0, 7))
        s0, s1, s2, k, m, bias, _, o = args[1:]
        acc = _splat(b, bias)
        for j, s in enumerate((s0, s1, s2)):
            w = b.extract_value(m, j)
            acc = b.fadd(acc, b.fmul(_splat(b, w), _row(b, pin, b.add(s, k)), flags=("fast",)),
                         flags=("fast",))
        dst = b.gep(pout, [b.add(o, k)])
        if sig.args[7].dtype == types.uint8:  # clamp to 0..255 and truncate (bias holds the 0.5)
            lo, hi = _splat(b, ir.Constant(_F32, 0.0)), _splat(b, ir.Constant(_F32, 255.0))
            acc = b.select(b.fcmp_ordered("<", acc, lo), lo, acc)
            acc = b.select(b.fcmp_ordered(">", acc, hi), hi, acc)
            v = b.trunc(b.fptosi(acc, ir.VectorType(_I32, 8)), ir.VectorType(ir.IntType(8), 8))
            b.store(v, b.bitcast(dst, v.type.as_pointer()), align=1)
        else:
            b.store(acc, b.bitcast(dst, _V8.as_pointer()), align=4)
        return context.get_dummy_value()
    return sig, codegen


@njit(cache=True, nogil=True)
def colour_row8(plane, s0, s1, s2, k, m, bias, out, o):
    """``out[o + k + i] = bias + m[0] plane[s0 + k + i] + m[1] plane[s1 + k + i]
    + m[2] plane[s2 + k + i]`` for i < 8; a uint8 ``out`` gets it clamped to 0..255 and
    truncated (``bias`` then includes the rounding's 0.5).

    Args:
        plane: float32 planes; ``s0``, ``s1``, ``s2``: row starts (a single plane passes
            ``s0`` three times with zero weights); ``m``: the three weights, float32.
        out: uint8 or float32; the caller keeps both sides' 8 values inside the arrays.
    """
    _colour_row8(plane, s0, s1, s2, k, m, bias, out, o)
