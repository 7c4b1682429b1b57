"""A Hugging Face ``datasets`` source seen as (image, label) pairs, with its class names."""

from __future__ import annotations

import numpy as np

from .source_items import IMAGE_KEYS, LABEL_KEYS

__all__ = ["hf_pairs", "is_hf_dataset"]


def is_hf_dataset(source) -> bool:
    """Whether ``source`` is one of Hugging Face's dataset types (without importing them)."""
    return type(source).__module__.startswith("datasets.") and hasattr(source, "column_names")


def _columns(ds) -> tuple[str, str]:
    cols = list(ds.column_names or [])
    img = next((c for c in IMAGE_KEYS if c in cols), None)
    lab = next((c for c in LABEL_KEYS if c in cols), None)
    if img is None or lab is None:
        raise ValueError(f"a Hugging Face dataset source needs an 'image' (or 'img') and a "
                         f"'label' (or 'labels') column, but it has {cols}; rename them with "
                         "ds.rename_column(old, new)")
    feature = (ds.features or {}).get(lab)
    if getattr(feature, "dtype", None) in ("string", "large_string"):
        raise TypeError(f"the Hugging Face dataset's {lab!r} column holds strings; encode it as "
                        f"class ids first: ds = ds.class_encode_column({lab!r})")
    return img, lab


def _hwc_images(ds, img: str) -> bool:
    """Whether the image column is an ``Image`` feature: decoded to numpy (``with_format("numpy")``)
    its arrays are (H, W, C), as PIL's are, never (C, H, W)."""
    return type((ds.features or {}).get(img)).__name__ == "Image"


def _chw(x, hwc: bool):
    """An ``Image`` column's numpy array as (C, H, W) (a grey (H, W) one as (1, H, W), as from
    PIL and the torch format); anything else as it is."""
    if hwc and isinstance(x, np.ndarray) and x.ndim in (2, 3):
        return x[None] if x.ndim == 2 else x.transpose(2, 0, 1)
    return x


def _class_names(ds, lab: str) -> list | None:
    names = getattr((ds.features or {}).get(lab), "names", None)
    return list(names) if names else None


class HFPairs:
    """A map-style ``datasets.Dataset`` as (image, label) pairs."""

    def __init__(self, ds):
        self.ds = ds
        self.img, self.lab = _columns(ds)
        self.classes = _class_names(ds, self.lab)
        self.hwc = _hwc_images(ds, self.img)

    def __len__(self) -> int:
        return len(self.ds)

    def __getitem__(self, i: int):
        row = self.ds[int(i)]
        return _chw(row[self.img], self.hwc), row[self.lab]


class HFIterablePairs:
    """A streaming ``datasets.IterableDataset`` as an iterable of (image, label) pairs (read
    once, as other iterables are)."""

    def __init__(self, ds):
        self.ds = ds
        self.img, self.lab = _columns(ds)
        self.classes = _class_names(ds, self.lab)
        self.hwc = _hwc_images(ds, self.img)

    def __iter__(self):
        for row in self.ds:
            yield _chw(row[self.img], self.hwc), row[self.lab]


def hf_pairs(ds):
    """``ds`` as (image, label) pairs; a ``DatasetDict`` is refused, naming its splits."""
    if not hasattr(ds, "__getitem__") or type(ds).__name__ == "IterableDataset":
        return HFIterablePairs(ds)
    if isinstance(ds, dict):  # DatasetDict, IterableDatasetDict
        raise TypeError(f"a Hugging Face {type(ds).__name__} holds the splits {sorted(ds)}; "
                        f"pass one of them, e.g. ds[{sorted(ds)[0]!r}]")
    return HFPairs(ds)
