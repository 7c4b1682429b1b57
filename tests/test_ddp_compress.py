"""tc.compress on 2 gloo ranks: each encodes its shards, rank 0 commits; shards equal one process's."""

import datetime
import json
import os
import socket
import time

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

import torchcompress as tc

WORLD, N = 2, 45


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Images(torch.utils.data.Dataset):
    """Generated images of two sizes; ``bad`` is a sample that cannot be read."""

    def __init__(self, bad: int = -1):
        self.bad = bad

    def __len__(self):
        return N

    def __getitem__(self, i):
        if i == self.bad:
            raise OSError(f"cannot read image {i}")
        rng = np.random.default_rng(i)
        h = 10 if i < 30 else 7
        ramp = np.add.outer(np.arange(h) * 3, np.arange(9) * (i % 4 + 1))
        img = (ramp[None] + rng.integers(0, 12, (3, h, 9))) % 256
        return torch.from_numpy(img.astype(np.uint8)), i % 3


RUNS = {"lossless": dict(codec="lossless", fit_samples=9),
        "adq": dict(codec="adq", bits=3.0),
        "lossy": dict(codec="lossy", bits=2.0),
        "gede": dict(codec="gede", mode="lossless", fit_samples=9)}


def _join(rank: int, port: int) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    dist.init_process_group("gloo", rank=rank, world_size=WORLD,
                            timeout=datetime.timedelta(seconds=60))


def _worker(rank, port, out_dir):
    _join(rank, port)
    result = {}
    for name, kw in RUNS.items():
        ds = _Uniform() if name in ("adq", "gede") else Images()
        info = tc.compress(ds, os.path.join(out_dir, name), shard_size=8, progress=False, **kw)
        result[name] = info["num_samples"]
    try:
        tc.compress(Images(bad=41), os.path.join(out_dir, "failed"), shard_size=8, progress=False,
                    fit_samples=9)  # 41 is not a fit row: rank 1 meets it
    except Exception as e:  # noqa: BLE001 - the test checks what each rank saw
        result["error"] = f"{type(e).__name__}: {e}"
    with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as f:
        json.dump(result, f)
    dist.destroy_process_group()


class _Uniform(Images):
    def __getitem__(self, i):
        img, label = super().__getitem__(i)
        return img[:, :7], label


def _shards(path):
    return {f: (path / f).read_bytes() for f in sorted(os.listdir(path)) if f.startswith("shard-")}


def test_two_gloo_ranks_write_the_single_process_shards(tmp_path):
    (tmp_path / "ddp").mkdir()
    mp.spawn(_worker, args=(_free_port(), str(tmp_path / "ddp")), nprocs=WORLD, join=True)
    results = [json.loads((tmp_path / "ddp" / f"rank{r}.json").read_text()) for r in range(WORLD)]
    for name, kw in RUNS.items():
        ds = _Uniform() if name in ("adq", "gede") else Images()
        tc.compress(ds, tmp_path / name, shard_size=8, progress=False, **kw)
        one, two = _shards(tmp_path / name), _shards(tmp_path / "ddp" / name)
        assert len(one) == 6 and one == two, name  # shards 0, 2, 4 from rank 0; 1, 3, 5 from rank 1
        if name in ("lossy", "gede"):
            assert (tmp_path / name / "tables.safetensors").read_bytes() == \
                (tmp_path / "ddp" / name / "tables.safetensors").read_bytes()
        m1 = json.loads((tmp_path / name / "manifest.json").read_text())
        m2 = json.loads((tmp_path / "ddp" / name / "manifest.json").read_text())
        for m in (m1, m2):
            m["provenance"].pop("created")
        assert m1 == m2
        assert all(r[name] == N for r in results)
    ddp = tc.open(tmp_path / "ddp" / "lossless")
    for i in (0, 33, 44):
        assert torch.equal(ddp[i][0], Images()[i][0])
    # sample 41 is in shard 5, rank 1's: both ranks fail and nothing is left
    assert results[1]["error"].startswith("OSError: source sample 41 could not be read "
                                          "(OSError: cannot read image 41)")
    assert results[0]["error"].startswith("RuntimeError: compress failed on rank 1: OSError")
    assert sorted(os.listdir(tmp_path / "ddp")) == ["adq", "gede", "lossless", "lossy",
                                                    "rank0.json", "rank1.json"]
    assert sorted(os.listdir(tmp_path / "ddp" / "gede"))[-1] == "tables.safetensors"  # no spool


