"""ds.loader: whole-batch decode, any sampler, workers, and exact resume after a kill."""

import json
import os
import signal
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch

import torchcompress as tc


@pytest.fixture
def lossless_archive(tmp_path, images):
    path = tmp_path / "l.tcz"
    tc.compress(images, path, progress=False)
    return path


def test_batches_are_whole_tensors_equal_to_getitems(lossless_archive, images):
    ds = tc.open(lossless_archive)
    loader = ds.loader(16)
    assert isinstance(loader, torch.utils.data.DataLoader) and len(loader) == 3
    assert loader.batch_size == 16  # as DataLoader(ds, batch_size=16) holds it (it read None)
    xs, ys = zip(*loader)
    assert [tuple(x.shape) for x in xs] == [(16, 3, 8, 8), (16, 3, 8, 8), (8, 3, 8, 8)]
    assert xs[0].dtype == torch.uint8 and ys[0].dtype == torch.int64
    np.testing.assert_array_equal(torch.cat(xs).numpy(), images[0])
    np.testing.assert_array_equal(torch.cat(ys).numpy(), images[1])
    dropping = ds.loader(16, drop_last=True)
    assert len(dropping) == 2 and dropping.drop_last and not loader.drop_last  # (it read False)


@pytest.mark.parametrize("workers", [0, 2])
def test_with_indices_batches_carry_their_dataset_indices_through_a_resume(lossless_archive,
                                                                           workers):
    """TrainingDynamics.record needs each batch's dataset indices; ds.loader gave (x, y) only."""
    ds = tc.open(lossless_archive)
    loader = ds.loader(8, shuffle=True, seed=3, num_workers=workers, with_indices=True)
    seen = []
    for x, y, idx in loader:
        assert idx.dtype == torch.int64
        assert torch.equal(x, ds.batch(idx)[0]) and torch.equal(y, ds.targets[idx])
        seen.append(idx)
    order = torch.cat(seen)
    assert sorted(order.tolist()) == list(range(len(ds)))
    loader.set_epoch(0)
    it = iter(loader)
    head = [next(it)[2] for _ in range(2)]
    state = loader.state_dict()
    del it
    again = ds.loader(8, shuffle=True, seed=3, num_workers=workers, with_indices=True)
    again.load_state_dict(state)
    rest = [idx for _, _, idx in again]
    assert torch.equal(torch.cat(head + rest), order)


@pytest.mark.parametrize("targets", ["int64", "float64"])
def test_labels_from_workers_are_tensors_of_the_archive_dtype(tmp_path, images, targets):
    """Workers send a batch's labels inside the batch message, not as a tensor of their own;
    the loop still gets tensors of the stored dtype, in order, as without workers."""
    y = images[1].astype(targets) + (0.5 if targets == "float64" else 0)
    tc.compress((images[0], y), tmp_path / "r.tcz", progress=False)
    ds = tc.open(tmp_path / "r.tcz")
    for workers in (0, 2):
        ys = [b[1] for b in ds.loader(16, num_workers=workers)]
        assert all(isinstance(t, torch.Tensor) and t.dtype == ds.targets.dtype for t in ys)
        np.testing.assert_array_equal(torch.cat(ys).numpy(), y.astype(ds.targets.numpy().dtype))


def test_transform_applies_per_sample(lossless_archive, images):
    ds = tc.open(lossless_archive, transform=lambda t: t.float().mean().reshape(1))
    x, _ = next(iter(ds.loader(4)))
    np.testing.assert_allclose(x.numpy()[:, 0], images[0][:4].reshape(4, -1).mean(1), rtol=1e-6)


