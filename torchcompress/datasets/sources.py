"""Turn what users pass to ``compress`` into one (N, ...) array and labels."""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass

import numpy as np
import torch
from torch.utils.data import TensorDataset
from tqdm.auto import tqdm

from .._validation import check_choice
from .hf_source import hf_pairs, is_hf_dataset
from .source_checks import check_agrees, check_layout, check_resize, check_values, stored_dtype
from .source_files import source_classes
from .source_items import Labels, image_array, label_array, read_pair, source_item

__all__ = ["Source", "load_files", "load_source"]


@dataclass
class Source:
    """A materialised source: samples, labels and what is known about them."""

    x: np.ndarray          # (N, *sample_shape)
    y: np.ndarray          # (N,) int64 classes, or float32 regression targets
    classes: list | None
    name: str
    target_shape: tuple = ()  # (1,) where the targets were given as one-value columns


#: bytes of an iterable source held in memory past which compress warns
HELD_WARNING = 2 << 30


def _from_dataset(ds, progress: bool, mixed_ok: bool, length: int | None = None,
                  resize: tuple[int, int] | None = None):
    """(samples, labels, target shape) of a map-style dataset, or of an iterable of pairs
    (``length`` only sizes the progress bar): one (N, ...) array, or a list of arrays when
    shapes differ and the codec takes that (``mixed_ok``)."""
    if hasattr(ds, "__getitem__") and hasattr(ds, "__len__"):
        n = len(ds)
        items = (source_item(ds, i) for i in range(n))
    else:
        n, items = length, iter(ds)
    if n == 0:
        raise ValueError("source is empty (len(source) == 0); pass at least one sample")
    xs, ys, kind = [], [], Labels()
    block = None  # with a known length, one (n, *shape) array filled in place (no second copy)
    held, iterable = 0, not hasattr(ds, "__len__")
    for i, item in enumerate(tqdm(items, total=n, desc="reading source", disable=not progress,
                                  leave=False)):
        img, label = read_pair(item, i, resize, kind)
        if iterable and held <= HELD_WARNING < held + img.nbytes:
            warnings.warn(f"an iterable source is held in memory to be compressed (over "
                          f"{HELD_WARNING / 2**30:g} GiB so far, at sample {i}); a map-style "
                          "dataset (with __len__ and __getitem__, e.g. a Hugging Face dataset "
                          "loaded without streaming=True) is read in chunks of about 16 MiB "
                          "instead", stacklevel=4)
        held += img.nbytes
        if xs and (img.shape != xs[0].shape or img.dtype != xs[0].dtype):
            check_agrees(i, img, 0, xs[0], mixed_ok)
            if block is not None:  # the first other shape: copy out the rows read so far
                xs, block = [a.copy() for a in block[:i]], None
        if i == 0 and n:
            block = np.empty((n, *img.shape), dtype=img.dtype)
        if block is not None:
            block[i] = img
            img = block[i]
        xs.append(img)
        ys.append(label)
    if not xs:
        raise ValueError("source is empty (it yielded no samples); pass at least one sample")
    y = label_array(ys)
    if block is not None:
        return block[:len(xs)], y, kind.target_shape
    if all(a.shape == xs[0].shape for a in xs):
        return np.stack(xs), y, kind.target_shape
    return xs, y, kind.target_shape


def load_files(source, *, progress: bool = True) -> Source:
    """The image files of ``source`` as byte arrays: a folder in ImageFolder layout, or a dataset
    that lists its files as ``.samples`` of ``(path, label)`` (torchvision's ImageFolder)."""
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if not os.path.isdir(path):
            raise ValueError(f"codec='original' stores the files of an image folder, but source "
                             f"{path!r} is not a directory; pass a folder of class subfolders")
        source = _image_folder(path)
    samples = getattr(source, "samples", None)
    if not isinstance(samples, (list, tuple)) or not samples or \
            not all(isinstance(s, (tuple, list)) and len(s) == 2 for s in samples[:1]):
        raise TypeError(f"codec='original' stores image files, so the source must say where they "
                        f"are: pass a folder path or a dataset with .samples of (path, label) such "
                        f"as torchvision's ImageFolder, but got {type(source).__name__}; other "
                        "sources need a pixel codec (codec='lossless' or 'lossy')")
    xs, ys = [], []
    for p, label in tqdm(samples, desc="reading files", disable=not progress, leave=False):
        xs.append(np.fromfile(p, dtype=np.uint8))
        ys.append(int(label))
    return Source(xs, np.array(ys, dtype=np.int64), source_classes(source), type(source).__name__)


