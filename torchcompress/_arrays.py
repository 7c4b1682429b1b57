"""Array-likes as numpy arrays: tensors on any device and of any dtype, arrays, sequences."""

from __future__ import annotations

import numpy as np
import torch

__all__ = ["as_index_array", "to_numpy"]


def to_numpy(value, dtype=None) -> np.ndarray:
    """``value`` as a numpy array (of ``dtype`` when given). A tensor is detached and moved to
    the CPU first, and one of a dtype numpy lacks (bfloat16, as autocast gives, or float8) is
    widened to float32; ``np.asarray`` alone raises on either."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu()
        try:
            value = value.numpy()
        except TypeError:
            value = value.float().numpy()
    return np.asarray(value, dtype=dtype)


def as_index_array(name: str, values, n: int | None = None) -> np.ndarray:
    """A 1-D int64 array of indices (``< n`` when given), or a TypeError/ValueError naming
    ``name``."""
    a = to_numpy(values)
    if a.ndim != 1 or (a.size and a.dtype.kind not in "iu"):
        hint = "; for a boolean mask pass its indices, mask.nonzero()" if a.dtype == bool else ""
        raise TypeError(f"{name} should be a 1-D sequence of ints, but got dtype {a.dtype}, "
                        f"shape {a.shape}{hint}")
    a = a.astype(np.int64, copy=False)
    if n is not None and a.size and (a.min() < 0 or a.max() >= n):
        bad = int(a[(a < 0) | (a >= n)][0])
        raise ValueError(f"{name} holds {bad}, outside [0, {n}) for a dataset of {n} samples")
    return a
