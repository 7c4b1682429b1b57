"""``tc.ConcatDataset``: torch's ConcatDataset that decodes a batch per part, not per sample."""

import warnings

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset, default_collate

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

def test_dataloader_decodes_a_batch_per_part(parts):
    a, b = Counting(parts[0]), Counting(parts[1])
    ds = tc.ConcatDataset([a, b])
    loader = DataLoader(ds, batch_size=6, shuffle=True, generator=torch.Generator().manual_seed(1))
    seen = torch.cat([y for _, y in loader])
    assert sorted(seen.tolist()) == sorted(parts[0].targets.tolist() + parts[1].targets.tolist())
    assert a.items == b.items == 0 and len(a.batches) + len(b.batches) >= 2
    plain = tc.ConcatDataset(parts)
    sampler = tc.samplers.RandomSubsetSampler(plain, 0.5, class_balanced=True, seed=0)
    assert len(list(sampler)) == 6  # the parts' targets, as for torch's ConcatDataset
    with pytest.raises(IndexError, match="index 12 is out of range for a dataset of 12 samples"):
        plain.__getitems__([0, 12])


def test_batch_and_loader_as_an_archives(parts):
    """``batch`` gives one (B, ...) tensor in the batch's order; ``loader`` is ``ds.loader``
    over the parts: whole batches, every sample once an epoch, an exact resume."""
    ds = tc.ConcatDataset(parts)
    order = [9, 0, 11, 3, 7]
    x, y = ds.batch(order)
    assert torch.equal(x, torch.stack([ds[i][0] for i in order]))
    assert y.tolist() == [int(ds[i][1]) for i in order]
    tail = TensorDataset(torch.zeros(2, 3, 4, 5, dtype=torch.uint8), torch.tensor([8, 8]))
    x, y = tc.ConcatDataset([parts[0], tail]).batch([8, 1, 7])
    assert torch.equal(x, torch.stack([torch.zeros(3, 4, 5, dtype=torch.uint8), parts[0][1][0],
                                       torch.zeros(3, 4, 5, dtype=torch.uint8)]))
    assert y.tolist() == [8, 1, 8]
    loader = ds.loader(5, shuffle=True, seed=3)
    first = [b[1] for b in loader]
    assert sorted(torch.cat(first).tolist()) == sorted(parts[0].targets.tolist()
                                                       + parts[1].targets.tolist())
    again = tc.ConcatDataset(parts).loader(5, shuffle=True, seed=3)
    it = iter(again)
    next(it)
    state = again.state_dict()
    resumed = tc.ConcatDataset(parts).loader(5, shuffle=True, seed=3)
    resumed.load_state_dict(state)
    rest = [b[1] for b in resumed]
    assert [t.tolist() for t in rest] == [t.tolist() for t in first[1:]]


def test_batch_refuses_parts_of_three_fields(tmp_path):
    """A condensed part's (x, y, w) went through batch as (x, y): the weights were dropped,
    silently. DataLoader over the ConcatDataset keeps all three."""
    x = np.random.default_rng(0).random((30, 4)).astype(np.float32)
    tc.condense((x, np.arange(30) % 3), tmp_path / "c.tcz", beta=3, progress=False)
    ds = tc.ConcatDataset([tc.open(tmp_path / "c.tcz")] * 2)
    assert len(next(iter(DataLoader(ds, 4)))) == 3
    with pytest.raises(TypeError, match=r"a CondensedDataset part gives 3 fields .* use "
                                        r"DataLoader\(tc.ConcatDataset\(...\)\)"):
        ds.batch([0, 1])


def test_labels_of_two_kinds_are_promoted(parts, tmp_path):
    """Class labels beside real targets: batch raised torch's "Index put requires the source
    and destination dtypes match"; a DataLoader over the same parts gives them as batch does,
    float32 (collate refuses ints beside a regression archive's 0-d float32 tensors)."""
    x = np.random.default_rng(1).integers(0, 256, (4, 3, 4, 5), dtype=np.uint8)
    tc.compress((x, np.linspace(0.5, 2, 4)), tmp_path / "r.tcz", progress=False)
    ds = tc.ConcatDataset([parts[0], tc.open(tmp_path / "r.tcz")])
    idx = [8, 0, 10, 3]
    xb, yb = ds.batch(idx)
    xs, ys = default_collate(ds.__getitems__(idx))
    assert yb.dtype == ys.dtype == torch.float32 and torch.equal(yb, ys) and torch.equal(xb, xs)
    assert yb.tolist() == [1.0, 0.0, 2.0, 0.0]


def test_class_names_merge_by_label_and_a_clash_is_warned(tmp_path):
    """Two ImageFolders of different class folders number their classes differently; their
    archives know it (the names), so joining them warns instead of mixing two classes under
    one label without a word (torch's ConcatDataset has no names to check)."""
    x = np.random.default_rng(2).integers(0, 256, (6, 3, 4, 5), dtype=np.uint8)

    def part(name, classes):
        tc.compress((x, np.arange(6) % len(classes)), tmp_path / name, classes=classes,
                    progress=False)
        return tc.open(tmp_path / name)

    a, b = part("a.tcz", ["cat", "dog"]), part("b.tcz", ["cat", "dog", "bird"])
    unnamed = tc.open(tmp_path / "a.tcz")
    unnamed_src = tmp_path / "u.tcz"
    tc.compress((x, np.zeros(6, dtype=int)), unnamed_src, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = tc.ConcatDataset([a, b, tc.open(unnamed_src), unnamed])
    assert ds.classes == ["cat", "dog", "bird"]
    assert ds.class_to_idx == {"cat": 0, "dog": 1, "bird": 2}
    clash = part("c.tcz", ["dog", "cat"])
    with pytest.warns(UserWarning, match=r"label 0 is 'cat' in part 0 but 'dog' in part 2") as w:
        ds = tc.ConcatDataset([a, b, clash])
    assert w[0].filename == __file__  # the user's line
    assert ds.classes is None and ds.class_to_idx is None
    assert tc.ConcatDataset([tc.open(unnamed_src)]).classes is None


def test_repr_names_its_parts(parts):
    ds = tc.ConcatDataset(parts)
    assert repr(ds).startswith("ConcatDataset(num_samples=12, parts=[CompressedDataset(path=")
    assert repr(ds).count("CompressedDataset(") == 2


def test_parts_of_different_target_shapes_are_refused(tmp_path):
    """(B, 1) targets beside (B,) ones: batch raised torch's "shape mismatch", a DataLoader
    torch's "stack expects each tensor to be equal size"."""
    x = np.zeros((4, 1, 2, 2), np.uint8)
    tc.compress((x, np.ones((4, 1))), tmp_path / "c.tcz", progress=False)
    tc.compress((x, np.ones(4)), tmp_path / "s.tcz", progress=False)
    with pytest.raises(ValueError, match=r"part 0 gives \(1,\); part 1 gives \(\)\), so their "
                                         r"batches would not stack"):
        tc.ConcatDataset([tc.open(tmp_path / "c.tcz"), tc.open(tmp_path / "s.tcz")])
    both = tc.ConcatDataset([tc.open(tmp_path / "c.tcz")] * 2)
    assert both.batch([0, 5])[1].shape == (2, 1)
