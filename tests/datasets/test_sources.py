"""What compress accepts: datasets of PIL/ndarray/tensor, (x, y) pairs, .npz paths."""

import os
import warnings

import numpy as np
import pytest
import torch
from PIL import Image
from torch.utils.data import DataLoader

import torchcompress as tc


class PILDataset(torch.utils.data.Dataset):
    classes = ["a", "b", "c"]

    def __init__(self, mode="RGB", n=6, bad_at=None):
        rng = np.random.default_rng(0)
        ch = 3 if mode == "RGB" else 1
        self.arrays = [rng.integers(0, 256, (5, 7, ch), dtype=np.uint8) for _ in range(n)]
        self.mode, self.bad_at = mode, bad_at

    def __len__(self):
        return len(self.arrays)

    def __getitem__(self, i):
        a = self.arrays[i]
        if i == self.bad_at:
            a = a[:, :6]
        return Image.fromarray(a if self.mode == "RGB" else a[..., 0], self.mode), i % 3


@pytest.mark.parametrize("mode, shape", [("RGB", (3, 5, 7)), ("L", (1, 5, 7))], ids=["rgb", "gray"])
def test_pil_dataset_becomes_chw_uint8(tmp_path, mode, shape):
    src = PILDataset(mode)
    info = tc.compress(src, tmp_path / "p.tcz", codec="adq", bits=8.0, progress=False)
    ds = tc.open(tmp_path / "p.tcz", output="uint8")
    assert info["sample_shape"] == list(shape) and ds.classes == ["a", "b", "c"]
    chw = src.arrays[4].transpose(2, 0, 1)
    x, y = ds[4]
    assert x.dtype == torch.uint8 and tuple(x.shape) == shape and y == 1
    assert (x.numpy().astype(int) - chw.astype(int)).__abs__().max() <= 1  # 8 bits: near exact


def test_tensor_pair_keeps_shape(tmp_path):
    x = torch.randn(12, 5, 3)
    y = torch.arange(12) % 2
    tc.compress((x, y), tmp_path / "t.tcz", codec="adq", bits=8.0, progress=False)
    ds = tc.open(tmp_path / "t.tcz")
    assert ds[3][0].shape == (5, 3) and ds[3][0].dtype == torch.float32
    assert torch.equal(ds.targets, y)
    assert (ds[3][0] - x[3]).abs().max() < (x[3].max() - x[3].min()) / 256


def test_npz_path_and_hwc_layout(tmp_path):
    rng = np.random.default_rng(2)
    x = rng.integers(0, 256, (9, 4, 6, 3), dtype=np.uint8)
    np.savez(tmp_path / "d.npz", x=x, y=np.arange(9))
    tc.compress(str(tmp_path / "d.npz"), tmp_path / "d.tcz", codec="adq", layout="HWC", bits=8.0, progress=False)
    ds = tc.open(tmp_path / "d.tcz", output="uint8")
    assert ds[2][0].shape == (3, 4, 6)
    assert np.abs(ds[2][0].numpy().astype(int) - x[2].transpose(2, 0, 1)).max() <= 1


def test_mixed_shapes_named(tmp_path):
    with pytest.raises(ValueError, match=r"source sample 3 has shape \(3, 5, 6\), but sample 0 has "
                                         r"\(3, 5, 7\); this codec stores one shape per archive: use "
                                         r"codec='lossless' or 'lossy' \(any shape\), or pass resize="):
        tc.compress(PILDataset(bad_at=3), tmp_path / "m.tcz", codec="adq", progress=False)
    assert not (tmp_path / "m.tcz").exists()


@pytest.mark.parametrize("source, err, match", [
    ((np.zeros((0, 4)), np.zeros(0, dtype=int)), ValueError, "source is empty"),
    (PILDataset(n=0), ValueError, "source is empty"),
    ((np.zeros((3, 4)), np.zeros(2, dtype=int)), ValueError,
     r"labels should be 1-D with one per sample \(3\), but got shape \(2,\)"),
    ((np.zeros((3, 4)), np.array(["a", "b", "c"])), TypeError,
     r"labels should be integers \(classes\) or floats \(regression targets\), but got dtype <U1"),
    ((np.zeros((3, 4)), np.array([0.0, np.nan, 1.0])), ValueError,
     "target 1 is nan; real-valued targets must be finite"),
    ((np.zeros((3, 4)), np.array([0.0, 1.0, -1e39])), ValueError,  # it was stored as -inf
     r"target 2 is -1e\+39, past the float32 range an archive stores targets in"),
    ((np.zeros((3, 4), dtype=np.complex64), np.zeros(3, dtype=int)), TypeError,
     "samples should have dtype .* but got complex64"),
    (42, TypeError, "source should be a map-style Dataset of \\(image, label\\).*an iterable of \\(image, label\\) pairs.*but got int"),
    (np.zeros((3, 4, 5), np.uint8), TypeError,
     r"source is one array of shape \(3, 4, 5\), with no labels; pass \(x, y\)"),
], ids=["empty-arrays", "empty-dataset", "label-count", "string-labels", "nan-target",
        "float32-overflow", "complex", "int", "array-alone"])
def test_bad_sources(tmp_path, source, err, match):
    with pytest.raises(err, match=match):
        tc.compress(source, tmp_path / "b.tcz", codec="adq", progress=False)


@pytest.mark.parametrize("codec", ["lossless", "lossy", "adq", "gede"])
@pytest.mark.parametrize("source, match", [
    ((np.arange(6, dtype=np.uint8), np.arange(6)),
     r"each sample of x \(6,\) is a scalar \(shape \(\)\); .* pass x.reshape\(-1, 1\)"),
    ((np.zeros((4, 3, 0, 5), np.uint8), np.arange(4)),
     r"each sample of x \(4, 3, 0, 5\) has shape \(3, 0, 5\), with a zero dimension"),
    (([np.zeros((3, 4, 5), np.uint8), np.zeros((3, 0, 5), np.uint8)], [0, 1]),
     r"source sample 1 has shape \(3, 0, 5\), with a zero dimension, so it holds no values"),
], ids=["scalars", "zero-height", "one-empty-image"])
def test_samples_without_values_are_refused(tmp_path, codec, source, match):
    # they used to crash in a codec (IndexError, numpy's reduction error), or to commit an
    # archive that tc.open then refused
    with pytest.raises(ValueError, match=match):
        tc.compress(source, tmp_path / "e.tcz", codec=codec, progress=False)
    assert not (tmp_path / "e.tcz").exists()


def test_bad_npz_and_layout(tmp_path):
    with pytest.raises(FileNotFoundError, match="source .*nope.npz' does not exist"):
        tc.compress(str(tmp_path / "nope.npz"), tmp_path / "b.tcz", codec="adq", progress=False)
    np.savez(tmp_path / "w.npz", a=np.zeros(3))
    with pytest.raises(ValueError, match=r"lacks array\(s\) \['x', 'y'\]"):
        tc.compress(str(tmp_path / "w.npz"), tmp_path / "b.tcz", codec="adq", progress=False)
    with pytest.raises(ValueError, match=r"layout='HWC' needs \(N, H, W, C\) samples"):
        tc.compress((np.zeros((3, 4)), np.zeros(3, dtype=int)), tmp_path / "b.tcz", codec="adq",
                    layout="HWC", progress=False)
    with pytest.raises(ValueError, match="layout should be one of None, 'CHW', 'HWC', but got layout='NHWC'"):
        tc.compress((np.zeros((3, 4)), np.zeros(3, dtype=int)), tmp_path / "b.tcz", codec="adq",
                    layout="NHWC", progress=False)


