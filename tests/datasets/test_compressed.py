import pickle

import numpy as np
import pytest
import torch

import torchcompress as tc


def test_getitem_matches_getitems_and_bound(archive, images):
    x, y = images
    ds = tc.open(archive, output="raw")  # ADQ's dequantised values, for the error bound
    assert len(ds) == 40 and torch.equal(ds.targets, torch.as_tensor(y))
    batch = ds.__getitems__([3, 39, 17, -1])  # spans shards 0, 2, 1
    for (bx, by), i in zip(batch, [3, 39, 17, 39]):
        sx, sy = ds[i]
        assert torch.equal(bx, sx) and by == sy == y[i] and sx.dtype == torch.float32
    step = (x.reshape(40, -1).max(1).astype(float) - x.reshape(40, -1).min(1)) / 4
    err = np.abs(np.stack([ds[i][0].numpy() for i in range(40)]) - x).reshape(40, -1).max(1)
    assert (err <= step / 2 + 1e-3).all()


def test_info_reports_sizes_and_quality(archive):
    info = tc.open(archive).info
    assert info["achieved_bits"] <= 2.0 and info["num_shards"] == 3
    raw = 40 * 3 * 8 * 8
    assert info["pct_of_uint8"] == pytest.approx(100 * info["bytes"] / raw)
    assert info["pct_of_float32"] == pytest.approx(info["pct_of_uint8"] / 4)
    assert 10 < info["mean_psnr_db"] < 60


def test_output_uint8_and_planes(archive):
    f = tc.open(archive, output="raw")
    u = tc.open(archive, output="uint8")
    assert u[5][0].dtype == torch.uint8
    assert torch.equal(u[5][0], f[5][0].round().clamp(0, 255).to(torch.uint8))
    coarse = tc.open(archive, planes=1)
    assert len(coarse[5][0].unique()) <= 2 < len(f[5][0].unique())


def test_transforms_applied(archive):
    ds = tc.open(archive, transform=lambda t: t / 255.0, target_transform=lambda c: c + 100)
    x, y = ds[6]
    assert x.max() <= 1.0 and y == 102  # label 6 % 4 = 2
    assert ds.__getitems__([6])[0][1] == 102



def test_joint_transforms_as_torchvision_datasets_take_them(archive, tmp_path):
    """``transforms=`` (one callable on (x, y), torchvision's VisionDataset argument) applies on
    every read path, travels to workers, and excludes transform=/target_transform=."""
    from torchvision.transforms import v2

    joint = lambda x, y: (x.flip(-1), y * 10)  # noqa: E731
    ds, plain = tc.open(archive, transforms=joint), tc.open(archive)
    x, y = ds[6]
    assert torch.equal(x, plain[6][0].flip(-1)) and y == 20
    assert [v for _, v in ds.__getitems__([6, 1])] == [20, 10]
    xb, yb = ds.batch([6, 1])
    assert torch.equal(xb, torch.stack([plain[6][0].flip(-1), plain[1][0].flip(-1)]))
    assert yb.tolist() == [20, 10]
    _, yl = next(iter(ds.loader(4, num_workers=2)))
    assert yl.tolist() == [0, 10, 20, 30]
    assert next(iter(torch.utils.data.DataLoader(ds, 4, num_workers=2)))[1].tolist() == [0, 10, 20, 30]
    flip = tc.open(archive, transforms=v2.RandomHorizontalFlip(p=1.0))  # v2 passes ints through
    assert torch.equal(flip[6][0], x) and flip[6][1] == 2
    with pytest.raises(ValueError, match=r"pass transforms= .* or transform=/target_transform=, "
                                         r"not both"):
        tc.open(archive, transforms=joint, target_transform=lambda c: c)
    with pytest.raises(TypeError, match=r"transforms should be callable .* got transforms=1 "):
        tc.open(archive, transforms=1)
    x = np.random.default_rng(0).random((30, 4)).astype(np.float32)
    tc.condense((x, np.arange(30) % 3), tmp_path / "c.tcz", beta=3, progress=False)
    cds = tc.open(tmp_path / "c.tcz", transforms=lambda x, y: (-x, y + 7))
    x0, y0, w0 = tc.open(tmp_path / "c.tcz")[0]
    x1, y1, w1 = cds[0]
    assert torch.equal(x1, -x0) and y1 == y0 + 7 and torch.equal(w1, w0)

