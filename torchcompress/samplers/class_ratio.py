"""DQAS adaptive per-class sampling ratios (Algorithm 1 of DQAS)."""

from __future__ import annotations

import numpy as np
import torch

from .._arrays import as_index_array, to_numpy
from .._distributed import broadcast
from .._validation import check_range
from ._base import EpochSampler, seeded
from ._quota import apportion, group_members, subset_count
from .random_subset import balanced_draw

__all__ = ["ClassRatioSampler"]


class ClassRatioSampler(EpochSampler):
    """Samples ``round(fraction * N)`` indices per epoch with adaptive per-class ratios.

    Starts from random per-class fractions ``rho_c ~ U[0, 1]`` (drawn from
    ``seed``) and, with ``initial_accuracy``, from Algorithm 1 line 2's best
    accuracies ``a_c``: those of a model trained on the evenly distributed
    subset. Without it, the first ``update`` only records ``a_c``. Between
    epochs, ``update(per_class_accuracy)`` applies DQAS Algorithm 1:

    - ``a_c <- max(a_c, a_c^i)``;
    - if ``a_c < lower_bound``: ``rho_c`` is redrawn from U[0, 1];
    - else ``rho_c <- rho_c * (1 + (a_c - a_c^i))``;

    then the ratios are normalised so the per-class counts ``n_c`` (at most
    the class size, by water-filling and largest remainder, proportional to
    ``rho_c * N_c``) sum exactly to ``round(fraction * N)``; ``.ratios`` is
    ``n_c / N_c``. Each epoch draws ``n_c`` random members of every class
    (``g(D_c, rho_c)``) from ``seed + epoch``; with ``bins`` (DQ's bins,
    lines 1 and 4) a class's ``n_c`` is spread over its members' bins in
    proportion to their sizes, so the draw covers every bin.

    In DDP every rank passes its accuracies, rank 0's are broadcast (use
    ``tc.evaluate.per_class_accuracy``, which already sums over ranks), and
    redraws come from a generator seeded by ``seed`` and the update count, so
    all ranks hold the same ratios.

    Args:
        labels: (N,) int class of every sample.
        fraction: share of the dataset per epoch, in (0, 1].
        lower_bound: the accuracy ``lb`` under which a class's ratio is redrawn.
        initial_accuracy: (C,) per-class accuracies in [0, 1] of a model trained
            on the evenly distributed subset (Algorithm 1 line 2), classes in
            sorted label order (or indexed by class id, as ``per_class_accuracy``
            gives them, where some ids have no samples); ``None``: the first
            update only records them.
        bins: (N,) DQ bin id of every sample (``tc.selection.graphcut_bins``).
        seed, num_replicas, rank, drop_last: as ``DistributedSampler``.

    Example:
        >>> s = ClassRatioSampler([0] * 50 + [1] * 50, 0.2, seed=0)
        >>> int(round(float((s.ratios * 50).sum())))
        20
    """

    def __init__(self, labels, fraction: float, *, lower_bound: float = 0.5,
                 initial_accuracy=None, bins=None, seed: int = 0,
                 num_replicas: int | None = None, rank: int | None = None, drop_last: bool = False):
        super().__init__(seed=seed, num_replicas=num_replicas, rank=rank, drop_last=drop_last)
        y = as_index_array("labels", labels)
        if len(y) == 0:
            raise ValueError("labels should hold at least one label, but got an empty sequence")
        if y.min() < 0:
            raise ValueError(f"labels should be class ids >= 0, but got {int(y.min())} (some "
                             "datasets mark unlabelled samples -1); leave those samples out, e.g. "
                             "with torch.utils.data.Subset")
        self.classes, self.groups = group_members(y)
        self.sizes = np.array([len(m) for m in self.groups], dtype=np.int64)
        self.k = subset_count(len(y), fraction, None)
        self.lower_bound = check_range("lower_bound", lower_bound, 0.0, 1.0)
        self.best = np.zeros(len(self.classes))
        self.started = initial_accuracy is not None
        if self.started:
            self.best = self._check_accuracy("initial_accuracy", initial_accuracy)
            if np.isnan(self.best).any():
                raise ValueError("initial_accuracy should hold no NaN: every class needs its a_c")
        self._bin_groups = None
        if bins is not None:
            b = as_index_array("bins", bins)
            if len(b) != len(y):
                raise ValueError(f"bins should have one entry per label ({len(y)}), but got {len(b)}")
            self._bin_groups = [group_members(b[m])[1] for m in self.groups]
            self._bin_groups = [[m[g] for g in gs] for m, gs in zip(self.groups, self._bin_groups)]
        self.updates = 0
        self._set_ratios(torch.rand(len(self.classes), generator=self._update_generator()).numpy())

    def _update_generator(self) -> torch.Generator:
        return seeded(self.seed * 1_000_003 + 7919 * self.updates + 1)

    def _check_accuracy(self, name: str, values) -> np.ndarray:
        acc = to_numpy(values, np.float64)
        top = int(self.classes[-1]) + 1
        if acc.ndim == 1 and len(acc) >= top and len(acc) != len(self.classes):
            acc = acc[self.classes]  # indexed by class id (per_class_accuracy's num_classes)
        if acc.shape != (len(self.classes),):
            raise ValueError(f"{name} should have {len(self.classes)} entries (one per class in "
                             f"the labels, in sorted order) or at least {top} (indexed by class "
                             f"id), but got shape {acc.shape}")
        if ((acc < 0) | (acc > 1)).any():
            raise ValueError(f"{name} should be in [0, 1], but got {acc.tolist()}")
        return acc

    def _set_ratios(self, rho: np.ndarray) -> None:
        self.counts = apportion(self.sizes, self.k, weights=np.asarray(rho) * self.sizes)
        self._ratios = self.counts / self.sizes

    @property
    def ratios(self) -> np.ndarray:
        """(C,) float64 current per-class fractions ``n_c / N_c``, classes in sorted label order."""
        return self._ratios.copy()

    def update(self, per_class_accuracy) -> np.ndarray:
        """One step of Algorithm 1 from this epoch's per-class accuracies; returns the new ratios.

        Args:
            per_class_accuracy: (C,) accuracies in [0, 1], classes in sorted
                label order, or indexed by class id (``tc.evaluate.per_class_accuracy``
                with ``num_classes`` past the labels' classes); NaN (class not
                evaluated) leaves that class alone.
        """
        # a pass being iterated, or the rest of a saved one to come (a pass left early and
        # closed ended there: the next begins afresh, so the ratios may change in between)
        if self._open is not None or self._pending:
            raise RuntimeError("update() changes the sampling ratios; call it between epochs, not "
                               f"in the middle of one ({self._position} samples already yielded)")
        acc = self._check_accuracy("per_class_accuracy", per_class_accuracy)
        acc = broadcast(torch.from_numpy(acc)).numpy()
        seen = ~np.isnan(acc)
        self.updates += 1
        if not self.started:  # Algorithm 1 line 2: this first evaluation only sets a_c
            self.best = np.where(seen, acc, self.best)
            self.started = bool(seen.all())
            return self.ratios
        draws = torch.rand(len(acc), generator=self._update_generator()).numpy()
        best = np.where(seen, np.maximum(self.best, np.nan_to_num(acc)), self.best)
        grown = self._ratios * (1 + (best - np.where(seen, acc, best)))
        rho = np.where(seen & (best < self.lower_bound), draws, grown)
        self.best = best
        self._set_ratios(rho)
        return self.ratios

    def subset_size(self) -> int:
        return self.k

    def _order(self, g: torch.Generator) -> torch.Tensor:
        if self._bin_groups is None:
            return balanced_draw(self.groups, self.counts, g)
        groups, counts = [], []
        for members, n_c in zip(self._bin_groups, self.counts):
            groups += members
            counts.append(apportion(np.array([len(m) for m in members]), int(n_c)))
        return balanced_draw(groups, np.concatenate(counts), g)

    def _extra_state(self) -> dict:
        return {"ratios": self._ratios.tolist(), "counts": self.counts.tolist(),
                "best": self.best.tolist(), "updates": self.updates, "started": self.started}

    def _load_extra_state(self, state: dict) -> None:
        counts = np.asarray(state["counts"], dtype=np.int64)
        if counts.shape != self.sizes.shape or counts.sum() != self.k or (counts > self.sizes).any():
            raise ValueError("the saved counts do not fit this sampler's labels and fraction")
        self.counts, self._ratios = counts, counts / self.sizes
        self.best = np.asarray(state["best"], dtype=np.float64)
        self.updates = int(state["updates"])
        self.started = bool(state.get("started", True))  # older states began at a_c = 0
