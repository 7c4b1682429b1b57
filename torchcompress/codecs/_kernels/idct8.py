"""8x8 inverse DCT of one block in 8-wide float vectors, for the lossy decoder.

Written in numba, the two matrix passes came out as scalar multiply-adds and
horizontal sums (LLVM vectorized the short inner loops as reductions, or not
at all), about 200 ns a block. Here each pass is built as vector IR: a row of
the result is a sum of eight basis rows, each times one coefficient (a
broadcast and a multiply-add), 128 of them a block.
"""

from llvmlite import ir
from numba import njit, types
from numba.core.errors import TypingError
from numba.extending import intrinsic

__all__ = ["idct8x8"]

_F32 = ir.FloatType()
_V8 = ir.VectorType(_F32, 8)
_I32 = ir.IntType(32)
_I64 = ir.IntType(64)


def _splat(b, s):
    v = b.insert_element(ir.Constant(_V8, ir.Undefined), s, ir.Constant(_I32, 0))
    return b.shuffle_vector(v, ir.Constant(_V8, ir.Undefined), ir.Constant(ir.VectorType(_I32, 8), [0] * 8))


def _row(b, ptr, k):
    """The 8 floats at ``ptr[k : k + 8]`` (``k`` an i64)."""
    return b.load(b.bitcast(b.gep(ptr, [k]), _V8.as_pointer()), align=4)


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
