"""Class labels stored in the narrowest integer type that holds a shard's (format 11), read
back as int64 whatever each shard stores."""

import numpy as np
import pytest
import torch

import torchcompress as tc
from torchcompress.errors import FormatError
from torchcompress.format.safetensors_io import DTYPES, read_header

from .edits import rerecord_shard, rewrite_tensors

SAFETENSORS_NAMES = {np.dtype(v): k for k, v in DTYPES.items()}


def _stored(path, k=0):
    """Shard ``k``'s labels dtype, as safetensors names it."""
    return SAFETENSORS_NAMES[np.dtype(read_header(str(path / f"shard-{k:05d}.safetensors"))[0]
                                      ["labels"][0])]


@pytest.mark.parametrize("labels, dtype", [
    ([0, 1, 255], "U8"), ([-1, 5, 127], "I8"), ([0, 300, 65535], "U16"), ([-300, 5], "I16"),
    ([0, 70000], "I32"), ([-2**31, 2**31 - 1], "I32"), ([0, 2**40], "I64"),
    ([-2**63, 2**63 - 1], "I64")])
def test_labels_take_the_narrowest_type(tmp_path, labels, dtype):
    """They were int64 whatever they held: 8 bytes a sample, 80 KB of MNIST's 1.48 MB."""
    y = np.resize(np.array(labels, dtype=np.int64), 6)
    x = np.arange(6 * 12, dtype=np.uint8).reshape(6, 1, 3, 4)
    tc.compress((x, y), tmp_path / "a.tcz", progress=False)
    assert _stored(tmp_path / "a.tcz") == dtype
    ds = tc.open(tmp_path / "a.tcz")
    assert ds.targets.dtype == torch.int64 and ds.targets.tolist() == y.tolist()
    assert [ds[i][1] for i in range(6)] == y.tolist() and type(ds[0][1]) is int
    assert ds.batch([0, 1])[1].dtype == torch.int64


class _Images(torch.utils.data.Dataset):
    def __len__(self):
        return 40

    def __getitem__(self, i):
        return torch.full((1, 4, 4), i, dtype=torch.uint8), i if i < 20 else 1000 + i


@pytest.mark.parametrize("codec", ["lossless", "adq", "gede"])
def test_shards_may_store_labels_in_different_types(tmp_path, codec):
    """A streamed archive's shards each narrow their own (the first 20 labels in uint8)."""
    kw = {"bits": 2.0} if codec == "adq" else {}
    tc.compress(_Images(), tmp_path / "a.tcz", codec=codec, shard_size=20, progress=False, **kw)
    ds = tc.open(tmp_path / "a.tcz")
    shards = len(ds.reader.manifest.shards)
    kinds = [_stored(tmp_path / "a.tcz", k) for k in range(shards)]
    assert shards > 1 and kinds[0] == "U8" and kinds[-1] == "U16"
    want = [i if i < 20 else 1000 + i for i in range(40)]
    assert ds.targets.tolist() == want and [ds[i][1] for i in (3, 33)] == [3, 1033]


def test_targets_stay_float32(tmp_path):
    x = np.zeros((3, 1, 2, 2), np.uint8)
    tc.compress((x, np.array([0.5, 1.0, 2.0])), tmp_path / "r.tcz", progress=False)
    assert _stored(tmp_path / "r.tcz") == "F32"


@pytest.mark.parametrize("dtype", [np.uint32, np.uint64, np.float64, np.bool_])
def test_labels_of_another_type_are_refused(tmp_path, dtype):
    x = np.zeros((3, 1, 2, 2), np.uint8)
    tc.compress((x, np.array([0, 1, 1])), tmp_path / "a.tcz", progress=False)
    shard = tmp_path / "a.tcz" / "shard-00000.safetensors"
    rewrite_tensors(shard, lambda t: t.update(labels=t["labels"].astype(dtype)))
    rerecord_shard(tmp_path / "a.tcz")
    with pytest.raises(FormatError, match=r"tensor 'labels' should be 1-D integers \(classes: "
                                          r"uint8, int8, uint16, int16, int32 or int64\)"):
        tc.open(tmp_path / "a.tcz")


def test_shards_of_class_labels_and_targets_are_refused(tmp_path):
    x = np.zeros((4, 1, 2, 2), np.uint8)
    tc.compress((x, np.array([0, 1, 1, 0])), tmp_path / "a.tcz", shard_size=2, progress=False)
    shard = tmp_path / "a.tcz" / "shard-00001.safetensors"
    rewrite_tensors(shard, lambda t: t.update(labels=t["labels"].astype(np.float32)))
    rerecord_shard(tmp_path / "a.tcz", 1)
    with pytest.raises(FormatError, match=r"shards disagree on the labels' kind \(class labels "
                                          r"in some, real-valued targets in others\)"):
        tc.open(tmp_path / "a.tcz")
