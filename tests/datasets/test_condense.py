"""tc.condense: clusters from high-entropy bits, weights that sum to n, (x, y, w) samples."""

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

import torchcompress as tc
from torchcompress.codecs.condense import cluster_positions, condense_rows


def _table(n=300, seed=0):
    rng = np.random.default_rng(seed)
    x = np.round(rng.normal(0, 1, (n, 4)) * [1, 10, 0.1, 3], 2).astype(np.float32)
    t = (x @ np.array([1.0, 0.1, 5.0, -0.3]) + rng.normal(0, 0.1, n)).astype(np.float32)
    return x, t


def test_regression_condense_weights_and_means(tmp_path):
    x, t = _table()
    path = tmp_path / "c.tcz"
    info = tc.condense((x, t), path, beta=5, precision=2, progress=False)
    ds = tc.open(path)
    assert isinstance(ds, tc.CondensedDataset)
    assert info["num_condensed"] == len(ds) <= 2 ** 5
    assert int(ds.weights.sum()) == len(x)
    xb, yb, wb = next(iter(DataLoader(ds, batch_size=len(ds))))
    assert xb.dtype == torch.float32 and yb.dtype == torch.float32 and wb.dtype == torch.float32
    # weighted means of the condensed samples equal the means of the data
    np.testing.assert_allclose((wb[:, None] * xb).sum(0).numpy() / len(x), x.mean(0), atol=1e-4)
    np.testing.assert_allclose(float((wb * yb).sum()) / len(x), t.mean(), atol=1e-4)
    with pytest.raises(TypeError, match=r"transform should be callable"):
        tc.open(path, transform="normalize")
    text = tc.datasets.describe(ds.info)  # torchcompress info: what the archive is for
    assert f"condensed  {len(ds)} weighted samples (beta=5" in text and "WARNING" not in text
    full = ds.full  # the lossless part of the same archive
    np.testing.assert_allclose(torch.stack([full[i][0] for i in range(len(x))]).numpy(), x, atol=6e-3)


def test_targets_given_as_a_column_come_back_as_one(tmp_path):
    """A table's targets as (N, 1), the shape a model's output has: they came back (B,), and
    MSELoss broadcast a (B, 1) output against them to (B, B) (with only a warning)."""
    x, t = _table(60)
    tc.condense((x, t[:, None]), tmp_path / "c.tcz", beta=4, precision=2, progress=False)
    ds = tc.open(tmp_path / "c.tcz")
    _, yb, _ = next(iter(DataLoader(ds, batch_size=8)))
    assert ds[0][1].shape == (1,) and yb.shape == (8, 1) and yb.dtype == torch.float32
    full = ds.full
    assert full[3][1].shape == (1,) and full[3][1].item() == t[3] and full.targets.shape == (60,)
    assert full.batch([0, 1])[1].shape == (2, 1)
    full.targets = torch.zeros(60, 1)  # relabelled in the shape the source had, or as (N,)
    assert full[3][1].tolist() == [0.0] and full.targets.shape == (60,)
    assert "regression targets of shape (1,) in [" in tc.datasets.describe(full.info)
    tc.condense((x, t), tmp_path / "s.tcz", beta=4, precision=2, progress=False)
    assert tc.open(tmp_path / "s.tcz")[0][1].shape == ()
    assert tc.open(tmp_path / "s.tcz").full.info["target_shape"] == []


def test_in_place_ops_on_a_sample_leave_the_stored_samples_alone(tmp_path):
    """ds[i] handed out views of the stored samples and weights: an in-place transform
    (Normalize(inplace=True), x.mul_) changed them for the rest of training."""
    x, t = _table()
    tc.condense((x, t), tmp_path / "c.tcz", beta=5, precision=2, progress=False)
    ds = tc.open(tmp_path / "c.tcz")
    x0, y0, w0 = (v.clone() if torch.is_tensor(v) else v for v in ds[0])
    for v in ds[0]:
        if torch.is_tensor(v):
            v.mul_(0)
    assert torch.equal(ds[0][0], x0) and torch.equal(ds[0][1], y0) and torch.equal(ds[0][2], w0)
    ds.weights.mul_(0)
    ds.targets.mul_(0)
    assert torch.equal(ds.weights[:1], w0[None]) and torch.equal(ds.targets[:1], y0[None])


