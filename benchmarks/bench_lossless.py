"""Lossless size and speed against the raw limit and the codecs a user already has, one table.

    python benchmarks/bench_lossless.py --data ../shared/data/cifar10_sample.npz
    python benchmarks/bench_lossless.py --data ../shared/data/mnist_t10k.npz
    python benchmarks/bench_lossless.py --data ../shared/data/hymenoptera/train   # photos

A folder of photos also gets a ``codec="original"`` row: its files as they are, with how many
decode (torchvision.io) to exactly the pixels the lossless rows code (Pillow's).

Single-threaded (torch and numba on one core). Every decoder is timed in turn
within each of ``--repeats`` repeats, and each rate is the median over them;
"x PNG" is the median of the repeats' ratios to PNG (ds[i] and batched each
against PNG's one image at a time), so a host that slows down mid-run slows both
sides, and "x zstd" the same against zstd-19 per image.
``size % raw`` is of the decoded uint8 pixels;
torchcompress sizes are whole archives (records, lengths, shapes, tables,
manifest) without the labels. "batched" is ``ds.__getitems__`` of two batches
of ``--batch`` random indices, "ds[i]" the same samples one at a time; the
per-image codecs (imagecodecs' lean decoders, zstandard) have no batch call,
so both columns time them one image at a time. For folders of photos
the rates are also given per megapixel. Encode is images/s of the whole
``tc.compress`` call (model fit and verification included) or of the
per-image encoder.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torchcompress as tc  # noqa: E402
from torchcompress._timing import (median_rate, median_rates, paired_ratios,  # noqa: E402
                                   paired_runs)
from common import ListSource, archive_bytes_without_labels, load_samples, raw_memmap  # noqa: E402


def _anchors(x):
    """(label, encode, decode) per-image codecs through their lean decoders."""
    import imagecodecs as ic
    import zstandard

    hwc = [np.ascontiguousarray(a.transpose(1, 2, 0) if a.shape[0] > 1 else a[0]) for a in x]
    out = [("PNG level 9 (imagecodecs)", lambda a: ic.png_encode(a, level=9), ic.png_decode),
           ("JPEG XL lossless e7 (imagecodecs)",
            lambda a: ic.jpegxl_encode(a, lossless=True, effort=7), ic.jpegxl_decode)]
    if hwc[0].ndim == 3:  # WebP and QOI take colour images only
        out += [("WebP lossless (imagecodecs)", lambda a: ic.webp_encode(a, lossless=True, level=100),
                 ic.webp_decode),
                ("QOI (imagecodecs)", ic.qoi_encode, ic.qoi_decode)]
    zc = zstandard.ZstdCompressor(level=19)
    zd = zstandard.ZstdDecompressor()
    out.append(("zstd-19 per image", lambda a: zc.compress(a.tobytes()), zd.decompress))
    sample = [a.tobytes() for a in hwc[:: max(1, len(hwc) // 1000)]]
    dict_size = min(110_000, max(1024, sum(map(len, sample)) // 10))
    try:
        zdict = zstandard.train_dictionary(dict_size, sample)
        zcd = zstandard.ZstdCompressor(level=19, dict_data=zdict)
        zdd = zstandard.ZstdDecompressor(dict_data=zdict)
        out.append((f"zstd-19 + trained dictionary ({len(zdict.as_bytes()):,} B, counted)",
                    lambda a: zcd.compress(a.tobytes()), zdd.decompress, len(zdict.as_bytes())))
    except zstandard.ZstdError:
        pass  # too few samples to train a dictionary
    return hwc, out


def _original_row(folder, x, path, raw_bytes, singles, batches):
    """``codec="original"`` on the folder itself: the files as they are, decoded by
    torchvision.io; the label counts the photos whose decode equals the pixels above (PIL's)."""
    n = len(x)
    info = tc.compress(folder, path, codec="original", progress=False, overwrite=True)
    ds = tc.open(path, output="uint8")
    exact = sum(np.array_equal(ds[i][0].numpy(), x[i]) for i in range(n))
    return (f"torchcompress original (the files; {exact} of {n} decode to the pixels above)",
            100.0 * archive_bytes_without_labels(path) / raw_bytes,
            lambda: [ds[i] for i in singles], lambda: [ds.__getitems__(bt) for bt in batches],
            n / info["seconds"])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", help=".npz with x and y, or an ImageFolder directory of photos")
    p.add_argument("--limit", type=int, default=None, help="use the first N samples")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    import torch

    torch.set_num_threads(1)
    x, y, name = load_samples(args.data, args.limit)
    n = len(x)
    raw_bytes = sum(a.size for a in x)
    mpix = raw_bytes / x[0].shape[0] / 1e6 / n  # megapixels per image
    rng = np.random.default_rng(0)
    batches = [rng.integers(0, n, min(args.batch, n)).tolist() for _ in range(2)]
    singles = [i for bt in batches for i in bt]  # the same samples, one call each

    rows = []  # label, size %, ds[i] decode fn, batched decode fn, encode/s
    hwc, anchors = _anchors(x)
    with tempfile.TemporaryDirectory() as tmp:
        if len({a.shape for a in x}) == 1:
            raw = raw_memmap(np.stack(x), f"{tmp}/raw.u8")
            rows.append(("raw uint8 memmap gather (limit)", 100.0,
                         lambda: [raw[i] for i in singles],
                         lambda: [raw[np.sort(bt)] for bt in batches], None))
        for label, enc, dec, *extra in anchors:
            few = hwc[: min(n, 50)]
            enc_rate = median_rate(lambda: [enc(a) for a in few], len(few), repeats=3)
            blobs = [enc(a) for a in hwc]
            size = sum(map(len, blobs)) + (extra[0] if extra else 0)
            one = (lambda blobs, dec: lambda: [dec(blobs[i]) for i in singles])(blobs, dec)
            rows.append((label, 100.0 * size / raw_bytes, one, one, enc_rate))
        colour = x[0].ndim == 3 and x[0].shape[0] in (3, 4) and x[0].dtype == np.uint8
        chosen = None  # the default's predictor; the other one gets a row of its own
        for codec, params in (("lossless", {}), ("lossless", {"predictor": "med"}),
                              ("lossless", {"predictor": "least_squares"}),
                              ("gede", {"mode": "lossless"})):
            if codec == "gede" and len({a.shape for a in x}) > 1:
                continue  # GeDe stores one shape per archive
            if params.get("predictor") and (not colour or params["predictor"] == chosen):
                continue  # least squares codes 8-bit RGB(A); the default's choice has its row
            path = f"{tmp}/{codec}-{len(rows)}.tcz"  # each archive its own (ds stay open)
            src = (np.stack(x), y) if codec == "gede" else (x, y)

            def compress():
                if isinstance(src[0], list):
                    return tc.compress(ListSource(*src), path, codec=codec, overwrite=True,
                                       progress=False, **params)
                return tc.compress(src, path, codec=codec, overwrite=True, progress=False, **params)
            info = compress()  # numba compile and cache
            enc_rates = [n / compress()["seconds"] for _ in range(2)]
            size = archive_bytes_without_labels(path)
            ds = tc.open(path, output="uint8")
            predictor = info["lossless"]["predictor"] if codec == "lossless" else None
            if codec == "lossless" and not params:
                chosen = predictor
            kind = " (lifting)" if codec == "gede" else (
                " (" + ("default: " if not params else "") + predictor.replace("_", " ") + ")")
            rows.append((f"torchcompress {codec}{kind}",
                         100.0 * size / raw_bytes,
                         (lambda ds: lambda: [ds[i] for i in singles])(ds),
                         (lambda ds: lambda: [ds.__getitems__(bt) for bt in batches])(ds),
                         float(np.median(enc_rates))))
        if os.path.isdir(args.data) and args.limit is None:
            rows.append(_original_row(args.data, x, f"{tmp}/original.tcz", raw_bytes, singles,
                                      batches))
        # every decoder timed in turn within each repeat (PNG's first): a host that slows
        # down mid-run slows all of them, and "x PNG" / "x zstd" are medians of paired ratios
        k = next(i for i, r in enumerate(rows) if r[0].startswith("PNG"))
        z = next(i for i, r in enumerate(rows) if r[0] == "zstd-19 per image")
        fns = [rows[k][2]] + [f for r in rows for f in (r[2], r[3])]
        runs = paired_runs(fns, len(singles), repeats=args.repeats)
        rates = median_rates(runs)
        x_png, x_zstd = paired_ratios(runs, 0), paired_ratios(runs, 2 + 2 * z)
        rows = [(r[0], r[1], rates[1 + 2 * i], x_png[1 + 2 * i], rates[2 + 2 * i],
                 x_png[2 + 2 * i], x_zstd[2 + 2 * i], r[4]) for i, r in enumerate(rows)]
    print(f"Lossless benchmark: {name}, {n} images, {raw_bytes:,} raw bytes, "
          f"{mpix:.3f} MP per image, 2 batches of {len(batches[0])} (the same samples one at a "
          f"time for ds[i]), 1 core, median of {args.repeats} paired repeats")
    print("| method | size % raw | ds[i]/s | ds[i] x PNG | batched/s | batched x PNG | "
          "batched x zstd | MP/s batched | encode img/s |")
    print("|---|---|---|---|---|---|---|---|---|")
    for label, pct, single, one_png, batched, x_png, x_zstd, enc in rows:
        e = "-" if enc is None else f"{enc:,.0f}"
        print(f"| {label} | {pct:.2f} | {single:,.0f} | {one_png:.2f} | {batched:,.0f} | "
              f"{x_png:.2f} | {x_zstd:.2f} | {batched * mpix:,.2f} | {e} |")


if __name__ == "__main__":
    main()
