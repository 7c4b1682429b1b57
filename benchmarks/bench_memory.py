"""Peak resident memory while training: an in-RAM TensorDataset against archives.

    python benchmarks/bench_memory.py --data ../shared/data/mnist_t10k.npz
    python benchmarks/bench_memory.py --data ../shared/data/cifar10_sample.npz

Each row trains the same small CNN for ``--epochs`` epochs in a fresh
(spawned) process with one thread: from a ``TensorDataset`` holding the uint8
images in RAM (loaded from the .npz, as a user would), or from an archive
(compressed beforehand, in the parent) through ``ds.loader``. "RSS after
set-up" is the resident memory once torch, the model and one warm-up step
(and, for archives, one decoded sample: the numba kernels) are in place;
"growth" is the peak resident memory (VmHWM) during training minus that, so
it counts the data and the loop's own buffers; the archive's pages are
memory-mapped and count once touched.
Median of ``--repeats`` processes.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import proc_status  # noqa: E402


def _train_child(kind: str, source: str, shape: tuple, epochs: int, queue) -> None:
    import torch
    from torch import nn

    import torchcompress as tc

    torch.set_num_threads(1)
    torch.manual_seed(0)
    c, h, w = shape
    net = nn.Sequential(nn.Conv2d(c, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                        nn.Flatten(), nn.Linear(8 * (h // 2) * (w // 2), 10))
    opt = torch.optim.SGD(net.parameters(), lr=0.01)

    def step(xb, yb):
        opt.zero_grad()
        nn.functional.cross_entropy(net(xb.float().div_(255)), yb).backward()
        opt.step()

    # warm up what every run pays once (torch's first step; the decode kernels), outside the peak
    step(torch.zeros((256, c, h, w), dtype=torch.uint8), torch.zeros(256, dtype=torch.int64))
    if kind != "tensor":
        tc.open(source).__getitems__([0])
    fixed = proc_status("VmRSS")
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset the peak: measure the data and the loop, not the imports
    rss0 = proc_status("VmRSS")
    if kind == "tensor":
        with np.load(source) as z:
            x, y = z["x"], z["y"].astype(np.int64)
        x = x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2)
        ds = torch.utils.data.TensorDataset(torch.from_numpy(np.ascontiguousarray(x)), torch.from_numpy(y))
        loader = torch.utils.data.DataLoader(ds, batch_size=256, shuffle=True)
    else:
        loader = tc.open(source).loader(256, shuffle=True)
    for _ in range(epochs):
        for xb, yb in loader:
            step(xb, yb)
    queue.put((fixed, proc_status("VmHWM") - rss0))


def _peak(kind: str, source: str, shape: tuple, epochs: int) -> int:
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_train_child, args=(kind, source, shape, epochs, q))
    p.start()
    out = q.get()
    p.join()
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help=".npz with uint8 x (N,H,W[,C]) and y")
    p.add_argument("--epochs", type=int, default=1)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    import torchcompress as tc

    with np.load(args.data) as z:
        x, y = z["x"], z["y"].astype(np.int64)
    x = np.ascontiguousarray(x[:, None] if x.ndim == 3 else x.transpose(0, 3, 1, 2))
    rows = [("in-RAM uint8 TensorDataset", "tensor", args.data, x.nbytes)]
    with tempfile.TemporaryDirectory() as tmp:
        for codec, params in (("lossless", {}), ("lossy", {"bits": 0.5})):
            path = f"{tmp}/{codec}.tcz"
            info = tc.compress((x, y), path, codec=codec, progress=False, **params)
            label = codec if not params else f"{codec} bits={params['bits']}"
            rows.append((f"archive, {label}, ds.loader", "archive", path, info["bytes"]))
        results = []
        for label, kind, src, size in rows:
            runs = [_peak(kind, src, x.shape[1:], args.epochs) for _ in range(args.repeats)]
            results.append((label, size, statistics.median(r[0] for r in runs),
                            statistics.median(r[1] for r in runs)))
    print(f"Memory while training: {os.path.basename(args.data)}, {len(x):,} x "
          f"{'x'.join(map(str, x.shape[1:]))} uint8 ({x.nbytes / 2**20:.1f} MiB), batch 256, "
          f"{args.epochs} epoch(s), 1 thread, median of {args.repeats} processes")
    print("| data | bytes on disk | RSS after set-up MiB | peak RSS growth while training MiB | "
          "growth / uint8 size |")
    print("|---|---|---|---|---|")
    for label, size, fixed, grow in results:
        print(f"| {label} | {size:,} | {fixed / 2**20:.0f} | {grow / 2**20:.1f} | {grow / x.nbytes:.2f} |")


if __name__ == "__main__":
    main()
