"""Real torch.distributed (gloo, 2 CPU processes): shards, agreement of scores and ratios, no hangs."""

import datetime
import json
import os
import socket

import numpy as np
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

WORLD = 2
N, C = 37, 3  # 37 is odd: shards need padding


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _logits(epoch: int, idx: torch.Tensor) -> torch.Tensor:
    g = torch.Generator().manual_seed(1000 + epoch)
    table = torch.randn(N, C, generator=g) * 2
    return table[idx]


def _worker(rank, port, out_dir):
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=WORLD, timeout=datetime.timedelta(seconds=60))
    import torchcompress as tc
    from torch.utils.data import DataLoader, TensorDataset

    labels = np.arange(N) % C
    result = {}
    samplers = {
        "random": tc.samplers.RandomSubsetSampler(range(N), fraction=0.7, seed=3),
        "balanced": tc.samplers.RandomSubsetSampler(range(N), num_samples=25, class_balanced=True,
                                                    labels=labels, seed=3),
        "weighted": tc.samplers.WeightedSubsetSampler(np.arange(1, N + 1), 21, seed=3),
        "ratio": tc.samplers.ClassRatioSampler(labels, 0.5, seed=3, initial_accuracy=[0.5] * 3),
        "subset": tc.samplers.SubsetSampler(np.arange(0, N, 2), seed=3),
    }
    for name, s in samplers.items():
        assert (s.num_replicas, s.rank) == (WORLD, rank)  # defaults from the process group
        s.set_epoch(1)
        result[name] = list(s)
        result[name + "_len"] = len(s)
    # the ratio sampler: ranks pass different accuracies, rank 0's win everywhere
    acc = [0.9, 0.3, 0.6] if rank == 0 else [0.1, 0.1, 0.1]
    result["ratios_before"] = samplers["ratio"].ratios.tolist()
    result["ratios"] = samplers["ratio"].update(acc).tolist()
    # dynamics: each rank records only its shard, scores must agree and match one process
    dyn = tc.dynamics.TrainingDynamics(N, C, windows=[(1, 3), (4, 6)])
    ds = tc.with_indices(TensorDataset(torch.zeros(N, 1), torch.as_tensor(labels)))
    sampler = tc.samplers.RandomSubsetSampler(ds, fraction=0.9, seed=0)  # some samples unseen
    steps = 0
    for epoch in range(6):
        dyn.set_epoch(epoch)
        sampler.set_epoch(epoch)
        for _, y, idx in DataLoader(ds, batch_size=4, sampler=sampler):
            dyn.record(idx, _logits(epoch, idx), y)
            t = torch.ones(1)
            dist.all_reduce(t)  # a collective per step: unequal step counts would hang here
            steps += 1
    result["steps"] = steps
    result["eva"] = np.nan_to_num(tc.dynamics.eva_scores(dyn), nan=-1.0).tolist()
    result["forgetting"] = np.nan_to_num(tc.dynamics.forgetting_scores(dyn), nan=-1.0,
                                         posinf=1e9).tolist()
    # per-class accuracy sums over ranks
    model = torch.nn.Linear(1, C)
    x = torch.zeros(N, 1)
    part = torch.arange(rank, N, WORLD)
    loader = DataLoader(TensorDataset(x[part], torch.as_tensor(labels)[part]), batch_size=5)
    result["acc"] = np.nan_to_num(tc.evaluate.per_class_accuracy(model, loader, C)).tolist()
    if rank == 0:  # an evaluation on one rank: no sum over ranks that never call it (it hung)
        result["acc_alone"] = np.nan_to_num(tc.evaluate.per_class_accuracy(
            model, loader, C, distributed=False), nan=-1.0).tolist()
        alone = tc.dynamics.TrainingDynamics(N, C, windows=[(1, 3)], distributed=False)
        for epoch in (1, 2):
            alone.set_epoch(epoch)
            alone.record(part, _logits(epoch, part), torch.as_tensor(labels)[part])
        alone.finalize()
        result["alone_seen"] = int((~torch.isnan(alone.norms[:, 0])).sum())
    dist.barrier()
    # ds.loader without a sampler: every rank would read every sample, so it warns (once, as
    # the pass begins: a framework may still hand it a DistributedSampler before that)
    import warnings
    archive = tc.open(os.path.join(out_dir, "a.tcz"))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        unsharded = archive.loader(4, shuffle=True)
        list(unsharded), list(unsharded)
        list(archive.loader(4, sampler=tc.samplers.RandomSubsetSampler(archive, fraction=0.5)))
    result["loader_warnings"] = [str(w.message) for w in caught]
    with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as f:
        json.dump(result, f)
    dist.destroy_process_group()