def _one_rank_worker(rank, port, out_dir):
    """Rank 0 compresses alone, as under ``if rank == 0:``; the others wait at a barrier."""
    import warnings

    from torchcompress.datasets import ranks

    _join(rank, port)
    ranks.JOIN_TIMEOUT_S, ranks.NOTICE_S = 3.0, 1.0
    result = {}
    if rank == 0:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            t = time.monotonic()
            tc.compress(Images(), os.path.join(out_dir, "alone"), shard_size=8, progress=False,
                        distributed=False, fit_samples=9)
            result["alone_s"] = time.monotonic() - t
            result["alone_warnings"] = [str(w.message) for w in caught]
            try:
                tc.compress(Images(), os.path.join(out_dir, "waited"), shard_size=8,
                            progress=False, fit_samples=9)
            except RuntimeError as e:
                result["error"] = str(e)
            result["warnings"] = [str(w.message) for w in caught]
    dist.barrier()
    # every rank again: the work is shared (no warning), as without a rank-0-only call before
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        tc.compress(Images(), os.path.join(out_dir, "shared"), shard_size=8, progress=False,
                    fit_samples=9)
    result["shared_warnings"] = [str(w.message) for w in caught]
    with open(os.path.join(out_dir, f"one{rank}.json"), "w") as f:
        json.dump(result, f)
    dist.destroy_process_group()


def test_one_rank_compresses_alone_instead_of_waiting_in_a_collective(tmp_path):
    """``if rank == 0: tc.compress(...)`` then ``dist.barrier()``: the compress waited in its
    first collective for ranks that never came, until the group's timeout (30 minutes by
    default) ended it with gloo's "Timed out waiting ... for recv". With distributed=False it
    compresses at once; without, it says what it waits for and then what to pass."""
    mp.spawn(_one_rank_worker, args=(_free_port(), str(tmp_path)), nprocs=WORLD, join=True)
    result = json.loads((tmp_path / "one0.json").read_text())
    assert result["alone_warnings"] == [] and result["alone_s"] < 30
    waiting, = result["warnings"]
    assert "is waiting for the process group's other ranks (1 of 2 have called it)" in waiting
    assert result["error"].endswith(
        "waited'): 1 of the process group's 2 ranks called it within 3 s, and under a process "
        "group every rank does a share. Call it on every rank with the same arguments (in "
        "PyTorch Lightning, its setup hook runs on every rank); to compress on one rank alone "
        "(under `if rank == 0:`, or in Lightning's prepare_data), pass distributed=False; to "
        "wait longer for late ranks, distributed=True waits as long as the group's timeout. "
        "Nothing was written")
    assert not (tmp_path / "waited").exists()
    for r in range(WORLD):
        assert json.loads((tmp_path / f"one{r}.json").read_text())["shared_warnings"] == []
    tc.compress(Images(), tmp_path / "one", shard_size=8, progress=False, fit_samples=9)
    for name in ("alone", "shared"):
        assert _shards(tmp_path / name) == _shards(tmp_path / "one"), name


def test_the_distributed_flag_without_a_group(tmp_path):
    """Without a process group there is nothing to share: distributed=True compresses here, as
    per_class_accuracy and TrainingDynamics count alone without one (a script runs the same
    under torchrun and alone); the flag is a bool."""
    info = tc.compress(Images(), tmp_path / "a.tcz", progress=False, distributed=True,
                       fit_samples=9)
    assert info["num_samples"] == N
    with pytest.raises(TypeError, match=r"distributed should be True or False"):
        tc.compress(Images(), tmp_path / "b.tcz", progress=False, distributed="yes")


def _differing_worker(rank, port, out_dir):
    """Each rank's own random_split of one dataset: the same length, other samples."""
    _join(rank, port)
    torch.manual_seed(rank)  # as each rank's own seed does
    part, _ = torch.utils.data.random_split(Images(), [40, 5])
    same, _ = torch.utils.data.random_split(Images(), [40, 5],
                                            generator=torch.Generator().manual_seed(0))
    result = {}
    for name, source in (("split", part), ("seeded", same)):
        try:
            tc.compress(source, os.path.join(out_dir, name), shard_size=8, progress=False,
                        fit_samples=9)
        except ValueError as e:
            result[name] = str(e)
    with open(os.path.join(out_dir, f"differ{rank}.json"), "w") as f:
        json.dump(result, f)
    dist.destroy_process_group()


def test_ranks_with_different_sources_are_refused(tmp_path):
    """Each rank encodes its shards from its own copy of the source and verifies them against
    it: a random_split without a generator made an archive of rank 0's samples and rank 1's,
    without an error."""
    mp.spawn(_differing_worker, args=(_free_port(), str(tmp_path)), nprocs=WORLD, join=True)
    for r in range(WORLD):
        result = json.loads((tmp_path / f"differ{r}.json").read_text())
        assert list(result) == ["split"], result
        assert result["split"].startswith(
            "compress under a process group: every rank encodes its share of one source, but "
            "the ranks' sources differ (rank 0 and rank 1 differ in samples [0, 6, 11, 17, 22, "
            "28, 33, 39], compared). Pass every rank the same source: a random_split or a "
            "shuffle needs a generator with one seed on every rank")
    assert not (tmp_path / "split").exists()
    one, _ = torch.utils.data.random_split(Images(), [40, 5],
                                           generator=torch.Generator().manual_seed(0))
    tc.compress(one, tmp_path / "one", shard_size=8, progress=False, fit_samples=9)
    assert _shards(tmp_path / "seeded") == _shards(tmp_path / "one")


