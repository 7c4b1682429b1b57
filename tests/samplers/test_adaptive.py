"""DQAS class ratios against a hand computation, BinSampler quotas, coreset selection."""

import numpy as np
import pytest
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

import torchcompress as tc
from torchcompress.samplers import BinSampler, ClassRatioSampler, coreset
from torchcompress.samplers._quota import apportion

LABELS = np.repeat([0, 1, 2], [40, 30, 30])


def test_initial_ratios_are_uniform_draws_normalised_to_the_budget():
    s = ClassRatioSampler(LABELS, 0.25, seed=4)
    g = torch.Generator()
    g.manual_seed(4 * 1_000_003 + 1)
    rho = torch.rand(3, generator=g).numpy()
    sizes = np.array([40, 30, 30])
    assert s.counts.sum() == 25
    np.testing.assert_array_equal(s.counts, apportion(sizes, 25, rho * sizes))
    np.testing.assert_allclose(s.ratios, s.counts / sizes)
    # proportional to rho_c * N_c within rounding
    assert np.abs(s.counts - 25 * rho * sizes / (rho * sizes).sum()).max() < 1


def test_update_matches_algorithm_1_by_hand():
    # a_c from the evenly distributed subset's model (Algorithm 1 line 2)
    s = ClassRatioSampler(LABELS, 0.3, lower_bound=0.5, seed=0, initial_accuracy=[0.9, 0.4, 0.7])
    rho = s.ratios
    acc = np.array([0.6, 0.45, 0.8])    # a_c^i of this iteration
    g = torch.Generator()
    g.manual_seed(0 * 1_000_003 + 7919 * 1 + 1)
    draw = torch.rand(3, generator=g).numpy()
    # by hand: a = max(a, a^i) = [0.9, 0.45, 0.8]
    # class 0: 0.9 >= lb -> rho0 * (1 + 0.9 - 0.6); class 1: 0.45 < lb -> redraw;
    # class 2: 0.8 >= lb -> rho2 * (1 + 0.8 - 0.8)
    expected_rho = np.array([rho[0] * 1.3, draw[1], rho[2] * 1.0])
    new = s.update(acc)
    np.testing.assert_allclose(s.best, [0.9, 0.45, 0.8])
    sizes = np.array([40, 30, 30])
    np.testing.assert_array_equal(s.counts, apportion(sizes, 30, expected_rho * sizes))
    np.testing.assert_allclose(new, s.counts / sizes)
    assert s.counts.sum() == 30


def test_without_initial_accuracy_the_first_update_only_records_a_c():
    s = ClassRatioSampler(LABELS, 0.3, lower_bound=0.5, seed=0)
    before = s.counts.copy()
    s.update([0.6, 0.2, 0.8])           # class 1 is below lb, but nothing is redrawn yet
    np.testing.assert_array_equal(s.counts, before)
    np.testing.assert_allclose(s.best, [0.6, 0.2, 0.8])
    rho = s.ratios
    s.update([0.5, 0.3, 0.8])           # now Algorithm 1 proper: class 0 grows by 1 + 0.1
    g = torch.Generator()
    g.manual_seed(0 * 1_000_003 + 7919 * 2 + 1)
    draw = torch.rand(3, generator=g).numpy()
    sizes = np.array([40, 30, 30])
    expected = np.array([rho[0] * 1.1, draw[1], rho[2]])
    np.testing.assert_array_equal(s.counts, apportion(sizes, 30, expected * sizes))
    with pytest.raises(ValueError, match=r"initial_accuracy should have 3 entries"):
        ClassRatioSampler(LABELS, 0.3, initial_accuracy=[0.5])