class ListOfImages:
    """An ``(images, labels)`` pair whose images are a list (of any shapes), seen as a map-style
    dataset of (image, label)."""

    def __init__(self, images, labels):
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        return self.images[i], self.labels[i]


def _is_list_pair(source) -> bool:
    """``(images, labels)`` with the images a list or tuple of arrays or tensors (each at least
    1-D) and one scalar label each: a dataset of two (image, label) pairs has an image where
    this wants a label, so the two never read alike."""
    if not (isinstance(source, (tuple, list)) and len(source) == 2):
        return False
    images, labels = source
    if not isinstance(images, (tuple, list)) or not images or \
            not all(isinstance(a, (np.ndarray, torch.Tensor)) and a.ndim >= 1 for a in images):
        return False
    try:
        if len(labels) != len(images):
            return False
    except TypeError:  # labels without a length
        return False
    if isinstance(labels, (np.ndarray, torch.Tensor)):  # one check, not one per label
        return labels.ndim == 1
    return all(np.ndim(v) == 0 for v in labels)


def _is_arrays_and_more(source) -> bool:
    """``(x, y, w, ...)``: samples, one label per sample, then more arrays (a list of three
    images has an image, not a 1-D label array, second)."""
    return isinstance(source, (tuple, list)) and len(source) > 2 \
        and all(isinstance(a, (np.ndarray, torch.Tensor)) for a in source) \
        and source[0].ndim >= 2 and source[1].ndim == 1 and len(source[1]) == len(source[0])


def as_pairs(source):
    """``source`` as a dataset of (image, label) where it is one in another form: a Hugging Face
    ``datasets.Dataset``, an ``(images, labels)`` pair with the images in a list, or a folder
    path (torchvision's ImageFolder over it)."""
    if isinstance(source, (np.ndarray, torch.Tensor)):
        raise TypeError(f"source is one array of shape {tuple(source.shape)}, with no labels; "
                        "pass (x, y) with one label per sample (for unlabelled data, e.g. "
                        "y = np.zeros(len(x), dtype=int))")
    if _is_arrays_and_more(source):
        raise TypeError(f"source is a {type(source).__name__} of {len(source)} arrays, "
                        f"(x, y, ...) with x of shape {tuple(source[0].shape)}, but compress "
                        "takes (x, y): an archive stores images and labels, and arrays 2.. "
                        "(sample weights, ...) would be lost; pass (x, y) and keep the rest "
                        "beside the archive")
    if is_hf_dataset(source):
        return hf_pairs(source)
    if _is_list_pair(source):
        return ListOfImages(*source)
    if type(source) is TensorDataset and len(source.tensors) == 2:  # its own two tensors, read
        return source.tensors  # as one pair (real-valued targets too), not item by item
    if isinstance(source, (str, os.PathLike)) and os.path.isdir(source):
        return _image_folder(os.fspath(source))
    return source


_WIDE_MODES = ("I;16", "I;16B", "I;16L", "I;16N", "I", "F")  # Pillow's modes past 8 bits


def folder_loader(path: str):
    """ImageFolder's loader (the file as 8-bit RGB), refusing images of more than 8 bits, whose
    conversion to RGB would clip them."""
    from PIL import Image

    with open(path, "rb") as f:
        img = Image.open(f)
        if img.mode in _WIDE_MODES:
            raise ValueError(
                f"image file {path!r} has {img.mode!r} pixels (more than 8 bits); a folder path "
                "reads images as torchvision's ImageFolder does, as 8-bit RGB, which would clip "
                "them: to keep every bit pass torchvision.datasets.ImageFolder(root, "
                "loader=torchvision.io.decode_image) as the source (codec='lossless' stores "
                "16-bit images), or ImageFolder(root) to accept 8-bit RGB")
        return img.convert("RGB")


