"""Record per-sample training dynamics: only what the scores need, NaN where unseen."""

from __future__ import annotations

import numbers
import warnings

import numpy as np
import torch
from torch.utils.data import Dataset

from .._arrays import as_index_array, to_numpy
from .._distributed import all_reduce_sum
from .._validation import check_flag, check_positive_int
from ._kernels import accumulate_batch

__all__ = ["IndexedDataset", "TrainingDynamics", "with_indices"]

_FIELDS = ("norm", "seen", "correct", "margin", "entropy")


def _with_index(item, i: int):
    """``item`` with its index last: a tuple gains an element, a dict (Hugging Face style) an
    ``"index"`` key, anything else becomes ``(item, index)``."""
    if isinstance(item, tuple):
        return (*item, i)
    if isinstance(item, dict):
        if "index" in item:
            raise ValueError(f"with_indices adds the key 'index' to dict items, but item {i} "
                             f"already has one (keys {sorted(item)})")
        return {**item, "index": i}
    return (item, i)


class IndexedDataset(Dataset):
    """Wraps a map-style dataset so each item gains its index: ``(x, y, index)`` (a dict item
    gains the key ``"index"``)."""

    def __init__(self, dataset):
        self.dataset = dataset

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i):
        return _with_index(self.dataset[i], i)

    def __getitems__(self, indices):
        batch = self.dataset.__getitems__(indices) if hasattr(self.dataset, "__getitems__") \
            else [self.dataset[i] for i in indices]
        return [_with_index(item, i) for item, i in zip(batch, indices)]

    @property
    def targets(self):
        return self.dataset.targets

    def __repr__(self) -> str:
        return f"with_indices({self.dataset!r})"


def with_indices(dataset) -> IndexedDataset:
    """``dataset`` whose items are ``(x, y, index)``, for :meth:`TrainingDynamics.record`."""
    return IndexedDataset(dataset)


def _class_ids(t: np.ndarray, num_classes: int) -> np.ndarray:
    """``targets`` as (B,) int64 class ids, or a ValueError saying what they are instead."""
    if t.ndim == 2 and t.shape[1] == num_classes:
        raise ValueError(f"targets should be class ids (B,), but got shape {t.shape}: soft labels "
                         "(MixUp, CutMix) or one-hot. A mixed sample's error belongs to neither "
                         "sample; record a pass without mixing, or the labels before it "
                         "(targets.argmax(1) only for one-hot)")
    y = t.reshape(-1)
    if y.size and y.dtype.kind not in "biuf" or (y.dtype.kind == "f" and not
                                                np.array_equal(y, np.round(y))):
        raise ValueError(f"targets should be integer class ids, but got dtype {y.dtype} "
                         f"(e.g. {y[:3].tolist()})")
    return np.ascontiguousarray(y, dtype=np.int64)


def _check_windows(windows) -> list[tuple[int, int]]:
    if len(windows) == 2 and all(isinstance(v, numbers.Integral) for v in windows):
        windows = [windows]  # one (start, stop) pair
    out = []
    for w in windows:
        if len(w) != 2 or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in w) \
                or not 0 <= w[0] < w[1]:
            raise ValueError(f"windows should be (start, stop) epoch pairs with 0 <= start < stop, "
                             f"but got {w!r}")
        out.append((int(w[0]), int(w[1])))
    out.sort()
    for a, b in zip(out, out[1:]):
        if b[0] < a[1]:
            raise ValueError(f"windows should not overlap, but {a} and {b} do")
    if not out:
        raise ValueError("windows should hold at least one (start, stop) pair")
    return out


