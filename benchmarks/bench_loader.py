"""End-to-end loader throughput: ds.loader against the codec's own batched decode, a plain
DataLoader over the archive, an in-RAM TensorDataset and ImageFolder over PNG files.

    python benchmarks/bench_loader.py --data ../shared/data/cifar10_sample.npz --times 10

One table per run. Every loader runs ``--repeats`` + 1 full shuffled epochs of ``--batch``
batches, at 0 and 2 worker processes. With workers the loader keeps them
(``persistent_workers=True``, as a user training for many epochs would): the first
epoch pays their start-up and is reported apart; "samples/s" is the median of the
epochs after it. "decode only" is ``ds.__getitems__`` of one shuffled epoch's batches in
the main process (median of 3): the codec's own rate on one core. ``--times`` repeats the
.npz samples so an epoch lasts long enough to time.
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


def _epoch_rates(make_loader, n, repeats):
    """(first epoch's samples/s, median samples/s of the ``repeats`` epochs after it)."""
    loader = make_loader()
    rates = []
    for _ in range(repeats + 1):
        t0 = time.perf_counter()
        count = sum(len(b[1]) for b in loader)
        rates.append(count / (time.perf_counter() - t0))
        if count != n:
            raise RuntimeError(f"an epoch yielded {count} samples, expected {n}")
    return rates[0], statistics.median(rates[1:])


def _decode_rate(ds, batches) -> float:
    t0 = time.perf_counter()
    for bt in batches:
        ds.__getitems__(bt)
    return sum(map(len, batches)) / (time.perf_counter() - t0)


def _kw(workers: int) -> dict:
    return {"num_workers": workers, "persistent_workers": workers > 0}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", help=".npz with x and y (default: synthetic)")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--repeats", type=int, default=3, help="epochs timed after the first")
    p.add_argument("--times", type=int, default=1, help="repeat the .npz samples this often")
    args = p.parse_args()
    torch.set_num_threads(1)
    x, y, name = load_images(args.data)
    x, y = np.concatenate([x] * args.times), np.concatenate([y] * args.times)
    name = f"{name} x{args.times}" if args.times > 1 else name
    n, b = len(x), args.batch
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        ram = TensorDataset(torch.from_numpy(x), torch.from_numpy(y))
        for w in (0, 2):
            rows.append(("in-RAM TensorDataset (uint8)", w, None, _epoch_rates(
                lambda: DataLoader(ram, batch_size=b, shuffle=True, **_kw(w)), n, args.repeats)))
        folder = _png_folder(x, y, f"{tmp}/png")
        from torchvision.datasets import ImageFolder
        from torchvision.transforms import v2
        imgs = ImageFolder(folder, transform=v2.PILToTensor())
        for w in (0, 2):
            rows.append(("ImageFolder over PNG files", w, None, _epoch_rates(
                lambda: DataLoader(imgs, batch_size=b, shuffle=True, **_kw(w)), n, args.repeats)))
        for label, params in CODECS.items():
            path = f"{tmp}/{label.replace(' ', '_')}.tcz"
            tc.compress((x, y), path, progress=False, **params)
            ds = tc.open(path)
            # a whole shuffled epoch, as the loaders read it: 8 batches repeated stayed in
            # cache and overstated the decode rate (GeDe dct 80k/s against 68-71k/s over epochs)
            order = np.random.default_rng(0).permutation(n).tolist()
            batches = [order[i:i + b] for i in range(0, n, b)]
            ds.__getitems__(batches[0])
            decode = statistics.median(_decode_rate(ds, batches) for _ in range(3))
            for w in (0, 2):
                rows.append((f"{label}: ds.loader", w, decode, _epoch_rates(
                    lambda: ds.loader(b, shuffle=True, **_kw(w)), n, args.repeats)))
                rows.append((f"{label}: DataLoader(ds)", w, decode, _epoch_rates(
                    lambda: DataLoader(ds, batch_size=b, shuffle=True, **_kw(w)), n,
                    args.repeats)))
    print(f"Loader benchmark: {name}, {n} samples of {tuple(x.shape[1:])}, batch {b}, one core per "
          f"process (torch threads 1); samples/s: median of {args.repeats} epochs after the first")
    print("| source | workers | first epoch/s | samples/s | decode only/s | x decode | "
          "x TensorDataset (same workers) |")
    print("|---|---|---|---|---|---|---|")
    ram_rate = {w: r for lab, w, _, (_, r) in rows if lab.startswith("in-RAM")}
    for label, w, decode, (first, rate) in rows:
        d = "-" if decode is None else f"{decode:,.0f}"
        xd = "-" if decode is None else f"{rate / decode:.2f}"
        print(f"| {label} | {w} | {first:,.0f} | {rate:,.0f} | {d} | {xd} | {rate / ram_rate[w]:.2f} |")


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