def _image_folder(path: str):
    """torchvision's ImageFolder over ``path``, or a ValueError saying why it is not one."""
    from torchvision.datasets import ImageFolder

    hidden = sorted(e.name for e in os.scandir(path) if e.is_dir() and e.name.startswith("."))
    if hidden:  # Jupyter's .ipynb_checkpoints: ImageFolder takes it for a class, the first
        raise ValueError(f"source {path!r} holds hidden folders ({', '.join(hidden)}), which "
                         "ImageFolder would take for classes, sorted before the others, so every "
                         "other class's label would move; remove them, or pass torchvision's "
                         f"ImageFolder({path!r}) yourself to keep them as classes")
    try:
        return ImageFolder(path, loader=folder_loader)
    except (FileNotFoundError, RuntimeError) as e:
        if "Found no valid file for the classes" in str(e):  # some class folders, not all
            raise ValueError(f"source {path!r} is an image folder with class folders that hold no "
                             f"images ImageFolder reads ({e}); remove those folders, or pass "
                             f"torchvision's ImageFolder({path!r}, allow_empty=True) to keep "
                             "them as classes without samples") from None
        raise ValueError(f"source {path!r} is a directory but not an image folder ({e}); pass an "
                         ".npz, or a folder of class subfolders of images as torchvision's "
                         "ImageFolder reads") from None


_KINDS = ("a map-style Dataset of (image, label) (e.g. torchvision's ImageFolder), an iterable "
          "of (image, label) pairs (with length= for the progress bar), an (x, y) pair of "
          "arrays or tensors (x may be a list of arrays of any shapes), a path to an .npz "
          "holding x and y, a folder of class subfolders of images, or a Hugging Face "
          "datasets.Dataset with image and label columns")


