"""Cost of TrainingDynamics.record in a real CPU training loop, one table per run.

    python benchmarks/bench_dynamics.py --data ../shared/data/mnist_t10k.npz

Trains the small CNN of training.py on the 8k training split (batch 64) and
alternates epochs with and without ``record`` in the same run, so both see
the same model size and data; reports the median epoch time of each and the
time spent inside ``record``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torchcompress as tc  # noqa: E402
from training import load_split, small_cnn  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", help="mnist_t10k.npz (default: synthetic)")
    p.add_argument("--pairs", type=int, default=4, help="epochs with and without recording, each")
    args = p.parse_args()
    x, y, _, _, name = load_split(args.data)
    torch.manual_seed(0)
    net = small_cnn()
    opt = torch.optim.SGD(net.parameters(), lr=0.02, momentum=0.9)
    ds = tc.with_indices(TensorDataset(x, y))
    loader = DataLoader(ds, batch_size=64, shuffle=True, generator=torch.Generator().manual_seed(0))
    dyn = tc.dynamics.TrainingDynamics(len(x), 10, windows=[(0, 2 * args.pairs)])
    times = {True: [], False: []}
    in_record = []
    for epoch in range(2 * args.pairs):
        rec = epoch % 2 == 1
        dyn.set_epoch(epoch)
        spent = 0.0
        t0 = time.perf_counter()
        for xb, yb, ib in loader:
            out = net(xb)
            loss = nn.functional.cross_entropy(out, yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            if rec:
                r0 = time.perf_counter()
                dyn.record(ib, out, yb)
                spent += time.perf_counter() - r0
        dyn.finalize() if rec else None
        times[rec].append(time.perf_counter() - t0)
        if rec:
            in_record.append(spent)
    off, on = float(np.median(times[False])), float(np.median(times[True]))
    rec_med = float(np.median(in_record))
    print(f"recording overhead: {name}, {len(x)} training samples, batch 64, small CNN, "
          f"{torch.get_num_threads()} torch threads, median of {args.pairs} epochs each")
    print("| epoch without record s | epoch with record s | overhead % | time inside record s | "
          "record % of epoch |")
    print("|---|---|---|---|---|")
    print(f"| {off:.3f} | {on:.3f} | {100 * (on / off - 1):+.2f} | {rec_med:.4f} | "
          f"{100 * rec_med / on:.2f} |")


if __name__ == "__main__":
    main()
