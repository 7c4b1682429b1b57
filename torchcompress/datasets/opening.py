"""``tc.open``: the right Dataset for an archive."""

from __future__ import annotations

import os

from ..format import ArchiveReader
from .compressed import CompressedDataset
from .condensed import CondensedDataset

__all__ = ["open_archive"]


def open_archive(path: str | os.PathLike, *, transform=None, target_transform=None,
                 planes: int | None = None, output: str = "source", device=None,
                 transforms=None):
    """Open an archive as a Dataset (``tc.open``).

    Returns a :class:`CondensedDataset` of ``(x, y, w)`` for archives written
    by ``tc.condense`` and a :class:`CompressedDataset` of ``(x, y)``
    otherwise (``planes``, ``output`` and ``device`` apply to the latter only; see
    :class:`CompressedDataset` for ``output="source" | "float" | "raw" | "pil"``). ``device``
    (e.g. ``"cuda"``) decodes an archive of image files (``codec="original"``) there:
    JPEGs in one batched ``torchvision.io.decode_jpeg`` call on the GPU. ``transforms``
    (one callable on ``(x, y)``) replaces ``transform`` and ``target_transform``, as in
    torchvision's datasets.
    """
    if "condensed" in ArchiveReader(path).manifest.extras:
        if planes is not None or output != "source" or device is not None:
            raise ValueError("planes=, output= and device= apply to CompressedDataset; a condensed "
                             "archive yields float32 condensed samples (use .full for the rest)")
        return CondensedDataset(path, transform=transform, target_transform=target_transform,
                                transforms=transforms)
    return CompressedDataset(path, transform=transform, target_transform=target_transform,
                             planes=planes, output=output, device=device, transforms=transforms)
