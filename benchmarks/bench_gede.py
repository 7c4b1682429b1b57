"""GeDe size and decode speed against the raw limit, PNG, WebP and zstd, one table per run.

    python benchmarks/bench_gede.py                                       # synthetic
    python benchmarks/bench_gede.py --data ../shared/data/mnist_t10k.npz
    python benchmarks/bench_gede.py --data ../shared/data/cifar10_sample.npz

Single-threaded (torch, BLAS and numba on one core): samples/s is per core.
Every rate is the median of ``--repeats`` runs within this one process. Sizes
are % of the raw uint8 bytes; GeDe sizes are whole archives (records, tables,
labels, manifest). GeDe is class-wise. "per sample" is ``ds[i]``, "batched" is
``ds.__getitems__`` of ``--batch`` random indices; the per-image codecs have no
batch call, so both columns time one image at a time.
"""

from __future__ import annotations

import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torchcompress as tc  # noqa: E402
from torchcompress._timing import median_rate  # noqa: E402
from common import (image_bench_args, pil_decode, png_blobs, raw_memmap, webp_blobs,  # noqa: E402
                    zstd_blobs, zstd_decoder)


def main() -> None:
    args, x, y, name, batch, singles, rate = image_bench_args(
        __doc__, 5, lambda p: p.add_argument("--tau", type=int, default=16))
    n = len(x)
    rows = []  # label, size %, exact, per-sample/s, batched/s, encode/s
    with tempfile.TemporaryDirectory() as tmp:
        raw = raw_memmap(x, f"{tmp}/raw.u8")
        limit = rate(lambda: raw[np.sort(batch)], len(batch))
        rows.append(("raw uint8 memmap gather (limit)", 100.0, "yes",
                     rate(lambda: [raw[i] for i in singles], len(singles)), limit, None))
        for label, make, dec in [
            ("PNG per image (Pillow, optimize)", lambda a: png_blobs(a, optimize=True), pil_decode),
            ("WebP lossless per image (Pillow)", webp_blobs, pil_decode),
            ("zstd-19 per sample", zstd_blobs, zstd_decoder(x.shape[1:])),
        ]:
            enc_rate = median_rate(lambda: make(x[:50]), 50, repeats=3)
            blobs = make(x)
            r = rate(lambda: [dec(blobs[i]) for i in singles], len(singles))
            rows.append((label, 100.0 * sum(map(len, blobs)) / x.size, "yes", r, r, enc_rate))
        for transform in ("none", "dct", "lossless"):
            path = f"{tmp}/{transform}.tcz"
            compress = lambda: tc.compress((x, y), path, codec="gede", mode=transform,  # noqa: E731
                                           tau=args.tau, overwrite=True, progress=False)
            enc_rates = [n / compress()["encode_seconds"] for _ in range(3)]
            info = tc.open(path).info
            ds = tc.open(path, output="uint8")
            exact = "yes" if info["exact_fraction"] == 1.0 else \
                f"{100 * info['exact_fraction']:.1f}% px, max err {info['max_abs_error']:g}"
            rows.append((f"GeDe {transform}", info["pct_of_uint8"], exact,
                         rate(lambda: [ds[i] for i in singles], len(singles)),
                         rate(lambda: ds.__getitems__(batch.tolist()), len(batch)),
                         float(np.median(enc_rates))))
    png = rows[1][4]
    print(f"GeDe benchmark: {name}, {n} samples of {tuple(x.shape[1:])}, batch {args.batch}, "
          f"tau {args.tau}, 1 core, median of {args.repeats}")
    print("| method | size % raw | exact | per sample/s | batched/s | batched x PNG | "
          "% of limit | encode/s |")
    print("|---|---|---|---|---|---|---|---|")
    for label, pct, exact, single, batched, enc in rows:
        e = "-" if enc is None else f"{enc:,.0f}"
        print(f"| {label} | {pct:.1f} | {exact} | {single:,.0f} | {batched:,.0f} | "
              f"{batched / png:.1f} | {100 * batched / limit:.2f} | {e} |")


if __name__ == "__main__":
    main()
