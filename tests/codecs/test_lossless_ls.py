"""The lossless codec's least-squares predictor (``predictor="least_squares"``): bit-exact
round trips, the model FORMAT.md describes, a fit that codes smaller than MED, and clear
errors where it does not apply."""

import numpy as np
import pytest

import torchcompress as tc
from torchcompress.codecs import LosslessCodec, LosslessParams
from torchcompress.codecs._kernels.ls_model import FEATURES
from torchcompress.codecs._kernels.pixel_model import ACT_LUT, LEVEL_LUT, Q_LUT
from torchcompress.codecs._kernels.rans import LOSSLESS_DIRECT, token_of
from torchcompress.codecs.lossless_tables import LS_SHAPES
from torchcompress.codecs.ls_fit import (LS_MIN_VALUES, LsScratch, _normal_equations, fit_ls,
                                         ls_code)
from torchcompress.errors import CodecError

from .test_lossless import _roundtrip, _structured


def _textured(rng, n, h=16, w=16, planes=3):
    """Smooth colour images with a texture a linear predictor follows better than MED: a
    diagonal sinusoid per plane plus a little noise."""
    yy, xx = np.mgrid[0:h, 0:w]
    out = np.empty((n, planes, h, w))
    for i in range(n):
        f, ph = rng.uniform(0.3, 0.9), rng.uniform(0, 6)
        base = 128 + 90 * np.sin(f * (xx + 0.7 * yy) + ph)
        for p in range(planes):
            out[i, p] = base * (0.6 + 0.2 * p) + 30 * p + rng.normal(0, 2, (h, w))
    return np.clip(out, 0, 255).astype(np.uint8)


LS_CASES = {
    "zeros": np.zeros((4, 3, 8, 8), np.uint8),
    "all-255": np.full((4, 3, 8, 8), 255, np.uint8),
    "1x1": np.random.default_rng(1).integers(0, 256, (5, 3, 1, 1), dtype=np.uint8),
    "1xN": np.random.default_rng(2).integers(0, 256, (5, 3, 1, 37), dtype=np.uint8),
    "Nx1": np.random.default_rng(3).integers(0, 256, (5, 3, 29, 1), dtype=np.uint8),
    "odd-7x5": _structured(np.random.default_rng(4), (6, 3, 7, 5)),
    "rgba": _structured(np.random.default_rng(5), (6, 4, 9, 6)),
    "noise": np.random.default_rng(6).integers(0, 256, (4, 3, 12, 12), dtype=np.uint8),
    "textured": _textured(np.random.default_rng(7), 40),
    "int8": (_structured(np.random.default_rng(8), (5, 3, 6, 6), np.int16, 255)
             - 128).astype(np.int8),
}


@pytest.mark.parametrize("colour", ["ycocg", "subtract_green"])
@pytest.mark.parametrize("name", list(LS_CASES))
def test_least_squares_roundtrip_is_bit_exact(name, colour):
    x = LS_CASES[name]
    enc, out = _roundtrip(x, colour=colour, predictor="least_squares")
    np.testing.assert_array_equal(out, x)
    assert enc.tables.ls is not None and enc.stats()["predictor"] == "least_squares"


def test_least_squares_mixed_shapes_and_planes(tmp_path):
    """RGB of several sizes, RGBA and grey samples in one archive: 3- and 4-plane samples take
    the least-squares model, grey ones MED; a batch (past the lanes' minimum) equals ``ds[i]``."""
    rng = np.random.default_rng(0)
    base = _textured(rng, 40, 20, 24, planes=4)
    samples = []
    for i in range(40):
        k = i % 4
        s = base[i, :3, : 5 + i % 13, : 3 + i % 17] if k < 2 else \
            base[i, :, : 9 + i % 5, :11] if k == 2 else base[i, :1, :7, : 4 + i % 9]
        samples.append(np.ascontiguousarray(s))
    enc, out = _roundtrip(samples, predictor="least_squares")
    for s, o in zip(samples, out):
        np.testing.assert_array_equal(o, s)