def test_non_integer_label_named(tmp_path):
    class Named(PILDataset):
        def __getitem__(self, i):
            return super().__getitem__(i)[0], "cat"

    with pytest.raises(TypeError, match=r"source\[0\]\[1\] should be an integer class label "
                                        r"\(or a float, a regression target\), but got 'cat'"):
        tc.compress(Named(), tmp_path / "l.tcz", codec="adq", progress=False)
    assert not (tmp_path / "l.tcz").exists()


@pytest.mark.parametrize("later", [torch.tensor(2.5), np.array([2.5]), 2.5],
                         ids=["fractional-tensor", "one-element-array", "float"])
def test_a_fractional_label_after_integer_ones_is_named(tmp_path, later):
    class Named(PILDataset):
        def __getitem__(self, i):
            return super().__getitem__(i)[0], later if i == 4 else i % 3

    # the first label makes them class ids; a fraction would have been truncated to one
    with pytest.raises(TypeError, match=r"source\[4\]\[1\] is .*2.5.*, a real-valued target, "
                                        r"but source\[0\]\[1\] is an integer"):
        tc.compress(Named(), tmp_path / "l.tcz", codec="lossless", progress=False)
    assert not (tmp_path / "l.tcz").exists()


class _Targets(torch.utils.data.Dataset):
    """Images with real-valued targets as a regression dataset gives them: ``kind`` says how."""

    def __init__(self, kind, n=12):
        rng = np.random.default_rng(1)
        self.x = rng.integers(0, 256, (n, 3, 6, 5), dtype=np.uint8)
        self.y = rng.normal(size=n).astype(np.float32) * 10
        self.y[0] = 3.0  # integral: still a target, not the class 3
        self.kind = kind

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        y = self.y[i]
        if self.kind == "int" and i == 5:
            y = 7  # an int among float targets is the number it is
        return torch.from_numpy(self.x[i]), {"float": float(y), "int": float(y),
                                             "numpy": y, "tensor": torch.tensor(y),
                                             "column": torch.tensor([y])}[self.kind]


@pytest.mark.parametrize("how", ["lossless", "lossless-2-workers", "gede-in-memory", "iterable"])
@pytest.mark.parametrize("kind", ["float", "int", "numpy", "tensor", "column"])
def test_a_datasets_float_labels_are_regression_targets(tmp_path, kind, how):
    # they were refused as "should be an integer class label" (an integral first one was taken
    # for a class), though an (x, y) pair with float y and a TensorDataset stored them
    src = _Targets(kind)
    want = src.y.copy()
    if kind == "int":
        want[5] = 7
    source = (src[i] for i in range(len(src))) if how == "iterable" else src
    tc.compress(source, tmp_path / "r.tcz", progress=False, num_workers=2 if "2" in how else 1,
                **({"codec": "gede", "classwise": False} if how.startswith("gede") else {}))
    ds = tc.open(tmp_path / "r.tcz")
    assert ds.targets.dtype == torch.float32 and np.array_equal(ds.targets.numpy(), want)
    # as a TensorDataset's: a 0-d float32 tensor (a Python float collated float64), or of
    # the shape the source gave (a column: a model's (B, 1) output meets (B, 1) targets; they
    # came back (B,), so MSELoss broadcast them to (B, B))
    shape = (1,) if kind == "column" else ()
    x, y = ds[0]
    assert y.dtype == torch.float32 and y.shape == shape and y.item() == 3.0
    assert np.array_equal(x.numpy(), src.x[0])
    _, yb = next(iter(DataLoader(ds, batch_size=4)))
    assert yb.dtype == torch.float32 and np.array_equal(yb.numpy(), want[:4].reshape(4, *shape))
    _, yl = next(iter(ds.loader(4)))
    assert ds.batch([0, 1])[1].shape == (2, *shape) and torch.equal(yl, yb)
    ds.target_transform = lambda v: v * 2  # the batch's transform sees what ds[i]'s does
    assert ds[1][1].dtype == ds.batch([0, 1])[1].dtype == torch.float32
    assert ds.batch([0, 1])[1].shape == (2, *shape)
    assert ds.info["target_range"] == [float(want.min()), float(want.max())]
    assert "label_counts" not in ds.info


@pytest.mark.parametrize("codec", ["lossless", "gede"])  # streamed, in memory
def test_float_labels_of_a_dataset_with_class_names_are_targets_without_names(tmp_path, codec):
    """A binary dataset with .classes whose labels are torch.tensor(1.0) (for a BCE loss) was
    refused after the whole encode, with "leave classes=None", which the user had done."""
    class Binary(_Targets):
        classes = ["cat", "dog"]

        def __getitem__(self, i):
            return torch.from_numpy(self.x[i]), torch.tensor(float(i % 2))

    kw = {"codec": codec, "classwise": False} if codec == "gede" else {}
    with pytest.warns(UserWarning, match=r"labels are floats, so they are stored as real-valued "
                                         r"targets, which its classes \(cat, dog\) do not name"):
        tc.compress(Binary("float"), tmp_path / "b.tcz", progress=False, **kw)
    ds = tc.open(tmp_path / "b.tcz")
    assert ds.classes is None and ds.targets.tolist() == [float(i % 2) for i in range(12)]
    with pytest.raises(ValueError, match="classes= names 2 classes, but the labels "
                                         "(of samples 0 to 11 )?are real-valued"):
        tc.compress(Binary("float"), tmp_path / "c.tcz", progress=False, classes=["a", "b"],
                    **kw)


@pytest.mark.parametrize("how", ["dataset", "iterable"])
def test_dict_items_are_read_by_their_image_and_label_keys(tmp_path, how):
    """{"image": ..., "label": ...} items (Hugging Face-style code) were refused as "should be
    an (image, label) pair, but got dict"; the keys are the ones a Hugging Face source's
    columns are read by, and a key beyond them is refused, as a third field is."""
    x = np.random.default_rng(0).integers(0, 256, (6, 3, 4, 5), dtype=np.uint8)

    class Dicts(torch.utils.data.Dataset):
        def __init__(self, **extra):
            self.extra = extra

        def __len__(self):
            return len(x)

        def __getitem__(self, i):
            return {"img": torch.from_numpy(x[i]), "labels": i % 3, **self.extra}

    def source(ds):
        return ds if how == "dataset" else (ds[i] for i in range(len(ds)))

    tc.compress(source(Dicts()), tmp_path / "d.tcz", progress=False)
    ds = tc.open(tmp_path / "d.tcz")
    assert torch.equal(ds.batch(range(6))[0], torch.from_numpy(x))
    assert ds.targets.tolist() == [0, 1, 2, 0, 1, 2]
    with pytest.raises(TypeError, match=r"source\[0\] is a dict with keys \['img', 'labels', "
                                        r"'mask'\]: .* so \['mask'\] would be lost"):
        tc.compress(source(Dicts(mask=0)), tmp_path / "m.tcz", progress=False)
    assert not (tmp_path / "m.tcz").exists()


def test_a_random_split_of_a_tensor_dataset_keeps_its_targets(tmp_path):
    x, y = torch.rand(30, 8), torch.rand(30) * 5  # a table, as California Housing
    train, _ = torch.utils.data.random_split(torch.utils.data.TensorDataset(x, y), [20, 10],
                                             generator=torch.Generator().manual_seed(0))
    tc.compress(train, tmp_path / "t.tcz", codec="adq", bits=8.0, progress=False)
    got = tc.open(tmp_path / "t.tcz").targets
    assert torch.equal(got, y[train.indices])


