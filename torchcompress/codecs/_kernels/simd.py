"""16-lane vector IR for numba intrinsics: what numba's loop vectorizer does not emit.

A decoder whose every step waits on the one before (rANS: the state, the
context, the table load) cannot be sped up inside one stream. Sixteen
independent streams in the lanes of one AVX-512 register can: each step
then runs once for all sixteen, with hardware gathers for the table loads.
LLVM does not vectorize such loops by itself, so the kernels that need it
(``lossless_lanes``) build the vector code with these helpers inside
``numba.extending.intrinsic`` functions. On CPUs without vector gathers
LLVM lowers them to scalar loads: slower, but the same results. Small
tables (up to 128 byte values) can instead be looked up in registers with
AVX512-VBMI's byte permute (:func:`lookup128`), where the CPU has it.

Every helper takes an ``llvmlite.ir.IRBuilder`` ``b``; vectors are
``<16 x i32>`` unless a helper is given another vector type (``lossy_vectors``
uses ``splat`` and ``load`` on ``<8 x float>``).
"""

from __future__ import annotations

from llvmlite import ir

__all__ = ["I32", "I64", "LANES", "V32", "any_true", "at", "byte_permutes", "const",
           "dword_permutes", "gather", "load", "lookup128", "madd16", "merge", "permute16",
           "scatter", "smax", "smin", "splat", "store", "vabs", "vector_gathers", "word_products"]

LANES = 16
I1, I8, I16, I32, I64 = ir.IntType(1), ir.IntType(8), ir.IntType(16), ir.IntType(32), ir.IntType(64)
V32 = ir.VectorType(I32, LANES)
_VB = ir.VectorType(I1, LANES)
_GATHER = "llvm.masked.gather.v16i32.v16p0"
_SCATTER = "llvm.masked.scatter.v16i32.v16p0"
_V8 = ir.VectorType(I8, 64)
_PERMUTE = "llvm.x86.avx512.vpermi2var.qi.512"
_PERMUTE_D = "llvm.x86.avx512.permvar.si.512"
_MADD16 = "llvm.x86.avx512.pmaddw.d.512"
_V16 = ir.VectorType(ir.IntType(16), 2 * LANES)


def vector_gathers() -> bool:
    """Whether this CPU gathers in hardware (x86 AVX2 or AVX-512): the lanes only pay there."""
    from llvmlite import binding

    try:
        features = binding.get_host_cpu_features()
    except RuntimeError:  # not an x86 CPU: llvmlite reports no feature map
        return False
    return bool(features.get("avx512f") or features.get("avx2"))


def byte_permutes() -> bool:
    """Whether numba builds for this CPU and it permutes bytes across two registers (x86
    AVX512-VBMI's ``vpermi2b``): :func:`lookup128` may then be used."""
    return _builds_for("avx512vbmi")


def dword_permutes() -> bool:
    """Whether numba builds for this CPU and it permutes 32-bit words across a 512-bit register
    (x86 AVX-512F's ``vpermd``): :func:`permute16` may then be used."""
    return _builds_for("avx512f")


def word_products() -> bool:
    """Whether numba builds for this CPU and it multiplies 16-bit pairs and adds each pair's
    products (x86 AVX512-BW's ``vpmaddwd``): :func:`madd16` may then be used."""
    return _builds_for("avx512bw")


def _builds_for(feature: str) -> bool:
    from llvmlite import binding
    from numba.core import config

    if config.CPU_NAME is not None and config.CPU_NAME != "host":
        return False  # numba targets another CPU: only generic IR
    try:
        return bool(binding.get_host_cpu_features().get(feature))
    except RuntimeError:
        return False


def permute16(b, table, idx) -> ir.Value:
    """``table[idx]`` in every lane, ``table`` a ``<16 x i32>`` vector and ``idx`` in [0, 16):
    one ``vpermd`` in registers, where a :func:`gather` would load sixteen words. Only where
    :func:`dword_permutes`."""
    fn = b.module.globals.get(_PERMUTE_D) or ir.Function(
        b.module, ir.FunctionType(V32, [V32, V32]), name=_PERMUTE_D)
    return b.call(fn, [table, idx])


def lookup128(b, idx, table) -> ir.Value:
    """``table[idx]`` in every lane, ``idx`` in [0, 128) and ``table`` up to 128 byte values,
    in registers: one ``vpermi2b`` over the table as two 64-byte constants, where a
    :func:`gather` would load sixteen words. Only where :func:`byte_permutes`."""
    t = [int(v) for v in table] + [0] * (128 - len(table))
    fn = b.module.globals.get(_PERMUTE) or ir.Function(
        b.module, ir.FunctionType(_V8, [_V8, _V8, _V8]), name=_PERMUTE)
    v16 = ir.VectorType(I8, LANES)
    wide = b.shuffle_vector(b.trunc(idx, v16), ir.Constant(v16, ir.Undefined),
                            ir.Constant(ir.VectorType(I32, 64), list(range(LANES)) * 4))
    got = b.call(fn, [ir.Constant(_V8, t[:64]), wide, ir.Constant(_V8, t[64:])])
    low = b.shuffle_vector(got, ir.Constant(_V8, ir.Undefined),
                           ir.Constant(ir.VectorType(I32, LANES), list(range(LANES))))
    return b.zext(low, V32)


