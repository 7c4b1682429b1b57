"""``tc.ConcatDataset``: torch's ``ConcatDataset`` that keeps each part's batched decode."""

from __future__ import annotations

import functools

import numpy as np
import torch
from torch.utils.data import ConcatDataset as _TorchConcat
from torch.utils.data import default_collate

from .compressed import batch_indices, class_index
from .loading import make_loader
from .source_files import merged_classes

__all__ = ["ConcatDataset"]


class ConcatDataset(_TorchConcat):
    """``torch.utils.data.ConcatDataset`` with ``__getitems__``, ``batch`` and ``loader``.

    torch's ``ConcatDataset`` has no ``__getitems__``, so a ``DataLoader`` over archives
    joined with it decodes every sample on its own (CIFAR, two lossless archives: 16k
    samples/s against 67k for one archive). Here a batch goes to each part it touches as one
    ``__getitems__`` call (or sample by sample for a part without it) and comes back in the
    batch's order; ``batch`` and ``loader`` work as an archive's (one tensor a batch, exact
    resume). The samplers read the parts' ``targets`` (as for torch's ``ConcatDataset``); to
    relabel, set a part's ``targets``.

    >>> ds = tc.ConcatDataset([tc.open("train.tcz"), tc.open("extra.tcz")])  # doctest: +SKIP

    ``classes`` and ``class_to_idx`` are the parts' class names merged by label. Where two
    parts name one label differently (ImageFolders of different class folders number them
    differently) it warns and ``classes`` is None: one label would stand for two classes.
    """

    def __init__(self, datasets):
        super().__init__(datasets)
        archives = [(k, ds._target_shape) for k, ds in enumerate(self.datasets)
                    if hasattr(ds, "_target_shape")]  # other datasets' targets are unknown
        if len({shape for _, shape in archives}) > 1:  # (B,) targets in a part, (B, 1) in another
            parts = "; ".join(f"part {k} gives {shape}" for k, shape in archives)
            raise ValueError(f"the parts give targets of different shapes ({parts}), so their "
                             "batches would not stack: compress them alike, as (N,) or (N, 1) "
                             "targets")
        # class labels beside real targets (promoted per batch): known from the parts' targets,
        # else (a part without them) looked at in each batch
        kinds = [t.is_floating_point() if isinstance(t, torch.Tensor) else None
                 for t in (getattr(ds, "targets", None) for ds in self.datasets)]
        self._mixed = None in kinds or len(set(kinds)) > 1
        self.classes = merged_classes([getattr(ds, "classes", None) for ds in self.datasets],
                                      "tc.ConcatDataset")
        self.class_to_idx = class_index(self.classes)

    def __repr__(self) -> str:
        parts = ", ".join(repr(d) for d in self.datasets)
        return f"ConcatDataset(num_samples={len(self)}, parts=[{parts}])"

    def _parts(self, indices):
        """``(part, positions in the batch, the part's own indices)`` for each part the batch
        ``indices`` touches."""
        idx = batch_indices(indices, len(self))
        ends = np.asarray(self.cumulative_sizes, dtype=np.int64)
        part = np.searchsorted(ends, idx, side="right")
        for k in np.unique(part).tolist():
            where = np.flatnonzero(part == k)
            yield self.datasets[k], where, (idx[where] - (ends[k - 1] if k else 0)).tolist()

    def __getitems__(self, indices) -> list:
        indices = batch_indices(indices, len(self))
        out = [None] * len(indices)
        for ds, where, local in self._parts(indices):
            many = getattr(ds, "__getitems__", None)
            items = many(local) if many is not None else [ds[i] for i in local]
            for w, item in zip(where.tolist(), items):
                out[w] = item
        return _promoted(out) if self._mixed else out

    def batch(self, indices) -> tuple:
        """``(x, y)`` of ``indices`` as one batch, as ``CompressedDataset.batch`` gives it: each
        part decodes its share with its own ``batch`` (or its items, collated)."""
        xs, ys, order = [], [], []
        for ds, where, local in self._parts(indices):
            x, y = ds.batch(local) if hasattr(ds, "batch") else _pair(ds, local)
            xs.append(list(x) if isinstance(x, list) else x)
            ys.append(torch.as_tensor(y))
            order.append(where)
        at = [torch.from_numpy(w) for w in order]
        y = _placed(ys, at)
        if all(isinstance(x, torch.Tensor) for x in xs) and \
                len({(x.shape[1:], x.dtype) for x in xs}) == 1:
            return _placed(xs, at), y
        back = np.argsort(np.concatenate(order), kind="stable").tolist()
        flat = [t for x in xs for t in (x if isinstance(x, list) else x.unbind(0))]
        return [flat[i] for i in back], y

    def loader(self, batch_size: int, **kwargs):
        """``ds.loader`` over the joined parts: whole batches (``batch`` above), exact resume;
        the arguments of ``CompressedDataset.loader``."""
        return make_loader(self, batch_size, **kwargs)


def _promoted(items: list) -> list:
    """A part's class labels (ints) beside another's real targets (0-d float32 tensors) as
    real targets, as ``batch`` promotes them: DataLoader's collate refuses the mix."""
    ys = [it[1] for it in items if isinstance(it, tuple) and len(it) == 2]
    if any(type(y) is int for y in ys) and any(
            isinstance(y, torch.Tensor) and y.dim() == 0 and y.is_floating_point() for y in ys):
        return [(it[0], torch.tensor(it[1], dtype=torch.float32))
                if isinstance(it, tuple) and len(it) == 2 and type(it[1]) is int else it
                for it in items]
    return items


def _placed(parts: list, at: list) -> torch.Tensor:
    """One tensor with ``parts[k]`` at the batch positions ``at[k]`` (one copy of each), in the
    dtype they promote to (a part of class labels beside one of real targets: float32)."""
    dtype = functools.reduce(torch.promote_types, [p.dtype for p in parts])
    out = torch.empty((sum(len(a) for a in at), *parts[0].shape[1:]), dtype=dtype)
    for part, a in zip(parts, at):
        out[a] = part.to(dtype)  # no copy where it is dtype already
    return out


def _pair(ds, local: list) -> tuple:
    """A part without ``batch``: its items collated, which must be (x, y) pairs (a condensed
    set's (x, y, w) would lose its weights)."""
    fields = default_collate([ds[i] for i in local])
    if len(fields) != 2:
        raise TypeError(f"batch and loader take parts of (x, y) samples, but a "
                        f"{type(ds).__name__} part gives {len(fields)} fields (a condensed set's "
                        "(x, y, w)); use DataLoader(tc.ConcatDataset(...)), which keeps them all")
    return fields[0], fields[1]
