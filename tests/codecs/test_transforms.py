"""Transforms against oracles: scipy's DCT, exact integer inversion, colour matrices."""

import numpy as np
import pytest
import scipy.fft
from hypothesis import given, settings
from hypothesis import strategies as st

from torchcompress.codecs._kernels.idct import idct_axis0, idct_plan
from torchcompress.codecs._kernels.lifting import (wavelet53_forward, wavelet53_inverse,
                                                   wavelet_scratch, ycocg_forward, ycocg_inverse)
from torchcompress.codecs.transforms import DCTTransform, WaveletTransform, dct_matrix


@pytest.mark.parametrize("n", [1, 7, 8, 32])
def test_dct_matrix_matches_scipy(n):
    x = np.random.default_rng(n).normal(size=(5, n))
    np.testing.assert_allclose(x @ dct_matrix(n).T, scipy.fft.dct(x, norm="ortho", axis=1), atol=1e-12)


@pytest.mark.parametrize("shape", [(3, 32, 32), (1, 8, 12), (28, 28)], ids=["rgb", "gray-rect", "hw"])
def test_dct_forward_matches_scipy_dctn(shape):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (4, *shape)).astype(np.uint8)
    t = DCTTransform(shape, np.uint8)
    coef = t.forward(x).reshape(4, t.c, t.h, t.w)
    img = x.reshape(4, t.c, t.h, t.w).astype(np.float64)
    if t.c == 3:
        r, g, b = img[:, 0], img[:, 1], img[:, 2]
        img = np.stack([0.299 * r + 0.587 * g + 0.114 * b - 128,
                        -0.168735892 * r - 0.331264108 * g + 0.5 * b,
                        0.5 * r - 0.418687589 * g - 0.081312411 * b], axis=1)
    else:
        img = img - 128
    ref = np.rint(scipy.fft.dctn(img, axes=(2, 3), norm="ortho"))
    np.testing.assert_array_equal(coef, ref)


@pytest.mark.parametrize("n,vw,pad", [(32, 96, 0), (32, 96, 288), (32, 32, 0), (28, 28, 5), (12, 7, 0),
                                      (8, 1, 3), (5, 3, 0), (5, 3, 4), (4, 4, 0), (2, 9, 1), (1, 1, 0)])
def test_butterfly_idct_matches_scipy(n, vw, pad):
    """The even/odd split (n % 4 == 0) and the plain matrix (other n) both equal scipy's idct,
    also when source rows are ``pad`` floats apart (NaN there: a stray read would show)."""
    x = np.random.default_rng(n * 100 + vw).normal(0, 50, (n, vw)).astype(np.float32)
    src = np.full((n, vw + pad), np.nan, dtype=np.float32)
    src[:, :vw] = x
    out = np.empty(n * vw, dtype=np.float32)
    scratch = [np.full(n * vw, np.nan, dtype=np.float32) for _ in range(3)]
    idct_axis0(src.ravel(), out, idct_plan(dct_matrix(n)), *scratch, n, vw, vw + pad)
    ref = scipy.fft.idct(x.astype(np.float64), norm="ortho", axis=0)
    np.testing.assert_allclose(out.reshape(n, vw), ref, atol=2e-4 * max(1, np.abs(ref).max()))


def test_batched_idct_matches_scipy_per_sample():
    rng = np.random.default_rng(1)
    t = DCTTransform((3, 16, 16), np.uint8)
    x = rng.integers(0, 256, (9, 3, 16, 16)).astype(np.uint8)
    v = t.forward(x)
    out = np.empty((9, 3 * 16 * 16), dtype=np.float32)
    t.inverse(v.astype(np.int32), out)
    for i in range(9):
        ycc = scipy.fft.idctn(v[i].reshape(3, 16, 16).astype(np.float64), axes=(1, 2), norm="ortho")
        ycc[0] += 128
        y, cb, cr = ycc
        rgb = np.stack([y + 1.402 * cr, y - 0.344136 * cb - 0.714136 * cr, y + 1.772 * cb])
        ref = np.clip(np.rint(rgb), 0, 255).reshape(-1)
        assert np.abs(out[i] - ref).max() <= 1  # float32 vs float64 rounding at .5 ties
        assert (out[i] != ref).mean() < 0.01


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 19), st.integers(1, 19), st.integers(1, 5), st.integers(0, 2**32 - 1))
def test_wavelet_is_exactly_invertible(h, w, levels, seed):
    rng = np.random.default_rng(seed)
    x = rng.integers(-600, 600, (2, 3, h, w)).astype(np.int32)
    y = x.copy()
    wavelet53_forward(y, levels, *wavelet_scratch(h, w))
    np.testing.assert_array_equal(y, _wavelet_reference(x, levels))
    wavelet53_inverse(y, levels, *wavelet_scratch(h, w))
    np.testing.assert_array_equal(y, x)


def _line53(x: list) -> list:
    """The module docstring's 1-D 5/3 step, element by element: ``[s, d]``."""
    n = len(x)
    if n < 2:
        return list(x)
    ns, nd = (n + 1) // 2, n // 2
    d = [x[2 * i + 1] - ((x[2 * i] + (x[2 * i + 2] if 2 * i + 2 < n else x[2 * i])) >> 1)
         for i in range(nd)]
    s = [x[2 * i] + (((d[i - 1] if i > 0 else d[0]) + (d[i] if i < nd else d[nd - 1]) + 2) >> 2)
         for i in range(ns)]
    return s + d


def _wavelet_reference(x: np.ndarray, levels: int) -> np.ndarray:
    """Every plane: per level, each row of the top-left low-pass block, then each column."""
    y = x.astype(np.int64).copy()
    for plane in y.reshape(-1, *x.shape[-2:]):
        h, w = plane.shape
        for _ in range(levels):
            if h < 2 and w < 2:
                break
            for r in range(h):
                plane[r, :w] = _line53(plane[r, :w].tolist())
            for c in range(w):
                plane[:h, c] = _line53(plane[:h, c].tolist())
            h, w = (h + 1) // 2, (w + 1) // 2
    return y


def test_wavelet_compacts_a_smooth_image():
    ramp = np.add.outer(np.arange(16), np.arange(16)).astype(np.int32)[None, None] * 4
    y = ramp.copy()
    wavelet53_forward(y, 3, *wavelet_scratch(16, 16))
    # a linear ramp is predicted exactly away from the mirrored right/bottom edges
    high = np.ones((16, 16), bool)
    high[:2, :2] = False
    assert (y[0, 0][high] == 0).mean() > 0.85
    assert np.abs(y[0, 0, 4:14, 4:14]).max() == 0


def test_ycocg_is_exact_on_all_colours_sample():
    rng = np.random.default_rng(3)
    x = rng.integers(0, 256, (1, 3, 64, 64)).astype(np.int32)
    x[0, :, 0, :3] = [[0, 255, 0], [0, 255, 255], [0, 255, 0]]
    y = x.copy()
    ycocg_forward(y)
    assert y[:, 0].min() >= 0 and y[:, 0].max() <= 255  # Y stays in pixel range
    ycocg_inverse(y)
    np.testing.assert_array_equal(y, x)


def test_lossless_transform_roundtrip_gray_and_rgb():
    rng = np.random.default_rng(4)
    for shape in [(1, 9, 13), (3, 32, 32)]:
        x = rng.integers(0, 256, (5, *shape)).astype(np.uint8)
        t = WaveletTransform(shape, np.uint8)
        out = np.empty((5, x[0].size), np.uint8)
        t.inverse(t.forward(x).astype(np.int32), out)
        np.testing.assert_array_equal(out.reshape(x.shape), x)
