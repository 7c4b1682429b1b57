"""The contract every sampler keeps: length, determinism, DDP shards, resume."""

import numpy as np
import pytest
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader, DistributedSampler, TensorDataset

from torchcompress.samplers import (BinSampler, ClassRatioSampler, RandomSubsetSampler,
                                    SubsetSampler, WeightedSubsetSampler, coreset)

N = 103
LABELS = np.arange(N) % 4


class Labelled(TensorDataset):
    def __init__(self):
        super().__init__(torch.arange(N))
        self.targets = torch.as_tensor(LABELS)


FACTORIES = {
    "random-subset": lambda **kw: RandomSubsetSampler(Labelled(), fraction=0.3, **kw),
    "random-subset-balanced": lambda **kw: RandomSubsetSampler(Labelled(), num_samples=30,
                                                                class_balanced=True, **kw),
    "subset": lambda **kw: SubsetSampler(np.arange(0, N, 3), **kw),
    "weighted": lambda **kw: WeightedSubsetSampler(np.linspace(0.1, 1, N), 40, **kw),
    "weighted-no-replacement": lambda **kw: WeightedSubsetSampler(np.linspace(0.1, 1, N), 40,
                                                                   replacement=False, **kw),
    "class-ratio": lambda **kw: ClassRatioSampler(LABELS, 0.3, **kw),
    "bins": lambda **kw: BinSampler(np.arange(N) % 5, 0.3, resample=True, **kw),
}
IDS = list(FACTORIES)


@pytest.mark.parametrize("name", IDS, ids=IDS)
def test_len_before_iteration_and_ints(name):
    s = FACTORIES[name](seed=3)
    n = len(s)
    out = list(s)
    assert len(out) == n and all(type(i) is int and 0 <= i < N for i in out)


@pytest.mark.parametrize("name", IDS, ids=IDS)
def test_deterministic_per_seed_and_epoch(name):
    a, b = FACTORIES[name](seed=5), FACTORIES[name](seed=5)
    a.set_epoch(2)
    b.set_epoch(2)
    first = list(a)
    assert first == list(b)
    c = FACTORIES[name](seed=6)
    c.set_epoch(2)
    assert list(c) != first
    a.set_epoch(3)
    assert list(a) != first  # each epoch has its own order


@pytest.mark.parametrize("name", IDS, ids=IDS)
def test_no_global_rng_use(name):
    torch.manual_seed(0)
    before = torch.rand(1)
    torch.manual_seed(0)
    list(FACTORIES[name](seed=1))
    assert torch.rand(1) == before


@pytest.mark.parametrize("drop_last", [False, True], ids=["pad", "drop-last"])
@pytest.mark.parametrize("name", IDS, ids=IDS)
def test_ddp_shards_are_disjoint_equal_and_cover(name, drop_last):
    world = 3
    ref = FACTORIES[name](seed=1, num_replicas=1, rank=0)
    ref.set_epoch(4)
    full = list(ref)
    shards = []
    for r in range(world):
        s = FACTORIES[name](seed=1, num_replicas=world, rank=r, drop_last=drop_last)
        s.set_epoch(4)
        shards.append(list(s))
        assert len(shards[-1]) == len(s)
    assert len({len(sh) for sh in shards}) == 1
    interleaved = [sh[i] for i in range(len(shards[0])) for sh in shards]
    if drop_last:
        assert interleaved == full[:len(interleaved)] and len(full) - len(interleaved) < world
    else:  # padded by repeating the start of the order
        assert interleaved[:len(full)] == full
        assert interleaved[len(full):] == full[:len(interleaved) - len(full)]