def test_bins_spread_each_class_share_over_its_bins():
    bins = np.tile([0, 1, 1, 1], 25)    # in every class a quarter of the members in bin 0
    s = ClassRatioSampler(LABELS, 0.4, seed=3, bins=bins)
    for e in range(3):
        s.set_epoch(e)
        got = np.array(list(s))
        assert np.bincount(LABELS[got], minlength=3).tolist() == s.counts.tolist()
        for c in range(3):
            in_c = got[LABELS[got] == c]
            members = np.flatnonzero(LABELS == c)
            want = apportion(np.bincount(bins[members], minlength=2), int(s.counts[c]))
            assert np.bincount(bins[in_c], minlength=2).tolist() == want.tolist()


def test_epochs_draw_exact_per_class_counts_and_state_roundtrips():
    s = ClassRatioSampler(LABELS, 0.3, seed=1, initial_accuracy=[0.5, 0.5, 0.5])
    s.update([0.7, 0.2, 0.9])
    for e in range(3):
        s.set_epoch(e)
        got = np.bincount(LABELS[list(s)], minlength=3)
        assert got.tolist() == s.counts.tolist()
    state = s.state_dict()
    t = ClassRatioSampler(LABELS, 0.3, seed=1)
    t.load_state_dict(state)
    assert t.started and np.array_equal(t.best, s.best)
    np.testing.assert_array_equal(t.ratios, s.ratios)
    t.set_epoch(2)
    s.set_epoch(2)  # a replay asked for
    assert list(t) == list(s)


def test_update_mid_epoch_and_bad_accuracies_are_refused():
    s = ClassRatioSampler(LABELS, 0.3)
    with pytest.raises(ValueError, match=r"per_class_accuracy should have 3 entries"):
        s.update([0.5, 0.5])
    with pytest.raises(ValueError, match=r"per_class_accuracy should be in \[0, 1\]"):
        s.update([0.5, 1.5, 0.2])
    it = iter(s)
    next(it)
    with pytest.raises(RuntimeError, match=r"call it between epochs"):
        s.update([0.5, 0.5, 0.5])
    resumed = ClassRatioSampler(LABELS, 0.3)
    resumed.load_state_dict(s.state_dict())  # the rest of that epoch is to come
    with pytest.raises(RuntimeError, match=r"call it between epochs"):
        resumed.update([0.5, 0.5, 0.5])


def test_update_after_a_pass_left_early():
    """A loop that stops an epoch early (a step budget) and updates the ratios was refused
    ("in the middle of one"); that pass ended there, and the next begins afresh."""
    s = ClassRatioSampler(LABELS, 0.3, initial_accuracy=[0.5, 0.5, 0.5])
    dl = DataLoader(TensorDataset(torch.arange(len(LABELS))), batch_size=4, sampler=s)
    for k, _ in enumerate(dl):
        if k == 1:
            break
    s.update([0.2, 0.9, 0.5])  # the DataLoader's iterator is gone: no pass is open
    s.set_epoch(1)
    assert len(torch.cat([b[0] for b in dl])) == len(s)
    s.set_epoch(2)
    it = iter(dl)
    next(it)  # a pass still open (its iterator held)
    with pytest.raises(RuntimeError, match=r"call it between epochs"):
        s.update([0.2, 0.9, 0.5])
    del it
    s.update([0.2, 0.9, 0.5])
    old, new = iter(s), iter(s)
    next(old), next(new)
    del old  # an older pass closed while a newer one is open
    with pytest.raises(RuntimeError, match=r"call it between epochs"):
        s.update([0.2, 0.9, 0.5])


def test_nan_accuracy_leaves_a_class_alone():
    s = ClassRatioSampler(LABELS, 0.3, seed=2)
    before = s.counts.copy()
    s.update([np.nan, np.nan, np.nan])
    np.testing.assert_array_equal(s.counts, before)


def test_bin_sampler_takes_the_same_share_of_every_bin():
    bins = np.repeat(np.arange(4), [10, 20, 30, 40])
    s = BinSampler(bins, 0.2, seed=0)
    assert s.counts.tolist() == [2, 4, 6, 8]
    s.set_epoch(0)
    a = sorted(s)
    s.set_epoch(1)
    b = list(s)
    assert sorted(b) == a and b != a  # fixed subset, new order
    assert np.bincount(bins[a]).tolist() == [2, 4, 6, 8]