def load_source(source, *, layout: str | None = None, progress: bool = True,
                mixed_ok: bool = False, length: int | None = None, resize=None) -> Source:
    """Materialise ``source`` as arrays.

    Args:
        source: a map-style dataset of ``(image, label)``; a pair ``(x, y)`` of
            arrays or tensors; a path to an ``.npz`` with ``x`` and ``y``; a
            folder in ImageFolder layout (class subfolders of images); or a
            Hugging Face ``datasets.Dataset`` with ``image`` and ``label``
            columns (class names from its ``ClassLabel``).
        layout: ``"HWC"`` converts (N, H, W, C) arrays to (N, C, H, W);
            ``"CHW"`` keeps samples as given. ``None`` keeps them too, but
            refuses a sample shape that looks channels-last (last axis 1, 3 or
            4 and the first not): say which it is.
        progress: show a tqdm bar while reading a dataset.
        mixed_ok: a dataset's samples may differ in shape (they then come back
            as a list of arrays of one ndim and dtype).
        length: the number of pairs an iterable source yields (progress bar only).
        resize: (height, width): resize every image of a dataset or folder source
            as it is read (antialiased), e.g. to give photos one shape for ADQ
            or GeDe; one int: the shorter edge, keeping the aspect ratio (as
            torchvision's ``Resize(int)``). Images must be (C, H, W) or (H, W).
    """
    check_choice("layout", layout, (None, "CHW", "HWC"))
    resize = check_resize(resize)
    is_dataset = False
    if resize is not None and layout == "HWC":
        raise ValueError("resize= works on (C, H, W) samples as read; it cannot be combined with "
                         "layout='HWC' (convert the arrays first)")
    classes, target_shape = None, ()
    source = as_pairs(source)
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        if not os.path.exists(path):
            raise FileNotFoundError(f"source {path!r} does not exist")
        if not path.endswith(".npz"):
            raise ValueError(f"source {path!r} is not an .npz or an image folder; pass an .npz "
                             "holding x and y, a folder of class subfolders of images, or a Dataset")
        try:
            with np.load(path, allow_pickle=False) as z:
                missing = {"x", "y"} - set(z.files)
                if missing:
                    raise ValueError(f"source file {path!r} lacks array(s) {sorted(missing)}; "
                                     f"it holds {sorted(z.files)}; save it with np.savez(path, x=..., y=...)")
                x, y = z["x"], z["y"]
        except (OSError, EOFError) as e:
            raise ValueError(f"source file {path!r} is not a readable .npz ({e})") from None
        name = os.path.basename(path)
    elif isinstance(source, (tuple, list)) and len(source) == 2 \
            and isinstance(source[0], (np.ndarray, torch.Tensor)):
        x, y = image_array(source[0], "source x"), image_array(source[1], "source y")
        name = "arrays"
    elif (hasattr(source, "__getitem__") and hasattr(source, "__len__")) or (
            hasattr(source, "__iter__") and not isinstance(source, (str, bytes, dict))):
        x, y, target_shape = _from_dataset(source, progress, mixed_ok, length, resize)
        is_dataset = True
        check_layout(x[0].shape, layout, "the dataset's samples")
        if isinstance(x, list):
            x = [stored_dtype(a, f"source[{i}][0]") for i, a in enumerate(x)]
            if layout == "HWC":
                x = [np.ascontiguousarray(a.transpose(2, 0, 1)) for a in x]
            return Source(x, y, source_classes(source), type(source).__name__, target_shape)
        classes = source_classes(source)
        name = type(source).__name__
    else:
        raise TypeError(f"source should be {_KINDS}, but got {type(source).__name__}")
    if resize is not None and not is_dataset:
        raise ValueError(f"resize= applies to datasets and image folders (images of any size); "
                         f"this {name} source already has one shape {tuple(x.shape[1:])}")
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:  # (N, 1), as a column of a table gives them
        y = y[:, 0]
        if y.dtype.kind == "f":  # targets come back (B, 1), as the model's output is
            target_shape = (1,)
    if x.ndim < 1 or x.shape[0] == 0:
        raise ValueError("source is empty (0 samples); pass at least one sample")
    if y.ndim != 1 or y.shape[0] != x.shape[0]:
        raise ValueError(f"labels should be 1-D with one per sample ({x.shape[0]}), "
                         f"but got shape {tuple(y.shape)}")
    if y.dtype.kind == "f":
        if not np.isfinite(y).all():
            bad = int(np.flatnonzero(~np.isfinite(y))[0])
            raise ValueError(f"target {bad} is {y[bad]}; real-valued targets must be finite")
        with np.errstate(over="ignore"):  # a target past float32 becomes inf: named below
            y32 = y.astype(np.float32)  # regression targets, stored as float32
        if not np.isfinite(y32).all():
            bad = int(np.flatnonzero(~np.isfinite(y32))[0])
            raise ValueError(f"target {bad} is {y[bad]}, past the float32 range an archive "
                             "stores targets in (about 3.4e38); scale the targets")
        y = y32
    elif y.dtype.kind not in "iub":
        raise TypeError(f"labels should be integers (classes) or floats (regression targets), "
                        f"but got dtype {y.dtype}")
    elif y.dtype.kind == "u" and y.size and int(y.max()) > np.iinfo(np.int64).max:
        bad = int(np.argmax(y))  # stored as int64, it would wrap to a negative label
        raise ValueError(f"label {bad} is {int(y[bad])}, past the int64 labels an archive holds "
                         f"(at most {np.iinfo(np.int64).max}); map the labels to class ids "
                         "0..C-1 first (e.g. np.unique(y, return_inverse=True))")
    check_values(x.shape[1:], f"each sample of x {tuple(x.shape)}")
    x = stored_dtype(x, "samples")
    check_layout(x.shape[1:], layout, "the samples")
    if layout == "HWC":
        if x.ndim != 4:
            raise ValueError(f"layout='HWC' needs (N, H, W, C) samples, but got shape {tuple(x.shape)}")
        x = x.transpose(0, 3, 1, 2)
    y = y if y.dtype == np.float32 else y.astype(np.int64)
    return Source(np.ascontiguousarray(x), y, classes, name, target_shape)