@pytest.mark.parametrize("name", IDS, ids=IDS)
def test_a_distributed_sampler_to_frameworks(name):
    """PyTorch Lightning (use_distributed_sampler=True, its default) and Fabric leave a
    DistributedSampler in place and wrap any other in one, which split each rank's share
    again: these samplers shard by rank themselves, so they must be one."""
    s = FACTORIES[name](seed=1, num_replicas=3, rank=2, drop_last=True)
    assert isinstance(s, DistributedSampler)
    assert (s.num_replicas, s.rank, s.epoch, s.seed, s.drop_last) == (3, 2, 0, 1, True)
    assert s.num_samples == len(s) == len(list(s)) and s.total_size == 3 * len(s)
    assert s.shuffle is True
    assert SubsetSampler([3, 1], shuffle=False).shuffle is False
    # frameworks read and seed `sampler.generator` as torch's samplers hold it (Hugging Face
    # Accelerate called .get_state() on a method of that name)
    assert getattr(s, "generator", None) is None


def _group(monkeypatch, size: int, rank: int) -> None:
    """A process group of ``size`` ranks as torch.distributed reports it, this one ``rank``."""
    monkeypatch.setattr(dist, "is_available", lambda: True)
    monkeypatch.setattr(dist, "is_initialized", lambda: True)
    monkeypatch.setattr(dist, "get_world_size", lambda *a, **k: size)
    monkeypatch.setattr(dist, "get_rank", lambda *a, **k: rank)


@pytest.mark.parametrize("name", IDS, ids=IDS)
def test_the_ranks_are_the_groups_when_an_epoch_is_drawn(name, monkeypatch):
    """A sampler made before the process group (a script that Lightning's Trainer.fit then
    runs under DDP) shards once the group is there; given ranks stay as given."""
    ref = FACTORIES[name](seed=1, num_replicas=2, rank=1)
    early, fixed = FACTORIES[name](seed=1), FACTORIES[name](seed=1, num_replicas=1, rank=0)
    assert early.num_replicas == 1
    whole = list(fixed)
    _group(monkeypatch, 2, 1)
    assert (early.num_replicas, early.rank) == (2, 1) and list(early) == list(ref)
    assert len(early) == len(ref) and early.state_dict()["num_replicas"] == 2
    fixed.set_epoch(0)
    assert list(fixed) == whole and (fixed.num_replicas, fixed.rank) == (1, 0)


@pytest.mark.parametrize("name", IDS, ids=IDS)
def test_resume_mid_epoch_yields_exactly_the_rest(name):
    s = FACTORIES[name](seed=2)
    s.set_epoch(1)
    whole = list(s)
    s.set_epoch(1)  # the same epoch again
    it = iter(s)
    head = [next(it) for _ in range(7)]
    state = s.state_dict()
    fresh = FACTORIES[name](seed=99)
    fresh.load_state_dict(state)
    fresh.set_epoch(1)  # the loop calls set_epoch again on resume: same epoch keeps the position
    assert head + list(fresh) == whole
    with pytest.warns(UserWarning, match=r"repeats epoch 1"):
        assert list(fresh) == whole  # a finished pass replays the whole epoch


@pytest.mark.parametrize("name", IDS, ids=IDS)
def test_a_new_pass_begins_afresh_unless_a_state_was_loaded(name):
    """As torch's samplers: a pass left early (a look at a DataLoader's first batch) does not
    make the next begin in the middle; it went on where the look stopped, so that batch was
    missing from the epoch the loop then trained on."""
    s = FACTORIES[name](seed=4)
    whole = list(s)
    s.set_epoch(0)
    dl = DataLoader(Labelled(), batch_size=5, sampler=s)
    next(iter(dl))  # a look at one batch
    assert torch.cat([b[0] for b in dl]).tolist() == whole
    s.set_epoch(0)  # the same epoch again, named (it would warn)
    it = iter(s)
    head = [next(it) for _ in range(3)]
    resumed = FACTORIES[name](seed=4)
    resumed.load_state_dict(s.state_dict())
    next(iter(s))  # the pass left early, again: nothing pending here
    assert head + list(resumed) == whole and list(iter(s))[:3] == head


def test_resume_through_a_dataloader():
    s = RandomSubsetSampler(Labelled(), fraction=0.5, seed=0)
    dl = DataLoader(Labelled(), batch_size=4, sampler=s)
    s.set_epoch(2)
    all_batches = [b[0].tolist() for b in dl]
    s.set_epoch(2)  # the same epoch again
    it = iter(dl)
    seen = [next(it)[0].tolist() for _ in range(3)]
    state = s.state_dict()
    s2 = RandomSubsetSampler(Labelled(), fraction=0.5, seed=0)
    s2.load_state_dict(state)
    rest = [b[0].tolist() for b in DataLoader(Labelled(), batch_size=4, sampler=s2)]
    assert seen + rest == all_batches


