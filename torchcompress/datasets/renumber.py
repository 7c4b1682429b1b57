"""``classes=`` against a source's own class names: its labels renumbered by name.

A source with class names (an image folder, torchvision's datasets, a Hugging Face
``ClassLabel``) numbers its classes its own way: an ImageFolder of a validation folder that
lacks one of the training folder's classes numbers the rest differently (``cat, fox`` as 0, 1
where the training folder has ``cat, dog, fox`` as 0, 1, 2). ``compress(val_dir,
classes=train.classes)`` then kept the folder's numbers under the training names, so every
fox was stored as a dog, without a word. Now:

- where every one of the source's names is among ``classes=``, its labels are renumbered by
  name (fox 1 -> 2), as torchvision's ``make_dataset(directory, class_to_idx)`` numbers a
  folder by a ``class_to_idx``;
- where none is, ``classes=`` renames the labels (label k is ``classes[k]``: WordNet ids to
  words, say), as before;
- where some are and some are not, it is refused: neither reading is safe.
"""

from __future__ import annotations

import numpy as np

from .._validation import listing
from .source_checks import check_class_names

__all__ = ["Renumbered", "renumbered", "renumbering"]


def renumbering(own, given: list | None) -> np.ndarray | None:
    """The new label of each of the source's labels (entry k: its label k), where ``given``
    (checked class names) numbers the source's ``own`` names otherwise; None where the labels
    stay as they are (no names on either side, the same numbering, or a renaming)."""
    if own is None or given is None:
        return None
    own = check_class_names(own)  # as the archive would name them (ImageNet's tuples joined)
    at = {name: k for k, name in enumerate(given)}
    missing = [name for name in own if name not in at]
    if len(missing) == len(own):
        return None  # a renaming
    if missing:
        found = [name for name in own if name in at]
        shown = listing(repr(m) for m in missing)
        raise ValueError(
            f"classes= names {len(found)} of the source's {len(own)} classes but not {shown}: "
            "the source numbers its labels by its own classes, so classes= should hold every "
            "one of them (its labels are then renumbered by name, as a class_to_idx numbers an "
            "ImageFolder, e.g. a validation folder by the training archive's classes) or none "
            "(new names for its labels, label k taking classes[k])")
    table = np.array([at[name] for name in own], dtype=np.int64)
    return None if np.array_equal(table, np.arange(len(own))) else table


def renumbered(y: np.ndarray, table: np.ndarray, rows) -> np.ndarray:
    """Labels ``y`` of source rows ``rows`` renumbered by ``table``; real-valued targets as they
    are (the names' check refuses them), a label past the source's names refused."""
    if y.dtype.kind == "f":
        return y
    bad = np.flatnonzero((y < 0) | (y >= len(table)))
    if bad.size:
        raise ValueError(f"source[{int(rows[bad[0]])}][1] is {int(y[bad[0]])}, but the source "
                         f"names {len(table)} classes (labels 0 to {len(table) - 1}), so it "
                         "cannot be renumbered by name")
    return table[y]


class Renumbered:
    """A source reader whose labels come out renumbered by ``table`` (:func:`renumbering`);
    everything else is the reader's."""

    def __init__(self, reader, table: np.ndarray):
        self.reader, self.table = reader, table

    def read(self, rows: np.ndarray):
        x, y = self.reader.read(rows)
        return x, renumbered(y, self.table, rows)

    def __getattr__(self, name):
        return getattr(self.reader, name)
