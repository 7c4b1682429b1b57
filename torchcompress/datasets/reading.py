"""Sources read in chunks of rows, so ``compress`` holds a bounded part of them at a time.

A map-style dataset (an image folder, a Hugging Face dataset, anything with
``__getitem__`` and ``__len__``) is read row by row, as often as the codec
needs (a fit sample, a summary pass, the encode pass), on ``workers``
threads. Arrays, ``.npz`` files and iterables are in memory already (an
iterable can be read only once) and are served from there.
"""

from __future__ import annotations

import os
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from .files import check_decodable
from .source_checks import agree, check_resize
from .source_files import listed_files, source_classes
from .source_items import Labels, label_array, source_item, stored_pair
from .sources import Source, _image_folder, as_pairs, load_source

__all__ = ["ArrayReader", "DatasetReader", "FilesReader", "open_reader"]


class ArrayReader:
    """Rows of a materialised :class:`Source`."""

    def __init__(self, src: Source):
        self.src, self.n, self.classes, self.name = src, len(src.x), src.classes, src.name
        self.target_shape = src.target_shape

    def read(self, rows: np.ndarray):
        x, y = self.src.x, self.src.y
        if isinstance(x, np.ndarray):
            a, b = int(rows[0]), int(rows[-1]) + 1
            if b - a == len(rows):  # a range: a view, no copy
                return x[a:b], y[a:b]
            return x[rows], y[rows]
        return [x[int(i)] for i in rows], y[rows]


class FilesReader:
    """The bytes of image files listed as ``(path, label)`` (ImageFolder's ``.samples``)."""

    target_shape = ()  # class labels

    def __init__(self, samples, classes, name: str):
        self.samples, self.n, self.classes, self.name = samples, len(samples), classes, name

    def read(self, rows: np.ndarray):
        files = [np.fromfile(self.samples[int(i)][0], dtype=np.uint8) for i in rows]
        for i, f in zip(rows, files):
            check_decodable(f, self.samples[int(i)][0], int(i))
        return files, label_array([self.samples[int(i)][1] for i in rows])


class DatasetReader:
    """Rows of a map-style dataset of ``(image, label)``, converted as ``load_source`` does."""

    def __init__(self, ds, *, layout, resize, mixed_ok: bool, workers: int = 1):
        self.ds, self.layout, self.resize, self.mixed_ok = ds, layout, check_resize(resize), mixed_ok
        self.n = len(ds)
        if self.n == 0:
            raise ValueError("source is empty (len(source) == 0); pass at least one sample")
        self.classes = source_classes(ds)
        self.name = type(ds).__name__
        self.workers = workers
        self.first = None  # (index, array) of the first sample read: the others must agree
        self.slow = False  # samples cost over half a millisecond (decoding files): use threads
        self.labels = Labels()  # classes or targets, as the first label read says

    @property
    def target_shape(self) -> tuple:
        """``(1,)`` where the first label read was a one-value column of a real target."""
        return self.labels.target_shape

    def _sample(self, i: int) -> tuple[np.ndarray, int]:
        return stored_pair(source_item(self.ds, i), i, self.resize, self.layout, self.labels)

    def read_unresized(self, rows: np.ndarray):
        """Rows as the source gives them, before ``resize=``: what the ranks of a shared
        compress compare (torch's resize rounds differently on CPUs with other vector paths:
        42,218 of 261,888 values moved by 1 between its AVX2 and default kernels)."""
        pairs = [stored_pair(source_item(self.ds, int(i)), int(i), None, self.layout,
                             self.labels) for i in rows]
        return [p[0] for p in pairs], label_array([p[1] for p in pairs])

    def read(self, rows: np.ndarray):
        rows = [int(i) for i in rows]
        pairs = []
        if self.first is None:  # time the first sample: threads only pay for slow ones
            t0 = time.perf_counter()
            pairs.append(self._sample(rows[0]))
            self.slow = time.perf_counter() - t0 > 5e-4
        rest = rows[len(pairs):]
        if self.workers > 1 and self.slow and len(rest) > 1:  # decoding releases the GIL
            with ThreadPoolExecutor(max_workers=self.workers) as pool:
                pairs += list(pool.map(self._sample, rest))
        else:
            pairs += [self._sample(i) for i in rest]
        for i, (img, _) in zip(rows, pairs):
            self.first = agree(self.first, i, img, self.layout, self.mixed_ok)
        return [p[0] for p in pairs], label_array([p[1] for p in pairs])


def open_reader(source, *, files: bool, layout, resize, mixed_ok: bool, progress: bool,
                length, workers: int = 1, spool=None):
    """A reader of ``source``: rows on demand for datasets and folders, else from memory; an
    iterable, given a :class:`~.spool.Spool`, from the file it is read into once (the caller
    closes the spool).

    ``files``: the codec stores image files (``codec="original"``).
    """
    if files:
        from .sources import load_files

        if isinstance(source, (str, os.PathLike)) and os.path.isdir(source):
            source = _image_folder(os.fspath(source))
        samples = listed_files(source)
        if samples is not None:
            return FilesReader(samples, source_classes(source), type(source).__name__)
        return ArrayReader(load_files(source, progress=progress))  # raises why it cannot
    if resize is not None and layout == "HWC":
        raise ValueError("resize= works on (C, H, W) samples as read; it cannot be combined with "
                         "layout='HWC' (convert the arrays first)")
    source = as_pairs(source)
    pair = isinstance(source, (tuple, list)) and len(source) == 2 and \
        isinstance(source[0], (np.ndarray, torch.Tensor))
    if not pair and not isinstance(source, (str, os.PathLike, tuple, list, dict)) and \
            hasattr(source, "__getitem__") and hasattr(source, "__len__"):
        return DatasetReader(source, layout=layout, resize=resize, mixed_ok=mixed_ok,
                             workers=workers)
    if spool is not None and hasattr(source, "__iter__") and not pair and \
            not isinstance(source, (str, bytes, os.PathLike, tuple, list, dict)):
        from .spool import spool_iterable

        return ArrayReader(spool_iterable(
            iter(source), spool, layout=layout, resize=check_resize(resize), mixed_ok=mixed_ok,
            progress=progress, length=length, name=type(source).__name__,
            classes=source_classes(source)))
    return ArrayReader(load_source(source, layout=layout, progress=progress, mixed_ok=mixed_ok,
                                   length=length, resize=resize))