def test_least_squares_codes_textures_smaller_than_med():
    x = LS_CASES["textured"]
    med, _ = _roundtrip(x, predictor="med")
    ls, _ = _roundtrip(x, predictor="least_squares")
    assert ls.offsets[-1] < 0.95 * med.offsets[-1], (ls.offsets[-1], med.offsets[-1])


def test_least_squares_archive_through_compress_and_open(tmp_path):
    x = _textured(np.random.default_rng(1), 48)
    path = tmp_path / "ls.tcz"
    info = tc.compress((x, np.arange(48) % 3), path, progress=False, predictor="least_squares")
    assert info["codec_params"]["predictor"] == "least_squares"
    ds = tc.open(path, output="uint8")
    np.testing.assert_array_equal(np.stack([b[0].numpy() for b in ds.__getitems__(range(48))]),
                                  x)
    np.testing.assert_array_equal(ds[17][0].numpy(), x[17])
    assert tc.verify(path)["num_samples"] == 48


@pytest.mark.parametrize("predictor", ["least_squares", "auto"])
@pytest.mark.parametrize("n, side", [(64, 16), (1100, 6)], ids=["all", "subsampled"])
def test_least_squares_bytes_are_deterministic_and_do_not_depend_on_workers(n, side, predictor):
    """From 1,024 colour fit samples on the fit's pass takes every 4th; the default's choice
    and counts do not depend on the workers either."""
    x = _textured(np.random.default_rng(2), n, side, side)
    codec = LosslessCodec(LosslessParams(predictor=predictor))
    a = codec.encode_dataset(x, None)
    b = codec.encode_dataset(x, None, workers=2)
    assert np.array_equal(a.payload, b.payload) and np.array_equal(a.offsets, b.offsets)
    for name in ("lsw", "lsb", "lens", "logf"):
        assert np.array_equal(a.tables.to_tensors()[name], b.tables.to_tensors()[name])


def test_fit_keeps_med_where_a_bin_saw_too_few_values():
    """A (plane, bin) with fewer than LS_MIN_VALUES fit values keeps weight 1 (256) on MED
    alone: one 4 x 4 image has 16 values a plane; forty 16 x 16 ones fit weights of their own."""
    x = _textured(np.random.default_rng(3), 40)
    small = x[:1, :, :4, :4]
    assert small[0, 0].size < LS_MIN_VALUES
    wts, bias = fit_ls(small, np.array([s.shape for s in small]), 2, 0)
    assert wts.shape == (3, 16, FEATURES) and bias.shape == (3, 1024)
    assert wts.dtype == np.int16 and bias.dtype == np.int8
    np.testing.assert_array_equal(wts[..., 0], 256)
    np.testing.assert_array_equal(wts[..., 1:], 0)
    wts, bias = fit_ls(x, np.array([s.shape for s in x]), 2, 0)
    assert (wts[..., 1:] != 0).any(axis=-1).sum() >= 6
    assert not bias.any()  # left at zero: the decoders then skip them


def with_biases(monkeypatch, seed: int = 0) -> None:
    """Make the fit give random nonzero biases, as format-10 archives written before the fit
    left them at zero hold: the decoders must still add them."""
    from torchcompress.codecs import lossless_stream

    real = lossless_stream.fit_ls

    def biased(*args, **kwargs):
        wts, bias = real(*args, **kwargs)
        return wts, np.random.default_rng(seed).integers(-6, 7, bias.shape).astype(np.int8)
    monkeypatch.setattr(lossless_stream, "fit_ls", biased)


def test_zero_biases_are_skipped_and_archives_with_biases_still_decode(monkeypatch):
    """The fit's all-zero biases reach the kernels as none (no bias work); an archive whose
    biases are not zero decodes bit for bit, one record at a time and in a batch."""
    x = LS_CASES["textured"]
    enc, out = _roundtrip(x, predictor="least_squares")
    assert not enc.tables.ls[1].any() and enc.tables.bias.shape == (0,)
    with_biases(monkeypatch)
    enc_b, out_b = _roundtrip(x, predictor="least_squares")
    assert enc_b.tables.ls[1].any() and enc_b.tables.bias.shape == (3 * 1024,)
    assert not np.array_equal(enc_b.payload, enc.payload)  # the biases changed the codes
    np.testing.assert_array_equal(out_b, x)
    np.testing.assert_array_equal(out, x)