def test_two_process_gloo(tmp_path):
    import torchcompress as tc
    tc.compress((np.zeros((N, 1, 2, 2), np.uint8), np.arange(N) % C), tmp_path / "a.tcz",
                progress=False)
    mp.spawn(_worker, args=(_free_port(), str(tmp_path)), nprocs=WORLD, join=True)
    r0, r1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(WORLD))
    for r in (r0, r1):
        assert len(r["loader_warnings"]) == 1 and r["loader_warnings"][0].startswith(
            "ds.loader without a sampler under torch.distributed gives each of the 2 ranks every "
            "sample")

    labels = np.arange(N) % C
    single = {
        "random": tc.samplers.RandomSubsetSampler(range(N), fraction=0.7, seed=3, num_replicas=1, rank=0),
        "balanced": tc.samplers.RandomSubsetSampler(range(N), num_samples=25, class_balanced=True,
                                                    labels=labels, seed=3, num_replicas=1, rank=0),
        "weighted": tc.samplers.WeightedSubsetSampler(np.arange(1, N + 1), 21, seed=3, num_replicas=1, rank=0),
        "ratio": tc.samplers.ClassRatioSampler(labels, 0.5, seed=3, num_replicas=1, rank=0,
                                               initial_accuracy=[0.5] * 3),
        "subset": tc.samplers.SubsetSampler(np.arange(0, N, 2), seed=3, num_replicas=1, rank=0),
    }
    for name, s in single.items():
        s.set_epoch(1)
        full = list(s)
        a, b = r0[name], r1[name]
        assert len(a) == len(b) == r0[name + "_len"] == r1[name + "_len"]
        interleaved = [v for pair in zip(a, b) for v in pair]
        assert interleaved[:len(full)] == full, name  # together they cover the subset, in order
        if name != "weighted":  # without replacement the real (unpadded) parts are disjoint
            assert len(set(interleaved[:len(full)])) == len(full), name
    assert r0["ratios"] == r1["ratios"] != r0["ratios_before"]  # rank 0's update, on both
    assert r0["steps"] == r1["steps"]
    assert r0["eva"] == r1["eva"] and r0["forgetting"] == r1["forgetting"]
    assert r0["acc"] == r1["acc"] and len(r0["acc_alone"]) == C
    assert r0["alone_seen"] == len(range(0, N, WORLD))  # rank 0's own samples, not summed
    # and the 2-rank EVA equals a single process recording everything
    from torch.utils.data import DataLoader, TensorDataset
    dyn = tc.dynamics.TrainingDynamics(N, C, windows=[(1, 3), (4, 6)])
    ds = tc.with_indices(TensorDataset(torch.zeros(N, 1), torch.as_tensor(labels)))
    sampler = tc.samplers.RandomSubsetSampler(ds, fraction=0.9, seed=0, num_replicas=1, rank=0)
    for epoch in range(6):
        dyn.set_epoch(epoch)
        sampler.set_epoch(epoch)
        for _, y, idx in DataLoader(ds, batch_size=4, sampler=sampler):
            dyn.record(idx, _logits(epoch, idx), y)
    np.testing.assert_allclose(r0["eva"], np.nan_to_num(tc.dynamics.eva_scores(dyn), nan=-1.0), rtol=1e-6)
