"""What ``tc.open(path, output=...)`` hands back: the decode dtype and the conversion after it."""

from __future__ import annotations

import numpy as np

from .._validation import check_choice

__all__ = ["OUTPUTS", "OutputPlan", "pil_image"]

#: "source": the source's dtype (uint8 CHW images as torchvision.io gives them), lossy values
#: rounded and clamped to it; "float": float32, integer images rounded and clamped as "source",
#: then scaled to [0, 1] (x / 255 for uint8; (x - min) / (max - min) of the dtype); "raw": float32,
#: the codec's reconstruction as it is; "pil": "source" as PIL images (uint8 archives of 1 to 4
#: channels), as torchvision's datasets give them, for pipelines that begin with ToTensor().
#: "uint8" and "float32" are the older names of "source" (uint8 archives) and "raw".
OUTPUTS = ("source", "float", "raw", "pil", "uint8", "float32")
#: PIL's mode for each channel count
_MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}


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
        #: hand back PIL images (``pil_image``), decoded as "source"
        self.pil = output == "pil"
        if self.pil:
            if src != np.uint8:
                raise ValueError(f"output='pil' gives the PIL images of uint8 archives, but this "
                                 f"archive stores {src}; use output='source' (tensors) or "
                                 "'float'")
            output = "source"
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


def pil_image(a: np.ndarray, i: int):
    """Sample ``i``, a (C, H, W) uint8 array of 1 to 4 channels or an (H, W) one, as a PIL
    image (mode L, LA, RGB or RGBA), as torchvision's datasets give images."""
    from PIL import Image

    if a.ndim == 2:
        a = a[None]
    if a.ndim != 3 or a.shape[0] not in _MODES:
        raise ValueError(f"output='pil' gives images of 1 to 4 channels, but sample {i} has "
                         f"shape {tuple(a.shape)}; use output='source' (tensors)")
    hwc = np.ascontiguousarray(a.transpose(1, 2, 0))
    return Image.fromarray(hwc[..., 0] if a.shape[0] == 1 else hwc, _MODES[a.shape[0]])
