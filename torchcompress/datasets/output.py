"""What ``tc.open(path, output=...)`` hands back: the decode dtype and the conversion after it."""

from __future__ import annotations

import numpy as np

from .._validation import check_choice

__all__ = ["OUTPUTS", "OutputPlan"]

#: "source": the source's dtype (uint8 CHW images as torchvision.io gives them), lossy values
#: rounded and clamped to it; "float": float32, integer images rounded and clamped as "source",
#: then scaled to [0, 1] (x / 255 for uint8; (x - min) / (max - min) of the dtype); "raw": float32,
#: the codec's reconstruction as it is. "uint8" and "float32" are the older names of "source"
#: (uint8 archives) and "raw".
OUTPUTS = ("source", "float", "raw", "uint8", "float32")


class OutputPlan:
    """How to decode an archive of ``sample_dtype`` for ``output``.

    Attributes:
        dtype: what the codec's decoder writes (its kernels round and clamp
            to uint8 themselves; other integer dtypes are rounded here).
        out_dtype: what the dataset returns.
    """

    def __init__(self, output: str, sample_dtype, codec_dtypes: tuple | None):
        check_choice("output", output, OUTPUTS)
        src = np.dtype(sample_dtype)
        if output == "uint8":
            if src != np.uint8:
                raise ValueError(f"output='uint8' needs a uint8 (image) source, but this archive "
                                 f"stores {src}; use output='source' (its own dtype) or 'float'")
            output = "source"
        if output == "float32":
            output = "raw"
        self.output = output
        self._scale = None
        rounded = output == "source" or (output == "float" and src.kind in "iu")
        native = codec_dtypes is None or src in codec_dtypes
        self.dtype = src if rounded and native else np.dtype(np.float32)
        self.out_dtype = src if output == "source" else np.dtype(np.float32)
        self._round = rounded and self.dtype != src and src.kind in "iu"
        self._src = src
        if output == "float" and src.kind in "iu":
            info = np.iinfo(src)
            self._scale = (float(info.min), float(info.max) - float(info.min))
        #: ``finish`` returns what it is given (``ds[i]`` then skips the call)
        self.identity = not self._round and self._scale is None and self.dtype == self.out_dtype

    def finish(self, a: np.ndarray) -> np.ndarray:
        """The decoded array ``a`` converted to what the dataset returns."""
        if self._round:
            info = np.iinfo(self._src)
            a = np.clip(np.rint(a), info.min, info.max)
            if self._scale is None:
                return a.astype(self.out_dtype)
        if self._scale is not None:
            lo, span = self._scale
            a = a.astype(np.float32)
            if lo:
                a -= np.float32(lo)
            return np.multiply(a, np.float32(1.0 / span), out=a)
        if a.dtype != self.out_dtype:
            return a.astype(self.out_dtype)
        return a