def _resizing_worker(rank, port, out_dir):
    """resize= on ranks whose CPUs round it differently (rank 1's values moved by 1, as
    torch's AVX2 and default kernels differ): the same source all the same."""
    from torchcompress.datasets import source_items

    _join(rank, port)
    if rank == 1:
        resized = source_items._resized

        def rounded_otherwise(img, size, i):
            out = resized(img, size, i).copy()
            out[0, 0, 0] ^= 1
            return out
        source_items._resized = rounded_otherwise
    result = {}
    try:
        tc.compress(Images(), os.path.join(out_dir, "resized"), resize=(8, 8), shard_size=8,
                    progress=False, fit_samples=9)
        result["ok"] = True
    except ValueError as e:
        result["error"] = str(e)
    with open(os.path.join(out_dir, f"resize{rank}.json"), "w") as f:
        json.dump(result, f)
    dist.barrier()  # both done before either tears gloo down (rank 1 once aborted in teardown:
    dist.destroy_process_group()  # "terminate called without an active exception", a full run)


def test_ranks_that_round_a_resize_differently_share_a_compress(tmp_path):
    """The ranks compared their resized samples, so ranks on CPUs of other vector paths were
    told their sources differ."""
    mp.spawn(_resizing_worker, args=(_free_port(), str(tmp_path)), nprocs=WORLD, join=True)
    for r in range(WORLD):
        assert json.loads((tmp_path / f"resize{r}.json").read_text()) == {"ok": True}
    assert len(tc.open(tmp_path / "resized")) == N


def _unshared_worker(rank, port, out_dir):
    """Rank 1 does not see rank 0's folder, as on a path on each node's own disk."""
    _join(rank, port)
    if rank == 1:
        real = os.path.isdir
        os.path.isdir = lambda p: False if ".partial-" in os.fspath(p) else real(p)
    try:
        tc.compress(Images(), os.path.join(out_dir, "local"), shard_size=8, progress=False,
                    fit_samples=9)
        error = None
    except Exception as e:  # noqa: BLE001 - the test checks what each rank saw
        error = f"{type(e).__name__}: {e}"
    with open(os.path.join(out_dir, f"unshared{rank}.json"), "w") as f:
        json.dump(error, f)
    dist.destroy_process_group()


def test_a_path_that_not_every_rank_sees_is_named(tmp_path):
    mp.spawn(_unshared_worker, args=(_free_port(), str(tmp_path)), nprocs=WORLD, join=True)
    errors = [json.loads((tmp_path / f"unshared{r}.json").read_text()) for r in range(WORLD)]
    assert "rank 0 made this folder for the archive's shards, but this rank does not see it; " \
           "under a process group the archive's path must be on a filesystem every rank sees" \
           in errors[1]
    assert errors[0].startswith("RuntimeError: compress failed on rank 1: FileNotFoundError")
    assert sorted(os.listdir(tmp_path)) == ["unshared0.json", "unshared1.json"]


def _table(seed: int = 0):
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 40, (60, 3)).astype(np.float32) / 4
    return x, (x.sum(1) > 15).astype(np.int64)


def _condensing_worker(rank, port, out_dir):
    """tc.condense on every rank, as compress is called under torchrun; then on rank 0 alone."""
    _join(rank, port)
    result = {}
    for name, kw in (("shared", {}), ("alone", {"distributed": False})):
        if name == "alone" and rank != 0:
            continue
        try:
            info = tc.condense(_table(), os.path.join(out_dir, name), progress=False, **kw)
            result[name] = info["num_condensed"]
        except Exception as e:  # noqa: BLE001 - the test checks what each rank saw
            result[name] = f"{type(e).__name__}: {e}"
    dist.barrier()
    with open(os.path.join(out_dir, f"condense{rank}.json"), "w") as f:
        json.dump(result, f)
    dist.destroy_process_group()


def test_condense_on_every_rank(tmp_path):
    """Called on every rank, every rank but one raised FileExistsError (each condensed and wrote
    the archive on its own); rank 0 now writes it and every rank returns its info."""
    mp.spawn(_condensing_worker, args=(_free_port(), str(tmp_path)), nprocs=WORLD, join=True)
    one = tc.condense(_table(), tmp_path / "one", progress=False)["num_condensed"]
    assert json.loads((tmp_path / "condense0.json").read_text()) == {"shared": one, "alone": one}
    assert json.loads((tmp_path / "condense1.json").read_text()) == {"shared": one}
    for name in ("shared", "alone"):
        ds, ref = tc.open(tmp_path / name), tc.open(tmp_path / "one")
        assert len(ds) == one and str(list(ds)) == str(list(ref))
        files = sorted(f for f in os.listdir(tmp_path / "one") if f != "manifest.json")
        for f in files:
            assert (tmp_path / name / f).read_bytes() == (tmp_path / "one" / f).read_bytes()
