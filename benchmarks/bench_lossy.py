"""Lossy quality at equal bytes against JPEG, WebP, JPEG XL and AVIF, plus decode and encode speed.

    python benchmarks/bench_lossy.py --data ../shared/data/cifar10_sample.npz --limit 1000
    python benchmarks/bench_lossy.py --data ../shared/data/hymenoptera/train --bytes-per-value 0.06 0.12 0.25

Single-threaded. PSNR is the mean of per-image PSNR on the decoded uint8
pixels. Each anchor is run at several quality settings in this same run and
its PSNR interpolated (linearly in bytes) at the bytes torchcompress used;
"-" means that size is outside the settings' range. torchcompress bytes are
the whole archive (records, lengths, tables, manifest, shapes) without the
labels. "JPEG scan only" counts the entropy-coded scan of an optimised
libjpeg-turbo file: its headers (quantisation and Huffman tables, markers)
would be shared across the dataset; the better of 4:2:0 and 4:4:4 is taken
at each size. Speeds: our batched ``ds.__getitems__`` of ``--batch`` random
indices against imagecodecs' lean per-image decoders (libjpeg-turbo on the
whole JPEG file, PNG level 9) and the raw memmap gather (the limit), medians
of ``--repeats``. Our decode and libjpeg-turbo's at the same bytes are timed in
turn within each repeat, and "x that" is the median of those paired ratios, so
a host that slows down mid-run does not tilt it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torchcompress as tc  # noqa: E402
from torchcompress._timing import median_rate, paired_rates  # noqa: E402
from common import ListSource, archive_bytes_without_labels, load_samples, raw_memmap  # noqa: E402

JPEG_Q = (5, 10, 15, 20, 30, 40, 50, 60, 70, 80, 85, 90, 95)
WEBP_Q = (0, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95)
JXL_D = (12.0, 8.0, 6.0, 4.5, 3.5, 2.5, 2.0, 1.5, 1.0, 0.7, 0.5, 0.3)
AVIF_Q = (5, 15, 25, 35, 45, 55, 65, 75, 85, 95)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b) ** 2)
    return 100.0 if mse == 0 else float(10 * np.log10(255.0 ** 2 / mse))


def scan_bytes(jpeg: bytes) -> int:
    """Bytes of the entropy-coded scan: after the SOS segment, before EOI."""
    i = jpeg.index(b"\xff\xda")
    seg = int.from_bytes(jpeg[i + 2:i + 4], "big")
    return len(jpeg) - (i + 2 + seg) - 2


def anchor_curves(hwc: list, srcs: list, skip=()) -> dict:
    """name -> (bytes per image, mean PSNR) at each setting, sorted by bytes."""
    import imagecodecs as ic

    colour = hwc[0].ndim == 3
    curves = {"JPEG scan only 4:2:0": [], "JPEG scan only 4:4:4": [], "JPEG whole file": []}
    for q in JPEG_Q:
        for sub in (("420", "444") if colour else ("444",)):
            blobs = [ic.jpeg8_encode(a, level=q, optimize=True, subsampling=sub) for a in hwc]
            p = np.mean([psnr(_chw(ic.jpeg8_decode(b)), s) for b, s in zip(blobs, srcs)])
            curves[f"JPEG scan only {'4:2:0' if sub == '420' else '4:4:4'}"].append(
                (np.mean([scan_bytes(b) for b in blobs]), p))
            if sub == "420" or not colour:
                curves["JPEG whole file"].append((np.mean([len(b) for b in blobs]), p))
    codecs = [("JXL", "JPEG XL e7", JXL_D, lambda a, d: ic.jpegxl_encode(a, distance=d, effort=7),
               ic.jpegxl_decode)]
    if colour:
        codecs += [("WebP", "WebP m6", WEBP_Q,
                    lambda a, q: ic.webp_encode(a, level=q, lossless=False, method=6), ic.webp_decode),
                   ("AVIF", "AVIF s4", AVIF_Q, lambda a, q: ic.avif_encode(a, level=q, speed=4),
                    ic.avif_decode)]
    for key, name, settings, enc, dec in codecs:
        if key in skip:
            continue
        curves[name] = []
        for q in settings:
            blobs = [enc(a, q) for a in hwc]
            curves[name].append((np.mean([len(b) for b in blobs]),
                                 np.mean([psnr(_chw(dec(b)), s) for b, s in zip(blobs, srcs)])))
    if colour:  # the better JPEG subsampling at each size
        a, b = curves.pop("JPEG scan only 4:2:0"), curves.pop("JPEG scan only 4:4:4")
        curves["JPEG scan only"] = (a, b)
    else:
        curves["JPEG scan only"] = (curves.pop("JPEG scan only 4:4:4"),)
    return curves


def _chw(a: np.ndarray) -> np.ndarray:
    return a.transpose(2, 0, 1) if a.ndim == 3 else a[None]


def at_bytes(curve, b: float) -> float | None:
    pts = sorted(curve)
    xs = [p[0] for p in pts]
    if not xs[0] <= b <= xs[-1]:
        return None
    return float(np.interp(b, xs, [p[1] for p in pts]))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", help=".npz with x and y, or an ImageFolder directory of photos")
    p.add_argument("--limit", type=int, default=None, help="use the first N samples")
    p.add_argument("--bytes-per-value", type=float, nargs="+", default=[192 / 3072, 288 / 3072, 480 / 3072],
                   help="budgets (bits= / 8); the default is 192, 288 and 480 B per CIFAR image")
    p.add_argument("--skip", nargs="*", default=[], choices=["WebP", "JXL", "AVIF"],
                   help="anchors to leave out (AVIF is slow on large photos)")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    import imagecodecs as ic
    import torch

    torch.set_num_threads(1)
    x, y, name = load_samples(args.data, args.limit)
    n = len(x)
    values = sum(a.size for a in x)
    hwc = [np.ascontiguousarray(a.transpose(1, 2, 0) if a.shape[0] > 1 else a[0]) for a in x]
    curves = anchor_curves(hwc, x, args.skip)
    rng = np.random.default_rng(0)
    batch = rng.integers(0, n, min(args.batch, n)).tolist()
    rows, speeds = [], []
    with tempfile.TemporaryDirectory() as tmp:
        # a small warm-up compiles the kernels, so the first row's encode speed is not the JIT's
        tc.compress(ListSource(x[:16], y[:16]), f"{tmp}/warm.tcz", codec="lossy", bits=2.0,
                    progress=False)
        for k, bpv in enumerate(args.bytes_per_value):
            path = f"{tmp}/lossy{k}.tcz"
            info = tc.compress(ListSource(x, y), path, codec="lossy", bits=8 * bpv, overwrite=True,
                               progress=False)
            size = archive_bytes_without_labels(path)
            ds = tc.open(path)
            got = [ds[i][0].numpy() for i in range(n)]
            ours = float(np.mean([psnr(g, s) for g, s in zip(got, x)]))
            per = size / n
            rows.append((8 * bpv, per, info["achieved_bits"], ours,
                         {k: (max(filter(None, (at_bytes(c, per) for c in v)), default=None)
                              if k == "JPEG scan only" else at_bytes(v, per))
                          for k, v in curves.items()}))
            speeds.append((per, ds, n / info["seconds"]))
        same = len({a.shape for a in x}) == 1
        mid = int(np.argmin([abs(q - 90) for q in JPEG_Q]))
        jpg = [ic.jpeg8_encode(a, level=JPEG_Q[mid], optimize=True) for a in hwc]
        pngs = [ic.png_encode(a, level=9) for a in hwc]
        singles = batch
        jpeg_rate = median_rate(lambda: [ic.jpeg8_decode(jpg[i]) for i in singles], len(singles),
                                repeats=args.repeats)
        png_rate = median_rate(lambda: [ic.png_decode(pngs[i]) for i in singles], len(singles),
                               repeats=args.repeats)
        # libjpeg-turbo again at the quality whose scan bytes are nearest each budget's bytes,
        # timed in turn with our decode (the ratio is the median of the paired ratios)
        near = []
        for per, ds, _ in speeds:
            q = min(JPEG_Q, key=lambda q: abs(np.mean([scan_bytes(ic.jpeg8_encode(a, level=q, optimize=True))
                                                      for a in hwc[:200]]) - per))
            blobs = [ic.jpeg8_encode(a, level=q, optimize=True) for a in hwc]
            (r, jr), (_, ratio) = paired_rates(
                [lambda: ds.__getitems__(batch),
                 lambda: [ic.jpeg8_decode(blobs[i]) for i in singles]], len(batch),
                repeats=args.repeats)
            near.append((q, r, jr, 1.0 / ratio))
        raw_rate = None
        if same:
            raw = raw_memmap(np.stack(x), f"{tmp}/raw.u8")
            raw_rate = median_rate(lambda: raw[np.sort(batch)], len(batch), repeats=args.repeats)
    names = ["JPEG scan only", "JPEG whole file", "WebP m6", "JPEG XL e7", "AVIF s4"]
    names = [k for k in names if k in curves]
    mpix = values / x[0].shape[0] / n / 1e6
    print(f"Lossy benchmark: {name}, {n} images, {mpix:.3f} MP per image, 1 core; anchors "
          "interpolated at torchcompress's bytes (whole archive without labels)")
    print("| bits= | B/image | achieved bits | torchcompress lossy dB | "
          + " | ".join(f"{k} dB" for k in names) + " | vs JPEG scan only |")
    print("|---" * (5 + len(names)) + "|")
    for bits, per, ach, ours, at in rows:
        cells = " | ".join("-" if at[k] is None else f"{at[k]:.2f}" for k in names)
        d = at["JPEG scan only"]
        print(f"| {bits:.3f} | {per:,.1f} | {ach:.3f} | {ours:.2f} | {cells} | "
              f"{'-' if d is None else f'{ours - d:+.2f} dB'} |")
    print()
    print(f"Decode, images/s (batch {len(batch)}, median of {args.repeats}): raw memmap gather "
          f"{'-' if raw_rate is None else f'{raw_rate:,.0f}'}; libjpeg-turbo whole file q{JPEG_Q[mid]} "
          f"{jpeg_rate:,.0f}; PNG level 9 {png_rate:,.0f}")
    print("| B/image | torchcompress batched img/s | x libjpeg-turbo q90 | libjpeg-turbo at these bytes "
          "img/s | x that | x PNG | encode img/s |")
    print("|---|---|---|---|---|---|---|")
    for (per, _, e), (q, r, jr, ratio) in zip(speeds, near):
        print(f"| {per:,.1f} | {r:,.0f} | {r / jpeg_rate:.2f} | q{q}: {jr:,.0f} | {ratio:.2f} | "
              f"{r / png_rate:.2f} | {e:,.0f} |")


if __name__ == "__main__":
    main()
