"""``tc.ConcatDataset``: torch's ConcatDataset that decodes a batch per part, not per sample."""

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import torchcompress as tc


class Counting(torch.utils.data.Dataset):
    """A dataset that records how it was read."""

    def __init__(self, ds):
        self.ds, self.batches, self.items = ds, [], 0

    def __len__(self):
        return len(self.ds)

    def __getitem__(self, i):
        self.items += 1
        return self.ds[i]

    def __getitems__(self, indices):
        self.batches.append(list(indices))
        return self.ds.__getitems__(indices)


@pytest.fixture(scope="module")
def parts(tmp_path_factory):
    rng = np.random.default_rng(0)
    root = tmp_path_factory.mktemp("concat")
    out = []
    for k, n in enumerate((7, 5)):
        x = rng.integers(0, 256, (n, 3, 4, 5), dtype=np.uint8)
        tc.compress((x, np.arange(n) % 3 + 3 * k), root / f"p{k}.tcz", progress=False)
        out.append(tc.open(root / f"p{k}.tcz"))
    return out


def test_a_batch_reads_each_part_once_in_the_batch_order(parts):
    a, b = Counting(parts[0]), Counting(parts[1])
    tail = TensorDataset(torch.arange(8.0).reshape(4, 2), torch.tensor([9, 9, 9, 9]))
    ds = tc.ConcatDataset([a, b, tail])
    order = [11, 0, 7, -1, 6, 3, 12, 8, -16]  # parts of 7, 5 and 4 samples
    got = ds.__getitems__(order)
    assert a.batches == [[0, 6, 3, 0]] and b.batches == [[4, 0, 1]]  # one call a part
    assert a.items == b.items == 0
    want = [ds[i] for i in order]  # torch's per-sample path
    assert len(got) == len(want) == 9
    for (gx, gy), (wx, wy) in zip(got, want):
        assert torch.equal(gx, wx) and int(gy) == int(wy)
    assert [int(y) for _, y in got][3] == 9 and torch.equal(got[3][0], tail[3][0])

def test_dataloader_decodes_per_part_and_targets_join(parts):
    a, b = Counting(parts[0]), Counting(parts[1])
    ds = tc.ConcatDataset([a, b])
    loader = DataLoader(ds, batch_size=6, shuffle=True, generator=torch.Generator().manual_seed(1))
    seen = torch.cat([y for _, y in loader])
    assert sorted(seen.tolist()) == sorted(parts[0].targets.tolist() + parts[1].targets.tolist())
    assert a.items == b.items == 0 and len(a.batches) + len(b.batches) >= 2
    plain = tc.ConcatDataset(parts)
    assert torch.equal(plain.targets, torch.cat([parts[0].targets, parts[1].targets]))
    sampler = tc.samplers.RandomSubsetSampler(plain, 0.5, class_balanced=True, seed=0)
    assert len(list(sampler)) == 6
    with pytest.raises(AttributeError, match=r"part 0 of the ConcatDataset \(Counting\) has no "
                                             r"targets"):
        ds.targets
    with pytest.raises(IndexError, match="index 12 is out of range for a dataset of 12 samples"):
        plain.__getitems__([0, 12])
