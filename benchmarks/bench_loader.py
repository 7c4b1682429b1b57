"""End-to-end loader throughput: ds.loader against the codec's own batched decode, a plain
DataLoader over the archive, an in-RAM TensorDataset and ImageFolder over PNG files.

    python benchmarks/bench_loader.py --data ../shared/data/cifar10_sample.npz

One table per run. Every row is one full shuffled epoch of ``--batch`` batches,
median of ``--repeats`` epochs, at 0 and 2 worker processes (spawn workers start
per epoch, so their start-up is counted, as a user would pay it). "decode only"
is ``ds.__getitems__`` of random batches in the main process: the codec's own
rate, the ceiling for the loaders that use it.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torchcompress as tc  # noqa: E402
from common import load_images  # noqa: E402

CODECS = {"lossless": {}, "lossy 0.5-bit": {"codec": "lossy", "bits": 0.5},
          "adq 2-bit": {"codec": "adq", "bits": 2.0},
          "gede dct": {"codec": "gede", "mode": "dct"},
          "gede lossless": {"codec": "gede", "mode": "lossless"}}


def _epoch_rate(make_loader, n, repeats):
    rates = []
    for _ in range(repeats):
        loader = make_loader()
        t0 = time.perf_counter()
        count = sum(len(b[1]) for b in loader)
        rates.append(count / (time.perf_counter() - t0))
    if count != n:
        raise RuntimeError(f"an epoch yielded {count} samples, expected {n}")
    return statistics.median(rates)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", help=".npz with x and y (default: synthetic)")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    torch.set_num_threads(1)
    x, y, name = load_images(args.data)
    n, b = len(x), args.batch
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        ram = TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
        for w in (0, 2):
            rows.append(("in-RAM TensorDataset (uint8)", w, None, _epoch_rate(
                lambda: DataLoader(ram, batch_size=b, shuffle=True, num_workers=w), n, args.repeats)))
        folder = _png_folder(x, y, f"{tmp}/png")
        from torchvision.datasets import ImageFolder
        from torchvision.transforms import v2
        imgs = ImageFolder(folder, transform=v2.PILToTensor())
        for w in (0, 2):
            rows.append(("ImageFolder over PNG files", w, None, _epoch_rate(
                lambda: DataLoader(imgs, batch_size=b, shuffle=True, num_workers=w), n, args.repeats)))
        for label, params in CODECS.items():
            path = f"{tmp}/{label.replace(' ', '_')}.tcz"
            tc.compress((x, y), path, progress=False, **params)
            ds = tc.open(path)
            rng = np.random.default_rng(0)
            batches = [rng.integers(0, n, b).tolist() for _ in range(8)]
            ds.__getitems__(batches[0])
            t0 = time.perf_counter()
            for bt in batches:
                ds.__getitems__(bt)
            decode = 8 * b / (time.perf_counter() - t0)
            for w in (0, 2):
                rows.append((f"{label}: ds.loader", w, decode, _epoch_rate(
                    lambda: ds.loader(b, shuffle=True, num_workers=w), n, args.repeats)))
                rows.append((f"{label}: DataLoader(ds)", w, decode, _epoch_rate(
                    lambda: DataLoader(ds, batch_size=b, shuffle=True, num_workers=w), n,
                    args.repeats)))
    print(f"Loader benchmark: {name}, {n} samples of {tuple(x.shape[1:])}, batch {b}, one core per "
          f"process (torch threads 1), median of {args.repeats} epochs")
    print("| source | workers | samples/s | decode only/s | x decode | x TensorDataset (same workers) |")
    print("|---|---|---|---|---|---|")
    ram_rate = {w: r for lab, w, _, r in rows if lab.startswith("in-RAM")}
    for label, w, decode, rate in rows:
        d = "-" if decode is None else f"{decode:,.0f}"
        xd = "-" if decode is None else f"{rate / decode:.2f}"
        print(f"| {label} | {w} | {rate:,.0f} | {d} | {xd} | {rate / ram_rate[w]:.2f} |")


def _png_folder(x: np.ndarray, y: np.ndarray, root: str) -> str:
    from PIL import Image

    for i, (img, label) in enumerate(zip(x, y)):
        d = os.path.join(root, f"class{int(label)}")
        os.makedirs(d, exist_ok=True)
        hwc = img.transpose(1, 2, 0)
        Image.fromarray(hwc[..., 0] if hwc.shape[2] == 1 else hwc).save(f"{d}/{i:06d}.png")
    return root


if __name__ == "__main__":
    main()