@pytest.mark.parametrize("codec", ["lossless", "original"])
def test_a_float_target_transform_gives_targets_and_drops_class_names(tmp_path, codec):
    from torchvision.datasets import ImageFolder

    root = tmp_path / "imgs"
    for k, name in enumerate(["a", "b"]):
        os.makedirs(root / name)
        for j in range(2):
            Image.fromarray(np.full((4, 5, 3), 40 * k + j, np.uint8)).save(root / name / f"{j}.png")
    src = ImageFolder(str(root), target_transform=float)  # integral floats: still targets
    with pytest.warns(UserWarning, match="store no class names|stores no class names"):
        tc.compress(src, tmp_path / "f.tcz", codec=codec, progress=False)
    ds = tc.open(tmp_path / "f.tcz")
    assert ds.classes is None and ds.targets.dtype == torch.float32
    assert ds.targets.tolist() == [0.0, 0.0, 1.0, 1.0]


@pytest.mark.parametrize("target, what", [
    (Image.fromarray(np.zeros((5, 7), np.uint8)), r"Image of shape \(5, 7\)"),
    (np.zeros((5, 7), np.uint8), r"ndarray of shape \(5, 7\)"),
    (torch.zeros(2, 4), r"Tensor of shape \(2, 4\)"),  # .item() raised torch's RuntimeError
    ({"boxes": torch.zeros(1, 4), "labels": torch.ones(1)}, r"a dict"),
], ids=["pil-mask", "array-mask", "boxes", "dict"])
def test_a_segmentation_or_detection_target_is_named(tmp_path, target, what):
    class Segmentation(PILDataset):
        def __getitem__(self, i):
            return super().__getitem__(i)[0], target

    with pytest.raises(TypeError, match=r"source\[0\]\[1\] should be one integer class label, "
                                        rf"but got {what}: a per-pixel mask, a detection or a "
                                        r"multi-label target is not one class label. Compress .* a "
                                        r"second archive"):
        tc.compress(Segmentation(), tmp_path / "s.tcz", progress=False)


def test_the_advice_for_masks_decodes_images_and_masks_together(tmp_path):
    """What the refusal above says to do: masks as a second archive, read beside the images by
    torch's StackDataset, a batch of each at a time."""
    from torch.utils.data import DataLoader, StackDataset

    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (10, 3, 6, 5), dtype=np.uint8)
    masks = rng.integers(0, 4, (10, 6, 5), dtype=np.uint8)
    with pytest.raises(TypeError, match=r"StackDataset\(tc.open\(images\), tc.open\(masks\)\)"):
        tc.compress(list(zip(x, masks)), tmp_path / "bad.tcz", progress=False)
    tc.compress((x, np.zeros(10, int)), tmp_path / "img.tcz", progress=False)
    tc.compress((masks, np.zeros(10, int)), tmp_path / "mask.tcz", progress=False)
    (xb, _), (mb, _) = next(iter(DataLoader(StackDataset(tc.open(tmp_path / "img.tcz"),
                                                         tc.open(tmp_path / "mask.tcz")),
                                            batch_size=4)))
    assert torch.equal(xb, torch.from_numpy(x[:4])) and torch.equal(mb, torch.from_numpy(masks[:4]))


@pytest.mark.parametrize("kind", ["pair", "npz", "dataset"])
def test_channels_last_without_layout_is_refused(tmp_path, kind):
    x = np.zeros((4, 32, 32, 3), np.uint8)
    y = np.zeros(4, dtype=np.int64)
    if kind == "npz":
        np.savez(tmp_path / "c.npz", x=x, y=y)
        source = str(tmp_path / "c.npz")
    elif kind == "dataset":
        source = [(x[i], 0) for i in range(4)]

        class DS(torch.utils.data.Dataset):
            def __len__(self):
                return 4

            def __getitem__(self, i):
                return x[i], 0
        source = DS()
    else:
        source = (x, y)
    with pytest.raises(ValueError, match=r"have shape \(32, 32, 3\), which looks channels-last "
                                         r"\(H, W, C\); pass layout='HWC' to convert them to "
                                         r"\(C, H, W\), or layout='CHW' to keep them as they are"):
        tc.compress(source, tmp_path / "c.tcz", progress=False)
    assert not (tmp_path / "c.tcz").exists()
    tc.compress(source, tmp_path / "k.tcz", layout="CHW", progress=False)
    assert tc.open(tmp_path / "k.tcz")[0][0].shape == (32, 32, 3)
    tc.compress(source, tmp_path / "h.tcz", layout="HWC", progress=False)
    assert tc.open(tmp_path / "h.tcz")[0][0].shape == (3, 32, 32)


def test_hugging_face_dataset_source(tmp_path):
    datasets = pytest.importorskip("datasets")
    from PIL import Image

    rng = np.random.default_rng(0)
    imgs = [rng.integers(0, 256, (6 + i % 3, 7, 3), dtype=np.uint8) for i in range(9)]
    features = datasets.Features({"image": datasets.Image(),
                                  "label": datasets.ClassLabel(names=["ants", "bees", "wasps"])})
    hf = datasets.Dataset.from_dict({"image": [Image.fromarray(a) for a in imgs],
                                     "label": [i % 3 for i in range(9)]}, features=features)
    info = tc.compress(hf, tmp_path / "hf.tcz", progress=False)
    assert info["classes"] == ["ants", "bees", "wasps"] and info["sample_shape"] == [3, None, 7]
    ds = tc.open(tmp_path / "hf.tcz")
    for i, a in enumerate(imgs):
        x, y = ds[i]
        assert y == i % 3
        np.testing.assert_array_equal(x.numpy(), a.transpose(2, 0, 1))
    bad = datasets.Dataset.from_dict({"pixels": [[0]], "label": [0]})
    with pytest.raises(ValueError, match=r"needs an 'image' \(or 'img'\) and a 'label' .* but it has "
                                         r"\['pixels', 'label'\]"):
        tc.compress(bad, tmp_path / "bad.tcz", progress=False)
    # streaming (an IterableDataset): read once, as other iterables; it failed on len()
    tc.compress(hf.to_iterable_dataset(), tmp_path / "it.tcz", progress=False)
    it = tc.open(tmp_path / "it.tcz")
    assert it.classes == ["ants", "bees", "wasps"]
    assert all(torch.equal(it[i][0], ds[i][0]) and it[i][1] == ds[i][1] for i in range(9))
    # with_format("numpy") decodes an Image column to (H, W, C) arrays: refused as channels-last
    # before; with_format("torch") gives (C, H, W) tensors. Both store the same images.
    for fmt, stream in (("numpy", False), ("torch", False), ("numpy", True)):
        src = hf.with_format(fmt)
        tc.compress(src.to_iterable_dataset() if stream else src, tmp_path / "f.tcz",
                    progress=False, overwrite=True)
        f = tc.open(tmp_path / "f.tcz")
        assert all(torch.equal(f[i][0], ds[i][0]) for i in range(9)), (fmt, stream)
    grey = datasets.Dataset.from_dict({"image": [Image.fromarray(a[..., 0]) for a in imgs],
                                       "label": [0] * 9}, features=features)
    for fmt in (None, "numpy", "torch"):  # numpy's (H, W) was stored 2-D, the others (1, H, W)
        tc.compress(grey.with_format(fmt), tmp_path / "g.tcz", progress=False, overwrite=True)
        assert tuple(tc.open(tmp_path / "g.tcz")[0][0].shape) == (1, 6, 7), fmt
    with pytest.raises(TypeError, match=r"a Hugging Face DatasetDict holds the splits "
                                        r"\['test', 'train'\]; pass one of them, e.g. ds\['test'\]"):
        tc.compress(datasets.DatasetDict({"train": hf, "test": hf}), tmp_path / "dd.tcz",
                    progress=False)  # it was a KeyError from inside datasets
    words = datasets.Dataset.from_dict({"image": [Image.fromarray(imgs[0])], "label": ["ant"]})
    with pytest.raises(TypeError, match=r"'label' column holds strings; encode it as class ids "
                                        r"first: ds = ds.class_encode_column\('label'\)"):
        tc.compress(words, tmp_path / "w.tcz", progress=False)