def test_index_errors(archive):
    ds = tc.open(archive)
    with pytest.raises(IndexError, match="index 40 is out of range for a dataset of 40 samples"):
        ds[40]
    with pytest.raises(IndexError, match="index -41 is out of range"):
        ds.__getitems__([0, -41])
    with pytest.raises(TypeError, match="index should be an int, but got str"):
        ds["3"]
    with pytest.raises(TypeError, match=r"but got Tensor of dtype torch.float32 and shape \(\)$"):
        ds[torch.tensor(3.0)]
    with pytest.raises(TypeError, match=r"but got Tensor of dtype torch.bool and shape \(\)$"):
        ds[torch.tensor(True)]
    with pytest.raises(TypeError, match=r"dtype torch.int64 and shape \(2,\); decode several with "
                                        r"ds.__getitems__\(indices\)"):
        ds[torch.tensor([3, 4])]
    for many in (slice(0, 4), [3, 4]):  # as a TensorDataset is sliced: say what does that here
        with pytest.raises(TypeError, match=r"got (slice|list); decode several with ds.__getitems"):
            ds[many]
    with pytest.raises(TypeError, match="indices should be a 1-D sequence of ints"):
        ds.__getitems__([0.5])


def test_integer_tensor_and_array_indices(archive):
    """A one-element integer tensor or array indexes as its int, as in TensorDataset."""
    ds = tc.open(archive)
    want = ds[6]
    for i in (torch.tensor(6), torch.tensor([6]), torch.tensor(6, dtype=torch.uint8), np.array(6),
              np.int32(6), torch.tensor(-34)):
        x, y = ds[i]
        assert torch.equal(x, want[0]) and y == want[1]


def test_batch_takes_negative_indices(archive):
    ds = tc.open(archive)
    got = ds.__getitems__([-1, 0, -40, 39])
    want = [ds[39], ds[0], ds[0], ds[39]]
    assert [y for _, y in got] == [y for _, y in want]
    assert all(torch.equal(a, b) for (a, _), (b, _) in zip(got, want))
    assert torch.equal(ds.batch(np.array([-2, 5]))[0], torch.stack([ds[38][0], ds[5][0]]))
    with pytest.raises(TypeError, match=r"dtype bool, shape \(40,\); for a boolean mask pass its "
                                        r"indices, mask.nonzero\(\)"):
        ds.batch(torch.arange(40) < 3)


def test_open_argument_errors(archive, tmp_path):
    with pytest.raises(ValueError, match="planes should be in 1..8, but got planes=9"):
        tc.open(archive, planes=9)
    with pytest.raises(ValueError, match="output should be one of 'source', 'float', 'raw', 'pil', 'uint8', 'float32', but got output='f16'"):
        tc.open(archive, output="f16")
    with pytest.raises(TypeError, match=r"transform should be callable .* but got transform=3 \(int\)"):
        tc.open(archive, transform=3)  # it failed on the first ds[i], far from the mistake
    with pytest.raises(TypeError, match=r"target_transform should be callable .* got "
                                        r"target_transform=\[0, 1\] \(list\)"):
        tc.open(archive, target_transform=[0, 1])
    tc.compress((np.random.rand(4, 6).astype(np.float32), np.zeros(4, dtype=int)),
                tmp_path / "f.tcz", codec="adq", progress=False)
    with pytest.raises(ValueError, match="output='uint8' needs a uint8 \\(image\\) source, but this archive stores float32; use output='source'"):
        tc.open(tmp_path / "f.tcz", output="uint8")



def test_targets_are_the_labels_as_in_torchvision(archive):
    """``ds.targets`` was a fresh copy on every read: ``ds.targets[i] = c`` (a label-noise
    experiment) changed nothing, silently, and a loop over ``ds.targets[i]`` copied every label
    each time. It is now the labels ``ds[i]`` gives, as torchvision's MNIST holds them."""
    ds = tc.open(archive)
    assert ds.targets is ds.targets
    ds.targets[3] = 0  # label 3 % 4 = 3 before
    assert ds[3][1] == 0 and ds.__getitems__([3])[0][1] == 0 and ds.batch([3, 4])[1].tolist() == [0, 0]
    assert next(iter(ds.loader(4)))[1].tolist() == [0, 1, 2, 0]
    noisy = [(c + 1) % 4 for c in range(40)]
    ds.targets = noisy  # assignment, as torchvision users relabel
    assert [ds[i][1] for i in range(5)] == [1, 2, 3, 0, 1]
    back = pickle.loads(pickle.dumps(ds))  # spawned workers get the new labels
    assert back.targets.tolist() == noisy and back[2][1] == 3
    assert tc.open(archive)[3][1] == 3  # the archive itself is untouched
    with pytest.raises(ValueError, match=r"targets should be 40 integer class labels, one per "
                                         r"sample, as the archive holds, but got torch.float32 "
                                         r"of shape \(40,\)"):
        ds.targets = torch.rand(40)
    with pytest.raises(ValueError, match=r"but got torch.int64 of shape \(39,\)"):
        ds.targets = noisy[:39]

