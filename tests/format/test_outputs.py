"""Decoded outputs: large ones come from a mapping of their own, and decode the same."""

import mmap

import numpy as np
import pytest
import torch

import torchcompress as tc
from torchcompress.format import decoding
from torchcompress.format.decoding import MAPPED_OUTPUT, empty_output


def _root(a: np.ndarray):
    """The object that owns an array's memory (through views and memoryviews)."""
    while True:
        if isinstance(a, np.ndarray) and a.base is not None:
            a = a.base
        elif isinstance(a, memoryview):
            a = a.obj
        else:
            return a


@pytest.mark.parametrize("shape,dtype", [((MAPPED_OUTPUT,), np.uint8),
                                         ((3, 1024, 1024 // 3 * 2), np.float32),
                                         ((7, 11), np.uint8), ((0,), np.int16)])
def test_empty_output_maps_large_arrays_only(shape, dtype):
    a = empty_output(shape, dtype)
    assert a.shape == shape and a.dtype == dtype
    assert a.flags.c_contiguous and a.flags.writeable
    big = a.nbytes >= MAPPED_OUTPUT
    assert isinstance(_root(a), mmap.mmap) == big
    a[...] = 3  # every byte writable
    assert (a == 3).all()


class _Listed(torch.utils.data.Dataset):
    def __init__(self, xs):
        self.xs = xs

    def __len__(self):
        return len(self.xs)

    def __getitem__(self, i):
        return torch.from_numpy(self.xs[i]), i % 2


def _images(rng, sizes):
    return [rng.integers(0, 256, (3, h, w), dtype=np.uint8) // 16 * 16 for h, w in sizes]


def test_mapped_outputs_decode_bit_exact(tmp_path, monkeypatch):
    """Every output through the mapped path (the threshold at one byte): the same values as
    the source, for mixed and fixed shapes, one at a time and batched."""
    monkeypatch.setattr(decoding, "MAPPED_OUTPUT", 1)
    rng = np.random.default_rng(0)
    mixed = _images(rng, [(8, 8), (5, 13), (1, 1), (17, 3), (30, 20)])
    fixed = np.stack(_images(rng, [(6, 6)] * 20))
    for name, x in (("mixed", mixed), ("fixed", fixed)):
        src = _Listed(x) if name == "mixed" else (x, np.arange(len(x)) % 2)
        tc.compress(src, tmp_path / f"{name}.tcz", progress=False, shard_size=3)
        ds = tc.open(tmp_path / f"{name}.tcz", output="uint8")
        one = ds.decoder.decode_one(3, np.uint8)
        many = ds.decoder.decode(np.array([4, 0, 3, 4]), np.uint8)  # two shards
        assert all(isinstance(_root(a), mmap.mmap) for a in [one, *many])
        np.testing.assert_array_equal(ds[3][0].numpy(), x[3])
        batch = ds.__getitems__([4, 0, 3, 4])
        for (t, _), i in zip(batch, [4, 0, 3, 4]):
            np.testing.assert_array_equal(t.numpy(), x[i])
        batch[0][0].add_(1)  # the tensors are writable
        np.testing.assert_array_equal(batch[3][0].numpy(), x[4])  # and apart
        flt = tc.open(tmp_path / f"{name}.tcz", output="float")
        torch.testing.assert_close(flt[1][0], torch.from_numpy(x[1]).float() / 255)