class TrainingDynamics:
    """Per-sample error norms in the scoring windows, plus running stats for baselines.

    Call ``set_epoch(e)`` at the start of every epoch and ``record(indices,
    logits, targets)`` once per batch (indices from :func:`with_indices`).
    For epochs inside ``windows`` it keeps the L2 norm of softmax - one-hot
    (EVA Eq. 3) of every sample: memory ``4 * N * (window epochs)`` bytes. For
    every epoch it updates O(N) running stats: forgetting events, summed
    margins (AUM) and the last predictive entropy. A sample not seen in an
    epoch (e.g. dropped by ``drop_last``, or outside a subset) gets NaN there,
    never 0. An epoch is closed, and under DDP summed over all ranks, by the
    next ``set_epoch`` or by :meth:`finalize` (the score functions call it);
    so every rank must make those calls, or pass ``distributed=False`` to a
    recorder that one rank keeps alone (its sum over ranks would wait for
    ranks that never call it, until the group's timeout).

    Args:
        num_samples: dataset size N.
        num_classes: C.
        windows: ``(start, stop)`` epoch ranges, stop exclusive, e.g. EVA's
            early and late windows ``[(0, 10), (100, 110)]``; one pair alone,
            ``(1, 11)``, is one window.
        distributed: sum each epoch over the ranks of a process group (default);
            False keeps this process's records alone.
    """

    def __init__(self, num_samples: int, num_classes: int, *, windows=((0, 10), (100, 110)),
                 distributed: bool = True):
        self.num_samples = check_positive_int("num_samples", num_samples)
        self.distributed = check_flag("distributed", distributed)
        self.num_classes = check_positive_int("num_classes", num_classes)
        if self.num_classes == 1:
            raise ValueError("num_classes should be at least 2 (the error is softmax - one-hot); "
                             "for a binary classifier with one logit z, pass num_classes=2 and "
                             "torch.cat([torch.zeros_like(z), z], 1) as the logits, whose "
                             "softmax is (1 - sigmoid(z), sigmoid(z))")
        self.windows = _check_windows(windows)
        self.window_epochs = [e for a, b in self.windows for e in range(a, b)]
        self._column = {e: k for k, e in enumerate(self.window_epochs)}
        n = self.num_samples
        self.norms = torch.full((n, len(self.window_epochs)), float("nan"))
        self.forgetting = torch.zeros(n, dtype=torch.int32)
        self.prev_correct = torch.full((n,), -1, dtype=torch.int8)
        self.learned = torch.zeros(n, dtype=torch.bool)
        self.margin_sum = torch.zeros(n, dtype=torch.float64)
        self.margin_count = torch.zeros(n, dtype=torch.int32)
        self.last_entropy = torch.full((n,), float("nan"))
        self.epochs_closed = 0
        self.epochs_recorded: list[int] = []
        self.epoch: int | None = None
        self._open = False
        self._buf = torch.zeros(len(_FIELDS), n, dtype=torch.float64)
        if self.windows[0][0] == 0:
            warnings.warn(f"window {self.windows[0]} starts at epoch 0, where a sample's error "
                          "mostly reflects when the first shuffle visited it (Spearman -0.66 with "
                          "its position in our MNIST benchmark) rather than how hard it is; start "
                          "the window at epoch 1 or later", UserWarning, stacklevel=2)

    def describe_epochs(self) -> str:
        """The recorded epochs as ranges, e.g. ``"0-9"`` or ``"none"``."""
        e = self.epochs_recorded
        if not e:
            return "none"
        parts, start = [], e[0]
        for a, b in zip(e, e[1:] + [None]):
            if b != a + 1:
                parts.append(str(start) if start == a else f"{start}-{a}")
                start = b
        return ", ".join(parts)

    def set_epoch(self, epoch: int) -> None:
        """Start ``epoch`` (closing the previous one); epochs must increase."""
        if isinstance(epoch, bool) or not isinstance(epoch, numbers.Integral) or epoch < 0:
            raise ValueError(f"epoch should be a non-negative int, but got epoch={epoch!r}")
        if self.epoch is not None and epoch <= self.epoch:
            if epoch == self.epoch and self._open:
                return  # repeated call at the start of the same epoch (e.g. after a resume)
            raise ValueError(f"epoch should increase: the recorder is at epoch {self.epoch}, but "
                             f"got epoch={epoch}")
        self.finalize()
        self.epoch, self._open = int(epoch), True

    @torch.no_grad()
    def record(self, indices, logits: torch.Tensor, targets) -> None:
        """Add one batch: ``indices`` (B,) dataset indices, ``logits`` (B, C), ``targets`` (B,)."""
        if not self._open:
            raise RuntimeError("call dyn.set_epoch(epoch) at the start of every epoch before record()")
        idx = np.ascontiguousarray(as_index_array("indices", to_numpy(indices).reshape(-1)))
        y = _class_ids(to_numpy(targets), self.num_classes)
        z = np.ascontiguousarray(to_numpy(logits, np.float32))  # bfloat16 (autocast) widened
        b = len(idx)
        if z.ndim != 2 or z.shape[1] != self.num_classes or z.shape[0] != b or len(y) != b:
            raise ValueError(f"record expects indices (B,), logits (B, {self.num_classes}) and targets "
                             f"(B,), but got {idx.shape}, {z.shape}, {y.shape}")
        if b == 0:
            return
        if idx.min() < 0 or idx.max() >= self.num_samples:
            raise IndexError(f"indices should be in [0, {self.num_samples}), but got "
                             f"{int(idx.min())}..{int(idx.max())}")
        if y.min() < 0 or y.max() >= self.num_classes:
            raise ValueError(f"targets should be class ids in [0, {self.num_classes}), but got "
                             f"{int(y.min())}..{int(y.max())}")
        if not np.isfinite(z).all():
            raise ValueError("logits hold NaN or inf; the model diverged (lower the learning rate)")
        accumulate_batch(z, y, idx, self._buf.numpy())

    def finalize(self) -> None:
        """Close the open epoch: sum it over DDP ranks and fold it into the stored stats."""
        if not self._open:
            return
        buf = all_reduce_sum(self._buf) if self.distributed else self._buf
        seen = buf[1] > 0
        if seen.any() and float(buf[1][seen].min()) >= 2:
            warnings.warn(f"every sample recorded in epoch {self.epoch} was recorded at least "
                          f"twice ({int(buf[1].max())} times at most): several epochs were "
                          "recorded as one; call dyn.set_epoch(epoch) at the start of every "
                          "epoch", UserWarning, stacklevel=3)
        mean = torch.where(seen, buf / buf[1].clamp(min=1), torch.full_like(buf, float("nan")))
        col = self._column.get(self.epoch)
        if col is not None:
            self.norms[:, col] = mean[0].float()
        correct = (mean[2] >= 0.5) & seen
        self.forgetting += ((self.prev_correct == 1) & seen & ~correct).int()
        self.prev_correct = torch.where(seen, correct.to(torch.int8), self.prev_correct)
        self.learned |= correct
        self.margin_sum += torch.where(seen, mean[3], torch.zeros_like(mean[3]))
        self.margin_count += seen.int()
        self.last_entropy = torch.where(seen, mean[4].float(), self.last_entropy)
        self._buf.zero_()
        self._open = False
        self.epochs_closed += 1
        self.epochs_recorded.append(int(self.epoch))

    def window_norms(self, k: int) -> torch.Tensor:
        """(N, K) error norms of window ``k`` (NaN where a sample was not seen)."""
        a, b = self.windows[k]
        return self.norms[:, self._column[a]:self._column[a] + (b - a)]

    def state_dict(self) -> dict:
        names = ("norms", "forgetting", "prev_correct", "learned", "margin_sum", "margin_count",
                 "last_entropy", "_buf")
        return {"windows": list(self.windows), "epoch": self.epoch, "open": self._open,
                "epochs_closed": self.epochs_closed, "epochs_recorded": list(self.epochs_recorded),
                **{k: getattr(self, k).clone() for k in names}}

    def load_state_dict(self, state: dict) -> None:
        if [tuple(w) for w in state["windows"]] != self.windows:
            raise ValueError(f"the state was recorded with windows {state['windows']}, but this "
                             f"recorder has {self.windows}")
        if state["norms"].shape != self.norms.shape:
            raise ValueError(f"the state holds {state['norms'].shape[0]} samples, but this recorder "
                             f"has num_samples={self.num_samples}")
        for k in ("norms", "forgetting", "prev_correct", "learned", "margin_sum", "margin_count",
                  "last_entropy", "_buf"):
            setattr(self, k, state[k].clone())
        self.epoch, self._open = state["epoch"], bool(state["open"])
        self.epochs_closed = int(state["epochs_closed"])
        self.epochs_recorded = [int(e) for e in state.get("epochs_recorded", [])]
