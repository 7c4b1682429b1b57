"""Reversible integer transforms: YCoCg-R colour and the LeGall 5/3 lifting wavelet.

Both use only integer adds and arithmetic shifts (floor division), so the
inverse rebuilds the input bit for bit on any machine.

1-D 5/3 step on a line ``x`` of length ``L`` (``ns = ceil(L/2)`` low-pass
``s``, ``nd = floor(L/2)`` high-pass ``d``; out-of-range neighbours are
mirrored, ``x[L] = x[L-2]``, ``d[-1] = d[0]``, ``d[nd] = d[nd-1]``)::

    d[i] = x[2i+1] - floor((x[2i] + x[2i+2]) / 2)
    s[i] = x[2i]   + floor((d[i-1] + d[i] + 2) / 4)

and the line is stored as ``[s, d]``. A 2-D level does every row, then every
column, of the current top-left low-pass block.
"""

import numpy as np
from numba import njit

__all__ = ["wavelet53_forward", "wavelet53_inverse", "ycocg_forward", "ycocg_inverse"]


@njit(cache=True, nogil=True)
def _fwd_line(x, n, out):
    ns = (n + 1) // 2
    nd = n // 2
    if nd == 0:
        out[0] = x[0]
        return
    for i in range(nd):
        right = x[2 * i + 2] if 2 * i + 2 < n else x[2 * i]
        out[ns + i] = x[2 * i + 1] - ((x[2 * i] + right) >> 1)
    for i in range(ns):
        dl = out[ns + i - 1] if i > 0 else out[ns]
        dr = out[ns + i] if i < nd else out[ns + nd - 1]
        out[i] = x[2 * i] + ((dl + dr + 2) >> 2)


@njit(cache=True, nogil=True)
def _inv_line(c, n, x):
    ns = (n + 1) // 2
    nd = n // 2
    if nd == 0:
        x[0] = c[0]
        return
    for i in range(ns):
        dl = c[ns + i - 1] if i > 0 else c[ns]
        dr = c[ns + i] if i < nd else c[ns + nd - 1]
        x[2 * i] = c[i] - ((dl + dr + 2) >> 2)
    for i in range(nd):
        right = x[2 * i + 2] if 2 * i + 2 < n else x[2 * i]
        x[2 * i + 1] = c[ns + i] + ((x[2 * i] + right) >> 1)


@njit(cache=True, nogil=True)
def _lines(plane, nl, n, a, b, forward):
    """Transform lines ``plane[l, :n]``, l < nl, in place. Rows: the (H, W) plane; columns:
    its transpose (a strided view)."""
    for l in range(nl):
        for k in range(n):
            a[k] = plane[l, k]
        if forward:
            _fwd_line(a, n, b)
        else:
            _inv_line(a, n, b)
        for k in range(n):
            plane[l, k] = b[k]


@njit(cache=True, nogil=True)
def _level_sizes(hh, ww, levels, sizes):
    """Fill ``sizes`` (levels, 2) with each level's block; returns how many levels apply."""
    h, w = hh, ww
    done = 0
    for lv in range(levels):
        if h < 2 and w < 2:
            break
        sizes[lv, 0] = h
        sizes[lv, 1] = w
        done += 1
        h, w = (h + 1) // 2, (w + 1) // 2
    return done


@njit(cache=True, nogil=True)
def wavelet53_forward(img, levels, a, b):
    """In place on ``img`` (N, C, H, W) int32; ``a``, ``b``: scratch (max(H, W),) int32."""
    nimg, nch, hh, ww = img.shape
    sizes = np.empty((max(levels, 1), 2), dtype=np.int64)
    done = _level_sizes(hh, ww, levels, sizes)
    for s in range(nimg):
        for c in range(nch):
            for lv in range(done):
                h, w = sizes[lv, 0], sizes[lv, 1]
                _lines(img[s, c], h, w, a, b, True)
                _lines(img[s, c].T, w, h, a, b, True)


@njit(cache=True, nogil=True)
def wavelet53_inverse(img, levels, a, b):
    """Undo :func:`wavelet53_forward` in place: levels in reverse, columns before rows."""
    nimg, nch, hh, ww = img.shape
    sizes = np.empty((max(levels, 1), 2), dtype=np.int64)
    done = _level_sizes(hh, ww, levels, sizes)
    for s in range(nimg):
        for c in range(nch):
            for lv in range(done - 1, -1, -1):
                h, w = sizes[lv, 0], sizes[lv, 1]
                _lines(img[s, c].T, w, h, a, b, False)
                _lines(img[s, c], h, w, a, b, False)


@njit(cache=True, nogil=True)
def ycocg_forward(img):
    """In place on (N, 3, H, W) int32 RGB -> (Y, Co, Cg), YCoCg-R lifting."""
    n, _, h, w = img.shape
    for s in range(n):
        for r in range(h):
            for k in range(w):
                red = img[s, 0, r, k]
                green = img[s, 1, r, k]
                blue = img[s, 2, r, k]
                co = red - blue
                t = blue + (co >> 1)
                cg = green - t
                img[s, 0, r, k] = t + (cg >> 1)
                img[s, 1, r, k] = co
                img[s, 2, r, k] = cg


@njit(cache=True, nogil=True)
def ycocg_inverse(img):
    """Undo :func:`ycocg_forward` in place."""
    n, _, h, w = img.shape
    for s in range(n):
        for r in range(h):
            for k in range(w):
                y = img[s, 0, r, k]
                co = img[s, 1, r, k]
                cg = img[s, 2, r, k]
                t = y - (cg >> 1)
                green = cg + t
                blue = t - (co >> 1)
                img[s, 0, r, k] = blue + co
                img[s, 1, r, k] = green
                img[s, 2, r, k] = blue
