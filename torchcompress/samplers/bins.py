"""DQ bin sampling: the same share of every dataset bin (DQ Eq. 4)."""

from __future__ import annotations

import numpy as np
import torch

from .._arrays import as_index_array
from .._validation import check_flag
from ._base import EpochSampler, seeded
from ._quota import apportion, group_members, subset_count
from .random_subset import balanced_draw

__all__ = ["BinSampler"]


class BinSampler(EpochSampler):
    """Draws ``round(fraction * N)`` samples, the same fraction from every bin.

    Args:
        bins: (N,) bin id of every sample (e.g. ``tc.selection.graphcut_bins``).
        fraction: share of the dataset, in (0, 1]; per-bin counts by largest
            remainder, so they sum exactly.
        resample: draw a new subset every epoch (from ``seed + epoch``); by
            default the subset is drawn once from ``seed``, as DQ does, and
            only its order changes per epoch.
        seed, num_replicas, rank, drop_last: as ``DistributedSampler``.

    Example:
        >>> s = BinSampler([0, 0, 1, 1, 2, 2], 0.5, seed=0)
        >>> sorted(s.counts.tolist()), len(s)
        ([1, 1, 1], 3)
    """

    def __init__(self, bins, fraction: float, *, resample: bool = False, seed: int = 0,
                 num_replicas: int | None = None, rank: int | None = None, drop_last: bool = False):
        super().__init__(seed=seed, num_replicas=num_replicas, rank=rank, drop_last=drop_last)
        b = as_index_array("bins", bins)
        if len(b) == 0:
            raise ValueError("bins should hold one bin id per sample, but got an empty sequence")
        _, self.groups = group_members(b)
        self.k = subset_count(len(b), fraction, None)
        self.counts = apportion(np.array([len(m) for m in self.groups]), self.k)
        self.resample = check_flag("resample", resample)

    def subset_size(self) -> int:
        return self.k

    def _order(self, g: torch.Generator) -> torch.Tensor:
        if self.resample:
            return balanced_draw(self.groups, self.counts, g)
        subset = balanced_draw(self.groups, self.counts, seeded(self.seed))
        return subset[torch.randperm(len(subset), generator=g)]
