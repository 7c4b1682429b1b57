"""``tc.open``: a torch Dataset that decodes samples from an archive on demand."""

from __future__ import annotations

import os

import numpy as np
import torch
from torch.utils.data import Dataset, default_collate

from .._arrays import as_index_array, to_numpy
from .._validation import check_index, check_positive_int
from ..format import ArchiveDecoder, ArchiveReader
from ..format import verify as verify_hashes
from .loading import make_loader
from .files import FileImages
from .output import OutputPlan, pil_image
from .transforming import check_transforms, pil_hint
from .summary import summarize

__all__ = ["CompressedDataset", "batch_indices", "class_index", "verify"]


def class_index(classes: list | None) -> dict | None:
    """``{name: label}`` of an archive's class names (None without them)."""
    return {c: k for k, c in enumerate(classes)} if classes else None


def batch_indices(indices, n: int) -> np.ndarray:
    """A batch's indices into ``n`` samples as an int64 array, negative ones counted from the
    end; an IndexError names one out of range."""
    idx = as_index_array("indices", indices)
    if not idx.size or (idx.min() >= 0 and idx.max() < n):  # the usual batch: ~8 us less
        return idx
    bad = (idx < -n) | (idx >= n)
    if bad.any():
        raise IndexError(f"index {int(idx[bad][0])} is out of range for a dataset of {n} samples")
    return np.where(idx < 0, idx + n, idx)


