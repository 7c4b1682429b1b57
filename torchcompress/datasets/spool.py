"""An iterable source (a generator, a streaming Hugging Face dataset) spooled to a file beside
the archive as it is read once, so ``compress`` then reads it in chunks, as it reads a map-style
dataset, with memory bounded by the chunk instead of the whole source."""

from __future__ import annotations

import os
import secrets
import shutil

import numpy as np
from tqdm.auto import tqdm

from .source_checks import agree
from .source_items import Labels, label_array, stored_pair
from .sources import Source

__all__ = ["Spool", "spool_iterable"]


class _Rows:
    """The spooled samples of several shapes, one memory-mapped view per row on demand."""

    def __init__(self, data: np.memmap, offsets: np.ndarray, shapes: np.ndarray, dtype):
        self.data, self.offsets, self.shapes, self.dtype = data, offsets, shapes, dtype

    def __len__(self) -> int:
        return len(self.shapes)

    def __getitem__(self, i: int) -> np.ndarray:
        a, b = int(self.offsets[i]), int(self.offsets[i + 1])
        return self.data[a:b].view(self.dtype).reshape(tuple(int(s) for s in self.shapes[i]))

    def __iter__(self):
        return (self[i] for i in range(len(self)))


class Spool:
    """A hidden folder beside the archive at ``path``, made on first use (named as the writer's
    folder, so a later writer removes it if this process dies), holding one file of the
    samples' bytes; leaving the ``with`` block removes it."""

    def __init__(self, path: str):
        self.path, self.folder = os.path.abspath(os.fspath(path)), None

    def open(self):
        """A new file in the folder, open for writing."""
        parent, name = os.path.split(self.path)
        os.makedirs(parent, exist_ok=True)
        self.folder = os.path.join(parent, f".{name}.partial-{os.getpid()}-spool"
                                           f"{secrets.token_hex(4)}")
        os.mkdir(self.folder)
        self.file = os.path.join(self.folder, "samples.bin")
        return open(self.file, "wb")

    def __enter__(self) -> "Spool":
        return self

    def __exit__(self, *exc) -> None:
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None


def spool_iterable(items, spool: Spool, *, layout, resize, mixed_ok: bool, progress: bool,
                   length: int | None, classes, name: str) -> Source:
    """Read the (image, label) pairs of ``items`` once into ``spool``'s file, checked and
    converted as a dataset's are; a :class:`Source` whose samples are memory-mapped from it."""
    offsets, shapes, labels = [0], [], []
    first, kind = None, Labels()
    with spool.open() as f:
        for i, item in enumerate(tqdm(items, total=length, desc="reading source",
                                      disable=not progress, leave=False)):
            img, label = stored_pair(item, i, resize, layout, kind)
            first = agree(first, i, img, layout, mixed_ok)
            f.write(img.tobytes())
            offsets.append(offsets[-1] + img.nbytes)
            shapes.append(img.shape)
            labels.append(label)
    if first is None:
        raise ValueError("source is empty (it yielded no samples); pass at least one sample")
    first = first[1]
    data = np.memmap(spool.file, dtype=np.uint8, mode="r")  # samples hold values: not empty
    y = label_array(labels)
    shape_arr = np.array(shapes, dtype=np.int64)
    if (shape_arr == shape_arr[0]).all():
        x = data.view(first.dtype).reshape(len(labels), *first.shape)
    else:
        x = _Rows(data, np.array(offsets, dtype=np.int64), shape_arr, first.dtype)
    return Source(x, y, classes, name, kind.target_shape)
