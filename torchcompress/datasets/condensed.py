"""``tc.condense``: a lossless GeDe archive plus condensed, weighted samples.

The archive holds the whole source (codec ``"gede"``, readable as a
:class:`CompressedDataset` through ``.full``) and an extra file
``condensed`` with the cluster means ``x`` (m, *shape) float32, their
targets ``y`` (m,) and weights ``weight`` (m,) int64 that sum to ``n``.
``tc.open`` of such an archive returns a :class:`CondensedDataset`.
"""

from __future__ import annotations

import os
import time

import numpy as np
import torch
from torch.utils.data import Dataset

from .._validation import check_flag, check_index, check_positive_int, expand_path
from ..codecs import make_codec
from ..codecs.condense import condense_rows
from ..errors import FormatError
from ..format import ArchiveReader
from .compress import refuse_existing, write_archive
from .ranks import alone, compress_together
from .streaming import on_every_rank
from .compressed import CompressedDataset, class_index
from .transforming import check_transforms
from .source_checks import warn_if_augmented
from .sources import load_source
from .summary import summarize

__all__ = ["CondensedDataset", "condense"]


DEFAULT_BETA = 10


def condense(source, path, *, beta: int = DEFAULT_BETA, precision="auto",
             classwise: bool | None = None,
             tau: int = 16, overwrite: bool = False, progress: bool = True,
             layout: str | None = None, shard_size: int | None = None,
             classes: list | None = None, distributed: bool | None = None) -> dict:
    """Compress ``source`` losslessly and store its condensed weighted samples.

    Args:
        source: as for :func:`tc.compress`; float features (tabular data) need
            ``precision``; real-valued targets make a regression set.
        path: the archive directory to create.
        beta: bits that define a cluster (the paper's analytics bit count), >= 1.
            At most ``2**beta`` clusters per class. Default 10 (at most 1,024
            per class): on California Housing 57 condensed rows, +2.1% test MSE.
        precision: decimal digits kept for float features: one int, one per
            column, or ``"auto"`` (default: per column, the most digits that
            fit 16-bit codes). Values are stored as ``round(x * 10**precision)``.
        classwise: one GeDe model per class; default True for integer labels,
            False for real targets.
        tau: plateau threshold of the base search.
        distributed: under a process group, as :func:`tc.compress`'s: None (default)
            and True expect the call on every rank, where rank 0 condenses and the
            others wait for its ``info``; False condenses in this process alone
            (under ``if rank == 0:``).

    Returns:
        The ``info`` summary, with ``num_condensed`` and ``condensed_bytes``.
    """
    t0 = time.perf_counter()
    source, path = expand_path(source), expand_path(path)
    beta = check_positive_int("beta", beta)
    overwrite, progress = check_flag("overwrite", overwrite), check_flag("progress", progress)
    refuse_existing(path, overwrite)
    warn_if_augmented(source)
    together = compress_together(path, None if distributed is None
                                 else check_flag("distributed", distributed))

    def work() -> dict:
        src = load_source(source, layout=layout, progress=progress)
        regression = src.y.dtype.kind == "f"
        enc = make_codec("gede", {"mode": "none", "tau": tau, "precision": precision,
                                  "classwise": not regression if classwise is None else classwise})
        n = src.x.shape[0]
        _, ints = enc.columns(src.x)
        cond = condense_rows(src.x.reshape(n, -1).astype(np.float64), ints, src.y, beta)
        m = len(cond.weight)
        tensors = {"x": cond.x.astype(np.float32).reshape(m, *src.x.shape[1:]),
                   "y": cond.y, "weight": cond.weight}
        stats = {"num_condensed": m, "beta": beta,
                 "condensed_bytes": int(sum(a.nbytes for a in tensors.values())),
                 "cluster_bits": cond.positions.tolist()}
        return write_archive(src, path, enc, overwrite=overwrite, progress=progress,
                             shard_size=shard_size, importance=None, classes=classes,
                             verify=True, t0=t0, extras={"condensed": tensors},
                             extra_stats=stats)
    if together:  # every rank called it: rank 0 writes, the others get its info
        return on_every_rank(work, src=0)
    with alone():
        return work()