def test_class_balanced_counts_are_exact():
    s = RandomSubsetSampler(Labelled(), num_samples=30, class_balanced=True, seed=0)
    sizes = np.bincount(LABELS)
    for e in range(3):
        s.set_epoch(e)
        got = np.bincount(LABELS[list(s)], minlength=4)
        assert got.sum() == 30 and (np.abs(got - 30 * sizes / N) < 1).all()
        assert got.tolist() == s.counts.tolist()


def test_subsets_differ_across_epochs():
    s = RandomSubsetSampler(Labelled(), fraction=0.2, seed=0)
    subsets = []
    for e in range(4):
        s.set_epoch(e)
        subsets.append(frozenset(s))
    assert len(set(subsets)) == 4


def test_class_balanced_through_random_split_and_concat():
    # random_split gives a Subset, which has no .targets: class_balanced=True refused it
    from torch.utils.data import ConcatDataset, random_split
    part, _ = random_split(Labelled(), [0.6, 0.4], generator=torch.Generator().manual_seed(0))
    both = ConcatDataset([part, Labelled()])
    for ds, y in [(part, LABELS[part.indices]), (both, np.concatenate([LABELS[part.indices],
                                                                          LABELS]))]:
        s = RandomSubsetSampler(ds, num_samples=20, class_balanced=True, seed=0)
        got = np.bincount(y[list(s)], minlength=4)
        assert got.sum() == 20 and (np.abs(got - 20 * np.bincount(y, minlength=4) / len(y)) < 1).all()


@pytest.mark.parametrize("make, err, match", [
    (lambda: RandomSubsetSampler(range(10), fraction=0.0), ValueError, r"fraction should be in \(0, 1\], but got fraction=0.0"),
    (lambda: RandomSubsetSampler(range(10)), ValueError, r"pass exactly one of fraction= or num_samples="),
    (lambda: RandomSubsetSampler(range(10), fraction=1.5), ValueError, r"fraction should be in \(0, 1\], but got fraction=1.5"),
    (lambda: RandomSubsetSampler(range(10), fraction="half"), TypeError, r"fraction should be a number in \(0, 1\], but got fraction='half'"),
    (lambda: RandomSubsetSampler(range(10), num_samples=11), ValueError, r"num_samples should be at most the dataset size 10"),
    (lambda: RandomSubsetSampler(range(10), 0.5, class_balanced=True), ValueError, r"class_balanced=True needs labels"),
    (lambda: RandomSubsetSampler(range(4), 0.5, class_balanced=True, labels=[0.5, 1, 2, 3]),
     ValueError, r"class_balanced=True needs class labels, but the labels are real-valued"),
    (lambda: SubsetSampler([1, 2], num_replicas=2, rank=2), ValueError, r"Invalid rank 2, rank should be in the interval \[0, 1\]"),
    (lambda: SubsetSampler([0.5]), TypeError, r"indices should be a 1-D sequence of ints"),
    (lambda: WeightedSubsetSampler([1.0, -1.0], 3), ValueError, r"weights should be finite and non-negative"),
    (lambda: WeightedSubsetSampler([1.0, 0.0], 2, replacement=False), ValueError, r"only 1 are non-zero"),
    (lambda: SubsetSampler([1], seed=1.5), TypeError, r"seed should be an int, but got seed=1.5"),
    (lambda: SubsetSampler([3, -1]), ValueError, r"indices should be dataset indices >= 0, but got -1"),
    (lambda: SubsetSampler(torch.tensor([True, False])), TypeError,
     r"dtype bool, shape \(2,\); for a boolean mask pass its indices, mask.nonzero\(\)"),
    (lambda: RandomSubsetSampler(50, fraction=0.1), TypeError,
     r"data_source should be a map-style dataset with a length .*, but got int"),
    (lambda: ClassRatioSampler([-1, 0, 1, 1], 0.5), ValueError,
     r"labels should be class ids >= 0, but got -1 \(some datasets mark unlabelled samples -1\)"),
], ids=["fraction-0", "neither", "fraction-1.5", "fraction-str", "too-many", "no-labels", "real-labels", "rank",
        "float-indices", "neg-weight", "no-replacement", "seed", "negative-index", "mask", "int-source",
        "unlabelled"])
