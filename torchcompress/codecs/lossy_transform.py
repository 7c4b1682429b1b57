"""The lossy codec's forward transform: an opponent colour basis and 8x8 block DCT coefficients."""

from __future__ import annotations

import numpy as np

from ._kernels.block_model import ZIGZAG
from .lossy_tables import dct_basis

__all__ = ["OPPONENT", "block_coefficients", "block_counts", "colour_basis"]

_BASIS = dct_basis()


#: orthonormal opponent colours: luma (R + G + B) / sqrt(3), then R - B and R - 2G + B, scaled
OPPONENT = np.array([[1, 1, 1], [1, 0, -1], [1, -2, 1]], dtype=np.float64) \
    / np.sqrt([[3.0], [2.0], [6.0]])


def colour_basis(samples, idx: np.ndarray, planes: int) -> tuple[np.ndarray, np.ndarray]:
    """(mat, mean): the orthonormal opponent basis and the mean pixel of ``samples[idx]``.

    An orthonormal transform keeps squared error equal in both domains, so the
    quantiser's rate-distortion choices are made on the error the user sees.
    Measured on 1,000 CIFAR images at bits 0.5 / 0.75 / 1.25, the fixed
    opponent basis gives 29.99 / 33.24 / 38.37 dB, the dataset's principal
    colour axes 29.95 / 33.18 / 38.26 and plain RGB 25.72 / 28.08 / 31.92.
    """
    total = np.zeros(planes)
    n = 0
    for i in idx:
        v = np.asarray(samples[i]).reshape(planes, -1)
        total += v.sum(axis=1, dtype=np.float64)
        n += v.shape[1]
    mean = (total / max(n, 1)).astype(np.float32)
    mat = np.ones((1, 1)) if planes == 1 else OPPONENT
    return mat.astype(np.float32), mean


def block_counts(dims: np.ndarray) -> np.ndarray:
    """(N,) int64 8x8 blocks of samples of (planes, height, width) ``dims`` (N, 3)."""
    d = np.asarray(dims, dtype=np.int64)
    return d[:, 0] * ((d[:, 1] + 7) // 8) * ((d[:, 2] + 7) // 8)


def block_coefficients(sample: np.ndarray, mat: np.ndarray, mean: np.ndarray) -> np.ndarray:
    """(P * blocks, 64) float32 zigzag DCT coefficients of one (P, H, W) uint8 sample.

    Planes are ``mat @ (pixels - mean)``, padded to whole 8x8 blocks by
    repeating the last row and column; blocks go plane by plane, raster order.
    """
    p, h, w = sample.shape
    x = sample.reshape(p, -1).astype(np.float32) - mean[:, None]
    planes = (mat @ x).reshape(p, h, w) if p > 1 else x.reshape(1, h, w)
    hp, wp = -(-h // 8) * 8, -(-w // 8) * 8
    if (hp, wp) != (h, w):
        planes = np.pad(planes, ((0, 0), (0, hp - h), (0, wp - w)), mode="edge")
    blocks = planes.reshape(p, hp // 8, 8, wp // 8, 8).transpose(0, 1, 3, 2, 4)
    c = _BASIS.astype(np.float32)
    coef = np.matmul(np.matmul(c, blocks), c.T)   # C @ B @ C^T per block
    return np.ascontiguousarray(coef.reshape(-1, 64)[:, ZIGZAG])
