"""Sample transforms in front of GeDe: values -> integer columns, and back.

- ``"none"``: the values themselves; floats become fixed point
  ``round(x * 10**precision)`` (``precision`` decimal digits, one per column or
  one for all), so reconstruction is within ``0.5 * 10**-precision``.
- ``"dct"``: the paper's mode for images. RGB -> YCbCr (JPEG, full range, no
  subsampling), minus 128, an orthonormal 2-D DCT-II of each whole channel,
  rounded to integers. Near-lossless: the rounding moves some pixels.
- ``"lossless"``: YCoCg-R colour and a 3-level LeGall 5/3 integer wavelet,
  both reversible in integer arithmetic, so uint8 images come back bit-exact
  on any machine. (A float DCT plus a stored residual is not safe here: a
  different BLAS may round the inverse DCT differently and break the residual.)
"""

from __future__ import annotations

import numpy as np

from ..errors import CodecError
from .precision import check_precision
from ._kernels.color import ycc_to_pixels
from ._kernels.idct import idct_plan
from ._kernels.lifting import (wavelet53_forward, wavelet53_inverse, wavelet_scratch, ycocg_forward,
                               ycocg_inverse)

__all__ = ["DCTTransform", "IdentityTransform", "TRANSFORMS", "WaveletTransform", "dct_matrix",
           "make_transform"]

TRANSFORMS = ("none", "dct", "lossless")
WAVELET_LEVELS = 3
_CHUNK = 64  # images per forward-DCT step: the float64 working set stays in cache
_FUSED_CHUNK = 4  # images per fused-decode step: longer vectors, still inside L2

_RGB2YCC = np.array([[0.299, 0.587, 0.114],
                     [-0.168735892, -0.331264108, 0.5],
                     [0.5, -0.418687589, -0.081312411]])
_YCC2RGB = np.linalg.inv(_RGB2YCC)


def dct_matrix(n: int) -> np.ndarray:
    """(n, n) orthonormal DCT-II matrix ``C``: ``X = C @ x`` equals scipy's ``dct(x, norm="ortho")``."""
    k = np.arange(n)[:, None]
    i = np.arange(n)[None, :]
    c = np.cos(np.pi * (2 * i + 1) * k / (2 * n)) * np.sqrt(2.0 / n)
    c[0] /= np.sqrt(2.0)
    return c


def _image_shape(shape: tuple, dtype: np.dtype, name: str) -> tuple[int, int, int]:
    if np.dtype(dtype) != np.uint8:
        raise CodecError(f"mode={name!r} needs uint8 images, but the source is {np.dtype(dtype)}; "
                         "use mode='none' (with precision= for floats)")
    if len(shape) == 2:
        return 1, shape[0], shape[1]
    if len(shape) == 3 and shape[0] in (1, 3):
        return shape
    raise CodecError(f"mode={name!r} needs samples shaped (H, W), (1, H, W) or (3, H, W), "
                     f"but got {tuple(shape)}; pass layout='HWC' for channels-last images")


class IdentityTransform:
    """Values as integer columns; floats through fixed point with ``precision`` digits.

    A column whose code needs 17 to 32 bits (``wide``: ``[column, signed]``
    pairs) is zigzag-coded when signed and split in two 16-bit columns: its
    high half stays in place, its low half is appended after the D columns.
    """

    exact = True
    fused_args = fused_order = None  # no fused GeDe kernel: decode to integers, then ``inverse``

    def __init__(self, shape: tuple, dtype, precision=None, wide=None):
        self.size = int(np.prod(shape))
        dtype = np.dtype(dtype)
        if dtype.kind == "f":
            if precision is None:
                raise CodecError("float samples need precision= (decimal digits kept, e.g. "
                                 "precision=3, or 'auto') to be stored as fixed-point integers")
            p = np.asarray(precision, dtype=np.float64)
            if p.ndim > 1 or (p.ndim == 1 and len(p) != self.size):
                raise CodecError(f"precision should be one int or {self.size} ints (one per "
                                 f"column), but got {p.size} values")
            self.scale = np.broadcast_to(10.0 ** p, (self.size,))
            self.precision = p
        else:
            if precision is not None:
                raise CodecError(f"precision applies to float samples, but the source is {dtype}")
            self.scale = None
        w = np.zeros((0, 2), dtype=np.int64) if not wide else np.asarray(wide, dtype=np.int64)
        if w.ndim != 2 or w.shape[1] != 2 or ((w[:, 0] < 0) | (w[:, 0] >= self.size)).any() \
                or ((w[:, 1] != 0) & (w[:, 1] != 1)).any() or len(set(w[:, 0].tolist())) != len(w):
            raise CodecError(f"wide should list distinct [column, signed] pairs with columns in "
                             f"[0, {self.size}) and signed 0 or 1, but got {wide!r}")
        self.wide = w
        self.columns = self.size + len(w)

    def integers(self, x: np.ndarray) -> np.ndarray:
        """(N, D) int64 values (floats in fixed point), before any column is split."""
        flat = x.reshape(x.shape[0], -1)
        if self.scale is None:  # int64 sources stay wide so the width check sees them whole
            return flat.astype(np.int64 if flat.dtype.itemsize == 8 else np.int32)
        if not np.isfinite(flat).all():
            bad = int(np.flatnonzero(~np.isfinite(flat).all(axis=1))[0])
            raise CodecError(f"sample {bad} contains NaN or inf; GeDe stores finite values only")
        check_precision(flat, self.precision)
        return np.rint(flat.astype(np.float64) * self.scale).astype(np.int64)

    def forward(self, x: np.ndarray) -> np.ndarray:
        return self.split(self.integers(x))

    def split(self, v: np.ndarray) -> np.ndarray:
        """Integer columns ``v`` (N, D) with each wide column split into its two halves."""
        if not len(self.wide):
            return v
        v = v.astype(np.int64)
        cols, signed = self.wide[:, 0], self.wide[:, 1].astype(bool)
        z = v[:, cols]
        z = np.where(signed, (z << 1) ^ (z >> 63), z)
        if (z < 0).any() or (z >= 1 << 32).any():
            raise CodecError("a wide column's code does not fit 32 bits; the wide layout does not "
                             "match these samples")
        v[:, cols] = z >> 16
        return np.concatenate([v, z & 0xFFFF], axis=1)

    def inverse(self, v: np.ndarray, out: np.ndarray) -> None:
        if len(self.wide):
            cols, signed = self.wide[:, 0], self.wide[:, 1].astype(bool)
            v = v.astype(np.int64)
            z = (v[:, cols] << 16) | v[:, self.size:]
            v = v[:, :self.size].copy()
            v[:, cols] = np.where(signed, (z >> 1) ^ -(z & 1), z)
        if self.scale is None:
            out[...] = v
        else:
            np.divide(v, self.scale.astype(np.float32), out=out, casting="unsafe")


