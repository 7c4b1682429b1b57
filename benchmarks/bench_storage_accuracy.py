"""Test accuracy at equal storage: every sample compressed, or a subset of raw samples (the ADQ
paper's question, on real data).

    python benchmarks/bench_storage_accuracy.py --data ../shared/data/mnist_t10k.npz --train 8000
    python benchmarks/bench_storage_accuracy.py --data ../shared/data/cifar10_sample.npz --epochs 15

For each budget (a share of the uint8 training set's bytes) it trains the same
small CNN, with the same number of SGD steps, on:
- every sample through ``codec="lossy"`` at that budget (whole archive
  without labels counted);
- every sample through ADQ at that budget (its floor is 1 bit per value,
  12.5% of uint8: below that the row says so, and one row gives ADQ at 1 bit);
- every sample as JPEG (libjpeg-turbo, the highest quality whose mean scan
  bytes fit; headers shared, not counted);
- a random subset of raw samples of the same bytes: fixed, and drawn again
  each epoch (``RandomSubsetSampler``).
Mean +- std of test accuracy over ``--seeds`` seeds; raw training (100%) on top.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torchcompress as tc  # noqa: E402
from common import archive_bytes_without_labels  # noqa: E402
from training import accuracy, load_split, train  # noqa: E402


def through_codec(x8: np.ndarray, y: np.ndarray, tmp: str, **params) -> tuple[torch.Tensor, int]:
    """Decoded float training set and archive bytes for one codec setting."""
    path = f"{tmp}/a.tcz"
    tc.compress((x8, y), path, overwrite=True, progress=False, **params)
    ds = tc.open(path, output="float")
    xs = torch.cat([torch.stack([b[0] for b in ds.__getitems__(list(range(i, min(i + 1024, len(ds)))))])
                    for i in range(0, len(ds), 1024)])
    return xs.reshape(x8.shape), archive_bytes_without_labels(path)


def through_jpeg(x8: np.ndarray, budget: float) -> tuple[torch.Tensor | None, int, int]:
    """Decoded training set at the highest JPEG quality whose scan bytes fit ``budget``."""
    import imagecodecs as ic

    from bench_lossy import scan_bytes

    hwc = [a.transpose(1, 2, 0) if a.shape[0] == 3 else a[0] for a in x8]
    best = None
    for q in range(1, 96):
        blobs = [ic.jpeg8_encode(a, level=q, optimize=True) for a in hwc]
        size = sum(scan_bytes(b) for b in blobs)
        if size > budget:
            break
        best = (q, blobs, size)
    if best is None:
        return None, 0, 0
    q, blobs, size = best
    dec = np.stack([ic.jpeg8_decode(b) for b in blobs])
    dec = dec.transpose(0, 3, 1, 2) if dec.ndim == 4 else dec[:, None]
    return torch.from_numpy(dec.astype(np.float32) / 255), size, q


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True)
    p.add_argument("--train", type=int, default=None, help="training samples (default 80%%)")
    p.add_argument("--budgets", type=float, nargs="+", default=[0.05, 0.10])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=8)
    args = p.parse_args()
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    xtr, ytr, xte, yte, name = load_split(args.data, args.train)
    x8 = (xtr.numpy() * 255).round().astype(np.uint8)
    y = ytr.numpy()
    raw = x8.size
    n = len(x8)

    def run(x, **kw):
        accs = [accuracy(train(x, ytr, seed=s, epochs=kw.get("epochs", args.epochs),
                               indices=kw.get("indices_fn", lambda s: None)(s),
                               sampler=kw.get("sampler_fn", lambda s: None)(s)), xte, yte)
                for s in range(args.seeds)]
        return 100 * np.mean(accs), 100 * np.std(accs)

    rows = [("raw uint8, every sample", 100.0, *run(xtr))]
    with tempfile.TemporaryDirectory() as tmp:
        for share in args.budgets:
            budget = share * raw
            bits = 8 * share
            xs, size = through_codec(x8, y, tmp, codec="lossy", bits=bits)
            rows.append((f"lossy bits={bits:.2f}, every sample", 100 * size / raw, *run(xs)))
            if bits >= 1:
                xs, size = through_codec(x8, y, tmp, codec="adq", bits=bits)
                rows.append((f"ADQ bits={bits:.2f}, every sample", 100 * size / raw, *run(xs)))
            else:
                rows.append((f"ADQ at {100 * share:.0f}%: below its floor of 1 bit (12.5%)",
                             float("nan"), float("nan"), float("nan")))
            xs, size, q = through_jpeg(x8, budget)
            if xs is None:
                rows.append((f"JPEG at {100 * share:.0f}%: even quality 1 is larger",
                             float("nan"), float("nan"), float("nan")))
            else:
                rows.append((f"JPEG q{q} scan only, every sample", 100 * size / raw, *run(xs)))
            k = int(share * n)
            steps_epochs = max(1, round(args.epochs * n / k))
            rows.append((f"raw subset of {k} (fixed)", 100 * k / n,
                         *run(xtr, epochs=steps_epochs,
                              indices_fn=lambda s: np.random.default_rng(100 + s).permutation(n)[:k])))
            rows.append((f"raw subset of {k} (drawn each epoch)", 100 * k / n,
                         *run(xtr, epochs=steps_epochs, sampler_fn=lambda s: tc.samplers.RandomSubsetSampler(
                             range(n), num_samples=k, seed=s))))
        if min(args.budgets) < 0.125:
            xs, size = through_codec(x8, y, tmp, codec="adq", bits=1.0)
            rows.append(("ADQ bits=1 (its floor), every sample", 100 * size / raw, *run(xs)))
    print(f"Storage vs accuracy: {name}, {n} train / {len(xte)} test, small CNN, {args.epochs} epochs "
          f"of every sample (subsets: as many SGD steps), {args.seeds} seeds")
    print("| training data | storage % of uint8 | test accuracy % (mean +- std) |")
    print("|---|---|---|")
    for label, pct, m, s in rows:
        acc = "-" if np.isnan(m) else f"{m:.2f} +- {s:.2f}"
        print(f"| {label} | {'-' if np.isnan(pct) else f'{pct:.2f}'} | {acc} |")


if __name__ == "__main__":
    main()