def test_any_sampler_and_errors(lossless_archive):
    ds = tc.open(lossless_archive)
    s = tc.samplers.RandomSubsetSampler(ds, fraction=0.5, seed=3)
    s.set_epoch(2)
    want = ds.targets.numpy()[s.indices()]
    loader = ds.loader(8, sampler=s)
    assert loader.epoch == 2
    got = torch.cat([y for _, y in loader])
    np.testing.assert_array_equal(got.numpy(), want)
    assert loader.epoch == s.epoch == 3  # a finished pass moves both to the next epoch
    with pytest.raises(ValueError, match=r"sampler= and shuffle=True both choose the order"):
        ds.loader(8, sampler=s, shuffle=True)
    with pytest.raises(TypeError, match=r"collate_fn= is set by ds.loader .* apply a batch "
                                        r"transform to each batch in your loop instead, e.g. "
                                        r"x, y = v2.CutMix\(num_classes=...\)\(x, y\)"):
        ds.loader(8, collate_fn=list)
    with pytest.raises(ValueError, match=r"batch_size should be a positive integer value"):
        ds.loader(0)
    with pytest.raises(TypeError, match=r"batch_sampler= is set by ds.loader .* use "
                                        r"DataLoader\(ds, batch_sampler=...\)"):
        ds.loader(None, batch_sampler=[[0, 1]])  # refused for what it is, not for batch_size=None
    batches = torch.utils.data.BatchSampler(range(len(ds)), 4, False)
    with pytest.raises(TypeError, match=r"sampler= should yield dataset indices, but BatchSampler "
                                        r"yields batches \(\[0, 1, 2, 3\]\); ds.loader makes"):
        list(ds.loader(8, sampler=batches))
    with pytest.warns(UserWarning, match=r"ds.loader\(shuffle=True\) orders each epoch from seed "
                                         r"\+ epoch .* generator= only seeds the workers here"):
        ds.loader(8, shuffle=True, generator=torch.Generator().manual_seed(1))
    with pytest.raises(ValueError, match=r"in_order=False lets workers deliver batches out of "
                                         r"order, and ds.loader resumes by counting"):
        ds.loader(8, num_workers=2, in_order=False)  # a resumed epoch would skip and repeat
    (x, y), = torch.utils.data.DataLoader(ds, batch_sampler=[[2, 0]])  # the way it points to
    assert x.shape[0] == 2 and y.tolist() == [ds[2][1], ds[0][1]]


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("workers", [0, 2], ids=["main-process", "2-workers"])
def test_resume_mid_epoch_and_across_the_epoch_boundary(lossless_archive, workers):
    ds = tc.open(lossless_archive)

    def order(loader, epochs):
        return [[y.tolist() for _, y in loader] for _ in range(epochs)]  # passes advance epochs
    full = order(ds.loader(6, shuffle=True, seed=5, num_workers=workers), 2)
    assert full[0] != full[1]
    a = ds.loader(6, shuffle=True, seed=5, num_workers=workers)
    it = iter(a)
    head = [next(it)[1].tolist() for _ in range(3)]
    state = a.state_dict()                      # workers have prefetched further by now
    assert state["consumed"] == 3 and state["epoch"] == 0
    b = ds.loader(6, shuffle=True, seed=5, num_workers=workers)
    b.load_state_dict(state)
    assert head + [y.tolist() for _, y in b] == full[0]
    assert [y.tolist() for _, y in b] == full[1]  # the next pass is epoch 1
    c = ds.loader(6, shuffle=True, seed=5, num_workers=workers)
    it = iter(c)
    last = [next(it)[1].tolist() for _ in range(len(c))][-1:]  # every batch, the pass not ended
    state = c.state_dict()
    assert (state["consumed"], state["epoch"]) == (len(full[0]), 0) and last == full[0][-1:]
    d = ds.loader(6, shuffle=True, seed=5, num_workers=workers)
    d.load_state_dict(state)  # epoch 0 is done: the next pass is epoch 1, as torchdata's
    assert [y.tolist() for _, y in d] == full[1]  # StatefulDataLoader resumes such a state
    assert [y.tolist() for _, y in c] == full[1]  # so does the loader that stopped there


@pytest.mark.parametrize("workers", [0, 2], ids=["main-process", "2-workers"])
def test_resume_with_torchs_random_sampler_and_a_seeded_generator(lossless_archive, workers):
    # RandomSampler has no set_epoch: its order comes from its generator, which the loader
    # now saves as each epoch begins; a resumed epoch 1 used to start from a fresh generator
    ds = tc.open(lossless_archive)

    def sampler():
        return torch.utils.data.RandomSampler(ds, generator=torch.Generator().manual_seed(4))

    a = ds.loader(6, sampler=sampler(), num_workers=workers)
    full = [[y.tolist() for _, y in a] for _ in range(3)]
    assert full[0] != full[1] != full[2]
    b = ds.loader(6, sampler=sampler(), num_workers=workers)
    assert len(b) == len(full[0])  # len() draws nothing (it used to move the generator)
    [y for _, y in b]  # epoch 0
    it = iter(b)
    head = [next(it)[1].tolist() for _ in range(2)]
    state = b.state_dict()
    c = ds.loader(6, sampler=sampler(), num_workers=workers)
    c.load_state_dict(state)
    assert head + [y.tolist() for _, y in c] == full[1]
    assert [y.tolist() for _, y in c] == full[2]


