"""A fresh random subset every epoch (dreaMLearning section 4.2)."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import ConcatDataset, Subset

from .._arrays import as_index_array
from .._validation import check_flag
from ._base import EpochSampler, warn_unused_labels
from ._quota import apportion, group_members, subset_count

__all__ = ["RandomSubsetSampler", "class_labels"]


def dataset_targets(ds):
    """``ds.targets``, also through ``Subset`` (``random_split``) and ``ConcatDataset`` of
    datasets that have them; None where a dataset has none."""
    if getattr(ds, "targets", None) is not None:
        return ds.targets
    if isinstance(ds, Subset):
        inner = dataset_targets(ds.dataset)
        return None if inner is None else np.asarray(inner)[np.asarray(ds.indices, dtype=np.int64)]
    if isinstance(ds, ConcatDataset):
        parts = [dataset_targets(d) for d in ds.datasets]
        return None if any(p is None for p in parts) else np.concatenate(
            [np.asarray(p) for p in parts])
    return None


def class_labels(data_source, labels, n: int) -> np.ndarray:
    """(n,) int64 labels: explicit ``labels``, else the dataset's (:func:`dataset_targets`)."""
    if labels is None:
        labels = dataset_targets(data_source)
        if labels is None:
            raise ValueError("class_balanced=True needs labels: pass labels=, or a dataset with a "
                             ".targets attribute (torchvision datasets and tc.open archives have "
                             "one; so do Subset and ConcatDataset of them)")
    if torch.as_tensor(np.asarray(labels)).is_floating_point():
        raise ValueError("class_balanced=True needs class labels, but the labels are real-valued "
                         "(regression targets); use class_balanced=False")
    y = as_index_array("labels", labels)
    if len(y) != n:
        raise ValueError(f"labels should have one entry per sample ({n}), but got {len(y)}")
    return y


def balanced_draw(groups: list[np.ndarray], counts: np.ndarray, g: torch.Generator) -> torch.Tensor:
    """Draw ``counts[k]`` members of each group without replacement, then shuffle them together."""
    picked = [torch.from_numpy(members)[torch.randperm(len(members), generator=g)[:c]]
              for members, c in zip(groups, counts) if c > 0]
    flat = torch.cat(picked) if picked else torch.empty(0, dtype=torch.int64)
    return flat[torch.randperm(len(flat), generator=g)]


class RandomSubsetSampler(EpochSampler):
    """Yields a new random subset of ``data_source`` every epoch.

    Args:
        data_source: a sized map-style dataset.
        fraction, num_samples: subset size, exactly one of the two.
        class_balanced: keep each class's share of the data (exact per-class
            counts by largest remainder); labels from ``labels=`` or
            ``data_source.targets``.
        seed, num_replicas, rank, drop_last: as ``DistributedSampler``.

    Example:
        >>> s = RandomSubsetSampler(range(100), fraction=0.1, seed=0)
        >>> s.set_epoch(3); len(list(s)) == len(s) == 10
        True
    """

    def __init__(self, data_source, fraction: float | None = None, num_samples: int | None = None,
                 *, class_balanced: bool = False, labels=None, seed: int = 0,
                 num_replicas: int | None = None, rank: int | None = None, drop_last: bool = False):
        super().__init__(seed=seed, num_replicas=num_replicas, rank=rank, drop_last=drop_last)
        try:
            self.n = len(data_source)
        except TypeError:
            raise TypeError("data_source should be a map-style dataset with a length (a torchvision "
                            "dataset, a TensorDataset, a tc.open archive), but got "
                            f"{type(data_source).__name__}") from None
        self.k = subset_count(self.n, fraction, num_samples)
        self.class_balanced = check_flag("class_balanced", class_balanced)
        warn_unused_labels(labels, self.class_balanced)
        if self.class_balanced:
            y = class_labels(data_source, labels, self.n)
            _, self.groups = group_members(y)
            self.counts = apportion(np.array([len(m) for m in self.groups]), self.k)

    def subset_size(self) -> int:
        return self.k

    def _extra_state(self) -> dict:
        return {"dataset_size": self.n}

    def _load_extra_state(self, state: dict) -> None:
        n = state.get("dataset_size", self.n)  # older states did not say
        if n != self.n:
            raise ValueError(f"the state was saved for a dataset of {n} samples, but this sampler's "
                             f"has {self.n}; resume over the same dataset")

    def _order(self, g: torch.Generator) -> torch.Tensor:
        if self.class_balanced:
            return balanced_draw(self.groups, self.counts, g)
        return torch.randperm(self.n, generator=g)[:self.k]