def test_repr_shows_the_transforms(tmp_path):
    x, t = _table()
    tc.condense((x, t), tmp_path / "c.tcz", beta=5, precision=2, progress=False)
    assert repr(tc.open(tmp_path / "c.tcz")).endswith("num_condensed=8)")
    ds = tc.open(tmp_path / "c.tcz", target_transform=torch.log1p)
    assert repr(ds).startswith("CondensedDataset(path=") and "target_transform=" in repr(ds)


def test_classification_clusters_stay_inside_classes(tmp_path, images):
    x, y = images
    tc.condense((x, y), tmp_path / "k.tcz", beta=3, progress=False)
    ds = tc.open(tmp_path / "k.tcz")
    for c in range(4):
        members = x[y == c].reshape(-1, x[0].size).astype(np.float64)
        idx = [i for i in range(len(ds)) if ds[i][1] == c]
        w = ds.weights[idx].numpy()
        assert w.sum() == len(members)
        mean = sum(w[k] * ds[i][0].reshape(-1).numpy() for k, i in enumerate(idx)) / w.sum()
        np.testing.assert_allclose(mean, members.mean(0), atol=1e-3)


def test_cluster_positions_msb_first_then_next_msbs():
    rng = np.random.default_rng(1)
    v = np.stack([rng.integers(0, 16, 500), rng.integers(0, 4, 500), np.full(500, 7)], axis=1)
    pos = cluster_positions(v, 2).tolist()
    assert sorted(pos) == [[0, 3], [1, 1]]  # the MSB of each non-constant column
    pos = cluster_positions(v, 4).tolist()
    assert pos[2:] and sorted(pos[2:]) == [[0, 2], [1, 0]]  # then the next MSBs
    assert len(cluster_positions(v, 100)) == 6  # every non-constant bit, then stop


def test_cluster_positions_rank_by_decreasing_msb_entropy():
    """beta below the column count: the ranking decides. Entropies computed here, not by the
    implementation: MSB set in 50%, 10% and 30% of rows -> 1.0, 0.47 and 0.88 bits."""
    n = 1000
    cols = []
    for share in (0.5, 0.1, 0.3):
        c = np.zeros(n, dtype=np.int64)
        c[: int(share * n)] = 8  # bit 3 is each column's MSB
        cols.append(c + (np.arange(n) % 8))
    v = np.stack(cols, axis=1)

    def h(p):
        return -(p * np.log2(p) + (1 - p) * np.log2(1 - p))
    assert h(0.5) > h(0.3) > h(0.1)
    assert cluster_positions(v, 1).tolist() == [[0, 3]]
    assert cluster_positions(v, 2).tolist() == [[0, 3], [2, 3]]
    assert cluster_positions(v, 3).tolist() == [[0, 3], [2, 3], [1, 3]]


def test_condense_rows_matches_a_direct_grouping():
    rng = np.random.default_rng(2)
    v = rng.integers(0, 64, (200, 3))
    c = condense_rows(v.astype(np.float64), v, np.zeros(200, np.float32), 4)
    key = np.stack([(v[:, j] - v[:, j].min()) >> k & 1 for j, k in c.positions], axis=1)
    uniq, inv = np.unique(key, axis=0, return_inverse=True)
    assert len(uniq) == len(c.weight)
    assert sorted(np.bincount(inv.ravel()).tolist()) == sorted(c.weight.tolist())


@pytest.mark.parametrize("kwargs, err, match", [
    ({"beta": 0}, ValueError, r"beta should be a positive integer value, but got beta=0"),
    ({"beta": 4, "precision": None}, tc.CodecError, r"float samples need precision="),
    ({"nan_at": (3, 1)}, tc.CodecError,
     r"column 1 of the samples holds NaN or inf .* GeDe stores finite values only"),
], ids=["beta", "no-precision", "nan"])
def test_bad_condense_arguments(tmp_path, kwargs, err, match):
    x, t = _table()
    if "nan_at" in kwargs:  # was told "column 1 holds values in [nan, nan]; rescale" it
        x = x.copy()
        x[kwargs.pop("nan_at")] = np.nan
    with pytest.raises(err, match=match):
        tc.condense((x, t), tmp_path / "x.tcz", progress=False, **kwargs)
    assert not (tmp_path / "x.tcz").exists()


