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
    the loader's own, see ``ResumableLoader``). Where the loader knows the epoch's global
    order (its own shuffle or order, or a ``tc.samplers`` sampler's), the ranks share it from
    ``offset`` on: that many were read on another number of ranks before a resume."""

    def __init__(self, n: int, batch_size: int, *, sampler=None, shuffle: bool, drop_last: bool,
                 seed: int):
        self.n, self.batch_size, self.sampler = n, batch_size, sampler
        self.shuffle, self.drop_last, self.seed = shuffle, drop_last, seed
        epoch = getattr(sampler, "epoch", 0)  # start where the sampler is
        self.epoch, self.skip = epoch if isinstance(epoch, int) else 0, 0
        self.started = None  # (epoch, the sampler's generator state as that epoch began)
        self.shard: tuple[int, int, bool] | None = None
        self.offset = 0
        self.begun = False  # set_epoch was called since the loader's last pass began

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
        if epoch != self.epoch:  # the same epoch again (a framework's call) keeps its offset
            self.offset = 0
        self.epoch, self.skip, self.begun = epoch, 0, True
        if hasattr(self.sampler, "set_epoch"):
            self.sampler.set_epoch(epoch)

    @property
    def order_kind(self) -> str | None:
        """Where the epoch's global order comes from, where the loader knows it: its own
        shuffle or sequence, or a tc sampler (named); None for another sampler."""
        if self.sampler is None:
            return "shuffle" if self.shuffle else "sequence"
        return type(self.sampler).__name__ if isinstance(self.sampler, EpochSampler) else None

    @property
    def knows_order(self) -> bool:
        return self.order_kind is not None

    def _sharing(self) -> tuple[int, int, bool]:
        """(num_replicas, rank, drop_last) of the ranks sharing the epoch."""
        if isinstance(self.sampler, EpochSampler):
            return self.sampler.num_replicas, self.sampler.rank, self.sampler.drop_last
        return self.shard or (1, 0, False)

    def _drawn(self) -> list[int]:
        """The epoch's indices as another sampler draws them (its generator moves)."""
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

    def _indices(self) -> list[int]:
        """This rank's indices of the epoch, shared among the ranks."""
        if not self.knows_order:
            idx = self._drawn()
            return idx if self.shard is None else \
                rank_share(torch.as_tensor(idx, dtype=torch.int64), *self.shard)
        if isinstance(self.sampler, EpochSampler):
            order = self.sampler.epoch_order()  # the whole epoch, whatever its own position
        elif self.shuffle:
            order = torch.randperm(self.n, generator=seeded(self.seed + self.epoch))
        else:
            order = torch.arange(self.n)
        return rank_share(order[self.offset:], *self._sharing())

    def draw(self) -> None:
        """Draw this epoch's order from the sampler and drop it: its generator moves past the
        epoch (not shared among the ranks: only the draw matters)."""
        self._drawn()

    def _batches(self) -> list[list[int]]:
        idx = self._indices()
        b = self.batch_size
        out = [idx[i:i + b] for i in range(0, len(idx), b)]
        if self.drop_last and out and len(out[-1]) < b:
            out.pop()
        return out

    def __iter__(self):
        yield from self._batches()[self.skip:]

    def __len__(self) -> int:
        # the epoch's length on these ranks, as if no offset: a framework that counts the
        # batches of a resumed epoch itself (PyTorch Lightning) reads it once, for every epoch
        return max(0, self.count(whole=True) - self.skip)

    def count(self, draw: bool = True, whole: bool = False) -> int | None:
        """Batches in this rank's share of the epoch (from ``offset``, unless ``whole``), the
        skipped ones included; None where that takes drawing the order from a sampler without
        a length and not ``draw``."""
        if isinstance(self.sampler, EpochSampler):
            total = self.sampler.subset_size()
        elif self.sampler is None:
            total = self.n
        else:
            try:  # not drawn: drawing would move a random sampler's generator
                total = len(self.sampler)
            except TypeError:  # a sampler without a length
                if not draw:
                    return None
                total = len(self._drawn())
        ranks, _, cut = self._sharing()
        n = share_size(max(0, total - (0 if whole else self.offset)), ranks, cut)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)