def test_len_of_a_loader_over_a_sampler_without_a_length(lossless_archive):
    class Order:  # iterable only, as some samplers are
        def __iter__(self):
            return iter([5, 3, 1, 0, 2])
    loader = tc.open(lossless_archive).loader(2, sampler=Order())
    assert len(loader) == 3 and [y.tolist() for _, y in loader] == [[1, 3], [1, 0], [2]]


def test_resume_warns_for_a_sampler_on_the_global_random_state(lossless_archive):
    ds = tc.open(lossless_archive)
    a = ds.loader(6, sampler=torch.utils.data.RandomSampler(ds))
    next(iter(a))
    with pytest.warns(UserWarning, match=r"RandomSampler without a generator draws its order from "
                                         r"torch's global random state.*\(generator=torch"):
        a.state_dict()


def test_adaptive_sampler_state_travels_with_the_loader(lossless_archive):
    ds = tc.open(lossless_archive)
    labels = ds.targets.numpy()
    s = tc.samplers.ClassRatioSampler(labels, 0.5, seed=0, initial_accuracy=[0.6] * 4)
    s.update([0.9, 0.2, 0.7, 0.8])
    a = ds.loader(5, sampler=s)
    it = iter(a)
    next(it)
    state = json.loads(json.dumps(a.state_dict()))  # plain data: fits any checkpoint
    fresh = tc.samplers.ClassRatioSampler(labels, 0.5, seed=0)
    b = ds.loader(5, sampler=fresh)
    b.load_state_dict(state)
    np.testing.assert_array_equal(fresh.ratios, s.ratios)
    assert [y.tolist() for _, y in b] == [y.tolist() for _, y in it]


