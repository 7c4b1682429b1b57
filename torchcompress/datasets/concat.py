"""``tc.ConcatDataset``: torch's ``ConcatDataset`` that keeps each part's batched decode."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import ConcatDataset as _TorchConcat

from .._arrays import as_index_array

__all__ = ["ConcatDataset"]


class ConcatDataset(_TorchConcat):
    """``torch.utils.data.ConcatDataset`` with ``__getitems__`` and ``targets``.

    torch's ``ConcatDataset`` has no ``__getitems__``, so a ``DataLoader`` over archives
    joined with it decodes every sample on its own (CIFAR, two lossless archives: 16k
    samples/s against 67k for one archive). Here a batch goes to each part it touches as one
    ``__getitems__`` call (or sample by sample for a part without it) and comes back in the
    batch's order. ``targets`` joins the parts' targets, for the samplers.

    >>> ds = tc.ConcatDataset([tc.open("train.tcz"), tc.open("extra.tcz")])  # doctest: +SKIP
    """

    def __getitems__(self, indices) -> list:
        idx = as_index_array("indices", indices)
        n = len(self)
        bad = (idx < -n) | (idx >= n)
        if bad.any():
            raise IndexError(f"index {int(idx[bad][0])} is out of range for a dataset of {n} "
                             "samples")
        idx = np.where(idx < 0, idx + n, idx)
        ends = np.asarray(self.cumulative_sizes, dtype=np.int64)
        part = np.searchsorted(ends, idx, side="right")
        out = [None] * len(idx)
        for k in np.unique(part).tolist():
            where = np.flatnonzero(part == k)
            local = (idx[where] - (ends[k - 1] if k else 0)).tolist()
            ds = self.datasets[k]
            many = getattr(ds, "__getitems__", None)
            items = many(local) if many is not None else [ds[i] for i in local]
            for w, item in zip(where.tolist(), items):
                out[w] = item
        return out

    @property
    def targets(self) -> torch.Tensor:
        """The parts' ``targets`` joined as one tensor (an AttributeError naming a part
        without them)."""
        parts = []
        for k, ds in enumerate(self.datasets):
            t = getattr(ds, "targets", None)
            if t is None:
                raise AttributeError(f"part {k} of the ConcatDataset ({type(ds).__name__}) has no "
                                     "targets, so the joined dataset has none")
            parts.append(torch.as_tensor(t))
        return torch.cat(parts)
