"""When a source is a folder of image files: how many bytes the files take, and a warning when
the archive takes more (a folder of JPEGs is smaller than any exact copy of its pixels)."""

from __future__ import annotations

import os
import warnings

import numpy as np

from .._validation import listing
from ..errors import LargerThanFilesWarning, user_stacklevel
from .source_checks import names_of_class_to_idx
from .source_items import Labels, class_label, is_real

__all__ = ["file_bytes", "listed_files", "merged_classes", "names_for_labels", "source_classes",
           "warn_if_larger"]

#: at most this many files are measured; a larger folder's total is extrapolated from them
MEASURED = 4096


def source_classes(source) -> list | None:
    """The class names a source carries as ``.classes``: through ``Subset`` (``random_split``)
    those of the dataset it selects from, through ``ConcatDataset`` its parts' merged by label
    (:func:`merged_classes`); else None."""
    from torch.utils.data import ConcatDataset, Subset

    if isinstance(source, Subset):
        return source_classes(source.dataset)
    if isinstance(source, ConcatDataset):
        return merged_classes([source_classes(d) for d in source.datasets],
                              "the source's ConcatDataset")
    names = _by_label(_listed(getattr(source, "classes", None)),
                      getattr(source, "class_to_idx", None))
    if names is not None and _relabels(source, len(names)):
        warnings.warn(f"the source's target_transform maps its class indices to other labels, so "
                      f"its classes ({listing(names, 4)}) do not name them and the archive "
                      "stores no class names; pass classes= to name the new labels", UserWarning,
                      stacklevel=user_stacklevel())
        return None
    return names


def _listed(classes) -> list | None:
    """A source's ``.classes`` as names in label order: a list as it is; a dict of ids
    0..k-1 to names (an ``id2label``) or of names to ids 0..k-1 (a ``class_to_idx``) by its ids
    (``list()`` of either gave its keys: names '0', '1', ..., or names out of label order)."""
    if not classes:
        return None
    if not isinstance(classes, dict):
        return list(classes)
    keys = list(classes)
    if all(isinstance(k, int) and not isinstance(k, bool) for k in keys) and \
            sorted(keys) == list(range(len(keys))):
        return [classes[k] for k in range(len(keys))]
    try:
        return names_of_class_to_idx(classes)
    except ValueError:
        shown = listing((f"{k!r}: {v!r}" for k, v in classes.items()), 4)
        warnings.warn(f"the source's classes is a dict that maps neither ids 0..k-1 to names nor "
                      f"names to them ({shown}), "
                      "so the archive stores no class names; pass classes= (a list in label "
                      "order) to name them", UserWarning, stacklevel=user_stacklevel())
        return None


def _by_label(names: list | None, class_to_idx) -> list | None:
    """``.classes`` in the order of the labels: an ImageFolder whose ``find_classes`` numbers
    its classes otherwise (``{'cat': 2, 'dog': 1, 'fox': 0}``, as torchvision lets it) labels
    by its ``class_to_idx``, which then names label k; its ``.classes`` list stays sorted by
    name (label 2 was stored as 'fox' where it was 'cat'). A mapping that is not one label a
    name (ImageNet's: every synonym of a class) leaves ``.classes`` as it is."""
    if names is None or not isinstance(class_to_idx, dict) or len(class_to_idx) != len(names):
        return names
    try:
        ordered = names_of_class_to_idx(class_to_idx)
    except ValueError:  # not 0..k-1 once each
        return names
    return ordered if sorted(map(str, ordered)) == sorted(map(str, names)) else names


def names_for_labels(names: list | None, labels) -> list | None:
    """A source's own class ``names``, or None with a warning where its ``labels`` (an array)
    are real-valued targets, which no class names name (a dataset with ``.classes`` whose
    labels are floats, e.g. ``torch.tensor(1.0)`` for a binary cross-entropy)."""
    if names is None or np.asarray(labels).dtype.kind != "f":
        return names
    warnings.warn(f"the source's labels are floats, so they are stored as real-valued targets, "
                  f"which its classes ({listing(names, 4)}) do not name: the archive stores no "
                  "class names. Give int labels to store them as classes", UserWarning,
                  stacklevel=user_stacklevel())
    return None