def _reference_model(x, colour):
    """(planes, at, features) of one RGB(A) sample (P, H, W) int, written from FORMAT.md's
    text (plain Python, no ring): the colour planes 0..2, ``at(p, y, x)`` with the padding, and
    ``features(p, y, x)``: the least-squares features and the activity bin."""
    r, g, b = (x[c].astype(np.int64) for c in range(3))
    if colour == 2:
        planes = [g, b - g, r - g]
    else:
        co = r - b
        t = b + (co >> 1)
        cg = g - t
        planes = [t + (cg >> 1), co, cg]
    _, h, w = x.shape

    def at(p, yy, xx):
        """The value at (yy, xx) of plane p, with FORMAT.md's padding."""
        if yy < 0:
            return 0
        if xx < 0:
            return 0 if yy == 0 else int(planes[p][yy - 1, 0])
        if xx >= w:
            return int(planes[p][yy, w - 1])
        return int(planes[p][yy, xx])

    def med_at(p, yy, xx):
        wv, nv, nw = at(p, yy, xx - 1), at(p, yy - 1, xx), at(p, yy - 1, xx - 1)
        return max(min(wv, nv), min(max(wv, nv), wv + nv - nw))

    def res_at(p, yy, xx):  # |X - m_X|, 0 outside the image
        if yy < 0 or xx < 0 or xx >= w:
            return 0
        return abs(at(p, yy, xx) - med_at(p, yy, xx))

    def features(p, yy, xx):
        f = [med_at(p, yy, xx)] + [at(p, yy + dy, xx + dx) for dy, dx in
                                   [(0, -1), (-1, 0), (-1, -1), (-1, 1), (0, -2), (-2, 0),
                                    (-2, 1), (-2, -1), (-1, -2), (-1, 2)]]
        a = ACT_LUT[min(255, res_at(p, yy, xx - 1) + res_at(p, yy - 1, xx)
                        + ((res_at(p, yy - 1, xx - 1) + res_at(p, yy - 1, xx + 1)) >> 1)
                        + ((abs(f[1] - f[3]) + abs(f[2] - f[3]) + abs(f[2] - f[4])) >> 1))]
        return f, a

    return planes, at, features


def _reference_codes(x, colour, wts, bias):
    """Contexts and codes of one RGB sample (3, H, W) int under FORMAT.md's text (through
    :func:`_reference_model`): the least-squares prediction of planes 0..2 and their
    contexts."""
    planes, at, features = _reference_model(x, colour)
    _, h, w = x.shape

    def base_at(p, yy, xx):
        lo = 0 if p == 0 else -255
        f, a = features(p, yy, xx)
        s = sum(int(wts[p, a, j]) * f[j] for j in range(FEATURES))
        return min(max((s + 128) >> 8, lo), 255), a, f

    ctx, val = [], []
    for yy in range(h):
        for xx in range(w):
            prev_t = 0
            for p in range(3):
                lo = 0 if p == 0 else -255
                bse, a, f = base_at(p, yy, xx)
                u = sum(int(f[k] < bse) << bit for bit, k in enumerate([2, 1, 3, 4, 6, 5]))
                n = 0 if xx == 0 else int(at(p, yy, xx - 1) < base_at(p, yy, xx - 1)[0])
                pred = min(max(bse + int(bias[p, 2 * (8 * u + (a >> 1)) + n]), lo), 255)
                res = int(planes[p][yy, xx]) - pred
                code = 2 * res if res >= 0 else -2 * res - 1
                ctx.append(8 * a + LEVEL_LUT[pred] if p == 0 else 128 * p + 8 * a + Q_LUT[prev_t])
                val.append(code)
                prev_t = token_of(code, LOSSLESS_DIRECT)[0]
    return np.array(ctx), np.array(val)


