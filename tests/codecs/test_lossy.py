"""The lossy codec: an exact byte budget, quality that rises with it, any image shape, the
same bytes every run, and kernels checked against plain numpy."""

import numba
import numpy as np
import pytest
import torch

import torchcompress as tc
from torchcompress.codecs import LossyCodec, LossyParams
from torchcompress.codecs._kernels.block_model import ZIGZAG
from torchcompress.codecs._kernels.lossy_vectors import idct8x8
from torchcompress.codecs.lossy_tables import dct_basis
from torchcompress.codecs.lossy_transform import block_coefficients, colour_basis
from torchcompress.errors import CodecError


def _photos(rng, n, shape=(3, 24, 24), noise=6.0):
    """Smooth gradients with texture: something a DCT codec can compress."""
    h, w = shape[-2:]
    yy, xx = np.mgrid[0:h, 0:w] / max(h, w)
    c = shape[0] if len(shape) == 3 else 1
    base = rng.uniform(0, 255, (n, c, 1, 1)) * (1 - yy) + rng.uniform(0, 255, (n, c, 1, 1)) * xx
    waves = 30 * np.sin(xx * rng.uniform(2, 12, (n, 1, 1, 1)) + yy * rng.uniform(2, 12, (n, 1, 1, 1)))
    x = np.clip(base + waves + rng.normal(0, noise, (n, c, h, w)), 0, 255).astype(np.uint8)
    return x.reshape((n,) + tuple(shape))


def _encode(x, **params):
    codec = LossyCodec(LossyParams(**params))
    return codec, codec.encode_dataset(x, np.zeros(len(x), dtype=np.int64))


def _decode(codec, enc, x, dtype=np.uint8):
    shapes = [np.asarray(s).shape for s in x]
    shape = tuple(d[0] if len(set(d)) == 1 else None for d in zip(*shapes))
    dec = tc.format.ArchiveDecoder.from_encoded(codec, enc, np.zeros(len(x), np.int64), [0, len(x)],
                                                shape, np.dtype(np.uint8))
    return dec.decode(np.arange(len(x), dtype=np.int64), dtype)


def _psnr(a, b):
    mse = np.mean((np.asarray(a, np.float64) - b) ** 2)
    return 10 * np.log10(255 ** 2 / max(mse, 1e-10))


@pytest.mark.parametrize("bits", [0.3, 0.8, 2.0])
def test_budget_is_exact_and_stats_are_measured(bits):
    x = _photos(np.random.default_rng(0), 40)
    codec, enc = _encode(x, bits=bits)
    st = enc.stats()
    budget = int(bits * x.size / 8)
    assert st["payload_bytes"] <= budget and st["budget_bytes"] == budget
    assert st["payload_bytes"] >= 0.9 * budget  # the budget is used, not wasted
    # the budget counts each length in the encoder's 2 bytes; the shard may store them in one
    shard = enc.shard(0, len(x))
    lengths = shard["lengths"].astype(np.int64) + int(shard.get("length_base", [0])[0])
    assert st["payload_bytes"] == int(lengths.sum()) + 2 * len(x)
    assert shard["lengths"].nbytes + shard["records"].nbytes <= st["payload_bytes"]
    out = _decode(codec, enc, x)
    per = [_psnr(o, s) for o, s in zip(out, x)]
    assert st["mean_psnr_db"] == pytest.approx(np.mean(per), abs=1e-9)
    assert st["worst_psnr_db"] == pytest.approx(min(per), abs=1e-9)


def test_quality_rises_with_bits():
    x = _photos(np.random.default_rng(1), 30)
    psnrs = [_encode(x, bits=b)[1].stats()["mean_psnr_db"] for b in (0.25, 0.5, 1.0, 2.0, 4.0)]
    assert all(b > a + 0.5 for a, b in zip(psnrs, psnrs[1:])), psnrs
    assert psnrs[-1] > 38


def test_hard_images_get_more_bytes():
    """The allocation gives bytes to busy images: flat ones need few for the same error."""
    rng = np.random.default_rng(2)
    busy = _photos(rng, 10, noise=25.0)
    flat = np.repeat(np.full((10, 3, 1, 1), 90, np.uint8), 24, 2).repeat(24, 3)
    codec, enc = _encode(np.concatenate([busy, flat]), bits=1.0)
    sizes = np.diff(enc.offsets)
    assert sizes[:10].min() > 5 * sizes[10:].max()


def test_deterministic_bytes(tmp_path):
    x = _photos(np.random.default_rng(3), 20)
    y = np.arange(20) % 3
    tc.compress((x, y), tmp_path / "a.tcz", codec="lossy", bits=0.7, progress=False)
    tc.compress((x.copy(), y.copy()), tmp_path / "b.tcz", codec="lossy", bits=0.7, progress=False)
    for f in ("shard-00000.safetensors", "tables.safetensors"):
        assert (tmp_path / "a.tcz" / f).read_bytes() == (tmp_path / "b.tcz" / f).read_bytes()


