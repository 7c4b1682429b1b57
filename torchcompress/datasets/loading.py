"""``ds.loader(...)``: a DataLoader that decodes whole batches and resumes exactly.

The loader's sampler yields *batches* of indices and the dataset decodes each
batch into one tensor in one kernel call per shard, so no per-sample tensors
are made and stacked again. It counts the batches it has handed to the
training loop, so ``state_dict()`` records the position after the last batch
the loop consumed, however far workers have prefetched; a resumed loader
replays the same epoch order and skips those batches without decoding them.
"""

from __future__ import annotations

import copy
import numbers
import warnings

import numpy as np
import torch
import torch.distributed as dist
import xxhash
from torch.utils.data import DataLoader, Dataset, SequentialSampler, get_worker_info

from .._distributed import is_distributed
from .._validation import check_flag, check_positive_int
from ..samplers._base import check_seed
from .epoch_batches import EpochBatches, replicas_of

__all__ = ["ResumableLoader", "make_loader"]


class _Labels:
    """A worker's batch labels as a plain array: pickled with the batch message, where a
    tensor would travel as its own shared-memory file and file descriptor (ready batches
    of 256 CIFAR images through 2 workers: 99-139k -> 167-208k samples/s on 2 cores)."""

    def __init__(self, array):
        self.array = array


#: a DataLoader made again from ``loader.dataset`` without the loader's sampler asks the batches'
#: view for one index at a time: Hugging Face Accelerate's ``prepare`` does (it failed with
#: "indices should be a 1-D sequence of ints", naming nothing a user could change)
_ONE_INDEX = (
    "ds.loader's items are whole batches, but something asked it for item {indices!r}: a "
    "DataLoader was made again from the loader's dataset without its sampler, as Hugging Face "
    "Accelerate's prepare() makes one. Under Accelerate either prepare a plain "
    "DataLoader(ds, batch_size=..., shuffle=True) (its batches still decode in one "
    "ds.__getitems__ call), or leave ds.loader out of prepare(): pass it sampler="
    "DistributedSampler(ds, num_replicas=accelerator.num_processes, rank=accelerator."
    "process_index) (or a tc.samplers sampler), move each "
    "batch to accelerator.device, and call accelerator.register_for_checkpointing(loader) "
    "for an exact resume")


class _Batches(Dataset):
    """Items are whole batches: ``view[indices] == (x, y)`` with ``x`` (B, ...) or a list, or
    ``(x, y, indices)`` with ``with_indices``; in a worker process a label or index tensor comes
    back as :class:`_Labels`.

    Every other attribute is the dataset's, read and set: ``loader.dataset`` stands for the
    dataset in a user's code, as a DataLoader's does (``loader.dataset.classes``,
    ``.targets`` for class weights). Until 2026-12-05 reading one raised AttributeError, and
    setting one (``loader.dataset.transform = t``) set it here, where nothing read it."""

    _FIELDS = frozenset({"ds", "with_indices"})

    def __init__(self, ds, with_indices: bool = False):
        self.ds, self.with_indices = ds, with_indices

    def __getattr__(self, name):  # only for names not found here
        if name in _Batches._FIELDS or name.startswith("__"):  # unpickling, copying, dunders
            raise AttributeError(name)
        return getattr(self.ds, name)

    def __setattr__(self, name, value):
        if name in _Batches._FIELDS:
            object.__setattr__(self, name, value)
        else:
            setattr(self.ds, name, value)

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, indices):
        if isinstance(indices, numbers.Integral) or getattr(indices, "ndim", None) == 0:
            raise TypeError(_ONE_INDEX.format(indices=indices))
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


class _AsBatches:
    """A DataLoader attribute that reads as the loader's batches hold it. The DataLoader
    underneath takes whole batches as items: its own batch size is None and its drop_last
    False, which it sets in ``__init__`` and reads only for iterable datasets."""

    def __init__(self, underneath):
        self.underneath = underneath

    def __set_name__(self, owner, name: str) -> None:
        self.name = name

    def __get__(self, loader, owner=None):
        if loader is None:
            return self
        batches = loader.__dict__.get("batches")
        return self.underneath if batches is None else getattr(batches, self.name)

    def __set__(self, loader, value) -> None:
        if value != self.underneath:  # only DataLoader's __init__ sets it
            raise ValueError(f"ds.loader's {self.name} is set when it is made: make another "
                             f"loader for {self.name}={value!r}")


