"""The conventions every torchcompress sampler shares, in one base class.

Like ``torch.utils.data.DistributedSampler``: each epoch has one global order,
drawn from a private ``torch.Generator`` seeded with ``seed + epoch``, that
every rank computes identically; rank ``r`` takes ``order[r::num_replicas]``
after the order is padded (by repeating its start) or, with ``drop_last``,
cut to a multiple of ``num_replicas``, so all ranks get the same length and
none can hang. The sampler counts what it has yielded in the current epoch,
so ``state_dict()`` / ``load_state_dict()`` resume mid-epoch.

Every sampler here is a ``DistributedSampler``, as it shards by rank: frameworks that put one
into a DataLoader under DDP (PyTorch Lightning's default ``use_distributed_sampler=True``,
Fabric's ``setup_dataloaders``) leave a DistributedSampler as it is and wrap any other sampler
in one, which split each rank's share again (until 2026-12-05, under Lightning on 2 ranks each
rank drew a quarter of the subset an epoch, not half, without a word). Unless given,
``num_replicas`` and ``rank`` are the process group's when an epoch is drawn, not when the
sampler is made, so one made before the group (in a script that ``Trainer.fit`` then runs
under DDP) still shards.
"""

from __future__ import annotations

import math
import numbers
import warnings
from abc import ABC, abstractmethod

import torch
from torch.utils.data import DistributedSampler

from .._distributed import replica_info
from .._validation import check_flag

__all__ = ["EpochSampler", "check_seed", "rank_share", "seeded", "share_size",
           "warn_unused_labels"]


def check_seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed should be an int, but got seed={seed!r}")
    return int(seed)


def warn_unused_labels(labels, class_balanced: bool, stacklevel: int = 3) -> None:
    """A warning where ``labels=`` is given but ``class_balanced`` is False: they would be
    ignored, and the draw not balanced as the caller likely meant."""
    if labels is not None and not class_balanced:
        warnings.warn("labels= is used only with class_balanced=True, so it is ignored here; "
                      "pass class_balanced=True to keep each class's share", UserWarning,
                      stacklevel=stacklevel)


def share_size(total: int, num_replicas: int, drop_last: bool) -> int:
    """How many of ``total`` indices each rank takes, as DistributedSampler shares them."""
    return total // num_replicas if drop_last else math.ceil(total / num_replicas)


def rank_share(order: torch.Tensor, num_replicas: int, rank: int, drop_last: bool) -> list[int]:
    """Rank ``rank``'s share of the epoch's global ``order``, as DistributedSampler takes it:
    the order padded by repeating its start (or cut, with ``drop_last``) to a multiple of
    ``num_replicas``, then every ``num_replicas``-th index from ``rank``."""
    total = share_size(len(order), num_replicas, drop_last) * num_replicas
    if total > len(order):
        order = order.repeat(math.ceil(total / max(len(order), 1)))
    return order[rank:total:num_replicas].tolist()


def seeded(value: int) -> torch.Generator:
    """A CPU generator seeded with ``value`` modulo 2**64: any int (a negative seed, or a large
    one plus the epoch) gives a stream, the same one ``manual_seed`` gives where it takes the
    value (it raises past 2**64)."""
    g = torch.Generator()
    g.manual_seed(int(value) % (1 << 64))
    return g


