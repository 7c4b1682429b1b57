"""Bit allocation across samples under a global budget (ADQ stage 2)."""

from __future__ import annotations

import math

import numpy as np

from ._kernels.hull import hull_gains

__all__ = ["allocate_bits", "budget_total"]

MAX_BITS = 8


def budget_total(bits: float, num_samples: int) -> int:
    """Total bits-per-element units allowed: ``floor(bits * N)`` (never above budget)."""
    return int(math.floor(bits * num_samples + 1e-9))


def allocate_bits(
    distortion: np.ndarray,
    bits: float,
    *,
    importance: np.ndarray | None = None,
    allocation: str = "adaptive",
) -> np.ndarray:
    """Choose bits per sample so that ``mean(b) <= bits``.

    All samples have the same element count, so the budget
    ``sum(b_i * d_i) <= bits * sum(d_i)`` reduces to ``sum(b_i) <= floor(bits * N)``.

    ``"adaptive"`` is the greedy marginal-gain allocation: every sample starts
    at 1 bit, and each further bit goes to the sample whose next bit lowers the
    (importance-weighted) squared error most. Gains are taken along the lower
    convex hull of each sample's error curve, so a step that helps little but
    leads to one that helps a lot is not a dead end; on convex curves greedy
    is optimal and equals picking the largest gains overall, done here in one
    vectorised sort. Bits that lower no error are never spent, so constant
    samples stay at 1 bit. A greedy stop inside a hull segment can cost more
    than the hull promised, so the result is compared with the uniform
    allocation and the uniform one is kept if its real error is lower: the
    adaptive total error is never above the uniform one at the same budget.

    ``"uniform"`` gives every sample ``floor(bits)`` and spreads the remaining
    whole bits evenly by index.

    Args:
        distortion: (N, 8) float64, squared error at 1..8 bits.
        bits: average bits per element, in [1, 8].
        importance: optional (N,) non-negative weights on each sample's error.
        allocation: ``"adaptive"`` or ``"uniform"``.

    Returns:
        (N,) uint8 bits per sample.
    """
    n = distortion.shape[0]
    total = budget_total(bits, n)
    uniform = _uniform(bits, n, total)
    if allocation == "uniform":
        return uniform
    weighted = distortion if importance is None else distortion * importance[:, None]
    gains = np.empty((n, MAX_BITS - 1), dtype=np.float64)
    hull_gains(weighted, gains)
    adaptive = (1 + _largest(gains.ravel(), max(total - n, 0)).reshape(n, -1).sum(axis=1)
                ).astype(np.uint8)
    del gains
    rows = np.arange(n)
    cost_a = weighted[rows, adaptive.astype(np.int64) - 1].sum()
    cost_u = weighted[rows, uniform.astype(np.int64) - 1].sum()
    return adaptive if cost_a <= cost_u else uniform


def _largest(flat: np.ndarray, k: int) -> np.ndarray:
    """Mask of the ``k`` largest positive entries, ties taken in index order: what a stable
    descending sort's first ``k`` would pick, without sorting (a million samples' gains
    would need four more copies)."""
    mask = np.zeros(flat.size, dtype=bool)
    if k <= 0:
        return mask
    if k >= flat.size:
        return flat > 0
    t = np.partition(flat, flat.size - k)[flat.size - k]  # the k-th largest value
    np.greater(flat, t, out=mask)
    ties = np.flatnonzero(flat == t)[:k - int(mask.sum())]
    mask[ties] = True
    return mask & (flat > 0)


def _uniform(bits: float, n: int, total: int) -> np.ndarray:
    base = min(int(math.floor(bits)), MAX_BITS)
    extra = total - base * n
    out = np.full(n, base, dtype=np.uint8)
    if extra > 0 and base < MAX_BITS:
        i = np.arange(n, dtype=np.int64)
        out += ((i + 1) * extra // n - i * extra // n).astype(np.uint8)
    return out