class ResumableLoader(DataLoader):
    """A ``DataLoader`` over whole batches with exact ``state_dict`` / ``load_state_dict``.

    Iterating it yields ``(x, y)`` per batch. A pass that runs to its end moves
    to the next epoch; ``set_epoch(e)`` selects one explicitly (and the
    sampler's, when it has ``set_epoch``).
    """

    def __init__(self, ds, batches: EpochBatches, with_indices: bool = False, **kwargs):
        batches = _as_asked(batches, kwargs)
        self.ds, self.with_indices = ds, with_indices  # read back by a framework (below)
        super().__init__(_Batches(ds, with_indices), sampler=batches, batch_size=None, **kwargs)
        self.batches = batches
        self._consumed = 0
        self._consumed_in = batches.epoch  # the epoch _consumed counts batches of
        self._pending = False  # load_state_dict set where the next pass begins
        self._warned = False
        self._warned_ranks = False
        self._view = None  # what persistent workers took from the dataset when they started

    def set_epoch(self, epoch: int) -> None:
        if isinstance(epoch, bool) or not isinstance(epoch, numbers.Integral) or epoch < 0:
            raise ValueError(f"epoch should be a non-negative int, but got epoch={epoch!r}")
        if epoch != self.batches.epoch:
            self.batches.set_epoch(int(epoch))
            self._consumed = 0
        else:  # the same epoch begun again: from its start, unless a resume is pending
            self.batches.begun = True

    @property
    def epoch(self) -> int:
        return self.batches.epoch

    #: as ``DataLoader(ds, batch_size=..., drop_last=...)`` holds them (until 2026-12-05 they
    #: read None and False: ``len(loader) * loader.batch_size`` failed)
    batch_size = _AsBatches(None)
    drop_last = _AsBatches(False)

    def __iter__(self):
        if self.batches.num_replicas is None and is_distributed() and \
                dist.get_world_size() > 1 and not self._warned_ranks:
            self._warned_ranks = True
            warnings.warn(f"ds.loader without a sampler under torch.distributed gives each of "
                          f"the {dist.get_world_size()} ranks every sample (the same batches on "
                          "all of them); pass sampler=torch.utils.data.DistributedSampler(ds) "
                          "or a tc.samplers sampler, which shard by rank", UserWarning,
                          stacklevel=2)
        self._settle()
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

    def _settle(self) -> None:
        """Where the next pass begins. A pass run to its end moved to the next epoch. One left
        before that (a ``break``, a look at ``next(iter(loader))``, a loop that stops at
        ``len(loader)`` without running the pass to its end, as PyTorch Lightning's does)
        ends its epoch too, and the next pass begins the next epoch, as each pass of torch's
        DataLoader begins afresh; ``set_epoch`` (the loader's or its sampler's, as Lightning
        calls it) begins the epoch it names from its start. Only ``load_state_dict`` makes a
        pass begin in the middle of an epoch. Until 2026-12-05 a pass went on where the last
        one was left: the tutorials' look at one batch before training took that batch out of
        the first epoch, and a validation on a loop's first batches walked through the set."""
        pending, begun = self._pending, self.batches.begun
        self._pending = self.batches.begun = False
        if self._consumed and (self.batches.epoch != self._consumed_in or (begun and not pending)):
            self._consumed = 0  # another epoch, or this one again, begun through set_epoch
        elif self._consumed and not pending:  # the last pass was left: it ended its epoch
            self.batches.set_epoch(self.batches.epoch + 1)
            self.batches.begun = False
            self._consumed = 0
        self._consumed_in = self.batches.epoch

    def state_dict(self) -> dict:
        """The epoch, the batches the loop has consumed in it, and the sampler's own state."""
        state = {"epoch": self.batches.epoch, "consumed": self._consumed,
                 "batch_size": self.batches.batch_size, "seed": self.batches.seed,
                 "num_samples": self.batches.n,
                 # the ranks sharing the epoch (1: it is read whole) and, below, this rank's
                 # batches in it and its order: what a resume on other ranks needs to know
                 "num_replicas": self.batches.num_replicas or 1}
        count = self.batches.count(draw=False)  # a state is taken often: it must move nothing
        if count is not None:
            state["epoch_batches"] = count
        if self.batches.knows_order:  # a mid-epoch state may then resume on other ranks
            state["order"] = self.batches.order_kind
        if self.batches.offset:  # of the epoch's order, read on other ranks before a resume
            state["offset"] = self.batches.offset
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
        epoch, consumed = int(state["epoch"]), int(state["consumed"])
        offset = int(state.get("offset", 0))
        done = consumed and consumed >= state.get("epoch_batches", consumed + 1)
        replicas, saved = self.batches.num_replicas or 1, state.get("num_replicas")
        moved = bool(consumed and not done and saved is not None and saved != replicas)
        if moved and (not self.batches.knows_order
                      or state.get("order") != self.batches.order_kind):
            own = "a sampler's own"
            raise ValueError(f"the state was saved in the middle of epoch {epoch} ({consumed} of "
                             f"{state.get('epoch_batches', '?')} batches) with the epoch shared "
                             f"among {saved} ranks, but this loader shares it among {replicas}. "
                             "The rest of an epoch can be shared among other ranks only where "
                             "both loaders draw one known order (shuffle=True, or the same "
                             "tc.samplers sampler); the state's is "
                             f"{state.get('order') or own}, this loader's "
                             f"{self.batches.order_kind or own}. Resume on {saved} ranks, or "
                             "from a state saved at an epoch's end (under PyTorch Lightning, a "
                             "checkpoint saved at an epoch's end), or start the saved epoch "
                             "over: loader.set_epoch(state['epoch']) instead of load_state_dict")
        if "sampler" in state and hasattr(self.batches.sampler, "load_state_dict"):
            self.batches.sampler.load_state_dict(state["sampler"])
        if "generator" in state and self.batches.generator is not None:
            self.batches.generator.set_state(state["generator"])
        self.batches.seed = check_seed(state.get("seed", self.batches.seed))
        self.batches.set_epoch(epoch)
        if done:  # the saved epoch's last batch was taken: the next pass is the next epoch
            if self.batches.generator is not None:  # as the saved epoch began: draw it, so
                self.batches.draw()  # the next epoch's order comes after it, as it would have
            self.batches.set_epoch(epoch + 1)
            consumed = 0
        elif moved:  # every rank took `consumed` whole batches of its share, in turn: the
            # first saved x consumed x batch_size of the order (from offset) were read
            offset += saved * consumed * self.batches.batch_size
            consumed = 0
        if not done:
            self.batches.offset = offset
        if moved:
            self._warn_counted(int(state["consumed"]))
        self._consumed, self._consumed_in = consumed, self.batches.epoch
        self._pending = bool(consumed)  # the next pass begins there, whatever set_epoch says

    def _warn_counted(self, counted: int) -> None:
        """A loop that counts the epoch's batches itself goes on from the saved count, in the
        old ranks' batches, up to ``len(loader)`` in the new ranks': where the rest of the
        epoch is longer than that leaves, it stops early (PyTorch Lightning does, so a
        checkpoint from 1 device resumed mid-epoch on 2 read 3 of each rank's 6 last batches)."""
        rest, whole = self.batches.count(draw=False), self.batches.count(draw=False, whole=True)
        if rest is not None and whole is not None and counted + rest > whole:
            warnings.warn(f"this loader resumes the middle of epoch {self.batches.epoch} on "
                          f"{self.batches.num_replicas or 1} ranks with {rest} batches left on "
                          f"each; a loop that counts the epoch's batches itself from the saved "
                          f"count ({counted}) up to len(loader) ({whole}), as PyTorch Lightning "
                          f"does, reads only {max(0, whole - counted)} of them, and the rest of "
                          "the epoch goes unread. A plain loop reads them all; under Lightning, "
                          "resume from a checkpoint saved at an epoch's end, or on as many ranks "
                          "as the checkpoint was saved on", UserWarning, stacklevel=3)