def test_bad_arguments(make, err, match):
    with pytest.raises(err, match=match):
        make()


@pytest.mark.parametrize("make, name", [
    (lambda v: RandomSubsetSampler(Labelled(), 0.3, drop_last=v), "drop_last"),
    (lambda v: RandomSubsetSampler(Labelled(), 0.3, class_balanced=v), "class_balanced"),
    (lambda v: WeightedSubsetSampler(np.ones(N), 5, replacement=v), "replacement"),
    (lambda v: BinSampler(np.arange(N) % 5, 0.3, resample=v), "resample"),
    (lambda v: SubsetSampler(np.arange(5), shuffle=v), "shuffle"),
    (lambda v: coreset(np.arange(N), 0.1, descending=v), "descending"),
    (lambda v: coreset(np.arange(N), 0.1, class_balanced=v), "class_balanced"),
], ids=["drop_last", "class_balanced", "replacement", "resample", "shuffle", "descending",
        "coreset-class_balanced"])
def test_flags_must_be_bools(make, name):
    """A string is truthy: replacement="False" drew with replacement, silently."""
    with pytest.raises(TypeError, match=rf"{name} should be True or False, but got "
                                        rf"{name}='False'"):
        make("False")
    make(np.bool_(False))  # numpy's bools are bools


def test_resume_with_another_world_size_is_refused_mid_epoch_only():
    s = SubsetSampler(range(10), num_replicas=2, rank=0)
    it = iter(s)
    next(it)
    with pytest.raises(ValueError, match=r"middle of an epoch with num_replicas=2, but this "
                                         r"sampler has num_replicas=1"):
        SubsetSampler(range(10)).load_state_dict(s.state_dict())
    c = ClassRatioSampler(LABELS, 0.3, num_replicas=2, rank=0)  # between epochs: any world
    c.update(np.array([0.9, 0.2, 0.5, 0.7]))
    c.update(np.array([0.8, 0.3, 0.5, 0.6]))
    c.set_epoch(3)
    other = ClassRatioSampler(LABELS, 0.3, num_replicas=4, rank=1)
    assert not np.allclose(other.ratios, c.ratios)
    other.load_state_dict(c.state_dict())  # the adaptive ratios come along
    assert np.allclose(other.ratios, c.ratios) and other.epoch == 3


def test_resume_with_another_subset_or_dataset_is_refused():
    s = RandomSubsetSampler(range(50), fraction=0.5)
    with pytest.raises(ValueError, match=r"saved by a sampler of 25 samples an epoch, but this one "
                                         r"draws 5; resume with the same dataset and fraction"):
        RandomSubsetSampler(range(50), fraction=0.1).load_state_dict(s.state_dict())
    with pytest.raises(ValueError, match=r"saved for a dataset of 50 samples, but this sampler's "
                                         r"has 60"):
        RandomSubsetSampler(range(60), num_samples=25).load_state_dict(s.state_dict())
    old = {k: v for k, v in s.state_dict().items() if k not in ("subset_size", "dataset_size")}
    RandomSubsetSampler(range(50), fraction=0.5).load_state_dict(old)  # states saved before


