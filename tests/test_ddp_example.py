"""examples/ddp_train.py under torchrun: 2 gloo ranks train from an archive, checkpoint, resume."""

import os
import socket
import subprocess
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _torchrun(*args, script=os.path.join(ROOT, "examples", "ddp_train.py")):
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2",
           f"--master_port={_free_port()}", *script.split(), *args]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), "OMP_NUM_THREADS": "1"}
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)


def test_two_gloo_ranks_train_checkpoint_and_resume(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (120, 12, 12), dtype=np.uint8)
    np.savez(tmp_path / "d.npz", x=x, y=np.arange(120) % 3)
    common = ["--data", str(tmp_path / "d.npz"), "--archive", str(tmp_path / "a.tcz"),
              "--batch-size", "8", "--checkpoint", str(tmp_path / "ck")]
    first = _torchrun(*common, "--epochs", "1")
    assert first.returncode == 0, first.stderr[-3000:]
    # 50% of 120 per epoch, 30 per rank: both ranks' samples are counted
    assert "epoch 0: mean loss" in first.stdout and "over 60 samples on 2 ranks" in first.stdout
    assert (tmp_path / "ck.safetensors").exists() and (tmp_path / "ck.json").exists()
    second = _torchrun(*common, "--epochs", "2", "--resume")
    assert second.returncode == 0, second.stderr[-3000:]
    assert "epoch 0" not in second.stdout and "epoch 1: mean loss" in second.stdout


def test_cli_compress_under_torchrun_writes_the_single_process_archive(tmp_path):
    import torchcompress as tc

    rng = np.random.default_rng(1)
    x = np.add.outer(np.arange(40), np.arange(64)).reshape(40, 1, 8, 8) % 256
    x = (x + rng.integers(0, 3, x.shape)).astype(np.uint8)
    np.savez(tmp_path / "d.npz", x=x, y=np.arange(40) % 3)
    r = _torchrun(str(tmp_path / "d.npz"), str(tmp_path / "two.tcz"), "--quiet",
                  script="-m torchcompress compress")
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.count("codec      lossless") == 1  # rank 0 prints the summary
    tc.compress(str(tmp_path / "d.npz"), tmp_path / "one.tcz", progress=False)
    for f in ("shard-00000.safetensors", "tables.safetensors"):
        assert (tmp_path / "one.tcz" / f).read_bytes() == (tmp_path / "two.tcz" / f).read_bytes()
    assert np.array_equal(np.stack([s[0].numpy() for s in tc.open(tmp_path / "two.tcz")]), x)