@pytest.mark.parametrize("colour", [1, 2])
def test_model_follows_format_md(colour):
    """The encoder's contexts and codes equal a plain-Python reading of FORMAT.md's least-
    squares section, under fitted weights and under random ones (every weight and bias in
    play, and predictions clipped at both ends)."""
    rng = np.random.default_rng(colour)
    x = _textured(rng, 24, 7, 9)
    dims = np.array([s.shape for s in x])
    fitted = fit_ls(x, dims, colour, 0)
    wild = (rng.integers(-700, 700, (3, 16, FEATURES)).astype(np.int16),
            rng.integers(-128, 128, (3, 1024)).astype(np.int8))
    scratch = LsScratch(dims)
    for wts, bias in (fitted, wild):
        for i in (0, 5):
            codes = x[i].astype(np.int32)
            k = ls_code(codes, colour, wts.reshape(-1, FEATURES).astype(np.int64),
                        bias.reshape(-1).astype(np.int64), scratch)
            ctx, val = _reference_codes(codes, colour, wts, bias)
            np.testing.assert_array_equal(scratch.ctx[:k], ctx)
            np.testing.assert_array_equal(scratch.val[:k], val)


@pytest.mark.parametrize("colour", [1, 2])
def test_normal_equations_follow_format_md(colour):
    """The fit's normal equations (each plane and activity bin's X'X, whole, X'y and count)
    equal sums over :func:`_reference_model`'s features, for RGB and RGBA samples of odd
    sizes (1 to 3 columns: every padding rule in play); planes 0..2 only."""
    rng = np.random.default_rng(10 + colour)
    samples = [_textured(rng, 1, h, w, planes)[0].astype(np.int32) for h, w, planes in
               [(5, 1, 3), (4, 2, 4), (6, 3, 3), (7, 9, 4), (9, 7, 3)]]
    samples[2] = rng.integers(0, 256, samples[2].shape).astype(np.int32)  # wide residuals
    dims = np.array([s.shape for s in samples])
    xtx, xty, cnt = _normal_equations(samples, dims, colour, 0, 1)
    want_xtx, want_xty = np.zeros((48, FEATURES, FEATURES)), np.zeros((48, FEATURES))
    want_cnt = np.zeros(48, np.int64)
    for x in samples:
        planes, _, features = _reference_model(x, colour)
        for yy in range(x.shape[1]):
            for xx in range(x.shape[2]):
                for p in range(3):
                    f, a = features(p, yy, xx)
                    f = np.array(f, dtype=np.float64)
                    want_xtx[16 * p + a] += np.outer(f, f)
                    want_xty[16 * p + a] += f * planes[p][yy, xx]
                    want_cnt[16 * p + a] += 1
    np.testing.assert_array_equal(cnt, want_cnt)
    np.testing.assert_array_equal(xtx, want_xtx)
    np.testing.assert_array_equal(xty, want_xty)


@pytest.mark.parametrize("x, match", [
    (_structured(np.random.default_rng(0), (4, 1, 8, 8)), "no 3- or 4-channel samples"),
    (_structured(np.random.default_rng(0), (4, 3, 8, 8), np.uint16, 65535) * 200,
     "16-bit codes"),
], ids=["grey", "uint16"])
def test_least_squares_where_it_does_not_apply(x, match):
    with pytest.raises(CodecError, match=rf"predictor='least_squares' codes 8-bit RGB or RGBA "
                                         rf"images, but the fit samples have {match}; use "
                                         r"predictor='med'"):
        _roundtrip(x, predictor="least_squares")


def test_bad_predictor_names_the_choices():
    with pytest.raises(ValueError, match="predictor='ls' is not a predictor; pass one of "
                                         "'auto', 'med', 'least_squares'"):
        LosslessParams(predictor="ls")


