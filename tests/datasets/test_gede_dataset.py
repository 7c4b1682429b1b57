"""GeDe archives through the public API: compress, open, DataLoader, verify, info."""

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

import torchcompress as tc
from torchcompress import CodecError
from torchcompress.codecs import gede as gede_module


@pytest.mark.parametrize("transform", ["none", "lossless"])
def test_lossless_archive_through_dataloader(tmp_path, images, transform):
    x, y = images
    path = tmp_path / "a.tcz"
    info = tc.compress((x, y), path, codec="gede", mode=transform, shard_size=16, progress=False)
    assert info["verified"] is True and info["exact_fraction"] == 1.0 and info["max_abs_error"] == 0
    ds = tc.open(path, output="uint8")
    got = torch.cat([b for b, _ in DataLoader(ds, batch_size=7)])
    np.testing.assert_array_equal(got.numpy(), x)
    assert ds.targets.tolist() == list(y)
    assert ds[-1][1] == int(y[-1])


def test_dct_info_reports_exact_fraction_and_max_error(tmp_path, images):
    x, y = images
    path = tmp_path / "d.tcz"
    tc.compress((x, y), path, codec="gede", mode="dct", progress=False)
    ds = tc.open(path, output="raw")
    got = torch.stack([ds[i][0] for i in range(len(ds))]).numpy()
    err = np.abs(got - x)
    info = ds.info
    assert info["max_abs_error"] == err.max() and 0 < info["max_abs_error"] <= 4
    assert info["exact_fraction"] == pytest.approx((err == 0).mean())
    assert info["verified"] is False


def test_verify_failure_writes_nothing(tmp_path, images, monkeypatch):
    real = gede_module.GeDeShardDecoder.decode

    def off_by_one(self, rows, out, planes=None):
        real(self, rows, out)
        out[0, 0] += 1
    monkeypatch.setattr(gede_module.GeDeShardDecoder, "decode", off_by_one)
    path = tmp_path / "v.tcz"
    with pytest.raises(CodecError, match=r"verify failed: sample 0 decodes with error 1 \(allowed 0\); "
                                         r"nothing was written"):
        tc.compress(images, path, codec="gede", mode="lossless", progress=False)
    assert not path.exists() and list(tmp_path.iterdir()) == []


def test_float_table_with_precision_and_regression_targets(tmp_path):
    rng = np.random.default_rng(0)
    x = np.round(rng.normal(0, 5, (64, 6)), 3).astype(np.float32)
    t = rng.normal(size=64).astype(np.float32)
    path = tmp_path / "t.tcz"
    tc.compress((x, t), path, codec="gede", precision=3, classwise=False, progress=False)
    ds = tc.open(path)
    xs = torch.stack([ds[i][0] for i in range(64)]).numpy()
    np.testing.assert_allclose(xs, x, atol=6e-4)
    y0 = ds[0][1]  # a 0-d float32 tensor, as a TensorDataset gives it
    assert y0.dtype == ds.targets.dtype == torch.float32 and y0.shape == ()


@pytest.mark.parametrize("kwargs, err, match", [
    ({"mode": "dct", "verify": True}, ValueError,
     r"verify=True checks a lossless round trip, but codec='gede' with mode='dct' is lossy"),
    ({"importance": np.ones(40)}, ValueError, r"importance= applies to the lossy 'adq' codec"),
    ({"tau": 0}, ValueError, r"tau should be a positive integer value, but got tau=0"),
], ids=["verify-dct", "importance", "tau"])
def test_bad_compress_arguments(tmp_path, images, kwargs, err, match):
    with pytest.raises(err, match=match):
        tc.compress(images, tmp_path / "b.tcz", codec="gede", progress=False, **kwargs)
    assert not (tmp_path / "b.tcz").exists()


def test_adq_rejects_verify_and_gede_rejects_planes(tmp_path, images):
    with pytest.raises(ValueError, match=r"but codec='adq' is lossy"):
        tc.compress(images, tmp_path / "a.tcz", codec="adq", verify=True, progress=False)
    tc.compress(images, tmp_path / "g.tcz", codec="gede", progress=False)
    with pytest.raises(ValueError, match=r"planes applies to progressive codecs such as 'adq'.*codec='gede'"):
        tc.open(tmp_path / "g.tcz", planes=2)


def test_classwise_needs_class_labels(tmp_path):
    x = np.zeros((8, 3), np.uint8)
    with pytest.raises(ValueError, match=r"classwise=True needs integer class labels"):
        tc.compress((x, np.zeros(8, np.float32)), tmp_path / "c.tcz", codec="gede", progress=False)


def test_mixed_shapes_are_rejected(tmp_path):
    class Mixed(torch.utils.data.Dataset):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return np.zeros((1, 4, 4 + (i == 2)), np.uint8), 0
    with pytest.raises(ValueError, match=r"this codec stores one shape per archive"):
        tc.compress(Mixed(), tmp_path / "m.tcz", codec="gede", progress=False)
