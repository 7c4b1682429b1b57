"""The batches of one epoch that ``ds.loader`` hands to its DataLoader as its sampler."""

from __future__ import annotations

import numbers

import torch
from torch.utils.data import Sampler

from ..samplers._base import EpochSampler, rank_share, seeded, share_size

__all__ = ["EpochBatches", "replicas_of"]


def replicas_of(sampler) -> int | None:
    """The ranks a sampler partitions the epoch over (``num_replicas``: torch's
    ``DistributedSampler`` and ``tc.samplers``), or None."""
    n = getattr(sampler, "num_replicas", None)
    return int(n) if isinstance(n, numbers.Integral) and not isinstance(n, bool) else None


class EpochBatches(Sampler):
    """Lists of indices for one epoch: from ``sampler`` (ours or any with ``set_epoch``), a
    seeded shuffle (``seed + epoch``, as DistributedSampler), or in order; the first ``skip``
    batches are left out (a resumed epoch). With ``shard = (num_replicas, rank, drop_last)``
    the epoch's indices are shared among the ranks as DistributedSampler shares them before
    they are batched (what a framework asks for that puts a DistributedSampler in place of
    the loader's own, see ``ResumableLoader``)."""

    def __init__(self, n: int, batch_size: int, *, sampler=None, shuffle: bool, drop_last: bool,
                 seed: int):
        self.n, self.batch_size, self.sampler = n, batch_size, sampler
        self.shuffle, self.drop_last, self.seed = shuffle, drop_last, seed
        epoch = getattr(sampler, "epoch", 0)  # start where the sampler is
        self.epoch, self.skip = epoch if isinstance(epoch, int) else 0, 0
        self.started = None  # (epoch, the sampler's generator state as that epoch began)
        self.shard: tuple[int, int, bool] | None = None

    @property
    def num_replicas(self) -> int | None:
        """The ranks the epoch is shared among, by its sampler or by ``shard``; None where
        every rank reads it all."""
        return self.shard[0] if self.shard is not None else replicas_of(self.sampler)

    @property
    def generator(self):
        """The torch sampler's own generator (RandomSampler and the like), else None."""
        g = getattr(self.sampler, "generator", None)
        return g if isinstance(g, torch.Generator) else None

    def set_epoch(self, epoch: int) -> None:
        self.epoch, self.skip = epoch, 0
        if hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(epoch)

    def _indices(self) -> list[int]:
        if isinstance(self.sampler, EpochSampler):
            return self.sampler.indices()  # the whole epoch, whatever its own position
        if self.sampler is not None:
            if self.generator is not None:  # a resumed epoch replays it from this state
                self.started = (self.epoch, self.generator.get_state())
            idx = list(iter(self.sampler))
            if idx and isinstance(idx[0], (list, tuple, torch.Tensor)) and \
                    not (isinstance(idx[0], torch.Tensor) and idx[0].ndim == 0):
                raise TypeError(f"sampler= should yield dataset indices, but "
                                f"{type(self.sampler).__name__} yields batches ({idx[0]!r}); "
                                "ds.loader makes the batches itself: pass the sampler inside "
                                "it and batch_size=")
            return idx
        if self.shuffle:
            return torch.randperm(self.n, generator=seeded(self.seed + self.epoch)).tolist()
        return list(range(self.n))

    def draw(self) -> None:
        """Draw this epoch's order and drop it: a sampler's generator moves past the epoch."""
        self._indices()

    def _batches(self) -> list[list[int]]:
        idx = self._indices()
        if self.shard is not None:
            idx = rank_share(torch.as_tensor(idx, dtype=torch.int64), *self.shard)
        b = self.batch_size
        out = [idx[i:i + b] for i in range(0, len(idx), b)]
        if self.drop_last and out and len(out[-1]) < b:
            out.pop()
        return out

    def __iter__(self):
        yield from self._batches()[self.skip:]

    def __len__(self) -> int:
        return max(0, self.count() - self.skip)

    def count(self, draw: bool = True) -> int | None:
        """Batches in the whole epoch (this rank's share), the skipped ones included; None
        where that takes drawing the order from a sampler without a length and not ``draw``."""
        n = None
        if self.sampler is not None and not isinstance(self.sampler, EpochSampler):
            try:  # not drawn: drawing would move a random sampler's generator
                n = len(self.sampler)
            except TypeError:  # a sampler without a length
                if not draw:
                    return None
        if n is None:
            n = len(self._indices())
        if self.shard is not None:
            n = share_size(n, self.shard[0], self.shard[2])
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
