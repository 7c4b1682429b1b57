"""``tc.open(output=...)``: the source's dtype by default (as torchvision.io), "float" in [0, 1],
"raw" the codec's own reconstruction, for every codec."""

import numpy as np
import pytest
import torch
from torchvision.transforms import v2

import torchcompress as tc

CODECS = {
    "lossless": {"codec": "lossless"},
    "adq": {"codec": "adq", "bits": 3.0},
    "gede-none": {"codec": "gede", "mode": "none"},
    "gede-lossless": {"codec": "gede", "mode": "lossless"},
    "gede-dct": {"codec": "gede", "mode": "dct"},
    "lossy": {"codec": "lossy", "bits": 2.0},
}


@pytest.fixture(params=list(CODECS), ids=list(CODECS))
def archive_of(request, tmp_path, images):
    path = tmp_path / f"{request.param}.tcz"
    tc.compress(images, path, progress=False, **CODECS[request.param])
    return path, request.param


def test_uint8_in_uint8_out(archive_of, images):
    path, name = archive_of
    ds = tc.open(path)
    x, _ = ds[3]
    batch = torch.stack([b[0] for b in ds.__getitems__([0, 3, 7])])
    assert x.dtype == torch.uint8 and batch.dtype == torch.uint8
    assert torch.equal(batch[1], x)
    raw = tc.open(path, output="raw")[3][0]
    assert raw.dtype == torch.float32
    # "source" is the raw reconstruction rounded and clamped to uint8
    assert torch.equal(x, raw.round().clamp(0, 255).to(torch.uint8))
    if name in ("lossless", "gede-none", "gede-lossless"):
        np.testing.assert_array_equal(x.numpy(), images[0][3])


def test_float_output_is_scaled_to_unit_range(archive_of):
    path, _ = archive_of
    f = tc.open(path, output="float")[3][0]
    u = tc.open(path)[3][0]
    assert f.dtype == torch.float32 and 0.0 <= float(f.min()) and float(f.max()) <= 1.0
    torch.testing.assert_close(f, u.float() / 255, rtol=0, atol=1e-6)


def test_torchvision_v2_pipeline_sees_unit_range(tmp_path, images):
    """The usual v2 pipeline, unchanged: ToDtype(scale=True) then Normalize."""
    tc.compress(images, tmp_path / "v.tcz", progress=False)
    t = v2.Compose([v2.ToDtype(torch.float32, scale=True), v2.Normalize([0.5] * 3, [0.5] * 3)])
    x, _ = tc.open(tmp_path / "v.tcz", transform=t)[0]
    assert -1.0 <= float(x.min()) and float(x.max()) <= 1.0


def test_int16_source_is_rounded_and_clamped_for_lossy_codecs(tmp_path):
    rng = np.random.default_rng(0)
    x = (rng.normal(0, 900, (20, 1, 6, 6))).clip(-32768, 32767).astype(np.int16)
    x[0, 0, 0, 0], x[0, 0, 0, 1] = -32768, 32767
    tc.compress((x, np.zeros(20, dtype=int)), tmp_path / "a.tcz", codec="adq", bits=2.0,
                progress=False)
    ds = tc.open(tmp_path / "a.tcz")
    got = torch.stack([b[0] for b in ds.__getitems__(list(range(20)))])
    assert got.dtype == torch.int16
    raw = torch.stack([b[0] for b in tc.open(tmp_path / "a.tcz", output="raw").__getitems__(
        list(range(20)))])
    assert not torch.equal(raw, raw.round())  # lossy values between integers
    assert torch.equal(got, raw.round().clamp(-32768, 32767).to(torch.int16))
    f = tc.open(tmp_path / "a.tcz", output="float")[0][0]
    assert 0.0 <= float(f.min()) and float(f.max()) <= 1.0


def test_float_sources_come_back_as_their_dtype(tmp_path):
    x = np.random.default_rng(0).normal(size=(10, 4)).astype(np.float64)
    tc.compress((x, np.zeros(10, dtype=int)), tmp_path / "f.tcz", codec="adq", bits=8.0,
                progress=False)
    got = tc.open(tmp_path / "f.tcz")[0][0]
    assert got.dtype == torch.float64
    assert tc.open(tmp_path / "f.tcz", output="float")[0][0].dtype == torch.float32