def test_weighted_loss_conventions():
    loss = torch.tensor([1.0, 2.0, 4.0])
    w = torch.tensor([1.0, 1.0, 2.0])
    assert tc.weighted_loss(loss, w).item() == pytest.approx(11 / 4)
    assert tc.weighted_loss(loss, w, "mean").item() == pytest.approx(11 / 3)
    assert tc.weighted_loss(loss, w, "unbiased", mean_weight=2.0).item() == pytest.approx(11 / 6)
    # with unit weights every convention is the plain mean
    for mode in ("sum", "mean"):
        assert tc.weighted_loss(loss, torch.ones(3), mode).item() == pytest.approx(7 / 3)


def test_weighted_loss_averages_each_sample_over_its_other_dimensions():
    """MSELoss(reduction='none') of (B, 1) outputs gives (B, 1); per-pixel losses (B, H, W)."""
    loss = torch.tensor([[1.0, 3.0], [2.0, 2.0], [4.0, 8.0]])
    w = torch.tensor([1.0, 1.0, 2.0])
    for mode in ("sum", "mean"):
        assert tc.weighted_loss(loss, w, mode).item() == pytest.approx(
            tc.weighted_loss(torch.tensor([2.0, 2.0, 6.0]), w, mode).item())
    assert tc.weighted_loss(loss[:, :1], w).item() == pytest.approx(11 / 4)


def test_weighted_loss_of_a_batch_of_zero_weights_is_zero_not_nan():
    """A masked batch (every weight 0) gave 0/0 = NaN under "sum", and NaN gradients after it."""
    loss = torch.tensor([1.0, 2.0], requires_grad=True)
    out = tc.weighted_loss(loss, torch.zeros(2))
    out.backward()
    assert out.item() == 0.0 and torch.equal(loss.grad, torch.zeros(2))


def test_weighted_loss_unbiased_estimates_the_weighted_mean():
    g = torch.Generator().manual_seed(0)
    loss = torch.rand(50, generator=g)
    w = torch.randint(1, 20, (50,), generator=g).float()
    target = float((w * loss).sum() / w.sum())
    est = [tc.weighted_loss(loss[i], w[i], "unbiased", mean_weight=float(w.mean())).item()
           for i in torch.randint(0, 50, (4000, 5), generator=g)]
    assert np.mean(est) == pytest.approx(target, rel=0.03)


@pytest.mark.parametrize("args, kwargs, match", [
    ((torch.ones(3), torch.ones(2)), {}, r"w should have one weight per sample, shape \(3,\), but got shape \(2,\)"),
    ((torch.tensor(1.0), torch.ones(3)), {}, r"per_sample_loss should be a tensor of per-sample "
                                              r"losses, \(B,\) or \(B, ...\)"),
    ((torch.ones(3), torch.ones(3), "unbiased"), {}, r"normalize='unbiased' needs mean_weight"),
    ((torch.ones(3), torch.ones(3), "avg"), {}, r"normalize should be one of 'sum', 'mean', 'unbiased'"),
], ids=["shape", "ndim", "no-mean-weight", "mode"])
def test_weighted_loss_errors(args, kwargs, match):
    with pytest.raises(ValueError, match=match):
        tc.weighted_loss(*args, **kwargs)


def _housing_like(n=400, seed=0):
    """Columns shaped like California Housing's raw features (lon, lat, age, rooms, bedrooms,
    population, households, income), with their real ranges and decimals."""
    rng = np.random.default_rng(seed)
    cols = [np.round(rng.uniform(-124.35, -114.31, n), 2), np.round(rng.uniform(32.54, 41.95, n), 2),
            rng.integers(1, 53, n).astype(float), rng.integers(2, 39321, n).astype(float),
            rng.integers(1, 6446, n).astype(float), rng.integers(3, 35683, n).astype(float),
            rng.integers(1, 6083, n).astype(float), np.round(rng.uniform(0.4999, 15.0001, n), 4)]
    x = np.stack(cols, axis=1)
    x[0] = [-124.35, 32.54, 1, 2, 1, 3, 1, 0.4999]  # the real extremes
    x[1] = [-114.31, 41.95, 52, 39320, 6445, 35682, 6082, 15.0001]
    return x, rng.normal(size=n).astype(np.float32)