SHAPES = {
    "blank": np.zeros((4, 3, 16, 16), np.uint8),
    "white": np.full((4, 3, 9, 9), 255, np.uint8),
    "noise": np.random.default_rng(4).integers(0, 256, (4, 3, 16, 16), dtype=np.uint8),
    "1x1": np.random.default_rng(5).integers(0, 256, (5, 3, 1, 1), dtype=np.uint8),
    "1xN": np.random.default_rng(6).integers(0, 256, (5, 1, 1, 37), dtype=np.uint8),
    "odd-grey": _photos(np.random.default_rng(7), 6, (1, 13, 11)),
    "hw-only": _photos(np.random.default_rng(8), 6, (1, 20, 9)).reshape(6, 20, 9),
}


@pytest.mark.parametrize("bits", [0.5, 2.0, 8.0])
@pytest.mark.parametrize("name", list(SHAPES), ids=list(SHAPES))
def test_any_shape_round_trips_within_budget(name, bits):
    x = SHAPES[name]
    if bits * x.size / 8 < 7 * len(x):  # under a record's header and length: refused
        with pytest.raises(CodecError, match=r"too small for codec='lossy' .* use (bits >=|codec='lossless')"):
            _encode(x, bits=bits)
        return
    codec, enc = _encode(x, bits=bits)
    out = _decode(codec, enc, x)
    assert out.shape == x.shape and out.dtype == np.uint8
    assert enc.stats()["payload_bytes"] <= int(bits * x.size / 8)
    p = _psnr(out, x)
    if name in ("blank", "white"):
        assert p > 45  # flat images are (nearly) free
    elif bits == 8.0:
        assert p > 40


@pytest.mark.parametrize("name", ["rgb", "grey"])
def test_float32_output_is_the_uint8_output_before_rounding(name):
    x = _photos(np.random.default_rng(10), 6, (3, 20, 28) if name == "rgb" else (1, 13, 9))
    codec, enc = _encode(x, bits=1.0)
    u8, f32 = _decode(codec, enc, x), _decode(codec, enc, x, np.float32)
    assert f32.dtype == np.float32 and f32.shape == x.shape
    assert np.abs(np.clip(f32, 0, 255) - u8).max() <= 0.5 + 1e-3
    assert np.abs(f32 - x).mean() < np.abs(f32 - x[::-1]).mean()  # each sample its own pixels


def test_mixed_shapes_in_one_archive(tmp_path):
    rng = np.random.default_rng(9)
    imgs = [_photos(rng, 1, (3, h, w))[0] for h, w in [(24, 24), (13, 40), (1, 1), (33, 7)]]

    class Folder(torch.utils.data.Dataset):
        def __len__(self):
            return len(imgs)

        def __getitem__(self, i):
            return torch.from_numpy(imgs[i]), i % 2

    info = tc.compress(Folder(), tmp_path / "m.tcz", codec="lossy", bits=3.0, progress=False)
    assert info["sample_shape"] == [3, None, None]
    ds = tc.open(tmp_path / "m.tcz")
    for i, img in enumerate(imgs):
        x, y = ds[i]
        assert tuple(x.shape) == img.shape and x.dtype == torch.uint8 and y == i % 2
        if img.size > 3:
            assert _psnr(x.numpy(), img) > 28
    batch = ds.__getitems__([3, 0])
    assert [tuple(b[0].shape) for b in batch] == [imgs[3].shape, imgs[0].shape]
    assert info["mean_psnr_db"] > 28 and "worst_psnr_db" in info


def test_idct_kernel_matches_numpy():
    rng = np.random.default_rng(10)
    basis = dct_basis()
    blk = rng.normal(0, 50, 64).astype(np.float32)
    out = np.zeros(8 * 11 + 3, dtype=np.float32)
    idct8x8(blk, basis.astype(np.float32), out, 3, 11)
    want = basis.T @ blk.reshape(8, 8).astype(np.float64) @ basis
    np.testing.assert_allclose(out[3:].reshape(8, 11)[:, :8], want, atol=1e-3)
    assert not out[:3].any() and not out[3:].reshape(8, 11)[:, 8:].any()  # stays in its block
    with pytest.raises(numba.core.errors.TypingError, match="blk must be a C-contiguous float32"):
        idct8x8(np.zeros(128, np.float32)[::2], basis.astype(np.float32), out, 3, 11)
    # and the forward transform is its inverse, block by block in zigzag order
    img = rng.integers(0, 256, (1, 8, 8)).astype(np.uint8)
    coef = block_coefficients(img, np.ones((1, 1), np.float32), np.zeros(1, np.float32))[0]
    raster = np.zeros(64)
    raster[ZIGZAG] = coef
    np.testing.assert_allclose(basis.T @ raster.reshape(8, 8) @ basis, img[0], atol=1e-3)


