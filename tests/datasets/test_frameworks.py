"""What training frameworks do to ``ds.loader``, done here without them.

PyTorch Lightning (and Fabric) under DDP, with its default ``use_distributed_sampler=True``,
makes every DataLoader again with ``sampler=`` a DistributedSampler over the loader's items
(a SequentialSampler for ``overfit_batches``), passing back the arguments it was made with
(or, made outside a hook, the attributes named like them); it calls ``set_epoch`` on
``loader.sampler``; and it stops each epoch at ``len(loader)`` batches without running the
pass to its end. Checked against Lightning 2.6.6 itself (``strategy="ddp"``, two CPU ranks)
outside the suite, which must not need it.
"""

import pytest
import torch
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler, SequentialSampler

import torchcompress as tc


@pytest.fixture
def ds(tmp_path, images):
    tc.compress(images, tmp_path / "l.tcz", progress=False)
    return tc.open(tmp_path / "l.tcz")


def _labels(loader) -> list[list[int]]:
    return [y.tolist() for _, y in loader]


def _made_again(loader, sampler, saved: bool):
    """``loader`` made again with ``sampler`` in its sampler's place, as Lightning does."""
    lightning = {"sampler": sampler, "shuffle": False, "batch_sampler": None}
    if saved:  # made inside a hook: the arguments it was made with
        return type(loader)(loader.ds, loader.batches, loader.with_indices, **lightning)
    return type(loader)(ds=loader.ds, batches=loader.batches, dataset=loader.dataset,
                        batch_size=loader.batch_size, drop_last=loader.drop_last,
                        collate_fn=loader.collate_fn, **lightning)


@pytest.mark.parametrize("saved", [True, False], ids=["in-a-hook", "from-attributes"])
def test_a_distributed_sampler_put_in_shares_the_epoch_by_rank(ds, saved):
    """It failed ("more than one __init__ argument can be passed to ... sampler"); each rank
    now takes what DistributedSampler(ds) gives it, batched."""
    for shuffle in (True, False):
        for rank in (0, 1):
            loader = ds.loader(6, shuffle=shuffle, seed=3)
            over_batches = DistributedSampler(range(len(loader)), num_replicas=2, rank=rank)
            again = _made_again(loader, over_batches, saved)
            want = ds.loader(6, sampler=DistributedSampler(ds, num_replicas=2, rank=rank,
                                                           shuffle=shuffle, seed=3))
            assert _labels(again) == _labels(want) and len(again) == len(want) == 4
            assert again.state_dict()["num_replicas"] == 2
            assert _labels(loader) == _labels(ds.loader(6, shuffle=shuffle, seed=3))  # as it was


def test_a_sampler_that_shards_already_is_kept(ds):
    samplers = (lambda: tc.samplers.RandomSubsetSampler(ds, fraction=0.5, num_replicas=2, rank=1),
                lambda: DistributedSampler(ds, num_replicas=2, rank=1))
    for sampler in samplers:
        loader = ds.loader(4, sampler=sampler())
        again = _made_again(loader, DistributedSampler(range(len(loader)), 2, 1), saved=True)
        assert again.batches is loader.batches
        assert _labels(again) == _labels(ds.loader(4, sampler=sampler())) and len(again) in (3, 5)
    plain = ds.loader(4)
    assert _made_again(plain, plain.sampler, saved=True).batches is plain.batches


def test_a_sequential_sampler_put_in_asks_for_the_batches_in_order(ds):
    """Lightning's overfit_batches puts in a SequentialSampler (it was refused)."""
    loader = ds.loader(6, shuffle=True)
    again = _made_again(loader, SequentialSampler(range(len(loader))), saved=True)
    assert _labels(again) == _labels(ds.loader(6)) != _labels(ds.loader(6, shuffle=True))
    assert _labels(loader) == _labels(ds.loader(6, shuffle=True))  # the first is as it was


def test_a_sampler_that_cannot_take_the_batches_place_is_refused(ds):
    loader = ds.loader(4)
    with pytest.raises(TypeError, match=r"sampler=RandomSampler cannot take their place"):
        _made_again(loader, RandomSampler(range(10)), saved=False)


def test_epochs_begun_through_the_sampler_and_passes_stopped_at_len(ds):
    """Lightning calls loader.sampler.set_epoch(e) and stops at len(loader): every epoch after
    the first yielded nothing (a run trained one epoch, silently)."""
    whole = ds.loader(6, shuffle=True)
    epochs = [_labels(whole) for _ in range(3)]
    loader = ds.loader(6, shuffle=True)
    for epoch in range(3):
        loader.sampler.set_epoch(epoch)
        it = iter(loader)
        assert [next(it)[1].tolist() for _ in range(len(loader))] == epochs[epoch]
    half = ds.loader(6, shuffle=True)
    it = iter(half)
    next(it), next(it)
    half.sampler.set_epoch(1)  # another epoch, begun through the sampler mid-pass
    assert _labels(half) == epochs[1]
    half.sampler.set_epoch(2)  # the pass ran to its end, which moved on to epoch 2 already
    assert _labels(half) == epochs[2]


@pytest.mark.parametrize("workers", [0, 2])
def test_a_loader_made_again_without_its_sampler_says_what_to_do(ds, workers):
    """Accelerate's prepare() on one process makes a DataLoader of ``loader.dataset`` with no
    sampler, which asks for one index at a time; it failed with "indices should be a 1-D
    sequence of ints", which names nothing a user could change."""
    loader = ds.loader(4, shuffle=True)
    again = DataLoader(loader.dataset, batch_size=None, num_workers=workers)
    with pytest.raises(TypeError, match=r"items are whole batches, but something asked it for "
                                        r"item 0.*Accelerate.*register_for_checkpointing"):
        next(iter(again))
    with pytest.raises(TypeError, match=r"asked it for item tensor\(3\)"):
        loader.dataset[torch.tensor(3)]
    assert _labels(loader) == _labels(ds.loader(4, shuffle=True))  # batches still decode


def test_made_again_from_attributes_that_read_as_a_dataloaders(ds):
    """``loader.batch_size`` and ``loader.drop_last`` read as ``DataLoader(ds, ...)`` holds them
    (they read None and False); Lightning, making the loader again from its attributes, passes
    them back, and the loader takes them as its own."""
    loader = ds.loader(6, shuffle=True, seed=1, drop_last=True)
    assert (loader.batch_size, loader.drop_last) == (6, True)
    again = _made_again(loader, DistributedSampler(range(len(loader)), 2, 1), saved=False)
    want = ds.loader(6, sampler=DistributedSampler(ds, 2, 1, shuffle=True, seed=1),
                     drop_last=True)
    assert _labels(again) == _labels(want) and (again.batch_size, again.drop_last) == (6, True)