class EpochSampler(DistributedSampler, ABC):
    """Base class: subclasses define ``subset_size()`` and ``_order(generator)``.

    A ``DistributedSampler`` in its attributes (``num_replicas``, ``rank``, ``epoch``, ``seed``,
    ``shuffle``, ``drop_last``, ``num_samples``, ``total_size``) and methods, without its
    ``__init__`` (which needs a dataset and, unless told the ranks, a process group).
    """

    #: a new order every epoch (``SubsetSampler(shuffle=False)`` keeps its own)
    shuffle = True

    def __init__(self, *, seed: int = 0, num_replicas: int | None = None, rank: int | None = None,
                 drop_last: bool = False):
        replica_info(num_replicas, rank)  # wrong values are refused now, not at the first epoch
        self._replicas = (num_replicas, rank)
        self.seed = check_seed(seed)
        self.drop_last = check_flag("drop_last", drop_last)
        self.epoch = 0
        self._position = 0
        self._pending = False  # load_state_dict set where the next pass begins
        self._open = None  # the pass being iterated (a token), None between passes
        self._replays = False  # a pass finished and set_epoch was not called since
        self._warned = False

    # -- to implement --
    @abstractmethod
    def subset_size(self) -> int:
        """Samples in one epoch over all ranks, before padding."""

    @abstractmethod
    def _order(self, g: torch.Generator) -> torch.Tensor:
        """(subset_size(),) int64 global order of this epoch; same on every rank."""

    def _extra_state(self) -> dict:
        return {}

    def _load_extra_state(self, state: dict) -> None:
        pass

    # -- shared behaviour --
    @property
    def num_replicas(self) -> int:
        """The ranks the epoch is shared among: as given, else the process group's now."""
        return replica_info(*self._replicas)[0]

    @property
    def rank(self) -> int:
        """This process's share: as given, else its rank in the process group now."""
        return replica_info(*self._replicas)[1]

    @property
    def total_size(self) -> int:
        """Samples an epoch yields over all ranks, padding included."""
        return self.num_samples * self.num_replicas

    @property
    def num_samples(self) -> int:
        """Samples this rank yields per epoch."""
        return share_size(self.subset_size(), self.num_replicas, self.drop_last)

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch (its order comes from ``seed + epoch``); a new epoch starts at its beginning."""
        if isinstance(epoch, bool) or not isinstance(epoch, numbers.Integral) or epoch < 0:
            raise ValueError(f"epoch should be a non-negative int, but got epoch={epoch!r}")
        if epoch != self.epoch:
            self._position = 0
        self._replays = False
        self.epoch = int(epoch)

    def _epoch_generator(self) -> torch.Generator:
        """The epoch's own generator. Not ``generator``: torch's samplers hold a
        ``torch.Generator`` (or None) under that name, which frameworks read and seed (Hugging
        Face Accelerate called ``.get_state()`` on this method and failed)."""
        return seeded(self.seed + self.epoch)

    def epoch_order(self) -> torch.Tensor:
        """The current epoch's global order, before the ranks share it; the same on every rank."""
        return self._order(self._epoch_generator())

    def indices(self) -> list[int]:
        """This rank's whole index list for the current epoch."""
        return rank_share(self.epoch_order(), self.num_replicas, self.rank, self.drop_last)

    def __iter__(self):
        """This rank's share of the epoch, from its start: as torch's samplers, a new pass
        begins afresh (until 2026-12-05 one went on where a pass left early had stopped, so a
        look at a DataLoader's first batch took it out of the epoch). Only ``load_state_dict``
        makes a pass begin in the middle."""
        idx = self.indices()
        start = self._position if self._pending else 0
        self._pending = False
        if self._replays and not self._warned:
            self._warned = True
            warnings.warn(f"{type(self).__name__}: this pass repeats epoch {self.epoch} (the same "
                          "samples in the same order) because set_epoch was not called since the "
                          "last pass; call sampler.set_epoch(epoch) at the start of every epoch, "
                          "as with DistributedSampler (ds.loader does it for you)", UserWarning,
                          stacklevel=2)
        self._open = token = object()
        try:
            for k in range(start, len(idx)):
                self._position = k + 1
                yield idx[k]
            self._position = 0  # a finished pass; iterating again replays this epoch
            self._replays = True
        finally:  # run out, or left and closed (a loop's break drops the DataLoader's iterator)
            if self._open is token:  # not a newer pass's
                self._open = None

    def state_dict(self) -> dict:
        """Epoch, seed, position inside the epoch, and any adaptive state."""
        return {"epoch": self.epoch, "seed": self.seed, "position": self._position,
                "num_replicas": self.num_replicas, "subset_size": self.subset_size(),
                **self._extra_state()}

    def load_state_dict(self, state: dict) -> None:
        """Resume: the next iteration yields exactly the rest of the saved epoch."""
        missing = {"epoch", "seed", "position"} - set(state)
        if missing:
            raise KeyError(f"state_dict lacks {sorted(missing)}; pass a dict from state_dict()")
        if state["position"] and state.get("num_replicas", self.num_replicas) != self.num_replicas:
            raise ValueError(f"the state was saved in the middle of an epoch with "
                             f"num_replicas={state['num_replicas']}, but this sampler has "
                             f"num_replicas={self.num_replicas}; resume with the same world size, "
                             "or from a state saved between epochs")
        self._load_extra_state(state)
        size = state.get("subset_size", self.subset_size())  # older states did not say
        if size != self.subset_size():
            raise ValueError(f"the state was saved by a sampler of {size} samples an epoch, but "
                             f"this one draws {self.subset_size()}; resume with the same dataset "
                             "and fraction (or num_samples)")
        self.epoch, self.seed = int(state["epoch"]), int(state["seed"])
        position = int(state["position"])
        if not 0 <= position <= self.num_samples:
            raise ValueError(f"position should be in [0, {self.num_samples}], but got position={position}")
        self._position, self._pending = position, position > 0
        self._replays = False
