"""One source item as arrays: ``ds[i]`` read (a damaged file named), its image as a C-first
array (PIL, numpy or tensor; resized when asked), its label as one integer class or one
real-valued target (:class:`Labels`)."""

from __future__ import annotations

import math
import os
import reprlib

import numpy as np
import torch

from .._arrays import to_numpy
from .source_checks import check_values, stored_dtype

__all__ = ["Labels", "class_label", "image_array", "is_real", "label_array", "read_pair",
           "source_item", "stored_pair", "target_shape_of"]

_FLOAT32_MAX = float(np.finfo(np.float32).max)
#: the keys (a dict item's, a Hugging Face dataset's columns) read as the image and the label
IMAGE_KEYS, LABEL_KEYS = ("image", "img"), ("label", "labels")


def image_array(a, what: str) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        return to_numpy(a)  # bfloat16 widened to float32
    if hasattr(a, "mode") and hasattr(a, "size") and hasattr(a, "getbands"):  # PIL image
        arr = np.asarray(a)
        return arr[None] if arr.ndim == 2 else np.ascontiguousarray(arr.transpose(2, 0, 1))
    if isinstance(a, np.ndarray):
        return a
    if isinstance(a, (list, tuple, int, float)):
        return np.asarray(a)
    raise TypeError(f"{what} should be a PIL image, numpy array or tensor, "
                    f"but got {type(a).__name__}")


def _resized(img: np.ndarray, size: tuple[int, int] | int, i: int) -> np.ndarray:
    """A (C, H, W) or (H, W) image resized with antialiasing (torchvision's ``resize``): to
    (height, width), or its shorter edge to ``size`` keeping the aspect ratio."""
    from torchvision.transforms.v2.functional import resize

    if img.ndim not in (2, 3):
        raise ValueError(f"resize= works on (C, H, W) or (H, W) images, but source sample {i} has "
                         f"shape {tuple(img.shape)}")
    t = torch.from_numpy(np.ascontiguousarray(img))
    t = resize(t[None] if img.ndim == 2 else t, [size] if isinstance(size, int) else list(size),
               antialias=True)
    return (t[0] if img.ndim == 2 else t).numpy()


def source_item(ds, i: int):
    """``ds[i]``; an ``OSError`` (a damaged or unreadable file) names the sample and its file,
    any other error from the source's own code gains a note naming the sample."""
    try:
        return ds[i]
    except OSError as e:
        samples = getattr(ds, "samples", None)
        msg = f"source sample {i} could not be read ({type(e).__name__}: {e})"
        if isinstance(samples, (list, tuple)) and 0 <= i < len(samples) and \
                isinstance(samples[i], (tuple, list)) and samples[i]:
            msg = (f"source sample {i} (file {os.fspath(samples[i][0])!r}) could not be read "
                   f"({type(e).__name__}: {e}); repair or remove the file (torchvision's "
                   "ImageFolder skips files its is_valid_file= refuses)")
        try:
            err = type(e)(msg)
        except Exception:  # an OSError subclass with another constructor
            err = OSError(msg)
        raise err from e
    except Exception as e:
        if hasattr(e, "add_note"):  # Python 3.11+; the type and traceback stay the user's
            e.add_note(f"torchcompress: raised by source[{i}] while reading the source"
                       + _length_hint(ds, i, e))
        raise


def _length_hint(ds, i: int, e: Exception) -> str:
    """For an IndexError below ``len(ds)``: the source's ``__len__`` counts more than it holds."""
    try:
        n = len(ds)
    except TypeError:
        return ""
    if isinstance(e, IndexError) and i < n:
        return (f"; len(source) == {n}, so index {i} should exist: the source's __len__ "
                "counts more samples than its __getitem__ gives")
    return ""


def read_pair(item, i: int, resize: tuple[int, int] | int | None,
              labels: "Labels") -> tuple[np.ndarray, int | float]:
    """Source item ``i`` as (image array, resized when asked; its label as ``labels`` reads
    it: an integer class or a real-valued target)."""
    if isinstance(item, dict):  # {"image": ..., "label": ...}, as Hugging Face-style code gives
        item = _dict_pair(item, i)
    if not isinstance(item, (tuple, list)) or len(item) < 2:
        raise TypeError(f"source[{i}] should be an (image, label) pair, "
                        f"but got {type(item).__name__}")
    if len(item) > 2:  # (x, y, w) or (x, y, index): the rest would be dropped without a word
        raise TypeError(f"source[{i}] has {len(item)} fields, but an archive stores (image, "
                        f"label) pairs, so fields 2.. (sample weights, indices, ...) would be "
                        "lost; give compress a dataset whose items are item[:2] and keep the "
                        "rest beside the archive (for indices, tc.with_indices(tc.open(path)) "
                        "gives (x, y, index) again)")
    img = image_array(item[0], f"source[{i}][0]")
    check_values(img.shape, f"source sample {i}", limit=resize is None)
    if resize is not None:
        img = _resized(img, resize, i)
        check_values(img.shape, f"source sample {i} resized")
    return img, labels.value(item[1], i)


def _dict_pair(item: dict, i: int) -> tuple:
    """A dict item as (image, label): its 'image' (or 'img') and 'label' (or 'labels') keys,
    and no other (it would be lost, as a third field of a tuple would)."""
    img = next((k for k in IMAGE_KEYS if k in item), None)
    lab = next((k for k in LABEL_KEYS if k in item), None)
    rest = [k for k in item if k not in (img, lab)]
    if img is None or lab is None or rest:
        why = f"so {reprlib.repr(rest)} would be lost" if img and lab else \
            "but it lacks " + " and ".join(f"an {n!r} key" for n, k in
                                            (("image", img), ("label", lab)) if k is None)
        raise TypeError(f"source[{i}] is a dict with keys {reprlib.repr(list(item))}: compress "
                        f"reads a dict item's 'image' (or 'img') and 'label' (or 'labels'), {why}; "
                        "give compress a dataset whose items are (image, label) pairs and keep "
                        "the rest beside the archive")
    return item[img], item[lab]