def test_auto_precision_roundtrips_housing_columns(tmp_path):
    x, y = _housing_like()
    info = tc.condense((x, y), tmp_path / "h.tcz", progress=False)  # beta and precision defaults
    assert info["beta"] == 10
    p = np.array(info["codec_params"]["precision"])
    # the digits each column holds (all fit 32-bit codes): lon/lat 2, counts 0, income 4
    assert p.tolist() == [2, 2, 0, 0, 0, 0, 0, 4]
    full = tc.open(tmp_path / "h.tcz").full
    got = torch.stack([full[i][0] for i in range(len(full))]).numpy().astype(np.float64)
    assert (np.abs(got - x) <= 10.0 ** -p * 0.5 + 1e-4 * np.abs(x)).all()


def test_explicit_precision_overflow_lists_every_column(tmp_path):
    x, y = _housing_like()
    with pytest.raises(tc.CodecError, match=r"in 2 column\(s\): column 3 \(values in \[2, 39320\]\): "
                                            r"precision 6, largest usable 5; column 5 \(values in "
                                            r"\[3, 35682\]\): precision 6, largest usable 5; lower "
                                            r"those precisions or pass precision='auto'"):
        tc.condense((x, y), tmp_path / "o.tcz", precision=[2, 2, 0, 6, 0, 6, 0, 4], progress=False)
    assert not (tmp_path / "o.tcz").exists()


def test_wide_columns_are_split_and_roundtrip(tmp_path):
    """Columns of 17 to 32 bits (signed too) are stored as two 16-bit GeDe columns."""
    x, y = _housing_like()
    info = tc.condense((x, y), tmp_path / "w.tcz", precision=2, progress=False)
    # at 2 digits rooms, bedrooms, population and households need 20 to 22 bits
    wide = info["codec_params"]["wide"]
    assert wide == [[3, 0], [4, 0], [5, 0], [6, 0]]
    full = tc.open(tmp_path / "w.tcz").full
    got = torch.stack([full[i][0] for i in range(len(full))]).numpy().astype(np.float64)
    assert (np.abs(got - np.round(x, 2)) <= 5e-3 + 1e-6 * np.abs(x)).all()
    v = np.random.default_rng(0).integers(-(1 << 30), 1 << 30, (50, 3))
    tc.compress((v, np.zeros(50, dtype=int)), tmp_path / "i.tcz", codec="gede", progress=False)
    assert tc.open(tmp_path / "i.tcz").info["codec_params"]["wide"] == [[0, 1], [1, 1], [2, 1]]
    back = np.stack([tc.open(tmp_path / "i.tcz")[i][0].numpy() for i in range(50)])
    np.testing.assert_array_equal(back, v)


def test_auto_precision_names_columns_too_wide_even_as_integers(tmp_path):
    x = np.stack([np.linspace(0, 1, 50), np.linspace(14999, 5e9, 50)], axis=1)
    with pytest.raises(tc.CodecError, match=r"precision='auto' found no precision that fits 32-bit "
                                            r"codes: column 1 holds values in \[14999, 5e\+09\]"):
        tc.condense((x, np.zeros(50, dtype=int)), tmp_path / "w.tcz", progress=False)


def test_class_names_and_index(tmp_path, images):
    x, y = images
    tc.condense((x, y), tmp_path / "n.tcz", beta=3, progress=False, classes=list("abcd"))
    ds = tc.open(tmp_path / "n.tcz")
    assert ds.classes == list("abcd") and ds.class_to_idx == {"a": 0, "b": 1, "c": 2, "d": 3}
    assert ds.full.class_to_idx == ds.class_to_idx
    tc.condense((x, y), tmp_path / "u.tcz", beta=3, progress=False)
    assert tc.open(tmp_path / "u.tcz").class_to_idx is None  # no names, as the archive has none
