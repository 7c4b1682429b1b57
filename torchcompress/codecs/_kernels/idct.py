"""Fused GeDe -> inverse DCT -> colour decode, a few images at a time so they stay in cache.

The 1-D inverse DCT uses a two-level even/odd split (a "partial butterfly"):
for a length ``n`` divisible by 4, outputs ``i`` and ``n - 1 - i`` share the
sums over even and odd coefficients, which cuts the multiply-adds from n^2 to
about 3n^2/8. Other lengths multiply by the whole matrix. Every step works on
whole rows (vectors across the other image axis), taken as slices so numba
can vectorize the inner loops without wraparound checks.
"""

import numpy as np
from numba import njit

from .color import ycc_to_pixels
from .gede_decode import decode_gede_row, row_start, scratch_words

__all__ = ["chunk_to_pixels", "decode_gede_dct", "idct_axis0", "idct_plan", "transpose_tiles"]


def idct_plan(c: np.ndarray) -> tuple[np.ndarray, ...]:
    """(full, odd, even-odd, even-even) float32 matrices for an orthonormal (n, n) DCT-II ``c``.

    ``full`` is used when ``n % 4``; otherwise the three split matrices are.
    """
    n = c.shape[0]
    f32 = lambda a: np.ascontiguousarray(a, dtype=np.float32)  # noqa: E731
    empty = np.zeros((0, 0), dtype=np.float32)
    if n % 4:
        return f32(c), empty, empty, empty
    return empty, f32(c[1::2, :n // 2]), f32(c[2::4, :n // 4]), f32(c[0::4, :n // 4])


@njit(cache=True, nogil=True, fastmath=True)
def _acc(dst, m, src, k0, ks, vw, sw, spare):
    """Rows ``dst[o] = sum_i m[i, o] * src[k0 + i * ks]`` for o < m.shape[1]; rows are vw wide,
    ``src`` rows start every ``sw`` floats (``dst`` rows every vw).

    Two output rows at a time share every source row read; with an odd count
    the last pair's second row goes to ``spare`` (vw floats of scratch).
    """
    nk, nout = m.shape
    for o in range(0, nout, 2):
        d = dst[o * vw:(o + 1) * vw]
        e = dst[(o + 1) * vw:(o + 2) * vw] if o + 1 < nout else spare
        o2 = min(o + 1, nout - 1)
        for v in range(vw):
            d[v] = 0.0
            e[v] = 0.0
        i = 0
        st = ks * sw
        while i + 4 <= nk:
            r = (k0 + i * ks) * sw
            s0 = src[r:r + vw]
            s1 = src[r + st:r + st + vw]
            s2 = src[r + 2 * st:r + 2 * st + vw]
            s3 = src[r + 3 * st:r + 3 * st + vw]
            a0, a1, a2, a3 = m[i, o], m[i + 1, o], m[i + 2, o], m[i + 3, o]
            b0, b1, b2, b3 = m[i, o2], m[i + 1, o2], m[i + 2, o2], m[i + 3, o2]
            for v in range(vw):
                x0, x1, x2, x3 = s0[v], s1[v], s2[v], s3[v]
                d[v] += a0 * x0 + a1 * x1 + a2 * x2 + a3 * x3
                e[v] += b0 * x0 + b1 * x1 + b2 * x2 + b3 * x3
            i += 4
        while i < nk:
            r = (k0 + i * ks) * sw
            s0 = src[r:r + vw]
            a0, b0 = m[i, o], m[i, o2]
            for v in range(vw):
                d[v] += a0 * s0[v]
                e[v] += b0 * s0[v]
            i += 1


@njit(cache=True, nogil=True, fastmath=True)
def idct_axis0(src, dst, plan, s1, s2, s3, n, vw, sw):
    """Orthonormal inverse DCT along axis 0 of n rows of ``src`` into flat (n, vw) ``dst``.

    ``src`` rows are vw floats every ``sw`` (sw >= vw). ``plan`` is
    ``idct_plan``'s (full, odd, eo, ee); s1, s2, s3 are scratch of at least
    n * vw floats.
    """
    full, odd, eo, ee = plan
    if full.shape[0] > 0:
        _acc(dst, full, src, 0, 1, vw, sw, s1[:vw])
        return
    h, q = n // 2, n // 4
    # a spare row for an odd output count: the scratch row right after the outputs
    _acc(s1, ee, src, 0, 4, vw, sw, s1[q * vw:(q + 1) * vw])
    _acc(s2, eo, src, 2, 4, vw, sw, s2[q * vw:(q + 1) * vw])
    _acc(s3, odd, src, 1, 2, vw, sw, s3[h * vw:(h + 1) * vw])
    for i in range(q):  # even half: E[i] = ee + eo, E[h-1-i] = ee - eo
        a = s1[i * vw:(i + 1) * vw]
        b = s2[i * vw:(i + 1) * vw]
        for v in range(vw):
            e0, e1 = a[v], b[v]
            a[v] = e0 + e1
            b[v] = e0 - e1
    for i in range(h):  # x[i] = E[i] + O[i], x[n-1-i] = E[i] - O[i]
        if i < q:
            e = s1[i * vw:(i + 1) * vw]
        else:
            e = s2[(h - 1 - i) * vw:(h - i) * vw]
        o = s3[i * vw:(i + 1) * vw]
        lo = dst[i * vw:(i + 1) * vw]
        hi = dst[(n - 1 - i) * vw:(n - i) * vw]
        for v in range(vw):
            lo[v] = e[v] + o[v]
            hi[v] = e[v] - o[v]


@njit(cache=True, nogil=True)
def transpose_tiles(src, dst, c, h, w):
    """(w, c, h) -> (h, c, w) in 8 x 8 tiles, with unsigned indices (no wraparound checks);
    flat ``src`` and ``dst`` of any dtype (``c = 1``: an (N, D) matrix -> (D, N), as GeDe's fit
    reads its codes).

    A tile's eight source rows stay in cache while it is written; whole tiles
    are unrolled by hand (numba leaves the bounded loops rolled, which costs
    half the speed), edge tiles take the plain loops.
    """
    u = np.uint64
    ch_, cw_ = u(c * h), u(c * w)
    for k in range(c):
        for kh0 in range(0, h, 8):
            for x0 in range(0, w, 8):
                s0 = u(x0) * ch_ + u(k * h + kh0)
                d0 = u(kh0) * cw_ + u(k * w + x0)
                if kh0 + 8 <= h and x0 + 8 <= w:
                    for j in range(8):  # dst row kh0 + j, columns x0 .. x0 + 7
                        d, s = d0 + u(j) * cw_, s0 + u(j)
                        dst[d] = src[s]
                        dst[d + u(1)] = src[s + ch_]
                        dst[d + u(2)] = src[s + u(2) * ch_]
                        dst[d + u(3)] = src[s + u(3) * ch_]
                        dst[d + u(4)] = src[s + u(4) * ch_]
                        dst[d + u(5)] = src[s + u(5) * ch_]
                        dst[d + u(6)] = src[s + u(6) * ch_]
                        dst[d + u(7)] = src[s + u(7) * ch_]
                    continue
                for j in range(min(8, h - kh0)):
                    d, s = d0 + u(j) * cw_, s0 + u(j)
                    for x in range(min(8, w - x0)):
                        dst[d + u(x)] = src[s + u(x) * ch_]


@njit(cache=True, nogil=True, fastmath=True)
def decode_gede_dct(records, rec_off, model, rows, table, models, groups, bdesc, dest, slow, layout,
                    chunk, c, h, w, plan_h, plan_w, ycc2rgb, dc, out):
    """GeDe rows -> DCT coefficients -> pixels, ``chunk`` images at a time.

    All channels of all images of a chunk go through each 1-D pass together,
    as one row of long vectors: coefficients land in a (kw, image, c, kh)
    layout, so the pass along kw runs on rows of up to chunk * c * h values;
    one transpose to (kh, image, c, x) sets up the pass along kh, whose
    (y, image, c, x) result is what ``ycc_to_pixels`` reads. A short last
    chunk (or a single sample) runs on only its own images' part of each row.

    Args:
        records .. layout: as ``decode_gede_rows``, with ``dest`` sending each
            coefficient (ch, kh, kw) of a chunk's first image to its place in
            the (kw, image, ch, kh) layout; image ``i`` of a chunk sits i * c * h later.
        chunk: images per chunk (the layout's image axis).
        c, h, w: image shape (c = 1 or 3); columns are coefficients (c, kh, kw).
        plan_h, plan_w: ``idct_plan`` tuples for h and w.
        ycc2rgb: (3, 3) float32 YCbCr -> RGB (unused for c = 1).
        dc: added to the first coefficient (the +128 level shift in the DCT domain).
        out: (B, c*h*w) uint8 or float32 pixels, rounded half to even, clipped to 0..255.
    """
    img = c * h * w
    xt = np.empty(chunk * img, dtype=np.float32)
    t1 = np.empty(chunk * img, dtype=np.float32)
    s1 = np.empty(chunk * img, dtype=np.float32)
    s2 = np.empty(chunk * img, dtype=np.float32)
    s3 = np.empty(chunk * img, dtype=np.float32)
    rw, tw = scratch_words(models)
    for b0 in range(0, rows.shape[0], chunk):
        k = min(chunk, rows.shape[0] - b0)
        for i in range(k):
            g, rs, ts = row_start(records, rec_off, model, models, rows[b0 + i])
            part = xt[i * c * h:]
            decode_gede_row(records, rs, table, ts, models[g], groups, bdesc[g], dest[g], slow,
                            layout[g], rw, tw, part)
            part[0] += dc  # coefficient (0, 0, 0) sits first in every image's part
        chunk_to_pixels(xt, t1, s1, s2, s3, k, chunk, c, h, w, plan_h, plan_w, ycc2rgb,
                        out[b0:b0 + k])


@njit(cache=True, nogil=True, fastmath=True)
def chunk_to_pixels(xt, t1, s1, s2, s3, k, chunk, c, h, w, plan_h, plan_w, ycc2rgb, out):
    """Level-shifted coefficients of ``k`` images -> (k, c*h*w) pixels in ``out``.

    ``xt`` holds them in the (kw, image, c, kh) layout, rows chunk * c * h
    floats apart; it is overwritten, as are ``t1`` and the scratch s1, s2, s3
    (each chunk * c * h * w floats).
    """
    idct_axis0(xt, t1, plan_w, s1, s2, s3, w, k * c * h, chunk * c * h)
    transpose_tiles(t1, xt, k * c, h, w)
    idct_axis0(xt, t1, plan_h, s1, s2, s3, h, k * c * w, k * c * w)
    ycc_to_pixels(t1[:k * c * h * w].reshape(h, k, c, w), ycc2rgb, out)
