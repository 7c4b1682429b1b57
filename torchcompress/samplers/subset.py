"""Coreset selection from scores, and a sampler over a fixed index subset."""

from __future__ import annotations

import numpy as np
import torch

from .._arrays import as_index_array, to_numpy
from .._validation import check_choice, check_flag, check_fraction, check_positive_int, check_range
from ._base import EpochSampler, check_seed, warn_unused_labels
from ._quota import apportion

__all__ = ["SubsetSampler", "coreset"]


STRATEGIES = ("top", "stratified")


def coreset(scores, fraction: float, *, strategy: str = "top", prune_hardest: float = 0.0,
            num_bins: int = 50, seed: int = 0, class_balanced: bool = False, labels=None,
            descending: bool = True) -> np.ndarray:
    """Indices of ``round(fraction * N)`` samples (at least 1) chosen by their scores.

    Args:
        scores: (N,) scores, e.g. ``tc.dynamics.eva_scores(dyn)``. NaN means
            never scored: such samples are never chosen, and more NaN than the
            fraction leaves room for is an error.
        fraction: share of samples to keep, in (0, 1].
        strategy: ``"top"``: the best-scored samples. ``"stratified"``:
            coverage-centric selection (CCS, Zheng et al., ICLR 2023): drop
            the hardest ``prune_hardest`` share, split the remaining score
            range into ``num_bins`` equal-width bins and give every bin an
            equal budget, drawn at random (from ``seed``) inside it; what a
            small bin cannot use goes to the others. Top-k falls below random
            at low rates; CCS keeps easy and hard samples alike. The bins span
            the finite scores; an infinite one (forgetting's never-learned
            samples) joins the extreme bin on its side.
        prune_hardest: with ``"stratified"``, the share of the highest-scored
            (``descending``) samples dropped first, in [0, 1).
        num_bins: strata for ``"stratified"``.
        class_balanced: keep each class's share of the data (exact counts by
            largest remainder), selecting inside every class.
        labels: (N,) class labels, needed with ``class_balanced``.
        descending: high scores are important/hard (EVA, EL2N, forgetting);
            pass False where low is (e.g. AUM).

    Returns:
        (M,) int64 indices: best first for ``"top"`` (ties keep index order);
        by decreasing importance for ``"stratified"``.
    """
    check_choice("strategy", strategy, STRATEGIES)
    class_balanced = check_flag("class_balanced", class_balanced)
    descending = check_flag("descending", descending)
    s = to_numpy(scores, np.float64)
    if s.ndim != 1 or len(s) == 0:
        raise ValueError(f"scores should be a non-empty 1-D array, but got shape {s.shape}")
    m = max(1, int(round(check_fraction("fraction", fraction) * len(s))))
    nan = int(np.isnan(s).sum())
    if nan > len(s) - m:
        what = "every score is NaN" if nan == len(s) else f"{nan} of {len(s)} scores are NaN"
        raise ValueError(f"{what} (never scored), but fraction={fraction} needs {m} scored samples; "
                         "check that the recorder's windows lie inside the epochs you trained (the "
                         "score functions name both)")
    prune = check_range("prune_hardest", prune_hardest, 0.0, 1.0)
    if prune >= 1.0:
        raise ValueError(f"prune_hardest should be in [0, 1), but got prune_hardest={prune_hardest}")
    num_bins = check_positive_int("num_bins", num_bins)
    key = -s if descending else s
    key = np.where(np.isnan(key), np.inf, key)
    order = np.argsort(key, kind="stable")  # most important first, NaN last
    warn_unused_labels(labels, class_balanced)
    if class_balanced:
        if labels is None:
            raise ValueError("class_balanced=True needs labels= (one class per score)")
        y = as_index_array("labels", labels)
        if len(y) != len(s):
            raise ValueError(f"labels should have one entry per score ({len(s)}), but got {len(y)}")
        classes, inverse = np.unique(y, return_inverse=True)
        counts = apportion(np.bincount(inverse, minlength=len(classes)), m)
        groups = [order[inverse[order] == c] for c in range(len(classes))]
    else:
        classes, counts, groups = [None], [m], [order]
    rng = np.random.default_rng(check_seed(seed) % (1 << 64))
    keep = np.zeros(len(s), dtype=bool)
    for c, members, k in zip(classes, groups, counts):
        members = members[~np.isnan(s[members])]
        if len(members) < k:
            raise ValueError(f"class {c} needs {k} scored samples for its share, but only "
                             f"{len(members)} of its scores are not NaN")
        if strategy == "top":
            keep[members[:k]] = True
        else:
            keep[_stratified(members, key[members], k, prune, num_bins, rng)] = True
    return order[keep[order]].astype(np.int64)


def _stratified(members: np.ndarray, key: np.ndarray, k: int, prune: float, num_bins: int,
                rng: np.random.Generator) -> np.ndarray:
    """CCS inside one group: ``members`` sorted most important first, ``key`` ascending."""
    cut = min(int(round(prune * len(members))), len(members) - k)  # keep enough to choose from
    pool, pk = members[cut:], key[cut:]
    if k >= len(pool):
        return pool
    finite = pk[np.isfinite(pk)]  # infinite scores (forgetting's never-learned) go to the end
    lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 0.0)  # strata
    width = (hi - lo) / num_bins or 1.0
    bin_of = np.minimum(((np.clip(pk, lo, hi) - lo) / width).astype(np.int64), num_bins - 1)
    strata = [pool[bin_of == b] for b in range(num_bins)]
    strata = sorted((st for st in strata if len(st)), key=len)
    chosen, budget = [], k
    for left, st in zip(range(len(strata), 0, -1), strata):  # smallest first: leftovers move on
        take = min(len(st), budget // left)
        chosen.append(rng.choice(st, size=take, replace=False))
        budget -= take
    picked = np.concatenate(chosen)
    if budget:  # rounding: the rest at random from what is left
        rest = np.setdiff1d(pool, picked)
        picked = np.concatenate([picked, rng.choice(rest, size=budget, replace=False)])
    return picked


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
        if self.subset.min() < 0:  # a dataset would take it from its end, silently
            raise ValueError(f"indices should be dataset indices >= 0, but got "
                             f"{int(self.subset.min())}; for a count from the end use len(ds) - k")
        self.shuffle = check_flag("shuffle", shuffle)

    def subset_size(self) -> int:
        return len(self.subset)

    def _order(self, g: torch.Generator) -> torch.Tensor:
        if not self.shuffle:
            return self.subset
        return self.subset[torch.randperm(len(self.subset), generator=g)]
