"""Rules a source's samples, labels and class names must meet, checked as they are read; and a
warning for a source whose transform augments at random."""

from __future__ import annotations

import math
import numbers
import os
import reprlib
import warnings
from collections.abc import Mapping

import numpy as np

from .._validation import check_positive_int
from ..errors import AugmentedSourceWarning

__all__ = ["agree", "check_agrees", "check_archive_outside", "check_class_names",
           "check_labels_name_classes", "check_layout", "check_resize", "check_values",
           "names_of_class_to_idx", "stored_dtype", "warn_if_augmented"]

_ALLOWED = "uint8, int8, uint16, int16, int32, int64, float16, float32 or float64"
_CHANNELS = (1, 3, 4)


def stored_dtype(x: np.ndarray, what: str) -> np.ndarray:
    """``x`` in a dtype archives store: bool becomes uint8, float16 float32 and a big-endian
    dtype its native twin (the kernels read native integers); others refused."""
    if not x.dtype.isnative:
        x = x.astype(x.dtype.newbyteorder("="))
    if x.dtype == np.bool_:
        x = x.astype(np.uint8)
    if x.dtype == np.float16:
        x = x.astype(np.float32)
    if x.dtype.kind not in "iuf" or x.dtype.itemsize > 8 or x.dtype in (np.uint32, np.uint64):
        raise TypeError(f"{what} should have dtype {_ALLOWED}, but got {x.dtype}")
    return x


def check_layout(shape: tuple, layout: str | None, what: str) -> None:
    """Refuse a sample shape that looks channels-last when ``layout`` was not given."""
    if layout is None and len(shape) == 3 and shape[-1] in _CHANNELS and shape[0] not in _CHANNELS:
        raise ValueError(f"{what} have shape {tuple(shape)}, which looks channels-last (H, W, C); "
                         "pass layout='HWC' to convert them to (C, H, W), or layout='CHW' to keep "
                         "them as they are")


#: the most values one sample may hold: the format's per-sample shapes and the kernels' int32
#: positions stop there (a reader refuses larger records as corrupt)
MAX_SAMPLE_VALUES = (1 << 31) - 1


def check_values(shape: tuple, what: str, *, limit: bool = True) -> None:
    """Refuse a sample that holds no values (a scalar, shape ``()``, or a zero dimension), or
    (with ``limit``; not for an image about to be resized) more than ``MAX_SAMPLE_VALUES``."""
    if len(shape) == 0:
        raise ValueError(f"{what} is a scalar (shape ()); a sample needs at least one dimension: "
                         "pass x.reshape(-1, 1) for one value per sample")
    if 0 in shape:
        raise ValueError(f"{what} has shape {tuple(shape)}, with a zero dimension, so it holds no "
                         "values; drop empty samples from the source")
    values = math.prod(int(d) for d in shape)
    if limit and values > MAX_SAMPLE_VALUES:
        raise ValueError(f"{what} has shape {tuple(shape)}, {values:,} values, but a sample holds "
                         f"at most {MAX_SAMPLE_VALUES:,} (the format's int32 limit); split it into "
                         "tiles, or (a dataset or folder of images) pass resize=(height, width) "
                         "to tc.compress")


def check_class_names(classes) -> list | None:
    """Class names as a list of distinct strings, or None: ints become their text, and a tuple
    of names for one class (torchvision's ImageNet) is joined with ", "."""
    if classes is None:
        return None
    if isinstance(classes, (str, bytes, set, frozenset)) or not hasattr(classes, "__iter__"):
        why = " (a set has no order, and a name's place is its label)" \
            if isinstance(classes, (set, frozenset)) else ""
        raise TypeError(f"classes should be a list of class names{why}, but got "
                        f"classes={reprlib.repr(classes)} ({type(classes).__name__})")
    if isinstance(classes, Mapping):  # a class_to_idx: its names in the order of their labels
        classes = names_of_class_to_idx(classes)
    names = [", ".join(map(str, c)) if isinstance(c, (tuple, list)) else str(c) for c in classes]
    if not names:
        raise ValueError("classes should name at least one class, but got an empty list; "
                         "leave classes=None when there are none")
    seen = {}
    for i, c in enumerate(names):
        if c in seen:
            raise ValueError(f"classes should be distinct, but classes[{seen[c]}] and "
                             f"classes[{i}] are both {c!r}")
        seen[c] = i
    return names


def names_of_class_to_idx(mapping) -> list:
    """A ``class_to_idx`` (name -> label) as its names in label order, when its labels are
    0 .. k-1 once each."""
    values = list(mapping.values())
    if not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in values) \
            or sorted(values) != list(range(len(values))):
        raise ValueError(f"classes given as a dict is read as a class_to_idx (name -> label), "
                         f"whose labels should be 0 .. {len(mapping) - 1} once each, but got "
                         f"{reprlib.repr(dict(mapping))}; pass the names as a list in label order")
    return sorted(mapping, key=mapping.get)


def check_labels_name_classes(classes, labels: np.ndarray, where: str = "the labels") -> None:
    """Labels must index ``classes`` (when there are names): ints in ``[0, len(classes))``."""
    if classes is None or labels.size == 0:
        return
    if labels.dtype.kind == "f":
        raise ValueError(f"classes= names {len(classes)} classes, but {where} are real-valued "
                         "regression targets; leave classes=None")
    lo, hi = int(labels.min()), int(labels.max())
    if lo < 0 or hi >= len(classes):
        raise ValueError(f"{where} run from {lo} to {hi}, but there are {len(classes)} class "
                         f"names; every label should index them (0 to {len(classes) - 1}): pass "
                         "one name per class, in label order")


