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

__all__ = ["wavelet53_forward", "wavelet53_inverse", "wavelet_scratch", "ycocg_forward",
           "ycocg_inverse"]


@njit(cache=True, nogil=True)
def _fwd_rows(plane, hh, ww, e, d):
    """The 5/3 step on rows ``plane[:hh, :ww]`` in place; ``e``, ``d``: (>= ww // 2 + 1,)
    scratch. Each line's evens and odds are split first, so the lifting loops run along
    contiguous arrays with no boundary test inside (they vectorize)."""
    ns, nd = (ww + 1) // 2, ww // 2
    if nd == 0:
        return
    for r in range(hh):
        x = plane[r]
        for k in range(ns):
            e[k] = x[2 * k]
        if ns == nd:  # even length: the last odd's right neighbour mirrors to its left
            e[nd] = e[nd - 1]
        for k in range(nd):
            d[k] = x[2 * k + 1] - ((e[k] + e[k + 1]) >> 1)
        x[0] = e[0] + ((d[0] + d[0] + 2) >> 2)
        for k in range(1, nd):
            x[k] = e[k] + ((d[k - 1] + d[k] + 2) >> 2)
        if ns > nd:
            x[nd] = e[nd] + ((d[nd - 1] + d[nd - 1] + 2) >> 2)
        for k in range(nd):
            x[ns + k] = d[k]


@njit(cache=True, nogil=True)
def _fwd_cols(plane, hh, ww, dd):
    """The 5/3 step on the columns of ``plane[:hh, :ww]`` in place, a whole row of columns
    at a time (contiguous: it vectorizes); ``dd``: (>= hh // 2, >= ww) scratch."""
    ns, nd = (hh + 1) // 2, hh // 2
    if nd == 0:
        return
    for i in range(nd):
        a, b = plane[2 * i], plane[2 * i + 1]
        c = plane[2 * i + 2] if 2 * i + 2 < hh else a
        di = dd[i]
        for k in range(ww):
            di[k] = b[k] - ((a[k] + c[k]) >> 1)
    # row i takes row 2i's low-pass: rows below i are done, row 2i >= i is still the input
    for i in range(ns):
        dl = dd[i - 1] if i > 0 else dd[0]
        dr = dd[i] if i < nd else dd[nd - 1]
        src, dst = plane[2 * i], plane[i]
        for k in range(ww):
            dst[k] = src[k] + ((dl[k] + dr[k] + 2) >> 2)
    for i in range(nd):
        dst, di = plane[ns + i], dd[i]
        for k in range(ww):
            dst[k] = di[k]


@njit(cache=True, nogil=True)
def _inv_rows(plane, hh, ww, e, d):
    """Undo :func:`_fwd_rows`."""
    ns, nd = (ww + 1) // 2, ww // 2
    if nd == 0:
        return
    for r in range(hh):
        x = plane[r]
        for k in range(nd):
            d[k] = x[ns + k]
        e[0] = x[0] - ((d[0] + d[0] + 2) >> 2)
        for k in range(1, nd):
            e[k] = x[k] - ((d[k - 1] + d[k] + 2) >> 2)
        if ns > nd:
            e[nd] = x[nd] - ((d[nd - 1] + d[nd - 1] + 2) >> 2)
        else:
            e[nd] = e[nd - 1]
        for k in range(nd):
            x[2 * k + 1] = d[k] + ((e[k] + e[k + 1]) >> 1)
        for k in range(ns):
            x[2 * k] = e[k]


@njit(cache=True, nogil=True)
def _inv_cols(plane, hh, ww, dd):
    """Undo :func:`_fwd_cols`; ``dd``: (>= hh, >= ww) scratch."""
    ns, nd = (hh + 1) // 2, hh // 2
    if nd == 0:
        return
    for i in range(hh):  # the low-pass rows, then the high-pass ones
        src, dst = plane[i], dd[i]
        for k in range(ww):
            dst[k] = src[k]
    for i in range(ns):
        dl = dd[ns + i - 1] if i > 0 else dd[ns]
        dr = dd[ns + i] if i < nd else dd[ns + nd - 1]
        src, dst = dd[i], plane[2 * i]
        for k in range(ww):
            dst[k] = src[k] - ((dl[k] + dr[k] + 2) >> 2)
    for i in range(nd):
        a = plane[2 * i]
        c = plane[2 * i + 2] if 2 * i + 2 < hh else a
        di, dst = dd[ns + i], plane[2 * i + 1]
        for k in range(ww):
            dst[k] = di[k] + ((a[k] + c[k]) >> 1)


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
def wavelet53_forward(img, levels, line, block):
    """In place on ``img`` (N, C, H, W) int32; scratch: ``line`` (2, >= W // 2 + 1) and
    ``block`` (>= H, >= W) int32 (see :func:`wavelet_scratch`)."""
    nimg, nch, hh, ww = img.shape
    sizes = np.empty((max(levels, 1), 2), dtype=np.int64)
    done = _level_sizes(hh, ww, levels, sizes)
    for s in range(nimg):
        for c in range(nch):
            for lv in range(done):
                h, w = sizes[lv, 0], sizes[lv, 1]
                _fwd_rows(img[s, c], h, w, line[0], line[1])
                _fwd_cols(img[s, c], h, w, block)


@njit(cache=True, nogil=True)
def wavelet53_inverse(img, levels, line, block):
    """Undo :func:`wavelet53_forward` in place: levels in reverse, columns before rows."""
    nimg, nch, hh, ww = img.shape
    sizes = np.empty((max(levels, 1), 2), dtype=np.int64)
    done = _level_sizes(hh, ww, levels, sizes)
    for s in range(nimg):
        for c in range(nch):
            for lv in range(done - 1, -1, -1):
                h, w = sizes[lv, 0], sizes[lv, 1]
                _inv_cols(img[s, c], h, w, block)
                _inv_rows(img[s, c], h, w, line[0], line[1])


def wavelet_scratch(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """The scratch :func:`wavelet53_forward` and :func:`wavelet53_inverse` take for (H, W)
    planes."""
    return np.empty((2, w // 2 + 2), dtype=np.int32), np.empty((h, w), dtype=np.int32)


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