def test_resize_gives_photos_one_shape_for_adq(tmp_path):
    from PIL import Image

    rng = np.random.default_rng(0)
    for c in ("a", "b"):
        (tmp_path / "p" / c).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(rng.integers(0, 256, (10 + 3 * i, 14 + i, 3), dtype=np.uint8)).save(
                tmp_path / "p" / c / f"{i}.png")
    with pytest.raises(ValueError, match=r"one shape per archive: use codec='lossless' or 'lossy' "
                                         r"\(any shape\), or pass resize=\(height, width\)"):
        tc.compress(tmp_path / "p", tmp_path / "a.tcz", codec="adq", progress=False)
    info = tc.compress(tmp_path / "p", tmp_path / "a.tcz", codec="adq", resize=(8, 9), progress=False)
    assert info["sample_shape"] == [3, 8, 9] and info["num_samples"] == 6
    with pytest.raises(TypeError, match=r"resize should be a \(height, width\) pair or one int "
                                        r"\(the shorter edge\), but got resize=\(8, 9, 3\)"):
        tc.compress(tmp_path / "p", tmp_path / "b.tcz", resize=(8, 9, 3), progress=False)
    with pytest.raises(ValueError, match=r"resize should be a positive integer value"):
        tc.compress(tmp_path / "p", tmp_path / "b.tcz", resize=0, progress=False)
    with pytest.raises(ValueError, match=r"one shape per archive"):  # one int keeps the aspects
        tc.compress(tmp_path / "p", tmp_path / "b.tcz", codec="adq", resize=8, progress=False)
    with pytest.raises(ValueError, match=r"resize\[1\] should be a positive integer value"):
        tc.compress(tmp_path / "p", tmp_path / "b.tcz", resize=(8, 0), progress=False)
    with pytest.raises(ValueError, match=r"resize= applies to datasets and image folders .* arrays "
                                         r"source already has one shape \(3, 4, 4\)"):
        tc.compress((np.zeros((2, 3, 4, 4), np.uint8), np.zeros(2, int)), tmp_path / "b.tcz",
                    resize=(2, 2), progress=False)
    assert not (tmp_path / "b.tcz").exists()


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("codec", ["lossless", "lossy"])
def test_resize_to_a_shorter_edge_keeps_each_aspect_ratio(tmp_path, codec, workers):
    """resize=N is torchvision's Resize(N): the shorter edge to N, the other in proportion."""
    import torchvision
    from torchvision.transforms import v2

    rng = np.random.default_rng(1)
    sizes = [(10, 14), (21, 12), (9, 9), (4, 30)]
    (tmp_path / "p" / "a").mkdir(parents=True)
    for i, (h, w) in enumerate(sizes):
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(
            tmp_path / "p" / "a" / f"{i}.png")
    tc.compress(tmp_path / "p", tmp_path / "a.tcz", codec=codec, resize=8, progress=False,
                num_workers=workers, **({"bits": 8.0} if codec == "lossy" else {}))
    ds = tc.open(tmp_path / "a.tcz")
    want = [(8, 11), (14, 8), (8, 8), (8, 60)]
    assert [tuple(ds[i][0].shape[1:]) for i in range(4)] == want
    if codec == "lossless":
        folder = torchvision.datasets.ImageFolder(tmp_path / "p", transform=v2.Compose(
            [v2.PILToTensor(), v2.Resize(8, antialias=True)]))
        for i in range(4):
            assert torch.equal(ds[i][0], folder[i][0])


def test_list_of_images_with_labels_is_a_source(tmp_path):
    """(images, labels) with the images in a list of any shapes reads as the dataset it is."""
    rng = np.random.default_rng(5)
    xs = [rng.integers(0, 256, (3, h, w), dtype=np.uint8) for h, w in ((4, 6), (7, 3), (1, 1))]
    labels = [2, 0, 1]
    info = tc.compress((xs, labels), tmp_path / "l.tcz", progress=False)
    assert info["source"] == "ListOfImages"
    ds = tc.open(tmp_path / "l.tcz")
    for i, a in enumerate(xs):
        x, y = ds[i]
        assert torch.equal(x, torch.from_numpy(a)) and y == labels[i]
    # tensors and a tensor of labels; a tuple of images
    tc.compress((tuple(torch.from_numpy(a) for a in xs), torch.tensor(labels)), tmp_path / "t.tcz",
                progress=False)
    assert [tc.open(tmp_path / "t.tcz")[i][1] for i in range(3)] == labels


def test_two_pairs_stay_a_dataset_of_pairs(tmp_path):
    """A list of two (image, label) pairs is not an (images, labels) pair, whatever the labels."""
    rng = np.random.default_rng(6)
    a, b = (rng.integers(0, 256, (1, 4, 4), dtype=np.uint8) for _ in range(2))
    for pairs in ([(a, 1), (b, 0)], [(torch.from_numpy(a), torch.tensor(1)),
                                      (torch.from_numpy(b), torch.tensor(0))]):
        tc.compress(pairs, tmp_path / "p.tcz", progress=False, overwrite=True)
        ds = tc.open(tmp_path / "p.tcz")
        assert [ds[0][1], ds[1][1]] == [1, 0] and torch.equal(ds[1][0], torch.from_numpy(b))


@pytest.mark.parametrize("kind", ["pair", "dataset", "list"])
def test_big_endian_samples_round_trip(tmp_path, kind):
    # FITS and other scientific files give big-endian arrays; the kernels read native integers
    # (a big-endian pair used to fail in numba's typing)
    x = np.random.default_rng(3).integers(-300, 300, (4, 1, 6, 5)).astype(">i2")
    source = {"pair": (x, np.arange(4)), "dataset": list(zip(x, range(4))),
              "list": ([x[0], x[1, :, :4]], [0, 1])}[kind]
    tc.compress(source, tmp_path / "b.tcz", progress=False)
    ds = tc.open(tmp_path / "b.tcz")
    assert ds[0][0].dtype == torch.int16
    assert np.array_equal(ds[1][0].numpy(), x[1] if kind != "list" else x[1, :, :4])


def test_dtype_checked_in_an_iterable_of_images_of_several_shapes(tmp_path):
    x = [np.ones((1, 3, 4), np.complex64), np.ones((1, 5, 4), np.complex64)]
    with pytest.raises(TypeError, match=r"source\[0\]\[0\] should have dtype .* but got complex64"):
        tc.compress(iter(zip(x, [0, 1])), tmp_path / "c.tcz", progress=False)


def _folder(root, arrays):
    for i, a in enumerate(arrays):
        (root / f"c{i % 2}").mkdir(parents=True, exist_ok=True)
        Image.fromarray(a).save(root / f"c{i % 2}" / f"{i}.png")
    return root




def test_a_sample_past_the_formats_limit_is_refused_before_any_work(tmp_path, monkeypatch):
    """A sample of over 2**31 - 1 values (a 27,000 x 27,000 RGB scan) failed after 30 s
    with numpy's MemoryError for 49 GiB; it is refused as it is read, and resize= (which
    brings it under the limit) is checked after resizing."""
    class Huge(torch.utils.data.Dataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):  # no memory: one value broadcast
            return np.broadcast_to(np.uint8(i), (3, 27000, 27000)), i

    with pytest.raises(ValueError, match=r"source sample 0 has shape \(3, 27000, 27000\), "
                                         r"2,187,000,000 values, but a sample holds at most "
                                         r"2,147,483,647 .* pass resize=\(height, width\)"):
        tc.compress(Huge(), tmp_path / "h.tcz", progress=False)
    with pytest.raises(ValueError, match=r"each sample of x \(2, 3, 27000, 27000\) has shape"):
        tc.compress((np.broadcast_to(np.uint8(0), (2, 3, 27000, 27000)), [0, 1]),
                    tmp_path / "h.tcz", progress=False)
    assert not (tmp_path / "h.tcz").exists()
    from torchcompress.datasets import source_checks
    monkeypatch.setattr(source_checks, "MAX_SAMPLE_VALUES", 100)
    x = np.zeros((2, 3, 8, 8), np.uint8)
    with pytest.raises(ValueError, match=r"source sample 0 has shape \(3, 8, 8\), 192 values"):
        tc.compress(list(zip(x, [0, 1])), tmp_path / "s.tcz", progress=False)
    tc.compress(list(zip(x, [0, 1])), tmp_path / "s.tcz", progress=False, resize=(4, 4))
    with pytest.raises(ValueError, match=r"source sample 0 resized has shape \(3, 6, 6\)"):
        tc.compress(list(zip(x, [0, 1])), tmp_path / "t.tcz", progress=False, resize=(6, 6))