_KILLED = textwrap.dedent("""
    import json, os, signal, sys
    import torchcompress as tc
    path, out, workers, kill_at = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    loader = tc.open(path).loader(4, shuffle=True, seed=9, num_workers=workers)
    state = json.load(open(out + ".state")) if os.path.exists(out + ".state") else None
    if state:
        loader.load_state_dict(state)
    for epoch in range(loader.epoch, 2):
        for k, (x, y) in enumerate(loader):
            with open(out, "a") as f:
                f.write(json.dumps([loader.epoch, y.tolist()]) + "\\n")
            with open(out + ".state.tmp", "w") as f:
                json.dump(loader.state_dict(), f)
            os.replace(out + ".state.tmp", out + ".state")
            if state is None and epoch == 0 and k + 1 == kill_at:
                os.kill(os.getpid(), signal.SIGKILL)
""")


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("workers", [0, 2], ids=["main-process", "2-workers"])
def test_kill_and_resume_in_a_new_process(lossless_archive, tmp_path, workers):
    script = tmp_path / "train.py"
    script.write_text(_KILLED)
    out = str(tmp_path / f"log{workers}")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    first = subprocess.run([sys.executable, str(script), str(lossless_archive), out, str(workers), "4"],
                           env=env, capture_output=True, text=True, timeout=300)
    assert first.returncode == -signal.SIGKILL, first.stderr
    second = subprocess.run([sys.executable, str(script), str(lossless_archive), out, str(workers),
                             "4"], env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0, second.stderr
    seen = [json.loads(line) for line in open(out)]
    ds = tc.open(lossless_archive)
    want = [[e, y.tolist()] for e in range(2) for _, y in _epoch(ds, e)]
    assert seen == want  # nothing lost, nothing twice, across the kill and the epoch boundary


def _epoch(ds, e):
    loader = ds.loader(4, shuffle=True, seed=9)
    loader.set_epoch(e)
    return list(loader)


def test_persistent_workers_take_a_relabel_or_a_new_transform(tmp_path):
    """Persistent workers hold the dataset as it was when they started: ds.targets[:] = 0 or a
    new ds.transform after the first epoch did not reach them, silently. ds.loader restarts
    them when the labels or a transform object changed, and keeps them otherwise."""
    x = np.random.default_rng(0).integers(0, 256, (32, 3, 4, 4), dtype=np.uint8)
    tc.compress((x, np.arange(32) % 4), tmp_path / "a.tcz", progress=False)
    parts = [tc.open(tmp_path / "a.tcz"), tc.open(tmp_path / "a.tcz")]
    for ds in (parts[0], tc.ConcatDataset(parts)):
        loader = ds.loader(8, num_workers=1, persistent_workers=True)
        assert int(torch.cat([b[1] for b in loader]).sum()) == 48 * len(ds) // 32
        workers = loader._iterator
        assert int(torch.cat([b[1] for b in loader]).sum()) == 48 * len(ds) // 32
        assert loader._iterator is workers  # nothing changed: the same workers
        for part in getattr(ds, "datasets", [ds]):
            part.targets[:] = 1
        assert int(torch.cat([b[1] for b in loader]).sum()) == len(ds)
        for part in getattr(ds, "datasets", [ds]):
            part.transform = lambda t: t * 0
        assert int(torch.cat([b[0] for b in loader]).sum()) == 0
        for part in getattr(ds, "datasets", [ds]):
            part.targets[:] = torch.arange(len(part)) % 4
            part.transform = None


def test_a_pass_left_early_ends_its_epoch_as_in_torchs_dataloader(lossless_archive):
    """Each pass of torch's DataLoader begins afresh. ds.loader's went on where the last one
    was left, so the tutorials' look at a batch before training (``next(iter(loader))``)
    took that batch out of the first epoch, and a validation on the first batches of each
    pass walked through the set instead."""
    ds = tc.open(lossless_archive)
    fresh = ds.loader(8, shuffle=True)
    epochs = [_labels(fresh) for _ in range(3)]
    loader = ds.loader(8, shuffle=True)
    next(iter(loader))  # a look at one batch
    assert _labels(loader) == epochs[1] and loader.epoch == 2  # a whole epoch, the next one
    ordered = ds.loader(8)
    firsts = []
    for _ in range(3):  # a validation on the first two batches, three times
        firsts.append([y.tolist() for _, (_, y) in zip(range(2), ordered)])
    assert firsts[0] == firsts[1] == firsts[2] == _labels(ds.loader(8))[:2]
    again = ds.loader(8, shuffle=True)
    it = iter(again)
    next(it), next(it)
    again.set_epoch(0)  # the same epoch, named: it begins from its start
    assert _labels(again) == epochs[0]
    state = None
    resumed = ds.loader(8, shuffle=True)
    for k, _ in enumerate(resumed):
        if k == 1:
            state = resumed.state_dict()
            break
    later = ds.loader(8, shuffle=True)
    later.load_state_dict(state)
    later.sampler.set_epoch(0)  # as Lightning calls it as the resumed epoch begins
    assert _labels(later) == epochs[0][2:]  # only load_state_dict resumes mid-epoch


def _labels(loader):
    return [y.tolist() for _, y in loader]


def test_loader_dataset_stands_for_the_dataset(tmp_path, images):
    """``loader.dataset.classes`` (or ``.targets``, for class weights) raised AttributeError,
    and ``loader.dataset.transform = t`` set an attribute nothing read: the batches came
    without it, silently."""
    class Named(torch.utils.data.Dataset):
        classes = ["ant", "bee", "cat", "dog"]

        def __len__(self):
            return len(images[1])

        def __getitem__(self, i):
            return torch.from_numpy(images[0][i]), int(images[1][i])

    tc.compress(Named(), tmp_path / "n.tcz", progress=False)
    ds = tc.open(tmp_path / "n.tcz")
    for source in (ds, tc.ConcatDataset([ds, ds])):
        loader = source.loader(8, num_workers=2, persistent_workers=True)
        assert loader.dataset.classes == Named.classes and len(loader.dataset) == len(source)
        if source is ds:  # torch's ConcatDataset, and ours, have no targets
            assert loader.dataset.targets.tolist() == ds.targets.tolist()
        assert isinstance(next(iter(loader))[0], torch.Tensor)
        for part in getattr(source, "datasets", [source]):
            part.transform = None
        loader.dataset.transform = halve
        if source is ds:
            assert ds.transform is halve
            x, _ = next(iter(loader))
            np.testing.assert_array_equal(x.numpy(), images[0][:8] // 2)
        else:  # torch's ConcatDataset has no transform of its own: the attribute is its
            assert source.transform is halve
        with pytest.raises(AttributeError, match="no attribute 'nothing'"):
            loader.dataset.nothing
        assert not hasattr(loader.dataset, "__getitems__")  # a batch is one item
    ds.transform = None


def halve(x):  # a transform the workers can take (a lambda would not pickle under spawn)
    return x // 2


def test_a_state_from_a_dataset_of_another_length_is_refused(tmp_path):
    """Resumed on an archive of 30 samples, a state saved on one of 40 yielded the rest of
    another permutation (14 samples), silently."""
    x = np.zeros((40, 1, 2, 2), np.uint8)
    tc.compress((x, np.arange(40) % 2), tmp_path / "a.tcz", progress=False)
    tc.compress((x[:30], np.arange(30) % 2), tmp_path / "b.tcz", progress=False)
    a = tc.open(tmp_path / "a.tcz").loader(8, shuffle=True)
    it = iter(a)
    next(it), next(it)
    state = a.state_dict()
    assert state["num_samples"] == 40
    with pytest.raises(ValueError, match=r"the state was saved for a dataset of 40 samples, but "
                                         r"this loader's has 30"):
        tc.open(tmp_path / "b.tcz").loader(8, shuffle=True).load_state_dict(state)
    again = tc.open(tmp_path / "a.tcz").loader(8, shuffle=True)
    again.load_state_dict({k: v for k, v in state.items() if k != "num_samples"})  # older states
    assert sum(len(y) for _, y in again) == 24


def test_a_state_from_another_world_size_is_refused(tmp_path):
    """torch's DistributedSampler has no state of its own: a state saved on 2 ranks resumed
    on 4 skipped its consumed batches of another partition (the rest of the epoch silently
    repeated some samples and skipped others)."""
    from torch.utils.data import DistributedSampler

    x = np.zeros((40, 1, 2, 2), np.uint8)
    tc.compress((x, np.arange(40) % 2), tmp_path / "a.tcz", progress=False)
    ds = tc.open(tmp_path / "a.tcz")
    two = ds.loader(4, sampler=DistributedSampler(ds, num_replicas=2, rank=1, seed=3),
                    with_indices=True)
    it = iter(two)
    next(it), next(it)
    state = two.state_dict()
    want = [b[2].tolist() for b in it]
    assert state["num_replicas"] == 2
    with pytest.raises(ValueError, match=r"middle of epoch 0 \(2 of 5 batches\) with the "
                                         r"epoch shared among 2 ranks, but this loader shares "
                                         r"it among 4"):
        ds.loader(4, sampler=DistributedSampler(ds, num_replicas=4, rank=1)).load_state_dict(state)
    with pytest.raises(ValueError, match=r"among 2 ranks, but this loader shares it among 1\. "
                                         r".* the state's is a sampler's own, this loader's "
                                         r"shuffle"):
        ds.loader(4, shuffle=True).load_state_dict(state)  # one device, another order
    # the same world size (a checkpoint saved by rank 0 and loaded on every rank) resumes
    again = ds.loader(4, sampler=DistributedSampler(ds, num_replicas=2, rank=1, seed=3),
                      with_indices=True)
    again.load_state_dict(state)
    assert [b[2].tolist() for b in again] == want and len(want) == 3


@pytest.mark.parametrize("kind", ["shuffle", "tc-sampler"])
def test_a_mid_epoch_state_resumes_on_another_number_of_ranks(tmp_path, kind):
    """The ranks took their whole batches in turn, so the first ranks x consumed x batch size
    of the epoch's order were read: where the loader knows that order, the new ranks share the
    rest (it was refused, so a torchrun elastic restart on other ranks could not resume)."""
    from torch.utils.data import DistributedSampler

    x = np.zeros((40, 1, 2, 2), np.uint8)
    tc.compress((x, np.arange(40) % 2), tmp_path / "a.tcz", progress=False)
    ds = tc.open(tmp_path / "a.tcz")

    def on(ranks, rank):
        if kind == "tc-sampler":
            return ds.loader(4, sampler=tc.samplers.SubsetSampler(
                range(40), seed=3, num_replicas=ranks, rank=rank), with_indices=True)
        loader = ds.loader(4, shuffle=True, seed=3, with_indices=True)
        if ranks == 1:
            return loader  # as Lightning puts a DistributedSampler in (test_frameworks.py)
        return type(loader)(loader.ds, loader.batches, True, shuffle=False,
                            sampler=DistributedSampler(range(len(loader)), ranks, rank))

    def take(loader, k):
        it = iter(loader)
        return [i for _ in range(k) for i in next(it)[2].tolist()]

    two = [on(2, r) for r in range(2)]
    read = take(two[0], 2) + take(two[1], 2)
    state = two[0].state_dict()
    assert (state["epoch"], state["consumed"], state["num_replicas"]) == (0, 2, 2)
    three = [on(3, r) for r in range(3)]
    for loader in three:
        loader.load_state_dict(state)
    read += [i for loader in three for i in take(loader, 1)]  # one more batch on every rank
    again = three[0].state_dict()  # and a second move, to one rank
    assert again["offset"] == 16 and again["consumed"] == 1
    one = on(1, 0)
    one.load_state_dict(again)
    one.sampler.set_epoch(0)  # as Lightning calls it as the resumed epoch begins
    assert len(one) == 10  # the epoch's length on one rank, as Lightning reads it once
    read += [i for _, _, idx in one for i in idx.tolist()]
    assert sorted(read) == list(range(40))
    assert one.epoch == 1 and len(take(one, 10)) == 40  # the next epoch is whole again
    single = on(1, 0)  # from 1 rank to 2: more batches left on each than a loop that counts
    read = take(single, 5)  # its own (Lightning) takes from the saved count to len(loader)
    state_of_one = single.state_dict()
    for rank in range(2):
        loader = on(2, rank)
        with pytest.warns(UserWarning, match=r"from the saved count \(5\) up to len\(loader\) "
                                             r"\(5\), as PyTorch Lightning does, reads only 0"):
            loader.load_state_dict(state_of_one)
        read += [i for _, _, idx in loader for i in idx.tolist()]
    assert sorted(read) == list(range(40))  # a plain loop reads them all
    refused = ds.loader(4, sampler=DistributedSampler(ds, num_replicas=3, rank=0))
    with pytest.raises(ValueError, match=r"the state's is (shuffle|SubsetSampler), this "
                                         r"loader's a sampler's own"):
        refused.load_state_dict(state)


def test_a_state_from_between_epochs_resumes_on_any_world_size(tmp_path):
    """A checkpoint at an epoch's end (Lightning's, when the epoch's last batch is taken) or
    start holds no position in the ranks' shares: it resumed only on as many ranks (it was
    refused on any other, which left a run on other devices no way to resume)."""
    from torch.utils.data import DistributedSampler

    x = np.zeros((40, 1, 2, 2), np.uint8)
    tc.compress((x, np.arange(40) % 2), tmp_path / "a.tcz", progress=False)
    ds = tc.open(tmp_path / "a.tcz")

    def on(ranks, rank=0):
        return ds.loader(4, sampler=DistributedSampler(ds, num_replicas=ranks, rank=rank,
                                                       seed=3), with_indices=True)

    two = on(2)
    it = iter(two)
    [next(it) for _ in range(len(two))]  # the epoch's last batch, the pass not ended
    end = two.state_dict()
    assert (end["epoch"], end["consumed"], end["epoch_batches"]) == (0, 5, 5)
    four = on(4, 3)
    four.load_state_dict(end)
    want = on(4, 3)
    want.set_epoch(1)
    want = [b[2].tolist() for b in want]
    assert four.epoch == 1 and [b[2].tolist() for b in four] == want
    whole = ds.loader(4, shuffle=True)  # on one device, after a pass run to its end
    list(whole)
    start = whole.state_dict()
    assert (start["epoch"], start["consumed"], start["num_replicas"]) == (1, 0, 1)
    four = on(4, 3)
    four.load_state_dict(start)
    assert [b[2].tolist() for b in four] == want


def test_taking_a_state_draws_nothing_from_a_sampler_without_a_length(lossless_archive):
    class Drawn:  # random, iterable only: its length would take a draw
        def __init__(self):
            self.rng = torch.Generator().manual_seed(1)

        def __iter__(self):
            return iter(torch.randperm(40, generator=self.rng).tolist())

    ds = tc.open(lossless_archive)
    plain, saved = ds.loader(8, sampler=Drawn()), ds.loader(8, sampler=Drawn())
    want = [[y.tolist() for _, y in plain] for _ in range(2)]
    got = []
    for _ in range(2):
        got.append([y.tolist() for _, y in saved])
        assert "epoch_batches" not in saved.state_dict()
    assert got == want and want[0] != want[1]


def test_a_random_sampler_resumed_after_an_epochs_last_batch_goes_on_as_it_would_have(
        lossless_archive):
    """Its generator is saved as the epoch began; the next epoch's order comes after that
    epoch's draw, so the loader draws it before moving on."""
    ds = tc.open(lossless_archive)

    def loader():
        g = torch.Generator().manual_seed(4)
        return ds.loader(6, sampler=torch.utils.data.RandomSampler(ds, generator=g))

    a = loader()
    full = [[y.tolist() for _, y in a] for _ in range(2)]
    b = loader()
    it = iter(b)
    [next(it) for _ in range(len(b))]
    c = loader()
    c.load_state_dict(b.state_dict())
    assert [y.tolist() for _, y in c] == full[1]
