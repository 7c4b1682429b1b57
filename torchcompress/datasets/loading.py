"""``ds.loader(...)``: a DataLoader that decodes whole batches and resumes exactly.

The loader's sampler yields *batches* of indices and the dataset decodes each
batch into one tensor in one kernel call per shard, so no per-sample tensors
are made and stacked again. It counts the batches it has handed to the
training loop, so ``state_dict()`` records the position after the last batch
the loop consumed, however far workers have prefetched; a resumed loader
replays the same epoch order and skips those batches without decoding them.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np
import torch
import torch.distributed as dist
import xxhash
from torch.utils.data import DataLoader, Dataset, Sampler, get_worker_info

from .._distributed import is_distributed
from .._validation import check_flag, check_positive_int
from ..samplers._base import EpochSampler, check_seed, seeded

__all__ = ["ResumableLoader", "make_loader"]


class _Labels:
    """A worker's batch labels as a plain array: pickled with the batch message, where a
    tensor would travel as its own shared-memory file and file descriptor (ready batches
    of 256 CIFAR images through 2 workers: 99-139k -> 167-208k samples/s on 2 cores)."""

    def __init__(self, array):
        self.array = array


class _Batches(Dataset):
    """Items are whole batches: ``view[indices] == (x, y)`` with ``x`` (B, ...) or a list, or
    ``(x, y, indices)`` with ``with_indices``; in a worker process a label or index tensor comes
    back as :class:`_Labels`."""

    def __init__(self, ds, with_indices: bool = False):
        self.ds, self.with_indices = ds, with_indices

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, indices):
        x, y = self.ds.batch(indices)
        out = (x, y, torch.as_tensor(indices, dtype=torch.int64)) if self.with_indices else (x, y)
        if get_worker_info() is not None:
            return tuple(_Labels(v.numpy()) if k and isinstance(v, torch.Tensor) else v
                         for k, v in enumerate(out))
        return out


def _workers_view(loader) -> tuple | None:
    """What worker processes take from the dataset when they start: each archive's labels
    (hashed) and transform objects; None without persistent workers."""
    if not (loader.persistent_workers and loader.num_workers > 0):
        return None
    ds = loader.dataset.ds
    view = []
    for part in getattr(ds, "datasets", [ds]):  # a ConcatDataset's parts, or the archive
        labels = getattr(part, "_labels", None)
        digest = None if labels is None else xxhash.xxh3_64_hexdigest(np.ascontiguousarray(labels))
        view.append((digest,
                     getattr(part, "transform", None), getattr(part, "target_transform", None),
                     getattr(part, "transforms", None)))
    return tuple(view)


def _seen_alike(before, now) -> bool:
    """The same labels and the very same transform objects."""
    return before is None or now is None or (len(before) == len(now) and all(
        a[0] == b[0] and all(u is v for u, v in zip(a[1:], b[1:])) for a, b in zip(before, now)))


def _labels_back(batch):
    """The training process's side of :class:`_Labels`: the label (and index) tensors again
    (pinned when the loader pinned the batch)."""
    x, rest = batch[0], []
    for v in batch[1:]:
        if isinstance(v, _Labels):
            v = torch.from_numpy(v.array)
            if isinstance(x, torch.Tensor) and x.is_pinned():
                v = v.pin_memory()
        rest.append(v)
    return (x, *rest)


class EpochBatches(Sampler):
    """Lists of indices for one epoch: from ``sampler`` (ours or any with ``set_epoch``), a
    seeded shuffle (``seed + epoch``, as DistributedSampler), or in order; the first ``skip``
    batches are left out (a resumed epoch)."""

    def __init__(self, n: int, batch_size: int, *, sampler=None, shuffle: bool, drop_last: bool,
                 seed: int):
        self.n, self.batch_size, self.sampler = n, batch_size, sampler
        self.shuffle, self.drop_last, self.seed = shuffle, drop_last, seed
        epoch = getattr(sampler, "epoch", 0)  # start where the sampler is
        self.epoch, self.skip = epoch if isinstance(epoch, int) else 0, 0
        self.started = None  # (epoch, the sampler's generator state as that epoch began)

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
        n = None
        if self.sampler is not None and not isinstance(self.sampler, EpochSampler):
            try:  # not drawn: drawing would move a random sampler's generator
                n = len(self.sampler)
            except TypeError:  # a sampler without a length
                pass
        if n is None:
            n = len(self._indices())
        batches = n // self.batch_size if self.drop_last else -(-n // self.batch_size)
        return max(0, batches - self.skip)


class ResumableLoader(DataLoader):
    """A ``DataLoader`` over whole batches with exact ``state_dict`` / ``load_state_dict``.

    Iterating it yields ``(x, y)`` per batch. A pass that runs to its end moves
    to the next epoch; ``set_epoch(e)`` selects one explicitly (and the
    sampler's, when it has ``set_epoch``).
    """

    def __init__(self, ds, batches: EpochBatches, with_indices: bool = False, **kwargs):
        super().__init__(_Batches(ds, with_indices), sampler=batches, batch_size=None, **kwargs)
        self.batches = batches
        self._consumed = 0
        self._warned = False
        self._view = None  # what persistent workers took from the dataset when they started

    def set_epoch(self, epoch: int) -> None:
        if isinstance(epoch, bool) or not isinstance(epoch, numbers.Integral) or epoch < 0:
            raise ValueError(f"epoch should be a non-negative int, but got epoch={epoch!r}")
        if epoch != self.batches.epoch:
            self.batches.set_epoch(int(epoch))
            self._consumed = 0

    @property
    def epoch(self) -> int:
        return self.batches.epoch

    def __iter__(self):
        self.batches.skip = self._consumed
        if self._iterator is not None and not _seen_alike(self._view, _workers_view(self)):
            # persistent workers hold the dataset as it was when they started: a
            # relabel or a new transform since would not reach them (it silently did not)
            it, self._iterator = self._iterator, None
            getattr(it, "_shutdown_workers", lambda: None)()
        if self._iterator is None:
            self._view = _workers_view(self)
        for batch in super().__iter__():
            self._consumed += 1
            yield _labels_back(batch)
        self.batches.set_epoch(self.batches.epoch + 1)
        self._consumed = 0

    def state_dict(self) -> dict:
        """The epoch, the batches the loop has consumed in it, and the sampler's own state."""
        state = {"epoch": self.batches.epoch, "consumed": self._consumed,
                 "batch_size": self.batches.batch_size, "seed": self.batches.seed,
                 "num_samples": self.batches.n}
        replicas = _replicas(self.batches.sampler)
        if replicas is not None:  # a DistributedSampler's partition: the batches consumed
            state["num_replicas"] = replicas
        if hasattr(self.batches.sampler, "state_dict"):
            state["sampler"] = self.batches.sampler.state_dict()
        g, started = self.batches.generator, self.batches.started
        if g is not None:  # the generator as the current epoch began (or begins)
            begun = started is not None and started[0] == self.batches.epoch
            state["generator"] = started[1].clone() if begun else g.get_state()
        elif self.batches.sampler is not None and \
                getattr(self.batches.sampler, "generator", False) is None and not self._warned:
            self._warned = True
            warnings.warn(
                f"{type(self.batches.sampler).__name__} without a generator draws its order from "
                "torch's global random state, which the loader cannot replay: a resumed epoch "
                "would repeat some samples and skip others. Pass it a seeded generator ("
                "generator=torch.Generator().manual_seed(0)), or use shuffle=True", stacklevel=2)
        return state

    def load_state_dict(self, state: dict) -> None:
        """Resume: the next iteration yields exactly the batches after the consumed ones."""
        missing = {"epoch", "consumed", "batch_size"} - set(state)
        if missing:
            raise KeyError(f"state_dict lacks {sorted(missing)}; pass a dict from "
                           "loader.state_dict()")
        if state["batch_size"] != self.batches.batch_size:
            raise ValueError(f"the state was saved with batch_size={state['batch_size']}, but this "
                             f"loader has batch_size={self.batches.batch_size}")
        if state.get("num_samples", self.batches.n) != self.batches.n:  # absent before 2026-12-05
            raise ValueError(f"the state was saved for a dataset of {state['num_samples']} "
                             f"samples, but this loader's has {self.batches.n}: its epoch's "
                             "order and the batches consumed would not be the ones saved. "
                             "Resume on the same dataset")
        replicas = _replicas(self.batches.sampler)
        if state.get("num_replicas", replicas) != replicas:  # absent before 2026-12-05
            raise ValueError(f"the state was saved with a sampler over {state['num_replicas']} "
                             f"ranks, but this loader's has {replicas}: each rank's share of the "
                             "epoch differs, so the batches consumed are not the ones to skip. "
                             "Resume with the same world size, or start the saved epoch over "
                             "(loader.set_epoch(state['epoch']) instead of load_state_dict)")
        if "sampler" in state and hasattr(self.batches.sampler, "load_state_dict"):
            self.batches.sampler.load_state_dict(state["sampler"])
        if "generator" in state and self.batches.generator is not None:
            self.batches.generator.set_state(state["generator"])
        self.batches.seed = check_seed(state.get("seed", self.batches.seed))
        self.batches.set_epoch(int(state["epoch"]))
        self._consumed = int(state["consumed"])


def _replicas(sampler) -> int | None:
    """The ranks a sampler partitions the epoch over (``num_replicas``: torch's
    ``DistributedSampler`` and ``tc.samplers``), or None."""
    n = getattr(sampler, "num_replicas", None)
    return int(n) if isinstance(n, numbers.Integral) and not isinstance(n, bool) else None


def make_loader(ds, batch_size: int, *, shuffle: bool = False, sampler=None, num_workers: int = 0,
                drop_last: bool = False, seed: int = 0, with_indices: bool = False,
                **dataloader_kwargs) -> ResumableLoader:
    """The loader behind ``CompressedDataset.loader``; see there."""
    if "batch_sampler" in dataloader_kwargs:
        raise TypeError("batch_sampler= is set by ds.loader (its batches resume exactly); for "
                        "batches of your own (e.g. grouped by image shape) use "
                        "DataLoader(ds, batch_sampler=...), which still decodes each batch in "
                        "one ds.__getitems__ call, without ds.loader's exact resume")
    if "collate_fn" in dataloader_kwargs:
        raise TypeError("collate_fn= is set by ds.loader (it decodes whole batches, already "
                        "collated); apply a batch transform to each batch in your loop instead, "
                        "e.g. x, y = v2.CutMix(num_classes=...)(x, y), as torchvision's docs do "
                        "after the DataLoader; or use DataLoader(ds, collate_fn=...)")
    batch_size = check_positive_int("batch_size", batch_size)
    shuffle, drop_last = check_flag("shuffle", shuffle), check_flag("drop_last", drop_last)
    with_indices = check_flag("with_indices", with_indices)
    if dataloader_kwargs.get("in_order", True) is False:
        raise ValueError("in_order=False lets workers deliver batches out of order, and ds.loader "
                         "resumes by counting the batches consumed in order: a resumed epoch "
                         "would skip some and repeat others. Leave it out, or use "
                         "DataLoader(ds, batch_size, in_order=False) without exact resume")
    if sampler is not None and shuffle:
        raise ValueError("sampler= and shuffle=True both choose the order; pass one of them")
    if shuffle and dataloader_kwargs.get("generator") is not None:
        warnings.warn("ds.loader(shuffle=True) orders each epoch from seed + epoch (so it can "
                      "resume exactly); generator= only seeds the workers here. Pass seed= to "
                      "change the order, or sampler=RandomSampler(ds, generator=g)",
                      UserWarning, stacklevel=3)
    if sampler is None and is_distributed() and dist.get_world_size() > 1:
        warnings.warn(f"ds.loader without a sampler under torch.distributed gives each of the "
                      f"{dist.get_world_size()} ranks every sample (the same batches on all of "
                      "them); pass sampler=torch.utils.data.DistributedSampler(ds) or a "
                      "tc.samplers sampler, which shard by rank", UserWarning, stacklevel=3)
    batches = EpochBatches(len(ds), batch_size, sampler=sampler, shuffle=shuffle,
                           drop_last=drop_last, seed=check_seed(seed))
    return ResumableLoader(ds, batches, with_indices, num_workers=num_workers,
                           **dataloader_kwargs)
