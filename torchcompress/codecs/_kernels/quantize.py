"""Mid-rise linear quantization of rows, and its exact distortion curves."""

import numpy as np
from numba import njit

__all__ = ["distortion_curves", "quantize_rows"]


@njit(cache=True, nogil=True)
def quantize_rows(x, center, scale, bits, out):
    """Quantize each row with its own centre, step and bit count.

    ``q = clip(floor((x - c) / s + 2**b / 2), 0, 2**b - 1)``; reconstruction is
    ``c + s * (q + 0.5 - 2**b / 2)``, so ``|x - x_hat| <= s / 2``.

    Args:
        x: (N, D) real values.
        center, scale: (N,) float64 (the float32-rounded stored values).
        bits: (N,) integer bits, 1..8.
        out: (N, D) uint8 codes.
    """
    n, d = x.shape
    for i in range(n):
        levels = 1 << bits[i]
        c = center[i]
        s = scale[i]
        if s == 0.0:
            for j in range(d):
                out[i, j] = 0
            continue
        inv = 1.0 / s
        half = levels * 0.5
        for j in range(d):
            v = np.floor((float(x[i, j]) - c) * inv + half)
            if v < 0.0:
                v = 0.0
            elif v > levels - 1:
                v = levels - 1
            out[i, j] = np.uint8(v)


@njit(cache=True, nogil=True)
def distortion_curves(x, center, scales, out):
    """Squared error of every row at every bit count.

    Args:
        x: (N, D) real values.
        center: (N,) float64 centres.
        scales: (N, 8) float64 step for 1..8 bits.
        out: (N, 8) float64, ``out[i, b - 1]`` = sum of squared errors at b bits.
    """
    n, d = x.shape
    for i in range(n):
        c = center[i]
        for bi in range(8):
            s = scales[i, bi]
            levels = 1 << (bi + 1)
            acc = 0.0
            if s == 0.0:
                for j in range(d):
                    e = float(x[i, j]) - c
                    acc += e * e
            else:
                inv = 1.0 / s
                half = levels * 0.5
                for j in range(d):
                    xv = float(x[i, j])
                    v = np.floor((xv - c) * inv + half)
                    if v < 0.0:
                        v = 0.0
                    elif v > levels - 1:
                        v = levels - 1
                    e = xv - (c + s * (v + 0.5 - half))
                    acc += e * e
            out[i, bi] = acc