def class_label(label, i: int) -> int:
    """Source item ``i``'s ``label`` as the int class an archive stores, or an error naming it."""
    try:
        value = label.item() if hasattr(label, "item") else label
        if isinstance(value, float) and not value.is_integer():  # int() would truncate it
            raise ValueError(value)
        value = int(value)
    except (TypeError, ValueError, RuntimeError):  # RuntimeError: .item() of a larger tensor
        raise _label_error(label, i) from None
    if not -2**63 <= value < 2**63:
        raise ValueError(f"source[{i}][1] is {value}, past the int64 labels an archive holds; "
                         "map the labels to class ids 0..C-1 first")
    return value


def is_real(label) -> bool:
    """Whether ``label`` is a float (Python's, numpy's, or a floating tensor or array): a
    real-valued (regression) target rather than a class."""
    if isinstance(label, torch.Tensor):
        return label.is_floating_point()
    if isinstance(label, np.ndarray):
        return label.dtype.kind == "f"
    return isinstance(label, (float, np.floating))


class Labels:
    """A source's labels as they are read one item at a time. The first label read decides
    their kind, as an array source's dtype does: a float (:func:`is_real`) makes them
    real-valued targets (float32 in the archive, ints read as floats), anything else integer
    class ids (int64; an integral float read as its int, as before). Readers read that first
    label before any thread or forked worker reads the rest. A real first label of shape
    ``(1,)`` (a table's column, ``y.view(-1, 1)``) gives every target that shape back
    (:attr:`target_shape`), so a model's (B, 1) output meets (B, 1) targets."""

    def __init__(self):
        self.real: bool | None = None
        self.first = 0  # the item whose label decided
        self.target_shape: tuple = ()

    def value(self, label, i: int) -> int | float:
        """Item ``i``'s ``label`` as this source's kind, or an error naming it."""
        if self.real is None:
            self.real, self.first = is_real(label), i
            self.target_shape = target_shape_of(label) if self.real else ()
        if not self.real:
            try:
                return class_label(label, i)
            except TypeError:
                if not is_real(label):
                    raise
                raise TypeError(f"source[{i}][1] is {reprlib.repr(label)}, a real-valued "
                                f"target, but source[{self.first}][1] is an integer, so the "
                                "labels are read as class ids; give every target as a float "
                                "(e.g. float(y)) to store regression targets") from None
        try:
            value = label.item() if hasattr(label, "item") else label
            if not isinstance(value, (int, float)):  # a str would pass float()
                raise TypeError(value)
            value = float(value)
        except (TypeError, ValueError, RuntimeError):
            raise _label_error(label, i) from None
        if not math.isfinite(value) or abs(value) > _FLOAT32_MAX:
            raise ValueError(f"source[{i}][1] is {value}; real-valued targets must be finite and "
                             "within the float32 range an archive stores them in (about "
                             "3.4e38): scale or drop it")
        return value


def target_shape_of(label) -> tuple:
    """``(1,)`` for a target given as a one-value column (a tensor or array of shape (1,)),
    else ``()``: the shape ``ds[i]`` gives targets back in."""
    return (1,) if isinstance(label, (torch.Tensor, np.ndarray)) and \
        tuple(label.shape) == (1,) else ()


def label_array(values: list) -> np.ndarray:
    """The labels :meth:`Labels.value` gave (all ints or all floats) as an archive stores them:
    float32 targets or int64 classes."""
    real = bool(values) and isinstance(values[0], float)
    return np.array(values, dtype=np.float32 if real else np.int64)


def _label_error(label, i: int) -> TypeError:
    """Why source item ``i``'s ``label`` is not a class label, and what to do instead."""
    shape = np.shape(label) if isinstance(label, (np.ndarray, torch.Tensor)) else \
        label.size[::-1] if hasattr(label, "getbands") else None  # PIL: (W, H)
    if (shape is None or int(np.prod(shape)) <= 1) and not isinstance(label, dict):
        return TypeError(f"source[{i}][1] should be an integer class label (or a float, a "
                         f"regression target), but got "
                         f"{reprlib.repr(label)} ({type(label).__name__}); map labels to ints "
                         "(e.g. with target_transform)")
    what = f"{type(label).__name__} of shape {tuple(shape)}" if shape is not None else "a dict"
    return TypeError(f"source[{i}][1] should be one integer class label, but got {what}: a "
                     "per-pixel mask, a detection or a multi-label target is not one class "
                     "label. Compress the images with a class (or 0) and the masks as a second "
                     "archive of (mask, 0) pairs, read together with the same indices: "
                     "torch.utils.data.StackDataset(tc.open(images), tc.open(masks)) decodes "
                     "a batch of both at a time")


def stored_pair(item, i: int, resize, layout, labels: "Labels") -> tuple[np.ndarray, int | float]:
    """Source item ``i`` as a reader stores it: (contiguous C-first array of a stored dtype,
    resized when asked; its label as ``labels`` reads it)."""
    img, label = read_pair(item, i, resize, labels)
    img = stored_dtype(img, f"source[{i}][0]")
    if layout == "HWC":
        if img.ndim != 3:
            raise ValueError(f"layout='HWC' needs (H, W, C) samples, but source sample {i} has "
                             f"shape {tuple(img.shape)}")
        img = img.transpose(2, 0, 1)
    return np.ascontiguousarray(img), label