def test_colour_basis_is_orthonormal_around_the_mean_pixel():
    x = _photos(np.random.default_rng(11), 20)
    mat, mean = colour_basis(x, np.arange(20), 3)
    np.testing.assert_allclose(mat @ mat.T, np.eye(3), atol=1e-6)
    np.testing.assert_allclose(mat[0], np.full(3, 1 / np.sqrt(3)), atol=1e-7)  # luma first
    np.testing.assert_allclose(mean, x.transpose(1, 0, 2, 3).reshape(3, -1).mean(axis=1), rtol=1e-6)
    # squared error is the same in both domains, so the allocation sees the user's error
    e = np.random.default_rng(0).normal(0, 3, (3, 50))
    assert np.sum((mat @ e) ** 2) == pytest.approx(np.sum(e ** 2))


@pytest.mark.parametrize("x, match", [
    (np.zeros((2, 3, 4, 4), np.int16),
     r"codec='lossy' stores uint8 images, but got dtype int16; use codec='lossless'"),
    (np.zeros((2, 3, 4, 4), np.float32), r"got dtype float32; float images usually come from a "
     r"ToTensor\(\) .* PILToTensor\(\)\) and pass that transform to tc.open\(transform=...\); "
     r"use codec='lossless'"),
    (np.zeros((2, 4, 4, 4), np.uint8), r"1 or 3 channels, but got a sample of shape \[4, 4, 4\]"),
    (np.zeros((2, 40), np.uint8), r"1 or 3 channels, but got a sample of shape \[40\]"),
], ids=["int16", "float", "rgba", "vector"])
def test_bad_input(x, match):
    with pytest.raises(CodecError, match=match):
        _encode(x)


def test_bad_params_and_a_budget_too_small(tmp_path):
    with pytest.raises(ValueError, match=r"bits should be in \[0.001, 8\], but got bits=9"):
        LossyParams(bits=9)
    with pytest.raises(ValueError, match="fit_samples should be a positive integer value"):
        LossyParams(fit_samples=0)
    x = _photos(np.random.default_rng(12), 4, (3, 8, 8))
    with pytest.raises(CodecError, match=r"bits=0.01 is too small for codec='lossy' .* use bits >= "):
        tc.compress((x, np.zeros(4, int)), tmp_path / "s.tcz", codec="lossy", bits=0.01, progress=False)
    assert not (tmp_path / "s.tcz").exists()
    with pytest.raises(ValueError, match="importance= applies to the 'adq' codec"):
        tc.compress((x, np.zeros(4, int)), tmp_path / "s.tcz", codec="lossy", importance=np.ones(4),
                    progress=False)


def test_a_batch_decodes_as_each_sample_alone(tmp_path):
    """The decoder reuses its block scratch from image to image (clearing only what the last
    image left): a busy image before a flat one, in any order, decodes the same."""
    rng = np.random.default_rng(10)
    busy = _photos(rng, 6, noise=30.0)
    flat = np.repeat(np.full((6, 3, 1, 1), 90, np.uint8), 24, 2).repeat(24, 3)
    x = np.concatenate([busy, flat])
    tc.compress((x, np.zeros(len(x), np.int64)), tmp_path / "a.tcz", codec="lossy", bits=2.0,
                progress=False)
    alone = [tc.open(tmp_path / "a.tcz")[i][0].numpy() for i in range(len(x))]  # fresh each
    ds = tc.open(tmp_path / "a.tcz")
    order = [0, 6, 1, 7, 7, 2, 11, 5, 8, 0]
    for i, (got, _) in zip(order, ds.__getitems__(order)):
        np.testing.assert_array_equal(got.numpy(), alone[i])



def test_ac_contexts_follow_the_format():
    """FORMAT.md's AC context: ``28 + ((7·pc + band(z))·5 + m)·3 + min(nb, 2)``, ``m`` = 0, 1,
    2, 3, 3, 4, 4, ... for the two previous magnitudes' sum (both codec directions use it)."""
    from torchcompress.codecs._kernels.block_model import ac_context

    bands = [0, 0, 0] + [1] * 3 + [2] * 4 + [3] * 5 + [4] * 6 + [5] * 15 + [6] * 28
    for pc in (0, 1):
        for z in range(1, 64):
            for prev in range(40):
                m = [0, 1, 2, 3, 3][prev] if prev < 5 else 4
                for nb in range(5):
                    want = 28 + ((7 * pc + bands[z]) * 5 + m) * 3 + min(nb, 2)
                    assert ac_context(pc, z, prev, nb) == want, (pc, z, prev, nb)
