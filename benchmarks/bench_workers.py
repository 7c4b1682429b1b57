"""Speed-up of ``tc.compress(..., num_workers=2)`` over one worker, every codec, real data.

    python benchmarks/bench_workers.py --data ../shared/data/cifar10_sample.npz \\
        --folder ../shared/data/hymenoptera/train

Whole ``compress`` calls to a new path, ``--repeats`` back-to-back pairs (1 worker, then 2):
the CIFAR sample (repeated ``--times`` so each call runs for seconds) as an ``(x, y)`` pair
and as a map-style dataset, and the photo folder (decoded by ImageFolder's PIL loader while
compressing; ``original`` stores its files).
The archive's bytes are the same for any number of workers (tests check this).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import ListSource, load_images  # noqa: E402


def _seconds(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def _paired(one, workers: int, repeats: int) -> tuple[float, float, float]:
    """Medians of (1-worker seconds, ``workers`` seconds, per-pair speed-up): the two runs of a
    pair are back to back, so a slow spell of the shared host hits both of them."""
    pairs = [(one(1), one(workers)) for _ in range(repeats)]
    return (statistics.median(p[0] for p in pairs), statistics.median(p[1] for p in pairs),
            statistics.median(p[0] / p[1] for p in pairs))


def main() -> None:
    import torch

    import torchcompress as tc

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="CIFAR-like .npz")
    ap.add_argument("--folder", help="ImageFolder of photos")
    ap.add_argument("--times", type=int, default=3, help="repeat the .npz samples this often")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--codecs", nargs="+", help="only these codecs' rows")
    a = ap.parse_args()
    torch.set_num_threads(1)
    x, y, name = load_images(a.data)
    x, y = np.concatenate([x] * a.times), np.concatenate([y] * a.times)
    runs = [("lossless", f"{name} x{a.times}, arrays", (x, y), {}),
            ("lossless", f"{name} x{a.times}, Dataset", ListSource(list(x), y), {}),
            ("adq", f"{name} x{a.times}, Dataset", ListSource(list(x), y), {"bits": 4.0}),
            ("lossy", f"{name} x{a.times}, arrays", (x, y), {"bits": 0.75}),
            ("lossy", f"{name} x{a.times}, Dataset", ListSource(list(x), y), {"bits": 0.75}),
            # above fit_samples (16,384 by default; 30,510 samples at --times 10): GeDe streams
            ("gede", f"{name} x{a.times}, Dataset", ListSource(list(x), y),
             {"mode": "lossless", "fit_samples": min(16384, len(x) // 2)})]
    if a.folder:
        runs += [("lossless", "photo folder", a.folder, {}),
                 ("original", "photo folder", a.folder, {})]
    runs = [r for r in runs if not a.codecs or r[0] in a.codecs]
    tmp = tempfile.mkdtemp()
    rows = []
    try:
        for codec, what, src, params in runs:
            out = os.path.join(tmp, "a.tcz")
            tc.compress(src, out, codec=codec, progress=False, overwrite=True, **params)  # warm

            def one(k):
                # a new path each call, the last one removed untimed: compress times its work,
                # not the removal of the archive it would overwrite (21 ms of unlinks for
                # GeDe's 81 MB, the same at any num_workers)
                shutil.rmtree(out, ignore_errors=True)
                return _seconds(lambda: tc.compress(src, out, codec=codec, progress=False,
                                                    num_workers=k, **params))
            t1, tk, up = _paired(one, a.workers, a.repeats)
            rows.append((codec, what, t1, tk, up))
            print(f"  {codec} {what}: {t1:.2f} -> {tk:.2f} s ({up:.2f}x)", flush=True)
    finally:
        shutil.rmtree(tmp)
    print(f"\ncompress wall time, {a.repeats} back-to-back pairs, {os.cpu_count()} CPUs, "
          f"num_workers 1 vs {a.workers}; medians, and the median of the pairs' speed-ups\n")
    print(f"| codec | source | 1 worker | {a.workers} workers | speed-up |")
    print("|---|---|---|---|---|")
    for codec, what, t1, tk, up in rows:
        print(f"| {codec} | {what} | {t1:.2f} s | {tk:.2f} s | {up:.2f}x |")


if __name__ == "__main__":
    main()