@pytest.mark.parametrize("seed", [-1, 2**64 - 1, 2**70], ids=["negative", "top", "past-2**64"])
def test_any_int_seed_gives_a_stream(seed):
    """torch.Generator.manual_seed raises past 2**64 (here seed + epoch, or ClassRatioSampler's
    seed * 1_000_003); every sampler takes the seed modulo 2**64, the stream manual_seed gives
    where it takes the value."""
    for make in FACTORIES.values():
        s = make(seed=seed)
        s.set_epoch(3)
        assert len(list(s)) == len(s)
    g = torch.Generator()
    g.manual_seed(2**64 - 1)
    want = torch.randperm(N, generator=g)[:30].tolist()
    got = RandomSubsetSampler(Labelled(), num_samples=30, seed=-1)
    assert list(got) == want
    assert list(coreset(np.arange(10.0), 0.5, strategy="stratified", seed=-1)) == \
        list(coreset(np.arange(10.0), 0.5, strategy="stratified", seed=2**64 - 1))


@pytest.mark.parametrize("replacement", [True, False])
def test_weights_past_torch_multinomial_limit(monkeypatch, replacement):
    """torch.multinomial takes at most 2**24 categories; past that the sampler draws the same
    distribution itself (the limit lowered here, so the test stays small)."""
    import torchcompress.samplers.weighted as weighted
    w = np.linspace(0, 1, 40) ** 2  # weight 0 at index 0
    monkeypatch.setattr(weighted, "MULTINOMIAL_MAX", 10)
    monkeypatch.setattr(torch, "multinomial", None)  # never reached
    counts = np.zeros(40)
    for e in range(3000):
        s = WeightedSubsetSampler(w, 8, replacement=replacement, seed=5)
        s.set_epoch(e)
        got = list(s)
        assert len(got) == 8 and 0 not in got
        if not replacement:
            assert len(set(got)) == 8
        counts[got[0]] += 1  # the first draw is w-proportional either way
    expected = 3000 * w / w.sum()
    chi2 = ((counts[1:] - expected[1:]) ** 2 / expected[1:]).sum()
    assert chi2 < 80, chi2  # 38 degrees of freedom: p < 1e-4 above 80


def test_class_ratio_takes_accuracies_indexed_by_class_id():
    """tc.evaluate.per_class_accuracy gives num_classes entries, NaN for classes not seen; a
    sampler over labels {0, 5, 7} takes them as well as its own three."""
    y = np.array([0, 5, 5, 0, 7] * 10)
    by_id = np.full(10, np.nan)
    by_id[[0, 5, 7]] = [0.9, 0.2, 0.6]
    a, b = ClassRatioSampler(y, 0.5), ClassRatioSampler(y, 0.5)
    for _ in range(3):
        np.testing.assert_array_equal(a.update(by_id), b.update([0.9, 0.2, 0.6]))
    with pytest.raises(ValueError, match=r"should have 3 entries \(one per class in the labels, in "
                                         r"sorted order\) or at least 8 \(indexed by class id\), "
                                         r"but got shape \(5,\)"):
        a.update(np.zeros(5))


@pytest.mark.parametrize("name", sorted(FACTORIES))
def test_a_second_pass_without_set_epoch_warns_once(name):
    """A DataLoader iterates the sampler once per epoch; without set_epoch every epoch was the
    same subset in the same order, silently (as with DistributedSampler, but ours promise a fresh
    subset per epoch)."""
    import warnings
    s = FACTORIES[name]()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for e in range(3):
            s.set_epoch(e)
            list(s)
        s.set_epoch(2)  # a replay asked for
        list(s)
        list(DataLoader(range(N), sampler=FACTORIES[name](), batch_size=8))  # one epoch
    with pytest.warns(UserWarning, match=r"this pass repeats epoch 2 \(the same samples in the same "
                                         r"order\) because set_epoch was not called since the last "
                                         r"pass; call sampler.set_epoch\(epoch\)") as rec:
        list(s)
        list(s)
    assert len([w for w in rec if "repeats epoch" in str(w.message)]) == 1


def test_labels_without_class_balanced_are_warned_about():
    with pytest.warns(UserWarning, match=r"labels= is used only with class_balanced=True, so it is "
                                         r"ignored here"):
        coreset(np.arange(20.0), 0.5, labels=np.arange(20) % 2)
    with pytest.warns(UserWarning, match=r"labels= is used only with class_balanced=True"):
        RandomSubsetSampler(range(20), fraction=0.5, labels=np.arange(20) % 2)
