"""DataLoader integration: workers (fork and spawn), persistence, pinning, batched decode."""

import pytest
import torch
from torch.utils.data import DataLoader

import torchcompress as tc
from torchcompress.datasets import CompressedDataset


class BatchedOnly(CompressedDataset):
    """Fails if the DataLoader ever falls back to per-sample __getitem__."""

    def __getitem__(self, i):
        raise RuntimeError("__getitem__ was called; DataLoader should use __getitems__")


def _collect(loader):
    xs, ys = zip(*[(x, y) for x, y in loader])
    return torch.cat(xs), torch.cat(ys)


@pytest.mark.parametrize("kwargs", [
    dict(num_workers=0),
    dict(num_workers=2),
    dict(num_workers=2, multiprocessing_context="spawn", persistent_workers=True),
    dict(num_workers=0, pin_memory=True),
], ids=["workers0", "workers2-fork", "workers2-spawn-persistent", "pin-memory"])
def test_loader_uses_batched_decode(archive, kwargs):
    ref = tc.open(archive)
    expect = torch.stack([ref[i][0] for i in range(len(ref))])
    ds = BatchedOnly(archive)
    loader = DataLoader(ds, batch_size=7, shuffle=False, **kwargs)
    for _ in range(2 if kwargs.get("persistent_workers") else 1):
        x, y = _collect(loader)
        assert x.shape == (40, 3, 8, 8) and torch.equal(x, expect)
        assert torch.equal(y, ref.targets)


def test_shuffled_loader_covers_every_sample(archive):
    ds = BatchedOnly(archive)
    g = torch.Generator().manual_seed(0)
    _, y = _collect(DataLoader(ds, batch_size=8, shuffle=True, generator=g, num_workers=2))
    assert sorted(y.tolist()) == sorted(ds.targets.tolist())