def check_resize(resize) -> tuple[int, int] | int | None:
    """``resize=`` as (height, width) positive ints, one positive int (the shorter edge, as
    torchvision's ``Resize(int)``), or None."""
    if resize is None:
        return None
    if isinstance(resize, numbers.Integral) and not isinstance(resize, bool):
        return check_positive_int("resize", resize)
    if isinstance(resize, (str, bytes)) or not hasattr(resize, "__len__") or len(resize) != 2:
        raise TypeError(f"resize should be a (height, width) pair or one int (the shorter edge), "
                        f"but got resize={resize!r}")
    return tuple(check_positive_int(f"resize[{k}]", v) for k, v in enumerate(resize))


def check_agrees(i: int, img: np.ndarray, j: int, ref: np.ndarray, mixed_ok: bool) -> None:
    """Sample ``i`` must have sample ``j``'s dtype and ndim, and its shape unless ``mixed_ok``."""
    if img.dtype != ref.dtype or img.ndim != ref.ndim:
        raise ValueError(f"source sample {i} is {img.ndim}-D {img.dtype}, but sample {j} is "
                         f"{ref.ndim}-D {ref.dtype}; every sample needs one dtype and "
                         "number of dimensions")
    if img.shape != ref.shape and not mixed_ok:
        raise ValueError(f"source sample {i} has shape {tuple(img.shape)}, but sample {j} has "
                         f"{tuple(ref.shape)}; this codec stores one shape per archive: "
                         "use codec='lossless' or 'lossy' (any shape), or pass "
                         "resize=(height, width) to give them one")


def agree(first, i: int, img: np.ndarray, layout, mixed_ok: bool) -> tuple:
    """The first ``(index, sample)`` read, once sample ``i`` is checked against it (the first
    one against the channels-last rule)."""
    if first is None:
        check_layout(img.shape, None if layout == "HWC" else layout, "the dataset's samples")
        return i, img
    check_agrees(i, img, *first, mixed_ok)
    return first


#: transforms that draw at random on every call (torchvision's, v1 and v2), besides Random*
_RANDOM = ("ColorJitter", "RandAugment", "AutoAugment", "TrivialAugmentWide", "AugMix",
           "ElasticTransform", "MixUp", "CutMix", "ScaleJitter", "GaussianNoise")
#: transforms that draw a parameter from a range when it is one (a fixed value is no draw)
_RANGED = {"GaussianBlur": "sigma", "JPEG": "quality"}


def _draws(t, name: str) -> bool:
    if name.startswith("Random") or name in _RANDOM:
        return True
    span = getattr(t, _RANGED.get(name, ""), None)
    return isinstance(span, (list, tuple)) and len(span) == 2 and span[0] != span[1]


def _random_in(t, depth: int = 0) -> list[str]:
    """Names of the random transforms inside transform ``t`` (through Compose, RandomApply,
    StandardTransform and the like)."""
    if t is None or depth > 8:
        return []
    name = type(t).__name__
    found = [name] if _draws(t, name) else []
    for attr in ("transforms", "transform", "target_transform"):
        inner = getattr(t, attr, None)
        if isinstance(inner, (list, tuple)):
            for u in inner:
                found += _random_in(u, depth + 1)
        elif inner is not None and inner is not t and callable(inner):
            found += _random_in(inner, depth + 1)
    return found


def warn_if_augmented(source) -> list[str]:
    """Warn (``AugmentedSourceWarning``) when the source dataset, or one it wraps (``Subset``),
    transforms its samples at random; returns the random transforms' names."""
    names, ds = [], source
    for _ in range(4):
        for attr in ("transform", "transforms", "target_transform"):
            t = getattr(ds, attr, None)
            if t is not None and not isinstance(t, (list, tuple, str)) and callable(t):
                names += _random_in(t)
        ds = getattr(ds, "dataset", None)
        if ds is None:
            break
    names = sorted(set(names))
    if names:
        warnings.warn(
            f"the source's transform holds {', '.join(names)}: the archive stores one random "
            "draw of each sample, so every epoch would see the same augmentation (and a codec "
            "that reads the source twice sees two draws). Compress the samples without "
            "augmentations (transform=None, or PILToTensor()) and pass them to "
            "tc.open(path, transform=...)", AugmentedSourceWarning, stacklevel=3)
    return names


def check_archive_outside(source, path) -> None:
    """Refuse an archive path inside the image folder being compressed (a folder path, or an
    ImageFolder's ``root``): the folder's next read would take the archive for a class. (Other
    datasets' ``root``, such as CIFAR10's download folder, may hold it.)"""
    root = source if isinstance(source, (str, os.PathLike)) else \
        getattr(source, "root", None) if hasattr(source, "samples") else None  # DatasetFolder
    if not isinstance(root, (str, os.PathLike)) or not os.path.isdir(root):
        return
    root, target = os.path.realpath(root), os.path.realpath(path)
    if os.path.commonpath([root, target]) == root:
        raise ValueError(f"the archive path {os.fspath(path)!r} is inside the source folder "
                         f"{root!r}, where ImageFolder would take it for a class folder the next "
                         "time the folder is read; write the archive outside the folder")
