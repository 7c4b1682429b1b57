"""Fused colour conversion and rounding for the DCT transform's inverse."""

import numpy as np
from numba import njit

__all__ = ["ycc_to_pixels"]


@njit(cache=True, nogil=True)
def _pixel(v):
    """Round half to even, then clip to 0..255."""
    return min(max(np.rint(v), np.float32(0.0)), np.float32(255.0))


@njit(cache=True, nogil=True)
def ycc_to_pixels(img, m, out):
    """Pixels from level-restored channels: colour matrix, round half to even, clip to 0..255.

    The input is row-interleaved (row y of every image and channel, then row
    y + 1), the layout the inverse DCTs produce; each inner loop runs along
    one row of every channel at once, so it vectorizes.

    Args:
        img: (H, B, C, W) float32 channels (C = 1 or 3), Y already +128.
        m: (3, 3) float32 YCbCr -> RGB matrix (unused for C = 1).
        out: (B, C * H * W) uint8 or float32, channel planes.
    """
    h, nb, nc, w = img.shape
    hw = h * w
    m00, m01, m02 = m[0, 0], m[0, 1], m[0, 2]
    m10, m11, m12 = m[1, 0], m[1, 1], m[1, 2]
    m20, m21, m22 = m[2, 0], m[2, 1], m[2, 2]
    for b in range(nb):
        for y in range(h):
            o = out[b, y * w:]
            a = img[y, b, 0]
            if nc == 1:
                for x in range(w):
                    o[x] = _pixel(a[x])
                continue
            cb, cr = img[y, b, 1], img[y, b, 2]
            r, g, bl = o[:w], o[hw:hw + w], o[2 * hw:2 * hw + w]
            for x in range(w):
                a0, a1, a2 = a[x], cb[x], cr[x]
                r[x] = _pixel(m00 * a0 + m01 * a1 + m02 * a2)
                g[x] = _pixel(m10 * a0 + m11 * a1 + m12 * a2)
                bl[x] = _pixel(m20 * a0 + m21 * a1 + m22 * a2)