def test_pickles_by_path_cheaply(archive):
    ds = tc.open(archive, planes=1)
    blob = pickle.dumps(ds)
    assert len(blob) < 600 and b"payload" not in blob
    back = pickle.loads(blob)
    assert torch.equal(back[7][0], ds[7][0]) and back.planes == 1


def _plus_five(t):
    return t + 5


def _plus_100(c):
    return c + 100


def test_transforms_set_after_opening_survive_pickling(archive):
    """``ds.transform = ...`` after ``tc.open`` (as on a split's train part) reached spawned
    workers (macOS, Windows, multiprocessing_context="spawn") as no transform at all."""
    ds = tc.open(archive)
    ds.transform, ds.target_transform = _plus_five, _plus_100
    back = pickle.loads(pickle.dumps(ds))
    assert torch.equal(back[7][0], ds[7][0]) and back[7][1] == ds[7][1] == 103
    ds.transform = ds.target_transform = None
    ds.transforms = lambda x, y: (x, -y)  # noqa: E731 - not picklable: pickle says so
    with pytest.raises((pickle.PicklingError, AttributeError), match="lambda"):
        pickle.dumps(ds)


def test_batch_of_mixed_shapes_stacks_after_a_resizing_transform(tmp_path):
    """Photos of several sizes: a transform that gives one shape yields one (B, ...) tensor,
    as DataLoader's collate would; the target transform applies on every path."""
    rng = np.random.default_rng(3)
    xs = [rng.integers(0, 256, (3, h, w), dtype=np.uint8) for h, w in ((5, 7), (9, 4), (6, 6))]
    tc.compress((xs, [0, 1, 2]), tmp_path / "m.tcz", progress=False)
    crop = lambda t: t[:, :4, :4].float()  # noqa: E731
    ds = tc.open(tmp_path / "m.tcz", transform=crop, target_transform=lambda c: c + 100)
    x, y = ds.batch([2, 0])
    assert isinstance(x, torch.Tensor) and x.shape == (2, 3, 4, 4)
    assert isinstance(y, torch.Tensor) and y.tolist() == [102, 100]  # collated, as DataLoader
    assert torch.equal(x[1], crop(torch.from_numpy(xs[0])))
    xb, yb = next(iter(ds.loader(3)))
    assert xb.shape == (3, 3, 4, 4) and yb.tolist() == [100, 101, 102]
    plain = tc.open(tmp_path / "m.tcz", target_transform=lambda c: -c)
    x, y = plain.batch([1, 2])  # shapes still differ: a list
    assert isinstance(x, list) and [t.shape for t in x] == [(3, 9, 4), (3, 6, 6)]
    assert y.tolist() == [-1, -2]
    # a target transform that gives tensors (one-hot, soft labels): one (B, C) tensor, as the
    # default collate stacks them (it was a list of tensors)
    onehot = tc.open(tmp_path / "m.tcz", target_transform=lambda c: torch.eye(3)[c])
    x, y = onehot.batch([2, 0])
    assert isinstance(y, torch.Tensor) and torch.equal(y, torch.eye(3)[[2, 0]])
    _, yb = next(iter(onehot.loader(3, num_workers=0)))
    assert torch.equal(yb, torch.eye(3))


def test_repr_shows_what_the_dataset_applies(archive):
    """As torchvision's datasets print their transforms: a dataset printed while debugging a
    pipeline said nothing of its transform or output."""
    from torchvision.transforms import v2

    plain = repr(tc.open(archive))
    assert plain.startswith("CompressedDataset(path=") and "transform" not in plain
    ds = tc.open(archive, transform=v2.RandomHorizontalFlip(), output="float")
    assert "transform=RandomHorizontalFlip(p=0.5)" in repr(ds) and "output='float'" in repr(ds)
    ds.transform = None
    ds.target_transform = int
    assert "RandomHorizontalFlip" not in repr(ds) and "target_transform=<class 'int'>" in repr(ds)
