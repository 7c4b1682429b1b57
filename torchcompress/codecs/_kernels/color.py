"""Fused colour conversion and rounding for the DCT transform's inverse."""

import numpy as np
from numba import njit

__all__ = ["ycc_to_pixels"]


@njit(cache=True, nogil=True)
def ycc_to_pixels(img, m, out):
    """Pixels from level-restored channels: colour matrix, round half to even, clip to 0..255.

    Args:
        img: (B, C, P) float32 channels (C = 1 or 3), Y already +128.
        m: (3, 3) float32 YCbCr -> RGB matrix (unused for C = 1).
        out: (B, C * P) uint8 or float32.
    """
    nb, nc, npx = img.shape
    for b in range(nb):
        for p in range(npx):
            for c in range(nc):
                if nc == 3:
                    v = m[c, 0] * img[b, 0, p] + m[c, 1] * img[b, 1, p] + m[c, 2] * img[b, 2, p]
                else:
                    v = img[b, 0, p]
                v = np.rint(v)
                if v < 0:
                    v = 0
                elif v > 255:
                    v = 255
                out[b, c * npx + p] = v