@pytest.mark.skipif(not hasattr(Exception, "add_note"), reason="exception notes: Python 3.11+")
@pytest.mark.parametrize("workers", [1, 2])
def test_an_error_in_the_source_names_its_sample(tmp_path, workers):
    """The source's own exception keeps its type and traceback and gains a note naming the
    sample; an IndexError below len() says the source's __len__ counts too many."""
    class Source(torch.utils.data.Dataset):
        def __init__(self, n, length):
            self.n, self.length = n, length

        def __len__(self):
            return self.length

        def __getitem__(self, i):
            if i == 13:
                raise RuntimeError("boom in the user's code")
            if i >= self.n:
                raise IndexError(i)
            return np.zeros((3, 4, 4), np.uint8), 0

    with pytest.raises(RuntimeError, match="boom in the user's code") as e:
        tc.compress(Source(20, 20), tmp_path / "a.tcz", progress=False, num_workers=workers)
    assert "torchcompress: raised by source[13] while reading the source" in e.value.__notes__
    with pytest.raises(IndexError) as e:
        tc.compress(Source(10, 12), tmp_path / "a.tcz", progress=False, num_workers=workers)
    assert e.value.__notes__ == ["torchcompress: raised by source[10] while reading the source; "
                                 "len(source) == 12, so index 10 should exist: the source's "
                                 "__len__ counts more samples than its __getitem__ gives"]
    assert not (tmp_path / "a.tcz").exists()


def test_an_empty_class_folder_is_named_with_the_way_to_keep_it(tmp_path):
    """A class folder without images made ImageFolder refuse the whole folder, and the message
    said the folder was not an image folder; it now says which, and how to keep them."""
    import torchvision

    root = _folder(tmp_path / "f", [np.full((5, 6, 3), 40 * i, np.uint8) for i in range(4)])
    (root / "c1b").mkdir()
    with pytest.raises(ValueError, match=r"is an image folder with class folders that hold no "
                                         r"images ImageFolder reads \(Found no valid file for the "
                                         r"classes c1b\..*allow_empty=True\) to keep them"):
        tc.compress(str(root), tmp_path / "a.tcz", progress=False)
    with pytest.warns(tc.LargerThanFilesWarning):  # four tiny PNGs: the tables outweigh them
        tc.compress(torchvision.datasets.ImageFolder(str(root), allow_empty=True),
                    tmp_path / "a.tcz", progress=False)
    ds = tc.open(tmp_path / "a.tcz")
    assert ds.classes == ["c0", "c1", "c1b"] and ds.targets.tolist() == [0, 0, 1, 1]


@pytest.mark.parametrize("with_images", [False, True])
def test_a_hidden_folder_is_not_taken_for_the_first_class(tmp_path, with_images):
    """Jupyter's .ipynb_checkpoints in an image folder: ImageFolder takes it for class 0, so
    every other label moves by one (with images in it, silently), or, empty, refuses the
    folder, where the message advised allow_empty=True, which keeps the moved labels."""
    import torchvision

    root = _folder(tmp_path / "f", [np.full((5, 6, 3), 40 * i, np.uint8) for i in range(4)])
    (root / ".ipynb_checkpoints").mkdir()
    if with_images:
        Image.fromarray(np.zeros((5, 6, 3), np.uint8)).save(root / ".ipynb_checkpoints" / "x.png")
    with pytest.raises(ValueError, match=r"holds hidden folders \(.ipynb_checkpoints\), which "
                                         r"ImageFolder would take for classes, sorted before the "
                                         r"others, so every other class's label would move"):
        tc.compress(str(root), tmp_path / "a.tcz", progress=False)
    assert not (tmp_path / "a.tcz").exists()
    if with_images:  # torchvision's own ImageFolder keeps its numbering, as passed
        folder = torchvision.datasets.ImageFolder(str(root))
        assert folder.classes[0] == ".ipynb_checkpoints"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", tc.LargerThanFilesWarning)
            tc.compress(folder, tmp_path / "a.tcz", progress=False)
        assert tc.open(tmp_path / "a.tcz").targets.tolist() == [0, 1, 1, 2, 2]

@pytest.mark.parametrize("workers", [1, 2])
def test_a_damaged_file_is_named(tmp_path, workers):
    rng = np.random.default_rng(0)
    root = _folder(tmp_path / "f", [rng.integers(0, 256, (6, 7, 3), dtype=np.uint8)
                                    for _ in range(4)])
    (root / "c1" / "3.png").write_bytes((root / "c1" / "3.png").read_bytes()[:40])  # truncated
    with pytest.raises(OSError, match=r"source sample 3 \(file '.*c1/3.png'\) could not be read "
                                      r"\(\w*Error: .*\); repair or remove the file"):
        tc.compress(str(root), tmp_path / "a.tcz", progress=False, num_workers=workers)
    assert not (tmp_path / "a.tcz").exists()


def test_a_folder_of_16_bit_images_is_not_clipped_to_8_bits(tmp_path):
    # ImageFolder's loader converts to RGB, which clips 16-bit values to 255: a folder path
    # compressed "losslessly" came back all 255
    import torchvision

    rng = np.random.default_rng(0)
    scans = [rng.integers(0, 65536, (6, 7)).astype(np.uint16) for _ in range(3)]
    root = _folder(tmp_path / "scans", scans)
    with pytest.raises(ValueError, match=r"0.png' has 'I;16' pixels \(more than 8 bits\); .* "
                                         r"loader=torchvision.io.decode_image"):
        tc.compress(str(root), tmp_path / "a.tcz", progress=False)
    source = torchvision.datasets.ImageFolder(str(root), loader=torchvision.io.decode_image)
    tc.compress(source, tmp_path / "b.tcz", progress=False)  # the way the message points to
    ds = tc.open(tmp_path / "b.tcz")
    assert ds[0][0].dtype == torch.uint16
    assert all(np.array_equal(ds[i][0][0].numpy(), source[i][0][0].numpy()) for i in range(3))


