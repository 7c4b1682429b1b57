"""Whole-number quotas that sum exactly to a total: water-filling plus largest remainders."""

from __future__ import annotations

import numpy as np

from .._validation import check_fraction, check_positive_int

__all__ = ["apportion", "group_members", "subset_count"]


def group_members(ids: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    """(distinct ids, sorted; the increasing sample indices of each), in O(N log N)."""
    keys, inverse = np.unique(ids, return_inverse=True)
    order = np.argsort(inverse, kind="stable")
    bounds = np.cumsum(np.bincount(inverse, minlength=len(keys)))[:-1]
    return keys, np.split(order, bounds)


def subset_count(n: int, fraction, num_samples, name_n: str = "dataset") -> int:
    """``num_samples``, or ``round(fraction * n)`` (at least 1); exactly one must be given."""
    if (fraction is None) == (num_samples is None):
        raise ValueError("pass exactly one of fraction= or num_samples=, but got "
                         f"fraction={fraction!r}, num_samples={num_samples!r}")
    if num_samples is not None:
        k = check_positive_int("num_samples", num_samples)
        if k > n:
            raise ValueError(f"num_samples should be at most the {name_n} size {n}, but got "
                             f"num_samples={k}")
        return k
    return max(1, int(round(check_fraction("fraction", fraction) * n)))


def apportion(sizes: np.ndarray, total: int, weights: np.ndarray | None = None) -> np.ndarray:
    """Split ``total`` into counts ``<= sizes`` proportional to ``weights`` (default ``sizes``).

    Shares above a group's size are capped and the excess goes to the others;
    fractional parts are settled by largest remainder (ties: lower index).
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    w = sizes.astype(np.float64) if weights is None else np.asarray(weights, dtype=np.float64)
    if total > sizes.sum():
        raise ValueError(f"cannot take {total} samples from groups holding {int(sizes.sum())}")
    free = (sizes > 0) & (w > 0)
    if not free.any():
        free = sizes > 0
        w = np.ones_like(w)
    alloc = np.zeros(len(sizes))
    rem = float(total)
    while free.any():
        share = np.zeros(len(sizes))
        share[free] = rem * w[free] / w[free].sum()
        over = free & (alloc + share > sizes)
        if not over.any():
            alloc += share
            break
        rem -= float((sizes[over] - alloc[over]).sum())
        alloc[over] = sizes[over]
        free &= ~over
    counts = np.minimum(np.floor(alloc + 1e-9).astype(np.int64), sizes)
    left = int(total - counts.sum())
    if left > 0:
        frac = np.where(counts < sizes, alloc - counts, -np.inf)
        order = np.lexsort((np.arange(len(sizes)), -frac))
        room = order[counts[order] < sizes[order]]
        counts[room[:left]] += 1
    return counts