@pytest.mark.parametrize("sizes, total, weights, expected", [
    ([10, 10], 5, None, [3, 2]),
    ([1, 100], 50, [10.0, 1.0], [1, 49]),   # capped group's excess flows to the other
    ([5, 5, 5], 15, [0.0, 0.0, 0.0], [5, 5, 5]),
    ([3, 0, 3], 4, [1.0, 5.0, 1.0], [2, 0, 2]),
], ids=["even", "cap", "zero-weights", "empty-group"])
def test_apportion(sizes, total, weights, expected):
    assert apportion(np.array(sizes), total, weights).tolist() == expected


def test_coreset_top_fraction_nan_last_and_balanced():
    scores = np.array([0.1, 0.9, np.nan, 0.5, 0.7, 0.3])
    assert coreset(scores, 0.5).tolist() == [1, 4, 3]
    assert coreset(scores, 0.5, descending=False).tolist() == [0, 5, 3]
    assert 2 not in coreset(scores, 5 / 6).tolist()
    labels = np.array([0, 0, 0, 1, 1, 1])
    # quotas [2, 1] (the tie goes to the lower class); best first overall
    assert coreset(scores, 0.5, class_balanced=True, labels=labels).tolist() == [1, 4, 0]
    picked = coreset(scores, 2 / 3, class_balanced=True, labels=labels)
    assert np.bincount(labels[picked]).tolist() == [2, 2]
    assert set(picked.tolist()) == {1, 0, 4, 3}


@pytest.mark.parametrize("scores, fraction, match", [
    (np.full(10, np.nan), 0.1, r"every score is NaN \(never scored\), but fraction=0.1 needs 1"),
    (np.r_[np.full(8, np.nan), 1.0, 2.0], 0.3, r"8 of 10 scores are NaN .* needs 3 scored samples; "
                                               r"check that the recorder's windows"),
], ids=["all-nan", "too-many-nan"])
def test_coreset_refuses_nan_scores(scores, fraction, match):
    with pytest.raises(ValueError, match=match):
        coreset(scores, fraction)
    with pytest.raises(ValueError, match=match):
        coreset(scores, fraction, strategy="stratified")


def test_class_balanced_coreset_refuses_a_class_without_enough_scores():
    scores = np.array([np.nan, np.nan, 0.3, 0.4, 0.5, 0.6])
    with pytest.raises(ValueError, match=r"class 0 needs 2 scored samples for its share, but only 1"):
        coreset(scores, 4 / 6, class_balanced=True, labels=[0, 0, 0, 1, 1, 1])


def test_stratified_coreset_covers_the_score_range():
    rng = np.random.default_rng(0)
    scores = rng.exponential(1.0, 5000)  # most samples easy, a long hard tail
    top = coreset(scores, 0.05)
    ccs = coreset(scores, 0.05, strategy="stratified", prune_hardest=0.1, num_bins=10, seed=1)
    assert len(ccs) == len(top) == 250 and len(set(ccs.tolist())) == 250
    cut = np.quantile(scores, 0.9)
    assert (scores[ccs] <= cut + 1e-12).all()            # the hardest 10% are pruned
    assert scores[top].min() > cut                        # top-k takes only the hardest
    edges = np.linspace(scores[scores <= cut].min(), cut, 11)
    per_bin = np.histogram(scores[ccs], edges)[0]
    assert per_bin.min() >= 15 and per_bin.max() <= 35   # an equal budget of 25 per stratum
    np.testing.assert_array_equal(ccs, coreset(scores, 0.05, strategy="stratified",
                                               prune_hardest=0.1, num_bins=10, seed=1))


