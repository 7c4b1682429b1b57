"""Where the time of one GeDe ``dct`` image goes: fields, inverse DCT + colour, dispatch, Python.

    python benchmarks/bench_gede_breakdown.py --data ../shared/data/cifar10_sample.npz

Single-threaded, median of ``--repeats``. Every row is microseconds per image,
from one archive compressed here with ``mode="dct"``:

- the whole fused kernel (fields, inverse DCT, colour) on a ``--batch`` of rows;
- its second half alone, ``chunk_to_pixels`` (inverse DCT, transpose, colour)
  on chunks of coefficients the fields step has laid out;
- the GeDe fields alone (``decode_gede_rows`` into that float32 layout). Its
  time moves by up to a third between runs with where the arrays fall relative
  to each other in memory (stores and loads 4 KiB apart), so read it as a range;
- a kernel call with no rows (numba dispatch and scratch allocation);
- one ``decoder.decode`` of one row, and ``ds[i]`` (adds the dataset's Python).
"""

from __future__ import annotations

import os
import sys
import tempfile

import numpy as np
from numba import njit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import torchcompress as tc  # noqa: E402
from common import image_bench_args  # noqa: E402
from torchcompress.codecs._kernels.gede_decode import decode_gede_rows  # noqa: E402
from torchcompress.codecs._kernels.idct import chunk_to_pixels, decode_gede_dct  # noqa: E402


@njit(nogil=True)
def _pixels_only(lay, n, chunk, c, h, w, plan_h, plan_w, ycc2rgb, dc, out):
    """``chunk_to_pixels`` over ``lay`` (one row of coefficients per chunk), as the fused kernel
    runs it. It overwrites each row with finite intermediate values (the passes are
    orthonormal), so repeated calls do the same work."""
    size = chunk * c * h * w
    t1 = np.empty(size, np.float32)
    s1, s2, s3 = np.empty(size, np.float32), np.empty(size, np.float32), np.empty(size, np.float32)
    for b0 in range(0, n, chunk):
        k = min(chunk, n - b0)
        chunk_to_pixels(lay[b0 // chunk], t1, s1, s2, s3, k, chunk, c, h, w, plan_h, plan_w,
                        ycc2rgb, out[b0:b0 + k])


def main() -> None:
    args, x, y, name, batch, singles, rate = image_bench_args(__doc__, 5)
    with tempfile.TemporaryDirectory() as tmp:
        path = f"{tmp}/dct.tcz"
        tc.compress((x, y), path, codec="gede", mode="dct", progress=False)
        ds = tc.open(path, output="uint8")
        dec = ds.decoder.shard(0)  # one shard: the default shard size holds these sets
        s = dec.shard
        rows = np.asarray(batch, dtype=np.int64)
        cfg = dec.transform.fused_args  # (chunk, c, h, w, plans, colour, dc)
        chunk = cfg[0]
        # the fused kernel's own field step: its destination layout, float32, chunk images wide
        coef = np.zeros((len(rows), chunk * dec.transform.columns), dtype=np.float32)
        pixels = np.empty((len(rows), dec.transform.size), dtype=np.uint8)
        one = pixels[:1]
        us = lambda fn, items: 1e6 / rate(fn, items)  # noqa: E731
        fields = us(lambda: decode_gede_rows(s.records, s.offsets, s.model, rows, *dec._tables,
                                             coef), len(rows))
        # chunk rows: image i of a chunk sits i * c * h floats after the chunk's first image
        per, size = cfg[1] * cfg[2], coef.shape[1]  # c * h
        lay = np.zeros((-(-len(rows) // chunk), size), dtype=np.float32)
        for i in range(len(rows)):
            lay[i // chunk, (i % chunk) * per:] += coef[i, :size - (i % chunk) * per]
        pixels_only = us(lambda: _pixels_only(lay, len(rows), *cfg, pixels), len(rows))
        fused = us(lambda: dec.decode(rows, pixels), len(rows))
        empty = us(lambda: decode_gede_dct(s.records, s.offsets, s.model, rows[:0], *dec._tables,
                                           *cfg, one), 1)
        single = [np.array([i], dtype=np.int64) for i in singles]
        decode_one = us(lambda: [dec.decode(r, one) for r in single], len(single))
        getitem = us(lambda: [ds[i] for i in singles], len(singles))
    print(f"GeDe dct decode breakdown: {name}, {len(x)} samples of {tuple(x.shape[1:])}, "
          f"batch {args.batch}, 1 core, median of {args.repeats}")
    print("| part | us per image |")
    print("|---|---|")
    for label, v in [("fused kernel: fields + inverse DCT + colour (batched)", fused),
                     ("chunk_to_pixels alone: inverse DCT + transpose + colour", pixels_only),
                     ("GeDe fields alone (decode_gede_rows, fused layout)", fields),
                     ("kernel call with no rows (dispatch, scratch)", empty),
                     ("decoder.decode of one row", decode_one),
                     ("ds[i] (adds index checks, allocation, torch, label)", getitem)]:
        print(f"| {label} | {v:.1f} |")


if __name__ == "__main__":
    main()