def madd16(b, x, y) -> ir.Value:
    """Each lane's ``lo(x) * lo(y) + hi(x) * hi(y)``, ``lo`` and ``hi`` the signed 16-bit
    halves of its word: one ``vpmaddwd``. Only where :func:`word_products`."""
    fn = b.module.globals.get(_MADD16) or ir.Function(
        b.module, ir.FunctionType(V32, [_V16, _V16]), name=_MADD16)
    return b.call(fn, [b.bitcast(x, _V16), b.bitcast(y, _V16)])


def const(v: int) -> ir.Constant:
    return ir.Constant(V32, [v] * LANES)


def at(k: int) -> ir.Constant:
    """The i64 index ``k``."""
    return ir.Constant(I64, k)


def splat(b, s, vtype=V32) -> ir.Value:
    """A ``vtype`` vector of the scalar ``s``: an integer is truncated or sign-extended to the
    lanes' width, a float must already be of the lanes' type."""
    elt = vtype.element
    if isinstance(elt, ir.IntType) and s.type != elt:
        s = b.trunc(s, elt) if s.type.width > elt.width else b.sext(s, elt)
    v = b.insert_element(ir.Constant(vtype, ir.Undefined), s, ir.Constant(I32, 0))
    zeros = ir.Constant(ir.VectorType(I32, vtype.count), [0] * vtype.count)
    return b.shuffle_vector(v, ir.Constant(vtype, ir.Undefined), zeros)


def load(b, ptr, idx, vtype=V32) -> ir.Value:
    """The ``vtype`` vector at ``ptr[idx : idx + lanes]`` (``idx`` an i64 element index)."""
    return b.load(b.bitcast(b.gep(ptr, [idx]), vtype.as_pointer()), align=4)


def store(b, v, ptr, idx) -> None:
    """``ptr[idx : idx + 16] = v``."""
    b.store(v, b.bitcast(b.gep(ptr, [idx]), V32.as_pointer()), align=4)


def gather(b, base, byte_idx, mask=None) -> ir.Value:
    """Each lane's little-endian 32-bit word at byte offset ``byte_idx`` from ``base`` (lanes
    off in ``mask`` read nothing and give 0). The caller keeps all four bytes inside the array."""
    mod = b.module
    ptrs = _lane_pointers(b, base, byte_idx)
    fn = mod.globals.get(_GATHER) or ir.Function(
        mod, ir.FunctionType(V32, [ptrs.type, I32, _VB, V32]), name=_GATHER)
    if mask is None:
        mask = ir.Constant(_VB, [1] * LANES)
    return b.call(fn, [ptrs, ir.Constant(I32, 1), mask, const(0)])


def _lane_pointers(b, base, byte_idx):
    base = b.bitcast(base, I8.as_pointer())
    ptrs = b.gep(base, [byte_idx], inbounds=True, source_etype=I8)
    ptrs.type = ir.VectorType(base.type, LANES)  # llvmlite types a GEP over a vector scalar
    return ptrs


def scatter(b, v, base, byte_idx, mask) -> None:
    """Each lane of ``mask`` stores its 32-bit ``v`` at byte offset ``byte_idx`` from ``base``
    (lanes that share an address: the highest lane's value is kept)."""
    mod = b.module
    ptrs = _lane_pointers(b, base, byte_idx)
    fn = mod.globals.get(_SCATTER) or ir.Function(
        mod, ir.FunctionType(ir.VoidType(), [V32, ptrs.type, I32, _VB]), name=_SCATTER)
    b.call(fn, [v, ptrs, ir.Constant(I32, 4), mask])


def smin(b, x, y) -> ir.Value:
    return b.select(b.icmp_signed("<", x, y), x, y)


def smax(b, x, y) -> ir.Value:
    return b.select(b.icmp_signed(">", x, y), x, y)


def vabs(b, x) -> ir.Value:
    return b.select(b.icmp_signed("<", x, const(0)), b.sub(const(0), x), x)


def any_true(b, m) -> ir.Value:
    """Whether any lane of the ``<16 x i1>`` mask ``m`` is set."""
    return b.icmp_unsigned("!=", b.bitcast(m, I16), ir.Constant(I16, 0))


def merge(b, values, block, others, other_block) -> list:
    """Phis where two blocks join: each of ``values`` from ``block`` or, in turn, of ``others``
    from ``other_block``."""
    out = []
    for v, o in zip(values, others):
        ph = b.phi(v.type)
        ph.add_incoming(v, block)
        ph.add_incoming(o, other_block)
        out.append(ph)
    return out
