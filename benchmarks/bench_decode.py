"""Decode throughput and size of ADQ against the raw limit and PNG, one table per run.

    python benchmarks/bench_decode.py                                   # synthetic
    python benchmarks/bench_decode.py --data ../shared/data/cifar10_sample.npz

Single-threaded (torch and numba on one core): samples/s is per core. Each
number is the median of several repeats within this one run.
"""

from __future__ import annotations

import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torchcompress as tc  # noqa: E402
from common import image_bench_args, pil_decode, png_blobs, raw_memmap  # noqa: E402


def main() -> None:
    args, x, y, name, batch, singles, rate = image_bench_args(__doc__, 7, None)
    n = len(x)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        raw = raw_memmap(x, f"{tmp}/raw.u8")
        rows.append(("raw uint8 memmap gather (limit)", "batched", 100.0, None,
                     rate(lambda: raw[np.sort(batch)], len(batch))))
        rows.append(("raw gather + float32", "batched", 100.0, None,
                     rate(lambda: raw[np.sort(batch)].astype(np.float32), len(batch))))
        blobs = png_blobs(x)
        png_pct = 100.0 * sum(map(len, blobs)) / x.size
        rows.append(("PIL PNG decode", "per image", png_pct, float("inf"),
                     rate(lambda: [pil_decode(blobs[i]) for i in singles], len(singles))))
        for bits in (2.0, 4.0):
            path = f"{tmp}/adq{bits}.tcz"
            info = tc.compress((x, y), path, codec="adq", bits=bits, progress=False)
            ds = tc.open(path, output="raw")  # float32 values, as the README table
            dec = ds.decoder.shard(0)
            out = np.empty((len(batch), x[0].size), np.float32)
            rows_idx = np.sort(batch).astype(np.int64)
            label = f"ADQ {bits:g}-bit"
            pct, psnr = info["pct_of_uint8"], info["mean_psnr_db"]
            rows.append((label + " ds[i]", "per sample", pct, psnr,
                         rate(lambda: [ds[i] for i in singles], len(singles))))
            rows.append((label + " __getitems__", "batched", pct, psnr,
                         rate(lambda: ds.__getitems__(batch.tolist()), len(batch))))
            rows.append((label + " kernel only", "batched", pct, psnr,
                         rate(lambda: dec.decode(rows_idx, out), len(batch))))
    limit = rows[0][4]
    png = rows[2][4]
    print(f"decode benchmark: {name}, {n} samples of {tuple(x.shape[1:])}, batch {args.batch}, "
          f"1 core, median of {args.repeats}")
    print("| method | access | size % uint8 | PSNR dB | samples/s | x PNG | % of limit |")
    print("|---|---|---|---|---|---|---|")
    for label, access, pct, psnr, r in rows:
        ps = "-" if psnr is None else ("lossless" if psnr == float("inf") else f"{psnr:.2f}")
        print(f"| {label} | {access} | {pct:.1f} | {ps} | {r:,.0f} | {r / png:.1f} | "
              f"{100 * r / limit:.1f} |")


if __name__ == "__main__":
    main()