@pytest.mark.parametrize("codec", ["lossless", "gede"])  # the streamed and the in-memory writer
@pytest.mark.parametrize("classes, labels, err, match", [
    (["a"], np.arange(6) % 4, ValueError, r"the labels (of samples 0 to 5 )?run from 0 to 3, "
     r"but there are 1 class names; every label should index them \(0 to 0\)"),
    (list("abcd"), np.arange(6) % 4 - 1, ValueError, r"labels (of samples 0 to 5 )?run from -1 "
                                                      r"to 2"),
    (["a", "b", "a"], np.arange(6) % 3, ValueError,
     r"classes should be distinct, but classes\[0\] and classes\[2\] are both 'a'"),
    ("abcd", np.arange(6) % 4, TypeError, r"classes should be a list of class names, but got "
                                          r"classes='abcd' \(str\)"),
    (["a"], np.linspace(0, 1, 6), ValueError,  # (GeDe's classwise check speaks first)
     r"labels (of samples 0 to 5 )?are real-valued regression targets|targets are real "
     r"numbers"),
    ({"a", "b", "c", "d"}, np.arange(6) % 4, TypeError,  # its order is the hash's
     r"classes should be a list of class names \(a set has no order"),
    ({"a": 0, "b": 2, "c": 2, "d": 3}, np.arange(6) % 4, ValueError,
     r"classes given as a dict is read as a class_to_idx \(name -> label\), whose labels "
     r"should be 0 .. 3 once each"),
], ids=["too-few", "negative", "duplicate", "string", "regression", "set", "bad-dict"])
def test_class_names_must_fit_the_labels(tmp_path, codec, classes, labels, err, match):
    # ds.classes[y] raised IndexError (or named the wrong class) in training, and
    # ds.class_to_idx silently lost a duplicate
    x = np.random.default_rng(0).integers(0, 256, (6, 3, 4, 4), dtype=np.uint8)
    with pytest.raises(err, match=match):
        tc.compress((x, labels), tmp_path / "c.tcz", classes=classes, codec=codec, progress=False)
    assert not (tmp_path / "c.tcz").exists()


def test_a_class_to_idx_gives_the_names_in_label_order(tmp_path):
    """classes=ds.class_to_idx took the dict's keys in insertion order: {'b': 1, 'a': 0} named
    label 0 'b'."""
    x, y = np.zeros((4, 1, 2, 2), np.uint8), np.arange(4)
    tc.compress((x, y), tmp_path / "c.tcz", classes={"b": 1, "a": 0, "d": 3, "c": 2},
                progress=False)
    assert tc.open(tmp_path / "c.tcz").class_to_idx == {"a": 0, "b": 1, "c": 2, "d": 3}


def _split_folders(root):
    """A training folder of cat, dog, fox and a validation folder without dog: ImageFolder
    numbers the validation fox 1, the training fox 2."""
    for split, names in (("train", ["cat", "dog", "fox"]), ("val", ["cat", "fox"])):
        for name in names:
            (root / split / name).mkdir(parents=True)
            level = {"cat": 10, "dog": 90, "fox": 200}[name]
            for j in range(2):
                Image.fromarray(np.full((4, 5, 3), level + j, np.uint8)).save(
                    root / split / name / f"{j}.png")
    return root / "train", root / "val"


@pytest.mark.parametrize("codec", ["lossless", "gede", "original"])  # streamed, in memory, files
@pytest.mark.parametrize("given", ["classes", "class_to_idx"])
def test_classes_from_another_split_renumber_the_folder_by_name(tmp_path, codec, given):
    """compress(val_dir, classes=train.classes) kept the folder's own numbers under the
    training names: every fox was stored as a dog, without a word."""
    from torchvision.datasets import ImageFolder

    train_dir, val_dir = _split_folders(tmp_path)
    tc.compress(str(train_dir), tmp_path / "train.tcz", progress=False)
    train = tc.open(tmp_path / "train.tcz")
    names = getattr(train, given)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", tc.LargerThanFilesWarning)
        for k, src in enumerate([str(val_dir), ImageFolder(str(val_dir))]):
            tc.compress(src, tmp_path / f"v{k}.tcz", codec=codec, classes=names,
                        progress=False)
            val = tc.open(tmp_path / f"v{k}.tcz")
            assert val.classes == ["cat", "dog", "fox"]
            got = [val.classes[int(y)] for y in val.targets]
            assert got == ["cat", "cat", "fox", "fox"]
            x, y = val[3]
            assert val.classes[y] == "fox" and int(x[0, 0, 0]) == 201
            # the training archive's labels mean the same classes
            assert train.classes[int(train.targets[4])] == "fox"