def test_stratified_small_bins_give_their_budget_to_the_others():
    scores = np.r_[np.zeros(3), np.linspace(10, 11, 97)]  # one stratum of 3, the rest in the last
    picked = coreset(scores, 0.2, strategy="stratified", num_bins=2, seed=0)
    assert len(picked) == 20 and set(range(3)) <= set(picked.tolist())


def test_stratified_takes_infinite_scores_as_the_hardest_stratum():
    """forgetting_scores gives inf to samples never learned; equal-width strata over an infinite
    range failed ('need at least one array to concatenate', numpy's invalid-value warnings)."""
    import warnings
    scores = np.r_[np.linspace(0, 1, 90), np.full(10, np.inf)]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        picked = coreset(scores, 0.2, strategy="stratified", num_bins=5, seed=0)
        pruned = coreset(scores, 0.2, strategy="stratified", prune_hardest=0.1, num_bins=5, seed=0)
        assert len(coreset(np.full(6, np.inf), 0.5, strategy="stratified")) == 3
    assert len(picked) == 20 and 0 < np.isinf(scores[picked]).sum() <= 5  # with the top stratum
    assert not np.isinf(scores[pruned]).any() and len(pruned) == 20  # pruned first, the hardest


def test_stratified_class_balanced_keeps_class_shares():
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1, 2], [500, 300, 200])
    picked = coreset(rng.random(1000), 0.1, strategy="stratified", class_balanced=True,
                     labels=labels)
    assert np.bincount(labels[picked]).tolist() == [50, 30, 20]


def test_per_class_accuracy_by_hand_and_labels_past_num_classes_are_refused():
    """Inputs go to the model's device by default; a label past num_classes is an error, not a
    sample left out of every class."""
    model = nn.Linear(2, 3, bias=False)
    with torch.no_grad():
        model.weight.copy_(torch.tensor([[1.0, 0.0], [0.0, 1.0], [-1.0, -1.0]]))
    x = torch.tensor([[2.0, 0.0], [0.0, 2.0], [0.0, 2.0], [-1.0, -1.0], [2.0, 0.0]])
    y = torch.tensor([0, 1, 0, 2, 0])  # predictions 0, 1, 1, 2, 0
    model.train()
    acc = tc.evaluate.per_class_accuracy(model, DataLoader(TensorDataset(x, y), batch_size=2), 4)
    np.testing.assert_allclose(acc, [2 / 3, 1.0, 1.0, np.nan])
    assert model.training
    with pytest.raises(ValueError, match=r"labels should be class ids in \[0, 2\) \(num_classes=2\), "
                                         r"but a batch holds 0..2"):
        tc.evaluate.per_class_accuracy(model, DataLoader(TensorDataset(x, y), batch_size=5), 2)

    class Aux(nn.Module):  # Inception-style (logits, aux) and Hugging Face-style .logits
        def __init__(self, wrap):
            super().__init__()
            self.inner, self.wrap = model, wrap

        def forward(self, x):
            z = self.inner(x)
            return (z, z * 0) if self.wrap == "tuple" else type("Out", (), {"logits": z})() \
                if self.wrap == "attr" else z.sum(1)
    loader = DataLoader(TensorDataset(x, y), batch_size=2)
    for wrap in ("tuple", "attr"):
        np.testing.assert_allclose(tc.evaluate.per_class_accuracy(Aux(wrap), loader, 4), acc)
    with pytest.raises(TypeError, match=r"needs the model to return \(B, C\) logits .* but it "
                                        r"returned Tensor\(2,\)"):
        tc.evaluate.per_class_accuracy(Aux("sum"), loader, 4)
    # a function is refused: it would be counted in whatever mode its model is (train here),
    # and it said "'function' object has no attribute 'parameters'"
    with pytest.raises(TypeError, match=r"model should be a torch.nn.Module \(it is put in eval "
                                        r"mode .* but got function; wrap"):
        tc.evaluate.per_class_accuracy(lambda t: model(t), loader, 4)