def test_broadcast_model_carries_the_least_squares_model():
    """Under torchrun rank 0 fits and broadcasts ``model()``; a rank that loads it codes the
    same bytes (its weights and biases included)."""
    from torchcompress.codecs.lossless_stream import LosslessStream

    x = _textured(np.random.default_rng(4), 32)
    fitted = LosslessStream(32, 32, predictor="least_squares")
    fitted.fit(x)
    loaded = LosslessStream(32, 32, predictor="least_squares")
    loaded.load_model(fitted.model())
    assert np.array_equal(loaded.tables.ls[0], fitted.tables.ls[0])
    assert np.array_equal(loaded.tables.ls[1], fitted.tables.ls[1])
    a, b = fitted.encode(x), loaded.encode(x)
    assert np.array_equal(a.arrays["records"], b.arrays["records"])


def _coded(x, **params):
    """(predictor the archive records, payload bytes, record offsets) of ``x`` encoded with
    ``params``."""
    enc = LosslessCodec(LosslessParams(**params)).encode_dataset(x, None)
    return enc.stats()["predictor"], enc.payload, enc.offsets


@pytest.mark.parametrize("n, side", [(40, 48), (200, 16)], ids=["all-fit", "probed"])
def test_auto_takes_least_squares_where_it_codes_smaller(n, side):
    """Textures a linear predictor follows (least squares 5% smaller than MED, above): the
    default takes least squares and writes the bytes ``predictor="least_squares"`` writes,
    whether it compares the two on every fit sample or on every 4th (from 64 on)."""
    x = _textured(np.random.default_rng(11), n, side, side)
    auto, ls = _coded(x), _coded(x, predictor="least_squares")
    assert auto[0] == "least_squares"
    assert np.array_equal(auto[1], ls[1]) and np.array_equal(auto[2], ls[2])


def _blocks(rng, n, h=16, w=16, tile=4):
    """Colour images of flat 4x4 tiles: MED predicts a tile's inside exactly."""
    c = rng.integers(0, 256, (n, 3, h // tile + 1, w // tile + 1))
    return np.repeat(np.repeat(c, tile, 2), tile, 3)[:, :, :h, :w].astype(np.uint8)


@pytest.mark.parametrize("name, x", [
    ("tiles", _blocks(np.random.default_rng(12), 200)),
    ("noise", np.random.default_rng(13).integers(0, 256, (80, 3, 8, 8), dtype=np.uint8)),
    ("few", _textured(np.random.default_rng(14), 6)),
])
def test_auto_keeps_med_where_least_squares_does_not_pay(name, x):
    """Flat tiles, noise (stored raw either way), and a few textured samples whose records
    cannot pay for the weights' and biases' 4 KB: the default keeps MED and writes the bytes
    ``predictor="med"`` writes."""
    auto, med = _coded(x), _coded(x, predictor="med")
    assert auto[0] == "med"
    assert np.array_equal(auto[1], med[1]) and np.array_equal(auto[2], med[2])
    model = sum(int(np.prod(s)) * d for s, d in zip(LS_SHAPES, (2, 1)))  # int16, int8
    assert len(_coded(x, predictor="least_squares")[1]) + model > 0.99 * len(med[1])


@pytest.mark.parametrize("x", [
    _structured(np.random.default_rng(15), (70, 1, 12, 12)),
    _structured(np.random.default_rng(16), (70, 3, 12, 12), np.uint16, 4000),
], ids=["grey", "uint16-rgb"])
def test_auto_takes_med_where_least_squares_does_not_apply(x):
    """Grey and 16-bit sources, which ``predictor="least_squares"`` refuses, take MED."""
    assert _coded(x)[0] == "med"
    with pytest.raises(CodecError, match="predictor='least_squares' codes 8-bit RGB"):
        _coded(x, predictor="least_squares")


def test_auto_through_compress_names_its_choice(tmp_path):
    x = _textured(np.random.default_rng(17), 120)
    info = tc.compress((x, np.arange(120) % 3), tmp_path / "a.tcz", progress=False)
    assert info["codec_params"]["predictor"] == "auto"
    assert info["lossless"]["predictor"] == "least_squares"
    ds = tc.open(tmp_path / "a.tcz", output="uint8")
    np.testing.assert_array_equal(np.stack([b[0].numpy() for b in ds.__getitems__(range(120))]),
                                  x)

