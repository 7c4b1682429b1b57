"""How the codecs see samples: a sample's planes, a source's common shape, and which rows of a
source a model is fit on (shared by the lossless, lossy, GeDe and original codecs' encoders)."""

from __future__ import annotations

import math

import numpy as np

__all__ = ["FIT_BYTES", "FIT_MIN", "FLOAT_IMAGES", "common_shape", "dims_of", "fit_rows",
           "planes_of"]


#: the fit reads at most this many bytes of samples (counted by the first sample's size), so
#: 4,096 large photos do not fill the memory; never fewer than ``FIT_MIN`` samples
FIT_BYTES = 64 << 20
FIT_MIN = 64

#: what the image codecs add when refusing floats: float images are nearly always a transform's
#: output, and the archive should hold the integers the transform started from
FLOAT_IMAGES = ("float images usually come from a ToTensor() or ToDtype(torch.float32, "
                "scale=True) transform on the source: compress its integer images (no "
                "transform, or PILToTensor()) and pass that transform to tc.open(transform=...)")


def fit_rows(n: int, fit_samples: int, sample_bytes: int = 0,
             cap_bytes: int | None = None) -> np.ndarray:
    """At most ``fit_samples`` rows spread evenly over ``n`` samples, and at most
    ``cap_bytes`` (default ``FIT_BYTES``) of samples of ``sample_bytes`` each (when given)."""
    k = min(n, fit_samples)
    if sample_bytes > 0:
        k = min(k, max(FIT_MIN, (FIT_BYTES if cap_bytes is None else cap_bytes) // sample_bytes))
    return np.unique(np.linspace(0, n - 1, k).round().astype(np.int64))


def planes_of(shape: tuple) -> tuple[int, int, int]:
    """(planes, height, width) a sample of ``shape`` is coded as: (D,) -> (1, 1, D),
    (H, W) -> (1, H, W), (C, H, W) as is, more axes fold into the planes."""
    if len(shape) == 1:
        return 1, 1, int(shape[0])
    if len(shape) == 2:
        return 1, int(shape[0]), int(shape[1])
    return math.prod(int(d) for d in shape[:-2]), int(shape[-2]), int(shape[-1])


def common_shape(shapes: np.ndarray) -> tuple:
    """The manifest's sample shape of (N, ndim) shapes: ``None`` where samples differ."""
    return tuple(int(c[0]) if (c == c[0]).all() else None for c in np.asarray(shapes).T)


def dims_of(samples) -> np.ndarray:
    """(N, 3) int64 (planes, height, width) each sample is coded as (see :func:`planes_of`)."""
    return np.array([planes_of(s.shape) for s in samples], dtype=np.int64).reshape(len(samples), 3)