#: what a framework that makes the loader again passes back of DataLoader's own arguments, with
#: the values ResumableLoader gives them (it sets them itself)
_OWN = {"batch_size": None, "shuffle": False, "batch_sampler": None, "drop_last": False}


def _as_asked(batches: EpochBatches, kwargs: dict) -> EpochBatches:
    """``batches`` as a framework that makes the loader again asks, its arguments taken out of
    ``kwargs``. PyTorch Lightning (``use_distributed_sampler=True``, its default) and Fabric
    put a DistributedSampler into every DataLoader under DDP by making it again, with
    ``sampler=`` the new sampler over the loader's items (here, whole batches) and DataLoader's
    own arguments as it holds them; ``ds.loader`` failed there ("more than one __init__
    argument can be passed to its parent's sampler"). Its sampler, if it shards by rank
    already, is kept; otherwise the epoch's indices are shared among the ranks the
    DistributedSampler names, as it would share them, and batched on each rank. A
    SequentialSampler (Lightning's ``overfit_batches``) asks for the batches in order: the
    loader's own shuffle is turned off."""
    given = kwargs.pop("sampler", None)
    if isinstance(kwargs.get("dataset"), _Batches):
        kwargs.pop("dataset")
    for name, value in _OWN.items():
        if name in kwargs and kwargs[name] in (value, getattr(batches, name, value)):
            kwargs.pop(name)  # (batch_size: the loader's own, as its attribute reads)
    if given is None or given is batches:
        return batches
    if isinstance(given, SequentialSampler):  # the items in order (Lightning's overfit_batches)
        batches = copy.copy(batches)
        batches.shuffle = False
        return batches
    if batches.num_replicas is not None:
        return batches
    ranks = replicas_of(given), getattr(given, "rank", None)
    if ranks[0] is None or not isinstance(ranks[1], numbers.Integral):
        raise TypeError(f"ds.loader makes its own batches, and sampler={type(given).__name__} "
                        "cannot take their place (a DistributedSampler, with num_replicas and "
                        "rank, can); pass the sampler to ds.loader(batch_size, sampler=...), "
                        "e.g. torch.utils.data.DistributedSampler(ds) or a tc.samplers sampler")
    batches = copy.copy(batches)
    batches.shard = (ranks[0], int(ranks[1]), bool(getattr(given, "drop_last", False)))
    return batches


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
    batches = EpochBatches(len(ds), batch_size, sampler=sampler, shuffle=shuffle,
                           drop_last=drop_last, seed=check_seed(seed))
    return ResumableLoader(ds, batches, with_indices, num_workers=num_workers,
                           **dataloader_kwargs)