class DCTTransform:
    """YCbCr + per-channel orthonormal 2-D DCT, rounded (near-lossless).

    GeDe decodes this transform with one fused kernel (``fused_args``); ``inverse``
    is the batched-GEMM reference for values already out of GeDe.
    """

    exact = False

    def __init__(self, shape: tuple, dtype):
        self.c, self.h, self.w = _image_shape(shape, dtype, "dct")
        self.columns = self.size = self.c * self.h * self.w
        self.ch = dct_matrix(self.h)
        self.cw = dct_matrix(self.w)
        self.cw_t = np.ascontiguousarray(self.cw.T)
        self.ch_t32 = np.ascontiguousarray(self.ch.T, dtype=np.float32)
        self.cw32 = self.cw.astype(np.float32)
        self.ycc2rgb32 = _YCC2RGB.astype(np.float32)
        # +128 on Y is a constant image: in the DCT domain it only moves the DC term
        self.dc = np.float32(128.0 * np.sqrt(self.h * self.w))
        # the fused kernel wants coefficient (ch, kh, kw) at (kw, image, ch, kh): decode_gede_dct
        ch, kh, kw = np.indices((self.c, self.h, self.w)).reshape(3, -1)
        self.fused_order = ((kw * _FUSED_CHUNK * self.c + ch) * self.h + kh).astype(np.uint32)
        self.fused_args = (_FUSED_CHUNK, self.c, self.h, self.w, idct_plan(self.ch),
                           idct_plan(self.cw), self.ycc2rgb32, self.dc)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """(N, D) int32 coefficients, computed in float64 over cache-sized chunks of images."""
        n, c, h, w = x.shape[0], self.c, self.h, self.w
        out = np.empty((n, self.size), dtype=np.int32)
        src = x.reshape(n, c, h * w)
        for s in range(0, n, _CHUNK):
            b = min(n, s + _CHUNK) - s
            img = src[s:s + b].astype(np.float64)
            if c == 3:
                img = np.matmul(_RGB2YCC, img)
            img[:, 0] -= 128.0
            rows = img.reshape(b * c * h, w) @ self.cw_t
            coef = np.matmul(self.ch, rows.reshape(b * c, h, w))
            out[s:s + b] = np.rint(coef, out=coef).reshape(b, -1)
        return out

    def inverse(self, v: np.ndarray, out: np.ndarray) -> None:
        b, c, h, w = v.shape[0], self.c, self.h, self.w
        coef = v.astype(np.float32).reshape(b * c * h, w)
        coef[0::c * h, 0] += self.dc
        rows = (coef @ self.cw32).reshape(b * c, h, w)
        # the left multiply as one GEMM over all images: (h, h) @ (h, B*C*w)
        cols = np.ascontiguousarray(rows.transpose(1, 0, 2)).reshape(h, b * c * w)
        ycc_to_pixels((self.ch_t32 @ cols).reshape(h, b, c, w), self.ycc2rgb32, out)


class WaveletTransform:
    """YCoCg-R + 3-level 5/3 integer wavelet per channel (bit-exact)."""

    exact = True
    fused_args = fused_order = None

    def __init__(self, shape: tuple, dtype):
        self.c, self.h, self.w = _image_shape(shape, dtype, "lossless")
        self.columns = self.size = self.c * self.h * self.w

    def _scratch(self):
        return wavelet_scratch(self.h, self.w)

    def forward(self, x: np.ndarray) -> np.ndarray:
        img = np.ascontiguousarray(x.reshape(-1, self.c, self.h, self.w), dtype=np.int32)
        if self.c == 3:
            ycocg_forward(img)
        wavelet53_forward(img, WAVELET_LEVELS, *self._scratch())
        return img.reshape(x.shape[0], -1)

    def inverse(self, v: np.ndarray, out: np.ndarray) -> None:
        img = np.ascontiguousarray(v.reshape(-1, self.c, self.h, self.w), dtype=np.int32)
        wavelet53_inverse(img, WAVELET_LEVELS, *self._scratch())
        if self.c == 3:
            ycocg_inverse(img)
        out[...] = img.reshape(v.shape[0], -1)


def make_transform(name: str, shape: tuple, dtype, precision=None, wide=None):
    """Build the transform ``name`` for samples of ``shape`` and ``dtype``."""
    if name == "none":
        return IdentityTransform(shape, dtype, precision, wide)
    if precision is not None:
        raise CodecError(f"precision applies to mode='none', but got mode={name!r}")
    if wide:
        raise CodecError(f"wide columns apply to mode='none', but got mode={name!r}")
    if name == "dct":
        return DCTTransform(shape, dtype)
    return WaveletTransform(shape, dtype)