def test_output_plan_rounds_half_to_even_and_clamps_to_the_dtype():
    from torchcompress.datasets.output import OutputPlan

    plan = OutputPlan("source", np.int16, (np.dtype(np.float32), np.dtype(np.uint8)))
    assert plan.dtype == np.float32 and plan.out_dtype == np.int16
    got = plan.finish(np.array([40000.4, -40000.6, 1.5, 2.5, -0.4], dtype=np.float32))
    assert got.dtype == np.int16 and got.tolist() == [32767, -32768, 2, 2, 0]
    f = OutputPlan("float", np.int16, None)
    np.testing.assert_allclose(f.finish(np.array([-32768, 32767], dtype=np.int16)), [0.0, 1.0])



def _classic():
    import torchvision.transforms as T

    return T.Compose([T.ToTensor(), T.Normalize((0.5, 0.5, 0.5), (0.25, 0.25, 0.25))])


def test_a_classic_totensor_pipeline_works_with_pil_output(archive_of, images):
    """A pipeline written for torchvision's datasets begins with ToTensor(), which takes PIL
    images: ds[i]'s tensor raised torchvision's bare "pic should be PIL Image"."""
    from PIL import Image

    path, name = archive_of
    want_ds = tc.open(path)  # the decoded values, as tensors
    ds = tc.open(path, transform=_classic(), output="pil")
    pil, _ = tc.open(path, output="pil")[3]
    assert isinstance(pil, Image.Image) and pil.mode == "RGB" and pil.size == (8, 8)
    np.testing.assert_array_equal(np.asarray(pil), want_ds[3][0].numpy().transpose(1, 2, 0))
    want = (want_ds.batch([2, 3, 5])[0].float() / 255 - 0.5) / 0.25
    x, y = ds[3]
    assert x.dtype == torch.float32 and torch.allclose(x, want[1], atol=1e-6)
    assert y == int(want_ds[3][1])
    got = torch.stack([p[0] for p in ds.__getitems__([2, 3, 5])])
    assert torch.allclose(got, want, atol=1e-6)
    assert torch.allclose(ds.batch([2, 3, 5])[0], want, atol=1e-6)
    xb, _ = next(iter(ds.loader(3)))
    assert torch.allclose(xb, (want_ds.batch([0, 1, 2])[0].float() / 255 - 0.5) / 0.25,
                          atol=1e-6)
    with pytest.raises(TypeError, match=r"pic should be PIL Image.*the transform takes PIL "
                                        r"images .*output='pil'"):
        tc.open(path, transform=_classic())[0]
    with pytest.raises(TypeError, match=r"output='pil'"):
        tc.open(path, transforms=lambda x, y: (_classic()(x), y)).batch([0, 1])


@pytest.mark.parametrize("channels, mode", [(1, "L"), (2, "LA"), (4, "RGBA"), (0, "L")])
def test_pil_output_modes(tmp_path, channels, mode):
    shape = (5, 6, 7) if not channels else (5, channels, 6, 7)
    x = np.random.default_rng(0).integers(0, 256, shape, dtype=np.uint8)
    tc.compress((x, np.zeros(5, dtype=int)), tmp_path / "m.tcz", progress=False)
    im, _ = tc.open(tmp_path / "m.tcz", output="pil")[2]
    assert im.mode == mode and im.size == (7, 6)
    got = np.asarray(im)
    hwc = got.reshape(6, 7, -1)
    np.testing.assert_array_equal(hwc.transpose(2, 0, 1), x[2].reshape(-1, 6, 7))


def test_pil_output_is_refused_where_there_is_no_image(tmp_path):
    x = np.random.default_rng(0).integers(-300, 300, (4, 1, 3, 3)).astype(np.int16)
    tc.compress((x, np.zeros(4, dtype=int)), tmp_path / "i.tcz", progress=False)
    with pytest.raises(ValueError, match="output='pil' gives the PIL images of uint8 archives, "
                                         "but this archive stores int16"):
        tc.open(tmp_path / "i.tcz", output="pil")
    x = np.zeros((4, 5, 5, 6), np.uint8)  # five channels: no PIL mode
    tc.compress((x, np.zeros(4, dtype=int)), tmp_path / "two.tcz", progress=False)
    ds = tc.open(tmp_path / "two.tcz", output="pil")
    with pytest.raises(ValueError, match=r"sample 1 has shape \(5, 5, 6\)"):
        ds[1]
    with pytest.raises(ValueError, match="leave device=None"):
        tc.open(tmp_path / "two.tcz", output="pil", device="cpu")