def merged_classes(names: list, what: str) -> list | None:
    """The class names of parts (a list of names or None each) merged by label: None when no
    part has any, or, with a warning naming ``what``, where two name a label differently (as
    ImageFolders of different class folders number their classes): one label would then
    stand for two classes."""
    merged, where = {}, {}  # label -> name, and the part that named it first
    for k, part in enumerate(names):
        for label, name in enumerate(part or []):
            if merged.setdefault(label, name) != name:
                warnings.warn(
                    f"{what}: label {label} is {merged[label]!r} in part {where[label]} but "
                    f"{name!r} in part {k}, so the joined labels mix two classes (as "
                    "ImageFolders of different class folders number them); number the parts' "
                    "classes alike (a target_transform from one's indices to the other's, "
                    "with classes= naming them), or relabel a part and ignore this warning. "
                    "The joined dataset has no class names", UserWarning,
                    stacklevel=user_stacklevel())
                return None
            where.setdefault(label, k)
    return [merged[k] for k in range(len(merged))] or None


def _relabels(source, n: int) -> bool:
    """Whether ``source.target_transform`` maps some class index in ``0..n-1`` to another
    label (a superclass, say) or to a real-valued target, where ``.classes`` no longer names
    the labels."""
    tt = getattr(source, "target_transform", None)
    if tt is None:
        return False
    try:
        mapped = [tt(k) for k in range(n)]
        return any(is_real(y) or class_label(y, k) != k for k, y in enumerate(mapped))
    except Exception:  # not one int per class index (one-hot, a dict): not these names either
        return True


def _mapped(source, samples: list) -> list:
    """``(path, label)`` pairs with the source's ``target_transform`` applied to each label,
    as its ``__getitem__`` gives them."""
    tt = getattr(source, "target_transform", None)
    if tt is None:
        return samples
    kind = Labels()  # a float target_transform gives real-valued targets, as in __getitem__
    return [(p, kind.value(tt(y), i)) for i, (p, y) in enumerate(samples)]


def listed_files(source, *, labels: bool = True) -> list | None:
    """The ``(path, label)`` pairs a source lists as ``.samples`` (torchvision's ImageFolder,
    or our reader of a folder), also through ``Subset`` (``random_split``) and
    ``ConcatDataset`` (when every part lists them); else None. The labels are those the
    source gives (its ``target_transform`` applied), unless ``labels=False`` (paths only)."""
    from torch.utils.data import ConcatDataset, Subset

    if isinstance(source, Subset):
        inner = listed_files(source.dataset, labels=labels)
        return None if inner is None else [inner[int(i)] for i in source.indices]
    if isinstance(source, ConcatDataset):
        parts = [listed_files(d, labels=labels) for d in source.datasets]
        return None if any(p is None for p in parts) else [f for p in parts for f in p]
    samples = getattr(source, "samples", None)
    if not isinstance(samples, (list, tuple)) or not samples:
        return None
    first = samples[0]
    if not (isinstance(first, (tuple, list)) and len(first) == 2
            and isinstance(first[0], (str, os.PathLike))):
        return None
    return _mapped(source, list(samples)) if labels else list(samples)


def _paths(source) -> list | None:
    files = listed_files(source, labels=False)
    return None if files is None else [f[0] for f in files]


def file_bytes(source) -> tuple[int, bool] | None:
    """(bytes of the source's image files, whether counted exactly), or None when the source
    lists no files. Above ``MEASURED`` files, an even sample of them is measured and scaled."""
    paths = _paths(source)
    if paths is None:
        return None
    n = len(paths)
    rows = np.unique(np.linspace(0, n - 1, min(n, MEASURED)).round().astype(np.int64))
    try:
        sizes = [os.path.getsize(paths[int(i)]) for i in rows]
    except OSError:  # a file gone since it was read: no note rather than a wrong one
        return None
    return int(round(sum(sizes) * n / len(rows))), len(rows) == n


def warn_if_larger(source, info: dict, codec: str, lossless: bool = True) -> None:
    """Put the source files' bytes in ``info`` (``source_file_bytes``) and warn when the archive
    (``info["bytes"]``) of codec ``codec`` (``lossless`` or not) is larger than they are."""
    counted = None if codec == "original" else file_bytes(source)
    if counted is None:
        return
    total, exact = counted
    info["source_file_bytes"] = total
    if info["bytes"] <= total:
        return
    about = "" if exact else "about "
    why = (f"compressed files such as JPEGs are smaller than any exact copy of their decoded "
           f"pixels, which codec={codec!r} stores. To keep them smaller, " if lossless else
           f"codec={codec!r} at these settings keeps more than the files do. To keep them "
           "smaller, ")
    other = ("codec='lossy' with bits= stores a budgeted approximation" if lossless else
             "a smaller bits= (or another mode) shrinks this archive")
    warnings.warn(
        f"the archive ({info['bytes']:,} bytes) is {info['bytes'] / total:.2f}x the source's "
        f"image files ({about}{total:,} bytes): {why}codec='original' stores the files as they "
        "are (decoded by torchvision.io, on a GPU with tc.open(..., device='cuda')), or "
        f"{other}", LargerThanFilesWarning, stacklevel=3)
