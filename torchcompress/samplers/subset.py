"""Coreset selection from scores, and a sampler over a fixed index subset."""

from __future__ import annotations

import numpy as np
import torch

from .._validation import check_fraction
from ._base import EpochSampler, as_index_array
from ._quota import apportion

__all__ = ["SubsetSampler", "coreset"]


def coreset(scores, fraction: float, *, class_balanced: bool = False, labels=None,
            descending: bool = True) -> np.ndarray:
    """Indices of the ``round(fraction * N)`` best-scored samples (at least 1).

    Args:
        scores: (N,) scores, e.g. ``tc.dynamics.eva_scores(dyn)``. NaN (never
            scored) ranks last in either direction.
        fraction: share of samples to keep, in (0, 1].
        class_balanced: keep each class's share of the data, taking the best
            samples inside every class (exact counts by largest remainder).
        labels: (N,) class labels, needed with ``class_balanced``.
        descending: highest scores first (EVA, EL2N, forgetting); pass False
            where low is important (e.g. AUM).

    Returns:
        (M,) int64 indices, best first; ties keep index order.
    """
    s = np.asarray(scores.numpy() if isinstance(scores, torch.Tensor) else scores, dtype=np.float64)
    if s.ndim != 1 or len(s) == 0:
        raise ValueError(f"scores should be a non-empty 1-D array, but got shape {s.shape}")
    m = max(1, int(round(check_fraction("fraction", fraction) * len(s))))
    key = -s if descending else s
    key = np.where(np.isnan(key), np.inf, key)
    order = np.argsort(key, kind="stable")
    if not class_balanced:
        return order[:m].astype(np.int64)
    if labels is None:
        raise ValueError("class_balanced=True needs labels= (one class per score)")
    y = as_index_array("labels", labels)
    if len(y) != len(s):
        raise ValueError(f"labels should have one entry per score ({len(s)}), but got {len(y)}")
    classes, inverse = np.unique(y, return_inverse=True)
    counts = apportion(np.bincount(inverse, minlength=len(classes)), m)
    ranked = inverse[order]
    keep = np.zeros(len(s), dtype=bool)
    for c, k in enumerate(counts):
        keep[order[ranked == c][:k]] = True
    return order[keep[order]].astype(np.int64)


class SubsetSampler(EpochSampler):
    """Iterates a fixed list of indices (a coreset), reshuffled every epoch.

    Args:
        indices: the subset, e.g. from :func:`coreset`.
        shuffle: a new order each epoch from ``seed + epoch``; False keeps the
            given order.
        seed, num_replicas, rank, drop_last: as ``DistributedSampler``.

    Example:
        >>> list(SubsetSampler([5, 7, 9], shuffle=False))
        [5, 7, 9]
    """

    def __init__(self, indices, shuffle: bool = True, *, seed: int = 0,
                 num_replicas: int | None = None, rank: int | None = None, drop_last: bool = False):
        super().__init__(seed=seed, num_replicas=num_replicas, rank=rank, drop_last=drop_last)
        self.subset = torch.from_numpy(as_index_array("indices", indices).copy())
        if len(self.subset) == 0:
            raise ValueError("indices should hold at least one index, but got an empty list")
        self.shuffle = bool(shuffle)

    def subset_size(self) -> int:
        return len(self.subset)

    def _order(self, g: torch.Generator) -> torch.Tensor:
        if not self.shuffle:
            return self.subset
        return self.subset[torch.randperm(len(self.subset), generator=g)]
