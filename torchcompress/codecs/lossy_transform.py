"""The lossy codec's forward transform: a dataset colour basis and 8x8 block DCT coefficients."""

from __future__ import annotations

import numpy as np

from ._kernels.block_model import ZIGZAG
from .lossy_tables import dct_basis

__all__ = ["block_coefficients", "colour_basis"]

_BASIS = dct_basis()


def colour_basis(samples, idx: np.ndarray, planes: int) -> tuple[np.ndarray, np.ndarray]:
    """(mat, mean) of the pixels of ``samples[idx]``: the principal axes of their colours.

    An orthonormal transform keeps squared error equal in both domains, so the
    quantiser's rate-distortion choices are made on the error the user sees.
    Each axis is signed so that its largest entry is positive (deterministic).
    """
    if planes == 1:
        mean = np.mean([float(np.asarray(samples[i], dtype=np.float64).mean()) for i in idx])
        return np.ones((1, 1), dtype=np.float32), np.array([mean], dtype=np.float32)
    s = np.zeros(3)
    ss = np.zeros((3, 3))
    n = 0
    for i in idx:
        v = np.asarray(samples[i], dtype=np.float64).reshape(3, -1)
        s += v.sum(axis=1)
        ss += v @ v.T
        n += v.shape[1]
    mean = s / n
    cov = ss / n - np.outer(mean, mean)
    w, vec = np.linalg.eigh(cov)
    mat = vec[:, ::-1].T.copy()   # rows: axes by decreasing variance
    flip = np.sign(mat[np.arange(3), np.abs(mat).argmax(axis=1)])
    mat *= flip[:, None]
    return mat.astype(np.float32), mean.astype(np.float32)


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