class CondensedDataset(Dataset):
    """The condensed samples of an archive written by :func:`tc.condense`.

    ``ds[i]`` returns ``(x, y, w)``: ``x`` float32 of the sample shape, ``y``
    an int class or a float32 scalar tensor (of shape (1,) where the source's
    targets were one-value columns), ``w`` a float32 scalar tensor (the cluster
    size). Train with ``tc.weighted_loss(loss, w)``.

    Args:
        path: archive directory.
        transform, target_transform: applied to ``x`` and ``y``.
        transforms: instead, one callable taking and returning ``(x, y)``.
    """

    def __init__(self, path: str | os.PathLike, *, transform=None, target_transform=None,
                 transforms=None):
        self.transforms, self.transform, self.target_transform = check_transforms(
            transforms, transform, target_transform)
        reader = ArchiveReader(path)
        self.path = reader.path
        where = reader.shard_path("condensed.safetensors")
        t = reader.extras().get("condensed")
        if t is None:
            raise FormatError(f"{self.path}: no 'condensed' file; this archive was not written by "
                              "tc.condense (open it with tc.CompressedDataset)")
        shape = tuple(reader.manifest.sample_shape)
        x, y, w = (t.get(k) for k in ("x", "y", "weight"))
        if x is None or y is None or w is None:
            raise FormatError(f"{where}: needs tensors 'x', 'y' and 'weight'")
        m = w.shape[0] if w.ndim == 1 else -1
        if x.dtype != np.float32 or tuple(x.shape) != (m, *shape) or y.shape != (m,) \
                or w.dtype != np.int64 or m < 1:
            raise FormatError(f"{where}: expected x (m, {', '.join(map(str, shape))}) float32, y (m,) "
                              f"and weight (m,) int64; found x {x.dtype}{tuple(x.shape)}, "
                              f"y {tuple(y.shape)}, weight {w.dtype}{tuple(w.shape)}")
        if (w < 1).any() or int(w.sum()) != reader.manifest.num_samples:
            raise FormatError(f"{where}: weights should be >= 1 and sum to num_samples="
                              f"{reader.manifest.num_samples}, found sum {int(w.sum())}")
        self._x = torch.from_numpy(np.array(x))
        self._y = np.array(y)
        self._target_shape = reader.manifest.target_shape
        self._w = torch.from_numpy(np.array(w, dtype=np.float32))
        self.classes = reader.manifest.classes
        self.class_to_idx = class_index(self.classes)

    def __len__(self) -> int:
        return len(self._w)

    @property
    def weights(self) -> torch.Tensor:
        """(m,) float32 cluster sizes."""
        return self._w.clone()

    @property
    def targets(self) -> torch.Tensor:
        return torch.from_numpy(self._y.copy())

    @property
    def info(self) -> dict:
        """The archive summary (sizes, GeDe and condensing stats)."""
        return summarize(ArchiveReader(self.path))

    @property
    def full(self) -> CompressedDataset:
        """Every source sample, decoded losslessly from the same archive."""
        return CompressedDataset(self.path)

    def __getitem__(self, i):
        i = check_index(i, len(self), f"{len(self)} condensed samples")
        x = self._x[i].clone()  # the caller's own, as torchvision's: an in-place transform or
        # op (x.mul_, Normalize(inplace=True)) must not change the stored samples or weights
        y = self._y[i]
        y = torch.tensor(y).reshape(self._target_shape) if self._y.dtype.kind == "f" else int(y)
        if self.transforms is not None:
            x, y = self.transforms(x, y)
        if self.transform is not None:
            x = self.transform(x)
        if self.target_transform is not None:
            y = self.target_transform(y)
        return x, y, self._w[i].clone()

    def __repr__(self) -> str:
        given = "".join(f", {k}={getattr(self, k)!r}" for k in  # as torchvision's show them
                        ("transform", "target_transform", "transforms")
                        if getattr(self, k) is not None)
        return f"CondensedDataset(path={self.path!r}, num_condensed={len(self)}{given})"
