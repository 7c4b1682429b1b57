"""Weighted sampling with DistributedSampler's conventions."""

from __future__ import annotations

import numpy as np
import torch

from .._arrays import to_numpy
from .._validation import check_flag, check_positive_int
from ._base import EpochSampler

__all__ = ["WeightedSubsetSampler"]

#: the most categories ``torch.multinomial`` takes
MULTINOMIAL_MAX = 1 << 24


class WeightedSubsetSampler(EpochSampler):
    """Draws ``num_samples`` indices per epoch with probability proportional to ``weights``.

    The DDP-aware counterpart of ``WeightedRandomSampler``: every rank draws the
    same ``num_samples`` indices from ``seed + epoch`` and keeps its shard. Use
    it for condensed samples (weights = cluster sizes) or importance sampling;
    pair it with ``tc.weighted_loss`` when the loss must stay unbiased.

    Args:
        weights: (N,) non-negative, finite, not all zero.
        num_samples: draws per epoch over all ranks.
        replacement: draw with replacement (without: at most the number of
            non-zero weights).
        seed, num_replicas, rank, drop_last: as ``DistributedSampler``.

    Example:
        >>> s = WeightedSubsetSampler([0.0, 1.0, 0.0], 4, seed=1)
        >>> list(s)
        [1, 1, 1, 1]
    """

    def __init__(self, weights, num_samples: int, *, replacement: bool = True, seed: int = 0,
                 num_replicas: int | None = None, rank: int | None = None, drop_last: bool = False):
        super().__init__(seed=seed, num_replicas=num_replicas, rank=rank, drop_last=drop_last)
        w = torch.from_numpy(to_numpy(weights, np.float64))  # on the CPU, as the generator
        if w.ndim != 1 or len(w) == 0:
            raise ValueError(f"weights should be a non-empty 1-D sequence, but got shape {tuple(w.shape)}")
        if not torch.isfinite(w).all() or (w < 0).any() or w.sum() <= 0:
            raise ValueError("weights should be finite and non-negative with a positive sum, but got "
                             f"min {float(w.min())}, sum {float(w.sum())}")
        self.weights = w
        self.k = check_positive_int("num_samples", num_samples)
        self.replacement = check_flag("replacement", replacement)
        if not self.replacement and self.k > int((w > 0).sum()):
            raise ValueError(f"num_samples={self.k} without replacement needs as many non-zero "
                             f"weights, but only {int((w > 0).sum())} are non-zero")

    def subset_size(self) -> int:
        return self.k

    def _order(self, g: torch.Generator) -> torch.Tensor:
        if len(self.weights) <= MULTINOMIAL_MAX:
            return torch.multinomial(self.weights, self.k, self.replacement, generator=g)
        # torch.multinomial takes at most 2**24 categories; past that, the same distributions
        if self.replacement:  # inverse CDF: draw i with probability w_i / sum(w)
            cdf = torch.cumsum(self.weights, 0)
            u = torch.rand(self.k, generator=g, dtype=torch.float64) * cdf[-1]
            return torch.searchsorted(cdf, u, right=True).clamp_(max=len(cdf) - 1)
        # without replacement: the k smallest of E_i / w_i (E_i exponential), in draw order
        # (Efraimidis and Spirakis); a zero weight's key is inf, never among them
        keys = torch.empty(len(self.weights), dtype=torch.float64).exponential_(generator=g)
        return torch.topk(keys / self.weights, self.k, largest=False).indices
