"""Train on a small device: one thread, a small model, and a hard cap on memory.

    python examples/train_on_device.py --data ../shared/data/mnist_t10k.npz --cap-mb 400

Compresses the training part (80%) of the .npz losslessly in a separate process
(as a bigger machine would, before the archive is copied over), then, with one
thread and the address space capped at ``--cap-mb`` MiB above what the
interpreter and torch already use (``RLIMIT_AS``: an allocation past it fails),
trains a small CNN from the memory-mapped archive through ``ds.loader`` and
reports test accuracy, the archive's size against the raw data and the peak
resident memory. Only the pages a batch decodes are touched; the raw data is
never held in memory.
"""

import argparse
import multiprocessing as mp
import resource
import tempfile
import time

import numpy as np
import torch
from torch import nn
from torchvision.transforms import v2

import torchcompress as tc


def _status(key: str) -> int:
    """A /proc/self/status entry in bytes (Linux), e.g. VmSize, VmRSS, VmHWM."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {key} in /proc/self/status")


def _compress_training_part(data: str, out: str) -> None:
    """Runs in its own process: the device that trains never holds the raw training data."""
    with np.load(data) as z:
        x, y = z["x"], z["y"].astype(np.int64)
    x = x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)
    n = int(0.8 * len(x))
    tc.compress((x[:n], y[:n]), out, progress=False)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help=".npz with uint8 x (N,H,W[,C]) and y")
    p.add_argument("--cap-mb", type=int, default=400, help="address space allowed on top of start-up")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=64)
    a = p.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        job = mp.get_context("spawn").Process(target=_compress_training_part,
                                              args=(a.data, f"{tmp}/train.tcz"))
        job.start()
        job.join()
        if job.exitcode != 0:
            raise SystemExit(f"compressing {a.data} failed (exit code {job.exitcode})")
        with np.load(a.data) as z:  # the test part only
            x, y = z["x"], z["y"].astype(np.int64)
        n = int(0.8 * len(x))
        x = x[n:, None] if x.ndim == 3 else x[n:].transpose(0, 3, 1, 2)
        scale = v2.ToDtype(torch.float32, scale=True)
        xt, yt = scale(torch.from_numpy(np.ascontiguousarray(x))), torch.from_numpy(y[n:])
        shape, k = x.shape[1:], int(y.max()) + 1
        del x, y
        ds = tc.open(f"{tmp}/train.tcz", transform=scale)
        info = ds.info
        loader = ds.loader(a.batch_size, shuffle=True)
        torch.manual_seed(0)
        c, h, w = shape
        net = nn.Sequential(nn.Conv2d(c, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                            nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                            nn.Flatten(), nn.Linear(16 * (h // 4) * (w // 4), k))
        opt = torch.optim.Adam(net.parameters(), 1e-3)
        cap = _status("VmSize") + a.cap_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset the peak RSS: measure training, not the compress before it
        rss0 = _status("VmRSS")
        t0 = time.perf_counter()
        for epoch in range(a.epochs):
            for xb, yb in loader:
                opt.zero_grad()
                nn.functional.cross_entropy(net(xb), yb).backward()
                opt.step()
        with torch.no_grad():
            acc = (net(xt).argmax(1) == yt).float().mean().item()
        peak = _status("VmHWM")
        print(f"archive {info['bytes']:,} bytes ({info['pct_of_uint8']:.1f}% of the raw uint8 "
              f"training data); {a.epochs} epochs in {time.perf_counter() - t0:.1f} s on 1 thread "
              f"under a {a.cap_mb} MiB address-space cap; test accuracy {acc:.4f}; resident memory "
              f"{rss0 / 2**20:.0f} MiB before training, peak {peak / 2**20:.0f} MiB during it "
              f"(+{(peak - rss0) / 2**20:.0f} MiB)")


if __name__ == "__main__":
    main()
