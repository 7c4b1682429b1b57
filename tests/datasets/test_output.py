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
