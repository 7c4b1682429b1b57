"""TrainingDynamics and scores against plain numpy transcriptions of the papers."""

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

import torchcompress as tc
from torchcompress.dynamics import (TrainingDynamics, aum_scores, el2n_scores, entropy_scores,
                                    eva_scores, forgetting_scores)

N, C = 12, 3
WINDOWS = [(0, 3), (5, 8)]
# these transcription tests keep the paper's epoch-0 window on purpose
pytestmark = pytest.mark.filterwarnings("ignore:window .* starts at epoch 0:UserWarning")


def _run(seed=0, skip=None, epochs=8):
    """Record synthetic logits; ``skip[e]`` lists samples not seen in epoch e."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0, 2, (epochs, N, C)).astype(np.float32)
    y = np.arange(N) % C
    dyn = TrainingDynamics(N, C, windows=WINDOWS)
    for e in range(epochs):
        dyn.set_epoch(e)
        seen = [i for i in range(N) if not (skip and i in skip.get(e, ()))]
        for batch in (seen[:5], seen[5:]):  # two batches per epoch
            dyn.record(torch.tensor(batch, dtype=torch.long), torch.from_numpy(logits[e, batch]),
                       torch.from_numpy(y[batch]))
    return dyn, logits, y


def _random_epochs(windows, epochs: int) -> TrainingDynamics:
    """A recorder that saw every sample once in each of ``epochs`` epochs (random logits)."""
    dyn = TrainingDynamics(N, C, windows=windows)
    for e in range(epochs):
        dyn.set_epoch(e)
        dyn.record(torch.arange(N), torch.randn(N, C), torch.arange(N) % C)
    return dyn


def _norms(logits, y):
    p = np.exp(logits - logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    onehot = np.eye(C)[y]
    return np.sqrt(((p - onehot) ** 2).sum(-1))  # EVA Eq. 3, (epochs, N)


def test_eva_equals_numpy_transcription_of_eq_3_to_6():
    dyn, logits, y = _run()
    s = _norms(logits, y)
    v_early = ((s[0:3] - s[0:3].mean(0)) ** 2).mean(0)   # Eq. 4/5 with 1/K
    v_late = ((s[5:8] - s[5:8].mean(0)) ** 2).mean(0)
    np.testing.assert_allclose(eva_scores(dyn), v_early + v_late, rtol=1e-5)


def test_eva_l1_mode_normalises_each_window():
    dyn, logits, y = _run(1)
    s = _norms(logits, y)
    ve, vl = s[0:3].var(0, ddof=1), s[5:8].var(0, ddof=1)
    expected = 0.3 * ve / ve.sum() + 0.7 * vl / vl.sum()
    np.testing.assert_allclose(eva_scores(dyn, normalize="l1", weight=0.3), expected, rtol=1e-5)


def test_unseen_epochs_are_nan_not_zero():
    # sample 4 misses epoch 1 (as drop_last would drop it): it must not gain variance from a 0
    dyn, logits, y = _run(2, skip={1: [4], 6: [4, 7]})
    s = _norms(logits, y)
    assert torch.isnan(dyn.norms[4, 1]) and torch.isnan(dyn.norms[7, 4])  # column 4 = epoch 6
    early4 = s[[0, 2], 4]
    late4 = s[[5, 7], 4]
    expected = early4.var() + late4.var()
    assert eva_scores(dyn)[4] == pytest.approx(expected, rel=1e-5)
    zero_filled = np.r_[s[0, 4], 0.0, s[2, 4]].var() + np.r_[s[5, 4], 0.0, s[7, 4]].var()
    assert eva_scores(dyn)[4] < zero_filled  # the official-code bug would inflate it


def test_baselines_by_hand():
    dyn, logits, y = _run(3)
    s = _norms(logits, y)
    np.testing.assert_allclose(el2n_scores(dyn), s[0:3].mean(0), rtol=1e-5)
    np.testing.assert_allclose(el2n_scores(dyn, window=1), s[5:8].mean(0), rtol=1e-5)
    correct = logits.argmax(-1) == y
    forget = (correct[:-1] & ~correct[1:]).sum(0).astype(float)
    forget[~correct.any(0)] = np.inf
    np.testing.assert_array_equal(forgetting_scores(dyn), forget)
    true = logits[:, np.arange(N), y]
    other = np.where(np.eye(C, dtype=bool)[y][None], -np.inf, logits).max(-1)
    np.testing.assert_allclose(aum_scores(dyn), (true - other).mean(0), rtol=1e-5)
    p = np.exp(logits[-1]) / np.exp(logits[-1]).sum(-1, keepdims=True)
    np.testing.assert_allclose(entropy_scores(dyn), -(p * np.log(p)).sum(-1), rtol=1e-5)


def test_memory_is_window_epochs_only():
    dyn = TrainingDynamics(1000, 10, windows=[(0, 10), (100, 110)])
    assert dyn.norms.shape == (1000, 20) and dyn.norms.dtype == torch.float32


def test_resume_mid_epoch_gives_the_same_scores():
    dyn, logits, y = _run(4)
    rng_logits = logits
    a = TrainingDynamics(N, C, windows=WINDOWS)
    for e in range(8):
        a.set_epoch(e)
        a.record(torch.arange(5), torch.from_numpy(rng_logits[e, :5]), torch.from_numpy(y[:5]))
        if e == 6:  # checkpoint in the middle of epoch 6, restore into a fresh recorder
            state = a.state_dict()
            a = TrainingDynamics(N, C, windows=WINDOWS)
            a.load_state_dict(state)
            a.set_epoch(6)  # the resumed loop calls set_epoch for the same epoch again
        a.record(torch.arange(5, N), torch.from_numpy(rng_logits[e, 5:]), torch.from_numpy(y[5:]))
    np.testing.assert_allclose(eva_scores(a), eva_scores(dyn))
    np.testing.assert_array_equal(forgetting_scores(a), forgetting_scores(dyn))


def test_with_indices_through_a_dataloader():
    ds = TensorDataset(torch.randn(10, 2), torch.arange(10) % 2)
    seen = []
    for x, y, idx in DataLoader(tc.with_indices(ds), batch_size=4, shuffle=True):
        seen += idx.tolist()
        assert torch.equal(y, idx % 2)
    assert sorted(seen) == list(range(10))


@pytest.mark.parametrize("call, err, match", [
    (lambda d: d.record(torch.arange(2), torch.zeros(2, 3), torch.zeros(2, dtype=torch.long)),
     RuntimeError, r"call dyn.set_epoch\(epoch\) at the start of every epoch before record\(\)"),
    (lambda d: (d.set_epoch(0), d.record(torch.arange(2), torch.zeros(2, 4), torch.zeros(2))),
     ValueError, r"record expects indices \(B,\), logits \(B, 3\)"),
    (lambda d: (d.set_epoch(0), d.record(torch.tensor([0, 12]), torch.zeros(2, 3), torch.zeros(2))),
     IndexError, r"indices should be in \[0, 12\)"),
    (lambda d: (d.set_epoch(2), d.set_epoch(1)), ValueError, r"epoch should increase"),
    (lambda d: (d.set_epoch(0), d.record(torch.arange(2), torch.zeros(2, 3), torch.eye(3)[:2])),
     ValueError, r"targets should be class ids \(B,\), but got shape \(2, 3\): soft labels "
                 r"\(MixUp, CutMix\) or one-hot"),
    (lambda d: (d.set_epoch(0), d.record(torch.arange(2), torch.zeros(2, 3),
                                         torch.tensor([0.5, 1.0]))),
     ValueError, r"targets should be integer class ids, but got dtype float32 \(e.g. \[0.5, 1.0\]\)"),
    (lambda d: (d.set_epoch(0), d.record(torch.tensor([0.5, 1.0]), torch.zeros(2, 3),
                                         torch.zeros(2))),
     TypeError, r"indices should be a 1-D sequence of ints, but got dtype float32"),
], ids=["no-epoch", "classes", "index", "backwards", "soft-labels", "fractional-targets",
        "float-indices"])
def test_bad_calls(call, err, match):
    with pytest.raises(err, match=match):
        call(TrainingDynamics(N, C, windows=WINDOWS))


def test_autocast_logits_and_numpy_arrays_are_recorded_as_float32():
    """bfloat16 logits (CPU autocast; numpy has no such dtype) and numpy inputs record what
    their float32 values record; integral float targets are class ids."""
    rng = np.random.default_rng(3)
    z = torch.from_numpy(rng.normal(0, 2, (N, C)).astype(np.float32)).bfloat16()
    y = torch.arange(N) % C
    a, b = TrainingDynamics(N, C, windows=(0, 1)), TrainingDynamics(N, C, windows=(0, 1))
    a.set_epoch(0)
    b.set_epoch(0)
    a.record(torch.arange(N), z, y)
    b.record(np.arange(N), z.float().numpy(), y.float())
    np.testing.assert_array_equal(eva_scores(a), eva_scores(b))
    assert not np.isnan(eva_scores(a)).any()


def test_with_indices_adds_an_index_key_to_dict_items():
    """Hugging Face style datasets give dicts; (dict, index) pairs collated into a list that
    `for x, y, idx in loader` could not unpack."""
    class Rows(torch.utils.data.Dataset):
        def __len__(self):
            return 6

        def __getitem__(self, i):
            return {"image": torch.full((2,), float(i)), "label": i % 2}

    b = next(iter(DataLoader(tc.with_indices(Rows()), batch_size=3, shuffle=False)))
    assert b["index"].tolist() == [0, 1, 2] and b["label"].tolist() == [0, 1, 0]
    assert tc.with_indices(Rows()).__getitems__([4])[0]["index"] == 4

    class Indexed(Rows):
        def __getitem__(self, i):
            return {"index": i}
    with pytest.raises(ValueError, match=r"adds the key 'index' to dict items, but item 1 already"):
        tc.with_indices(Indexed())[1]


def test_a_window_recorded_in_part_is_warned_about():
    """Training stopped inside a window: its scores rest on fewer epochs than it names."""
    import warnings
    d = _random_epochs([(1, 3), (5, 9)], 7)
    with pytest.warns(UserWarning, match=r"window \(5, 9\) was recorded in 2 of its 4 epochs "
                                         r"\(recorded: 0-6\); its scores rest on those alone"):
        eva_scores(d)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        el2n_scores(d)  # the early window, whole


def test_epochs_recorded_as_one_are_warned_about():
    """set_epoch called once, then record for three epochs: every epoch went into epoch 0."""
    import warnings
    d = TrainingDynamics(N, C, windows=(1, 3))
    d.set_epoch(0)
    for _ in range(3):
        d.record(torch.arange(N), torch.randn(N, C), torch.arange(N) % C)
    with pytest.warns(UserWarning, match=r"every sample recorded in epoch 0 was recorded at least "
                                         r"twice \(3 times at most\): several epochs were recorded "
                                         r"as one; call dyn.set_epoch\(epoch\)"):
        d.set_epoch(1)
    d.record(torch.arange(N), torch.randn(N, C), torch.arange(N) % C)
    d.record(torch.tensor([0]), torch.randn(1, C), torch.tensor([0]))  # one sample twice: padding
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        d.set_epoch(2)


def test_one_pair_is_one_window_and_one_logit_is_refused():
    assert TrainingDynamics(N, C, windows=(1, 4)).windows == [(1, 4)]
    with pytest.raises(ValueError, match=r"num_classes should be at least 2 .* pass num_classes=2 "
                                         r"and torch.cat\(\[torch.zeros_like\(z\), z\], 1\)"):
        TrainingDynamics(N, 1, windows=(1, 4))


@pytest.mark.parametrize("windows", [[(3, 3)], [(0, 5), (4, 8)], []], ids=["empty", "overlap", "none"])
def test_bad_windows(windows):
    with pytest.raises(ValueError, match=r"windows should"):
        TrainingDynamics(N, C, windows=windows)


def test_window_at_epoch_0_warns_once_and_says_why():
    with pytest.warns(UserWarning, match=r"window \(0, 10\) starts at epoch 0, where a sample's error "
                                         r"mostly reflects when the first shuffle visited it") as rec:
        TrainingDynamics(N, C)  # the paper's default windows
    assert len([w for w in rec if "starts at epoch 0" in str(w.message)]) == 1
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        TrainingDynamics(N, C, windows=[(1, 4), (7, 10)])  # no warning


@pytest.mark.parametrize("score", [eva_scores, el2n_scores], ids=["eva", "el2n"])
def test_windows_never_recorded_raise_naming_windows_and_epochs(score):
    dyn = _random_epochs([(20, 23), (30, 33)], 4)
    with pytest.raises(ValueError, match=r"is NaN: the recorder's windows are \[\(20, 23\), "
                                         r"\(30, 33\)\], but it recorded epochs 0-3"):
        score(dyn)


def test_scores_over_several_runs_are_summed_as_eva_algorithm_1():
    runs = [_run(seed)[0] for seed in (0, 1, 2)]
    for fn in (eva_scores, el2n_scores, aum_scores, entropy_scores):
        np.testing.assert_allclose(fn(runs), sum(fn(d) for d in runs), rtol=1e-12)
    assert np.isinf(forgetting_scores(runs)).sum() >= np.isinf(forgetting_scores(runs[0])).sum()
    a, b = _run(0, skip={0: [3], 1: [3], 2: [3]})[0], _run(1)[0]
    merged = eva_scores([a, b])
    np.testing.assert_allclose(merged[3], np.nansum([eva_scores(a)[3], eva_scores(b)[3]]))
    with pytest.raises(TypeError, match=r"takes a TrainingDynamics or a list of them"):
        eva_scores([a, "b"])
