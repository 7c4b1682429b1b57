"""GraphCut bins against a brute-force greedy; the active-learning approximation against retraining."""

import numpy as np
import pytest
import torch

from torchcompress.selection import LinearHead, expected_error_reduction, graphcut_bins, graphcut_gain


def _brute_force_bins(f, num_bins):
    n = len(f)
    sizes = np.full(num_bins, n // num_bins) + (np.arange(num_bins) < n % num_bins)
    bins = np.full(n, -1)
    for b, size in enumerate(sizes):
        for _ in range(size):
            in_bin = np.flatnonzero(bins == b)
            remaining = np.flatnonzero(bins < 0)
            gain = graphcut_gain(f, in_bin, remaining)
            gain[bins >= 0] = -np.inf
            bins[int(np.argmax(gain))] = b
    return bins


@pytest.mark.parametrize("n, d, num_bins", [(17, 3, 4), (30, 5, 3), (9, 2, 9), (12, 4, 1)],
                         ids=["17x3/4", "30x5/3", "9x2/9", "12x4/1"])
def test_graphcut_equals_brute_force_greedy(n, d, num_bins):
    f = np.random.default_rng(n).normal(size=(n, d))
    np.testing.assert_array_equal(graphcut_bins(f, num_bins), _brute_force_bins(f, num_bins))


def test_graphcut_gain_is_eq_7():
    f = np.random.default_rng(0).normal(size=(6, 2))
    in_bin, remaining = np.array([0, 1]), np.array([2, 3, 4, 5])
    x = 3
    expected = sum(((f[p] - f[x]) ** 2).sum() for p in in_bin) - \
        sum(((f[p] - f[x]) ** 2).sum() for p in remaining)
    assert graphcut_gain(f, in_bin, remaining)[x] == pytest.approx(expected)


def test_graphcut_bins_have_equal_sizes_and_bad_input_is_named():
    bins = graphcut_bins(np.random.default_rng(1).normal(size=(103, 4)), 10)
    assert np.bincount(bins).tolist() == [11] * 3 + [10] * 7
    with pytest.raises(ValueError, match=r"num_bins should be at most the number of samples 3"):
        graphcut_bins(np.zeros((3, 2)), 4)
    with pytest.raises(ValueError, match=r"features should be a finite \(N, d\) array, but 1 of 3 "
                                         r"rows hold NaN or inf \(the first: row 1\)"):
        graphcut_bins(np.array([[0.0, 1.0], [np.inf, 0.0], [1.0, 1.0]]), 2)


def test_features_of_any_tensor_dtype_and_indices_are_checked():
    """Embeddings from an autocast model are bfloat16 (numpy has no such dtype); a boolean mask
    or an index past N for ``selected`` raised from numpy or torch, or was taken as indices."""
    f, y = _blobs(n=60)
    t = torch.from_numpy(f).bfloat16()
    np.testing.assert_array_equal(graphcut_bins(t, 4), graphcut_bins(t.float().numpy(), 4))
    got = expected_error_reduction(t, y, np.arange(20), 5, num_classes=3)
    np.testing.assert_array_equal(got, expected_error_reduction(t.float().numpy(), y, np.arange(20),
                                                                5, num_classes=3))
    with pytest.raises(TypeError, match=r"selected should be a 1-D sequence of ints, but got dtype "
                                        r"bool, shape \(60,\); for a boolean mask pass its indices"):
        expected_error_reduction(f, y, np.arange(60) < 20, 5, num_classes=3)
    with pytest.raises(ValueError, match=r"selected holds 60, outside \[0, 60\)"):
        expected_error_reduction(f, y, [1, 60], 5, num_classes=3)
    with pytest.raises(ValueError, match=r"pool should hold candidates outside selected, but 1 "
                                         r"index\(es\) are in both \(e.g. 1\)"):
        expected_error_reduction(f, y, [1, 2], 2, num_classes=3, pool=[1, 5, 7])
    with pytest.raises(ValueError, match=r"labels should be class ids in \[0, 2\) "
                                         r"\(num_classes=2\), but got 0..2"):
        expected_error_reduction(f, y, np.arange(20), 5, num_classes=2)


def _blobs(seed=0, n=240, d=5, c=3):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 2, (c, d))
    y = np.arange(n) % c
    return centers[y] + rng.normal(0, 1.5, (n, d)), y


def test_influence_ranking_agrees_with_actual_retraining():
    x, y = _blobs()
    selected = np.arange(0, 60)
    pool = np.arange(60, 240)
    picked = expected_error_reduction(x, y, selected, 10, num_classes=3, pool=pool)
    assert len(set(picked.tolist())) == 10 and set(picked.tolist()) <= set(pool.tolist())
    phi, t = torch.tensor(x), torch.tensor(y)

    def pool_loss_after(extra):
        idx = np.r_[selected, extra]
        head = LinearHead(phi[idx], t[idx], 3)
        z = torch.cat([phi[pool], torch.ones(len(pool), 1, dtype=phi.dtype)], 1) @ head.w.T
        return torch.nn.functional.cross_entropy(z, t[pool]).item()

    cands = pool[::6]
    exact = np.array([pool_loss_after([i]) for i in cands])
    base = pool_loss_after([])
    # predicted reductions for the same candidates, from one influence computation
    ranked = expected_error_reduction(x, y, selected, len(pool), num_classes=3, pool=pool)
    rank_of = {int(i): r for r, i in enumerate(ranked)}
    pred_order = np.array([rank_of[int(i)] for i in cands])
    exact_order = np.argsort(np.argsort(exact))
    rho = np.corrcoef(pred_order, exact_order)[0, 1]
    assert rho > 0.8, rho
    assert exact[np.argmin(pred_order)] < base  # the top prediction really lowers the pool loss