class CompressedDataset(Dataset):
    """Map-style dataset over a torchcompress archive.

    ``ds[i]`` returns ``(x, y)``: ``x`` a tensor of the stored sample shape in
    the source's dtype (uint8 CHW for images, as ``torchvision.io`` gives them,
    so ``v2.ToDtype(torch.float32, scale=True)`` and ``Normalize`` work
    unchanged), ``y`` an int (for regression targets a 0-d float32 tensor, as a
    ``TensorDataset`` gives it, so ``DataLoader`` collates float32). Archives of
    mixed shapes (``codec="lossless"``) give each sample its own shape.
    ``ds.__getitems__(indices)`` decodes a batch in one kernel call per shard;
    ``DataLoader`` uses it automatically.

    Args:
        path: archive directory written by ``tc.compress``.
        transform: applied to each decoded ``x`` (torchvision convention).
        target_transform: applied to each label.
        transforms: instead of the two above, one callable taking and returning
            ``(x, y)`` (torchvision's ``transforms=``, e.g. a ``v2.Compose``).
        planes: progressive codecs (ADQ) only: decode from the top ``planes``
            bit-planes (a coarser view). ``None`` uses all stored planes.
        output: ``"source"`` (default): the source's dtype; lossy codecs round
            and clamp to it. ``"float"``: float32, integer images scaled to
            [0, 1] (uint8 / 255). ``"raw"``: float32, the codec's unrounded
            reconstruction in the source's scale (e.g. ADQ's dequantised
            values). ``"pil"``: PIL images (uint8 archives of 1 to 4
            channels), as torchvision's datasets give them, so a pipeline that
            begins with ``ToTensor()`` works unchanged. ``"uint8"`` and
            ``"float32"`` are older names of ``"source"`` (uint8 archives) and
            ``"raw"``.
        device: archives of image files (``codec="original"``) only: decode on
            this device, e.g. ``"cuda"`` (JPEGs through one batched
            ``torchvision.io.decode_jpeg`` call); ``None`` decodes on the CPU
            with ``torchvision.io.decode_image``.
    """

    def __init__(self, path: str | os.PathLike, *, transform=None, target_transform=None,
                 planes: int | None = None, output: str = "source", device=None,
                 transforms=None):
        self.transforms, self.transform, self.target_transform = check_transforms(
            transforms, transform, target_transform)
        self.reader = ArchiveReader(path)
        self._args = dict(path=self.reader.path, transform=transform,
                          target_transform=target_transform, planes=planes, output=output,
                          device=device, transforms=transforms)
        m = self.reader.manifest
        self.decoder = ArchiveDecoder.from_reader(self.reader)
        codec = self.decoder.codec
        self._out = OutputPlan(output, m.sample_dtype, codec.output_dtypes)
        self._files = FileImages(self.decoder, self._out.output, device) \
            if getattr(codec, "stores_files", False) else None
        if device is not None and self._out.pil:
            raise ValueError("output='pil' gives PIL images, which live on the CPU; leave "
                             "device=None, or use output='source' with device=")
        if device is not None and self._files is None:
            raise ValueError(f"device= applies to archives of image files (codec='original', decoded "
                             f"by torchvision, on the GPU for JPEGs); this archive uses "
                             f"codec={m.codec!r}, which decodes on the CPU: move batches with .to()")
        if planes is not None:
            if not codec.progressive:
                raise ValueError(f"planes applies to progressive codecs such as 'adq' (bit-planes); "
                                 f"this archive uses codec={m.codec!r}, so leave planes=None")
            planes = check_positive_int("planes", planes)
            if planes > codec.max_planes:
                raise ValueError(f"planes should be in 1..{codec.max_planes}, but got planes={planes}")
        self.planes = codec.max_planes if planes is None else planes
        self._stored = self.reader.labels  # as the archive holds them
        self._labels = self._stored.copy()  # what ds[i] gives; ds.targets shares it
        self._targets = torch.from_numpy(self._labels)
        self._n = len(self._labels)
        # a class is an int, as torchvision's datasets give it; a regression target a 0-d
        # float32 tensor, as a TensorDataset's, so DataLoader collates float32 (B,) as ds.loader
        # does (a Python float collated float64: the losses ran in float64, MPS refused them),
        # or of shape (1,) where the source gave them so (a table's column: (B, 1) batches)
        self._target_shape = m.target_shape
        # (the targets setter keeps the labels' dtype, so the kind holds for the dataset's life)
        self._label = int if self._labels.dtype.kind in "iu" else self._target
        self.decoder.check_all()  # validate every shard before any kernel runs
        self.reader.release()

    def __len__(self) -> int:
        return len(self._labels)

    @property
    def targets(self) -> torch.Tensor:
        """(N,) int64 labels (float32 for regression targets): the labels ``ds[i]`` gives, as
        torchvision's MNIST holds them, so ``ds.targets[i] = c`` or ``ds.targets = noisy``
        relabels the dataset (a label-noise experiment) and reading it copies nothing."""
        return self._targets

    @targets.setter
    def targets(self, value) -> None:
        t = torch.as_tensor(np.asarray(value) if isinstance(value, (list, tuple)) else value)
        if self._target_shape and t.shape == (self._n, *self._target_shape):
            t = t.reshape(self._n)  # (N, 1) targets, as the source gave them
        regression = self._labels.dtype.kind == "f"
        real = not t.is_complex() and t.dtype != torch.bool
        if t.shape != (self._n,) or not real or (t.is_floating_point() and not regression):
            want = "real-valued" if regression else "integer class"
            raise ValueError(f"targets should be {self._n} {want} labels, one per sample, as the "
                             f"archive holds, but got {t.dtype} of shape {tuple(t.shape)}")
        labels = to_numpy(t).astype(self._labels.dtype)
        self._labels, self._targets = labels, torch.from_numpy(labels)

    @property
    def classes(self) -> list | None:
        return self.reader.manifest.classes

    @property
    def class_to_idx(self) -> dict | None:
        """``{class name: label}``, as torchvision's datasets give it (None without names); made
        once, so a lookup per sample does not rebuild it (1,000 classes: ~50 us a build)."""
        if not hasattr(self, "_class_to_idx"):
            self._class_to_idx = class_index(self.classes)
        return self._class_to_idx

    @property
    def info(self) -> dict:
        return summarize(self.reader)

    def _indices(self, indices) -> np.ndarray:
        return batch_indices(indices, len(self._labels))

    def _plain(self) -> bool:
        """No transform to apply (read each time: users set ``ds.transform`` after opening)."""
        return self.transform is None and self.target_transform is None and self.transforms is None

    def _finish(self, x: torch.Tensor, y):
        if self.transforms is not None:
            return pil_hint(self.transforms, x, y)
        if self.transform is not None:
            x = pil_hint(self.transform, x)
        if self.target_transform is not None:
            y = self.target_transform(y)
        return x, y

    def __getitem__(self, i):
        if type(i) is not int or not 0 <= i < self._n:  # the common case without ABC checks
            i = check_index(i, self._n, f"a dataset of {self._n} samples")
        if self._files is not None:
            x = self._files.decode(np.array([i], dtype=np.int64))[0]
            x = pil_image(x.numpy(), i) if self._out.pil else x
            return self._finish(x, self._label(self._labels[i]))
        x = self.decoder.decode_one(i, self._out.dtype, self.planes)
        x = pil_image(x, i) if self._out.pil else \
            torch.from_numpy(x if self._out.identity else self._out.finish(x))
        y = self._label(self._labels[i])
        if self._plain():
            return x, y
        return self._finish(x, y)

    def _decode(self, idx: np.ndarray):
        """Rows ``idx`` as one (B, *shape) tensor, or a list of tensors for mixed shapes (of PIL
        images for ``output="pil"``)."""
        if self._out.pil:
            x = self._decode_tensors(idx)
            return [pil_image(t.numpy(), int(i)) for t, i in zip(x, idx)]
        return self._decode_tensors(idx)

    def _decode_tensors(self, idx: np.ndarray):
        if self._files is not None:
            xs = self._files.decode(idx)
            return torch.stack(xs) if self.decoder.fixed and xs else xs
        out = self.decoder.decode(idx, self._out.dtype, self.planes)
        if isinstance(out, list):
            return [torch.from_numpy(self._out.finish(a)) for a in out]
        return torch.from_numpy(self._out.finish(out))

    def _target(self, v) -> torch.Tensor:
        """One stored real-valued target as ``ds[i]`` gives it (a class label is an int)."""
        return torch.tensor(v).reshape(self._target_shape)

    def _labels_of(self, idx: np.ndarray) -> list:
        """Rows ``idx``'s labels as ``ds[i]`` gives them: ints, or float32 target tensors."""
        y = self._labels[idx]
        if y.dtype.kind in "iu":
            return y.tolist()
        return list(torch.from_numpy(y).reshape(-1, *self._target_shape).unbind(0))

    def __getitems__(self, indices) -> list:
        """Decode a batch: one kernel call per shard touched. Returns ``[(x, y), ...]``."""
        idx = self._indices(indices)
        x = self._decode(idx)
        xs = x if isinstance(x, list) else x.unbind(0)
        labels = self._labels_of(idx)
        if self._plain():
            return list(zip(xs, labels))
        return [self._finish(x, y) for x, y in zip(xs, labels)]

    def batch(self, indices) -> tuple:
        """Decode ``indices`` as one batch: ``(x, y)`` with ``x`` (B, *shape) and ``y`` (B,)
        tensors (``x`` a list when the samples differ in shape, and still do after the
        transform; transformed labels collated as DataLoader does). The transforms apply per
        sample, as in ``__getitem__``; without them nothing is split and stacked again."""
        idx = self._indices(indices)
        x = self._decode(idx)
        y = torch.from_numpy(self._labels[idx]).reshape(-1, *self._target_shape)
        if self.transforms is not None:
            pairs = [pil_hint(self.transforms, t, v) for t, v in
                     zip(x if isinstance(x, list) else x.unbind(0), self._labels_of(idx))]
            x, y = [p[0] for p in pairs], default_collate([p[1] for p in pairs])
        elif self.transform is not None:
            x = [pil_hint(self.transform, t) for t in (x if isinstance(x, list) else x.unbind(0))]
        # one shape after the transform (a crop or resize of photos): one tensor, as
        # DataLoader's collate stacks them
        if (self.transforms is not None or self.transform is not None) and x \
                and all(isinstance(t, torch.Tensor) and t.shape == x[0].shape for t in x):
            x = torch.stack(x)
        if self.target_transform is not None:  # collated as DataLoader's default collate does
            y = default_collate([self.target_transform(v) for v in self._labels_of(idx)])
        return x, y

    def loader(self, batch_size: int, *, shuffle: bool = False, sampler=None, num_workers: int = 0,
               drop_last: bool = False, seed: int = 0, with_indices: bool = False,
               **dataloader_kwargs):
        """A ``torch.utils.data.DataLoader`` that decodes whole batches and resumes exactly.

        Each step decodes one batch into one tensor (no per-sample tensors to
        collate). ``loader.state_dict()`` records the epoch and the batches the
        training loop has consumed, however far workers have prefetched, plus
        the sampler's state; ``load_state_dict`` makes the next pass yield
        exactly the remaining batches. Exact resume needs a reproducible order:
        ``shuffle=True`` (seeded with ``seed + epoch``), one of
        ``tc.samplers``, or another sampler with a deterministic ``set_epoch``.
        PyTorch Lightning takes it as it is: under DDP the DistributedSampler it puts in
        shares each epoch among the ranks (a sampler that shards already is kept), and its
        checkpoints hold the loader's state.

        Args:
            batch_size: samples per batch.
            shuffle: a new seeded order every epoch.
            sampler: a ``Sampler[int]`` choosing the indices (e.g.
                ``tc.samplers.RandomSubsetSampler``); not with ``shuffle``.
            with_indices: batches are ``(x, y, indices)``, the (B,) int64 dataset
                indices of the batch, for ``TrainingDynamics.record``.
            num_workers, drop_last, **dataloader_kwargs: as ``DataLoader``
                (``pin_memory``, ``persistent_workers``, ``multiprocessing_context``...).
        """
        return make_loader(self, batch_size, shuffle=shuffle, sampler=sampler,
                           num_workers=num_workers, drop_last=drop_last, seed=seed,
                           with_indices=with_indices, **dataloader_kwargs)

    def __getstate__(self) -> dict:
        # pickles by path; workers reopen lazily. The transforms as they are now: users set
        # ds.transform after opening (a split's train part), and spawned workers lost it
        state = dict(self._args, transform=self.transform, target_transform=self.target_transform,
                     transforms=self.transforms, files=self.reader.identity)
        if not np.array_equal(self._labels, self._stored):  # relabelled: the labels travel too
            state["targets"] = self._labels
        return state

    def __setstate__(self, state: dict) -> None:
        path, targets = state.pop("path"), state.pop("targets", None)
        files = state.pop("files", None)
        self.__init__(path, **state)
        if files is not None:  # the files the pickling process opened: a spawned worker reopens
            self.reader.identity = files  # by path, and must not read an archive written since
        if targets is not None:
            self.targets = targets

    def __repr__(self) -> str:
        m = self.reader.manifest
        shown = {k: getattr(self, k) for k in ("transform", "target_transform", "transforms")}
        shown.update((k, self._args[k]) for k in ("planes", "output", "device"))
        given = "".join(f", {k}={v!r}" for k, v in shown.items()  # as torchvision's show them
                        if v is not None and (k, v) != ("output", "source"))
        return (f"CompressedDataset(path={self.reader.path!r}, codec={m.codec!r}, "
                f"num_samples={m.num_samples}, sample_shape={tuple(m.sample_shape)}{given})")


def verify(path: str | os.PathLike) -> dict:
    """Recompute every shard hash and check every codec array (``tc.verify``).

    Raises:
        FormatError: naming the file and the problem.
    """
    report = verify_hashes(path)
    ArchiveDecoder.from_reader(ArchiveReader(path)).check_all()  # codec-level checks of every shard
    return report