def test_a_concat_dataset_sources_class_names_merge_or_clash(tmp_path):
    """torch's ConcatDataset of ImageFolders as a source: names its parts share were kept, but
    parts numbering their classes differently lost their names without a word, the labels
    mixed."""
    from torch.utils.data import ConcatDataset
    from torchvision.datasets import ImageFolder

    train_dir, val_dir = _split_folders(tmp_path)  # cat, dog, fox and cat, fox
    (tmp_path / "few" / "cat").mkdir(parents=True)
    Image.fromarray(np.zeros((4, 5, 3), np.uint8)).save(tmp_path / "few" / "cat" / "0.png")
    few = ImageFolder(str(tmp_path / "few"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", tc.LargerThanFilesWarning)
        tc.compress(ConcatDataset([few, ImageFolder(str(train_dir))]), tmp_path / "m.tcz",
                    progress=False)
    assert tc.open(tmp_path / "m.tcz").classes == ["cat", "dog", "fox"]
    with pytest.warns(UserWarning, match=r"the source's ConcatDataset: label 1 is 'dog' in part 0 "
                                         r"but 'fox' in part 1") as w:
        tc.compress(ConcatDataset([ImageFolder(str(train_dir)), ImageFolder(str(val_dir))]),
                    tmp_path / "c.tcz", progress=False)
    assert [r.filename for r in w if "ConcatDataset" in str(r.message)] == [__file__]
    assert tc.open(tmp_path / "c.tcz").classes is None


@pytest.mark.parametrize("codec", ["lossless", "gede", "original"])
def test_an_image_folder_numbering_its_classes_otherwise_is_named_by_label(tmp_path, codec):
    """torchvision lets an ImageFolder's find_classes number the classes as it likes; its
    class_to_idx then numbers them while .classes stays sorted by name, and the archive named
    label k .classes[k]: every cat (label 2) was stored as 'fox'."""
    from torchvision.datasets import ImageFolder

    class Numbered(ImageFolder):
        def find_classes(self, directory):
            return ["cat", "dog", "fox"], {"cat": 2, "dog": 1, "fox": 0}

    train_dir, _ = _split_folders(tmp_path)
    src = Numbered(str(train_dir))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", tc.LargerThanFilesWarning)
        tc.compress(src, tmp_path / "n.tcz", codec=codec, progress=False)
    ds = tc.open(tmp_path / "n.tcz")
    assert ds.classes == ["fox", "dog", "cat"] and ds.class_to_idx == src.class_to_idx
    assert [ds.classes[int(y)] for y in ds.targets] == ["cat", "cat", "dog", "dog", "fox", "fox"]


@pytest.mark.parametrize("classes", [{0: "cat", 1: "dog", 2: "fox"},
                                     {"fox": 2, "cat": 0, "dog": 1}],
                         ids=["id2label", "class_to_idx"])
def test_a_sources_classes_dict_names_the_labels_by_their_ids(tmp_path, classes):
    """A dataset whose .classes is a dict: list() of it gave its keys, so an id2label named the
    classes '0', '1', '2' and a class_to_idx out of label order named label 0 'fox'."""
    class Named(PILDataset):
        pass

    Named.classes = classes
    tc.compress(Named(), tmp_path / "d.tcz", progress=False)
    assert tc.open(tmp_path / "d.tcz").classes == ["cat", "dog", "fox"]
    Named.classes = {"a": "x"}
    with pytest.warns(UserWarning, match=r"classes is a dict that maps neither ids 0..k-1 to "
                                         r"names nor names to them \('a': 'x'\)"):
        tc.compress(Named(), tmp_path / "e.tcz", progress=False)
    assert tc.open(tmp_path / "e.tcz").classes is None


def test_classes_naming_some_of_a_folders_classes_are_refused(tmp_path):
    _, val_dir = _split_folders(tmp_path)
    with pytest.raises(ValueError, match=r"classes= names 1 of the source's 2 classes but not "
                                         r"'fox'"):
        tc.compress(str(val_dir), tmp_path / "v.tcz", classes=["cat", "wolf"], progress=False)
    assert not (tmp_path / "v.tcz").exists()
    # no name in common: new names for the folder's labels, as before
    tc.compress(str(val_dir), tmp_path / "v.tcz", classes=["Cat", "Fox"], progress=False)
    val = tc.open(tmp_path / "v.tcz")
    assert val.classes == ["Cat", "Fox"] and val.targets.tolist() == [0, 0, 1, 1]


def test_class_names_are_checked_before_a_folder_is_encoded(tmp_path, monkeypatch):
    from torchcompress.datasets import streaming
    rng = np.random.default_rng(0)
    root = _folder(tmp_path / "f", [rng.integers(0, 256, (6, 7, 3), dtype=np.uint8)
                                    for _ in range(4)])
    monkeypatch.setattr(streaming, "stream_archive", None)  # the encode must not start
    with pytest.raises(ValueError, match=r"the source's targets run from 0 to 1, but there "
                                         r"are 1 class names"):
        tc.compress(str(root), tmp_path / "c.tcz", classes=["only"], progress=False)


def test_class_names_are_checked_at_the_first_chunk_without_targets(tmp_path, monkeypatch):
    """A dataset with .classes but no .targets, whose labels pass its names: refused only after
    every chunk was encoded (hours on ImageNet)."""
    from torchcompress.datasets import streaming

    class Named(PILDataset):  # classes a, b, c; labels i % 3, and 5 from sample 2 on
        def __getitem__(self, i):
            return super().__getitem__(i)[0], 5 if i >= 2 else i % 3

    monkeypatch.setattr(streaming, "CHUNK_BYTES", 1)  # one sample a chunk
    # the chunk of sample 2 is named (the check after every chunk said "run from 0 to 5")
    with pytest.raises(ValueError, match=r"the labels of samples 2 to 2 run from 5 to 5, but "
                                         r"there are 3 class names"):
        tc.compress(Named(n=6), tmp_path / "n.tcz", progress=False)
    assert not (tmp_path / "n.tcz").exists()


class _Noisy(torch.utils.data.Dataset):
    """A new random draw on every read, as a dataset with a random transform gives."""

    def __len__(self):
        return 40

    def __getitem__(self, i):
        ramp = np.linspace(0, 200, 256).reshape(1, 16, 16).repeat(3, 0)
        return (ramp + np.random.randint(0, 30, (3, 16, 16))).astype(np.uint8), i % 2


def test_augmented_source_is_warned_about(tmp_path):
    # the usual mistake: the training dataset, augmentations included, as the source
    from torchvision.transforms import v2
    from torchvision import transforms as v1
    rng = np.random.default_rng(0)
    root = _folder(tmp_path / "f", [rng.integers(0, 256, (6, 7, 3), dtype=np.uint8)
                                    for _ in range(4)])
    import torchvision
    aug = torchvision.datasets.ImageFolder(str(root), transform=v2.Compose([
        v2.RandomApply([v2.ColorJitter(0.2)], p=0.5), v2.RandomResizedCrop(4), v2.PILToTensor()]))
    with pytest.warns(tc.AugmentedSourceWarning, match=r"holds ColorJitter, RandomApply, "
                                                       r"RandomResizedCrop: the archive stores "
                                                       r"one random draw .* tc.open\(path, "
                                                       r"transform=...\)"):
        tc.compress(aug, tmp_path / "a.tcz", progress=False)
    flip = torchvision.datasets.ImageFolder(str(root), transform=v1.Compose([
        v1.RandomHorizontalFlip(), v1.PILToTensor()]))
    with pytest.warns(tc.AugmentedSourceWarning, match=r"holds RandomHorizontalFlip:"):
        tc.compress(torch.utils.data.Subset(flip, [0, 1]), tmp_path / "b.tcz", progress=False)
    plain = torchvision.datasets.ImageFolder(str(root), transform=v2.PILToTensor())
    with warnings.catch_warnings():
        warnings.simplefilter("error", tc.AugmentedSourceWarning)
        tc.compress(plain, tmp_path / "c.tcz", progress=False)
    # a blur or a JPEG round trip draws from a range by default, a fixed one does not
    fixed = v2.Compose([v2.PILToTensor(), v2.GaussianBlur(3, sigma=1.0), v2.JPEG(90)])
    assert tc.datasets.source_checks.warn_if_augmented(
        torchvision.datasets.ImageFolder(str(root), transform=fixed)) == []
    drawn = v2.Compose([v2.PILToTensor(), v2.GaussianBlur(3), v2.JPEG((50, 90)),
                        v2.ToDtype(torch.float32, scale=True), v2.GaussianNoise()])
    with pytest.warns(tc.AugmentedSourceWarning, match=r"holds GaussianBlur, GaussianNoise, JPEG:"):
        tc.datasets.source_checks.warn_if_augmented(
            torchvision.datasets.ImageFolder(str(root), transform=drawn))


def test_lossy_names_a_source_that_changes_between_reads(tmp_path):
    # it said "internal error ... please report"
    with pytest.raises(tc.CodecError, match=r"source sample \d+ coded to \d+ bytes, but its first "
                                            r"read sized it at \d+: the source gave other values "
                                            r"when read again"):
        tc.compress(_Noisy(), tmp_path / "n.tcz", codec="lossy", progress=False)
    assert not (tmp_path / "n.tcz").exists()


def test_an_archive_inside_the_source_folder_is_refused(tmp_path):
    # the first run worked; the next one (overwrite=True) found a class folder 'train.tcz'
    # without images and failed inside ImageFolder
    import torchvision
    rng = np.random.default_rng(0)
    root = _folder(tmp_path / "f", [rng.integers(0, 256, (6, 7, 3), dtype=np.uint8)
                                    for _ in range(4)])
    for source in (str(root), torchvision.datasets.ImageFolder(str(root))):
        with pytest.raises(ValueError, match=r"the archive path '.*f/train.tcz' is inside the "
                                             r"source folder .* write the archive outside"):
            tc.compress(source, root / "train.tcz", progress=False)
        assert sorted(p.name for p in root.iterdir()) == ["c0", "c1"]
    tc.compress(str(root), tmp_path / "f.tcz", progress=False)  # a sibling named like it is fine
    # a dataset whose root is a download folder, not class folders, may hold its archive
    dl = torch.utils.data.TensorDataset(torch.zeros(2, 1, 2, 2, dtype=torch.uint8),
                                        torch.tensor([0, 1]))
    dl.root = str(root)
    tc.compress(dl, root / "d.tcz", progress=False)


def test_a_large_iterable_source_is_warned_about_where_it_is_held(tmp_path, monkeypatch):
    # tc.condense holds its source in memory; an iterable (a generator, a streaming Hugging Face
    # dataset) has no size to check beforehand
    from torchcompress.datasets import sources
    monkeypatch.setattr(sources, "HELD_WARNING", 1000)
    pairs = [(np.zeros((3, 10, 10), np.uint8), 0)] * 4  # 300 bytes each
    with pytest.warns(UserWarning, match=r"an iterable source is held in memory to be compressed "
                                         r"\(over .* GiB so far, at sample 3\); a map-style"):
        tc.condense(iter(pairs), tmp_path / "a.tcz", progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tc.condense(pairs, tmp_path / "b.tcz", progress=False)  # a list has a length: no warning


@pytest.mark.parametrize("workers", [1, 2])
def test_an_iterable_source_is_spooled_beside_the_archive_not_held(tmp_path, workers):
    # compress read a generator (or a streaming dataset) into memory whole; it is now read once
    # into a file beside the archive and memory-mapped, then removed
    from torchcompress.datasets.reading import open_reader
    from torchcompress.datasets.spool import Spool
    rng = np.random.default_rng(0)
    xs = [rng.integers(0, 256, (3, 5 + i % 4, 7), dtype=np.uint8) for i in range(30)]
    with Spool(tmp_path / "r.tcz") as spool:
        reader = open_reader(((x, i % 3) for i, x in enumerate(xs)), files=False, layout=None,
                             resize=None, mixed_ok=True, progress=False, length=None,
                             spool=spool)
        assert isinstance(reader.src.x[0].base, np.memmap)
        assert os.path.getsize(spool.file) == sum(x.nbytes for x in xs)
        assert [a.shape for a in reader.read(np.array([4, 5]))[0]] == [xs[4].shape, xs[5].shape]
    assert os.listdir(tmp_path) == []  # the spool is gone with the block
    tc.compress(((x, i % 3) for i, x in enumerate(xs)), tmp_path / "a.tcz", progress=False,
                num_workers=workers)
    ds = tc.open(tmp_path / "a.tcz")
    assert all(torch.equal(ds[i][0], torch.from_numpy(xs[i])) for i in range(30))
    assert os.listdir(tmp_path) == ["a.tcz"]

    def broken():
        yield xs[0], 0
        raise RuntimeError("the stream broke")
    with pytest.raises(RuntimeError, match="the stream broke"):
        tc.compress(broken(), tmp_path / "b.tcz", progress=False)
    assert os.listdir(tmp_path) == ["a.tcz"]


@pytest.mark.parametrize("codec", ["lossless", "gede"])
def test_tuples_of_class_names_are_joined(tmp_path, codec):
    # torchvision's ImageNet gives each class a tuple of names; they were stored as the text of
    # a Python list ("['tench', 'Tinca tinca']")
    class Named(torch.utils.data.Dataset):
        classes = [("tench", "Tinca tinca"), ("goldfish", "Carassius auratus")]

        def __len__(self):
            return 4

        def __getitem__(self, i):
            return np.full((1, 2, 2), i, np.uint8), i % 2
    tc.compress(Named(), tmp_path / "n.tcz", codec=codec, progress=False)
    ds = tc.open(tmp_path / "n.tcz")
    assert ds.classes == ["tench, Tinca tinca", "goldfish, Carassius auratus"]
    assert ds.class_to_idx["goldfish, Carassius auratus"] == 1
    assert ds.class_to_idx is ds.class_to_idx  # made once, not per lookup (as torchvision's)


def test_a_tensor_dataset_is_read_as_its_pair_and_labels_may_be_a_column(tmp_path):
    """A TensorDataset of real-valued targets was refused item by item ("should be an integer
    class label"), though the same tensors as a pair make a regression set; (N, 1) labels, as
    a table's column gives them, were refused as a pair but taken item by item."""
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.normal(size=(60, 4)))
    y = torch.from_numpy(rng.normal(size=60))
    a = tc.condense(torch.utils.data.TensorDataset(x, y), tmp_path / "a.tcz", progress=False)
    b = tc.condense((x, y[:, None]), tmp_path / "b.tcz", progress=False)
    assert a["num_condensed"] == b["num_condensed"]
    fa, fb = tc.open(tmp_path / "a.tcz").full, tc.open(tmp_path / "b.tcz").full
    np.testing.assert_array_equal(fa.targets.numpy(), y.numpy().astype(np.float32))
    np.testing.assert_array_equal(fb.targets.numpy(), y.numpy().astype(np.float32))
    for i in range(60):
        torch.testing.assert_close(fa[i][0], fb[i][0], rtol=0, atol=0)
        torch.testing.assert_close(fa[i][0], x[i], rtol=0, atol=1e-4)  # precision='auto'
    ints = torch.from_numpy(rng.integers(0, 256, (5, 3, 4, 4), dtype=np.uint8))
    tc.compress(torch.utils.data.TensorDataset(ints, torch.arange(5)[:, None]), tmp_path / "c.tcz",
                progress=False)
    ds = tc.open(tmp_path / "c.tcz")
    assert [ds[i][1] for i in range(5)] == list(range(5))


def test_bfloat16_samples_are_read_as_float32(tmp_path):
    x = torch.linspace(-2, 2, 40, dtype=torch.bfloat16).reshape(10, 4)
    y = torch.arange(10) % 2
    tc.compress((x, y), tmp_path / "h.tcz", codec="gede", precision=3, progress=False)
    tc.compress((x.float(), y), tmp_path / "f.tcz", codec="gede", precision=3, progress=False)
    h, f = tc.open(tmp_path / "h.tcz"), tc.open(tmp_path / "f.tcz")
    for i in range(10):
        torch.testing.assert_close(h[i][0], f[i][0], rtol=0, atol=0)


@pytest.mark.parametrize("workers", [1, 2])
@pytest.mark.parametrize("codec", ["lossless", "adq"])
def test_a_third_field_is_refused_not_dropped(tmp_path, codec, workers):
    """(x, y, w) or (x, y, index): the archive keeps (image, label), so the third field would
    be lost without a word (a condensed set's weights); it is refused, naming the sample."""
    x = np.arange(6 * 3 * 4 * 4, dtype=np.uint8).reshape(6, 3, 4, 4)
    triples = [(x[i], i % 2, 0.5) for i in range(6)]
    with pytest.raises(TypeError, match=r"source\[0\] has 3 fields, but an archive stores "
                                        r"\(image, label\) pairs, so fields 2.. \(sample weights"):
        tc.compress(triples, tmp_path / "a.tcz", codec=codec, progress=False,
                    num_workers=workers)
    assert not (tmp_path / "a.tcz").exists()
    tc.compress([t[:2] for t in triples], tmp_path / "a.tcz", codec=codec, progress=False)


@pytest.mark.parametrize("container", [tuple, list])
def test_a_tuple_of_three_arrays_is_refused(tmp_path, container):
    x, y, w = np.zeros((6, 3, 4, 4), np.uint8), np.arange(6) % 2, np.ones(6)
    with pytest.raises(TypeError, match=rf"source is a {container.__name__} of 3 arrays, "
                                        r"\(x, y, ...\) with x of shape \(6, 3, 4, 4\), but "
                                        r"compress takes \(x, y\)"):
        tc.compress(container([x, y, w]), tmp_path / "a.tcz", progress=False)
    with pytest.raises(TypeError, match=r"of 3 arrays"):
        tc.condense(container([x, y, w]), tmp_path / "c.tcz", progress=False)
    # three images (no labels) are not read as (x, y, ...): their second is not 1-D labels
    with pytest.raises(TypeError, match=r"source\[0\] should be an \(image, label\) pair"):
        tc.compress(container([x[0], x[1], x[2]]), tmp_path / "a.tcz", progress=False)


def test_labels_past_int64_are_refused_not_wrapped(tmp_path):
    """uint64 labels past 2**63 - 1 were stored as int64 and came back negative."""
    x = np.zeros((4, 1, 2, 2), np.uint8)
    y = np.array([1, 2**63 + 5, 3, 4], np.uint64)
    with pytest.raises(ValueError, match=r"label 1 is 9223372036854775813, past the int64 labels "
                                         r"an archive holds .* np.unique\(y, "
                                         r"return_inverse=True\)"):
        tc.compress((x, y), tmp_path / "a.tcz", progress=False)
    with pytest.raises(ValueError, match=r"source\[1\]\[1\] is 9223372036854775813, past the "
                                         r"int64 labels"):
        tc.compress(list(zip(x, y)), tmp_path / "a.tcz", progress=False)
    assert not (tmp_path / "a.tcz").exists()
    tc.compress((x, np.array([1, 5, 3, 4], np.uint64) + np.uint64(2**62)), tmp_path / "a.tcz",
                progress=False)  # these fit
    assert tc.open(tmp_path / "a.tcz").targets.tolist()[1] == 2**62 + 5
