"""Bit allocation across samples under a global budget (ADQ stage 2)."""

from __future__ import annotations

import math

import numpy as np

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
    (importance-weighted) squared error most. Gains are first made
    non-increasing per sample (a running minimum), which makes the curves
    convex; greedy is then optimal and equals picking the largest gains
    overall, done here in one vectorised sort. Bits that lower no error are
    never spent, so constant samples stay at 1 bit.

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
    if allocation == "uniform":
        base = min(int(math.floor(bits)), MAX_BITS)
        extra = total - base * n
        out = np.full(n, base, dtype=np.uint8)
        if extra > 0 and base < MAX_BITS:
            i = np.arange(n, dtype=np.int64)
            out += ((i + 1) * extra // n - i * extra // n).astype(np.uint8)
        return out

    gains = distortion[:, :-1] - distortion[:, 1:]
    if importance is not None:
        gains = gains * importance[:, None]
    gains = np.minimum.accumulate(gains, axis=1)
    flat = gains.ravel()
    extra = total - n
    order = np.argsort(-flat, kind="stable")
    chosen = order[: max(extra, 0)]
    chosen = chosen[flat[chosen] > 0]
    counts = np.bincount(chosen // (MAX_BITS - 1), minlength=n)
    return (1 + counts).astype(np.uint8)
