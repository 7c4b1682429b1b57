"""Kernels against plain numpy oracles."""

import numpy as np
import pytest

from torchcompress.codecs._kernels.bitplanes import SPREAD_LUT, decode_adq_rows, pack_bitplanes
from torchcompress.codecs._kernels.quantize import distortion_curves, quantize_rows


def _offsets(bits, plane_bytes):
    off = np.zeros(len(bits) + 1, dtype=np.int64)
    np.cumsum(bits.astype(np.int64) * plane_bytes, out=off[1:])
    return off


@pytest.mark.parametrize("d", [1, 7, 8, 13, 64], ids=lambda d: f"D{d}")
def test_pack_bitplanes_matches_np_packbits(d):
    rng = np.random.default_rng(d)
    bits = rng.integers(1, 9, 6).astype(np.uint8)
    q = np.stack([rng.integers(0, 1 << int(b), d) for b in bits]).astype(np.uint8)
    pb = (d + 7) // 8
    off = _offsets(bits, pb)
    out = np.zeros(off[-1], dtype=np.uint8)
    pack_bitplanes(q, bits, off, pb, out)
    for i, b in enumerate(bits):
        expect = np.concatenate([np.packbits((q[i] >> (int(b) - 1 - p)) & 1) for p in range(int(b))])
        np.testing.assert_array_equal(out[off[i]:off[i + 1]], expect)


def _reference_decode(q, bits, scale, center, planes):
    rows = []
    for i in range(len(bits)):
        b = int(bits[i])
        k = min(planes, b)
        top = q[i].astype(np.float64) // (1 << (b - k))
        step = float(scale[i]) * (1 << (b - k))
        lo = float(center[i]) - float(scale[i]) * (1 << (b - 1))
        rows.append(lo + step * (top + 0.5))
    return np.array(rows)


@pytest.mark.parametrize("planes", [1, 2, 3, 8], ids=lambda p: f"planes{p}")
@pytest.mark.parametrize("d", [5, 16, 19], ids=lambda d: f"D{d}")
def test_decode_matches_reference(planes, d):
    rng = np.random.default_rng(planes * 100 + d)
    n = 9
    bits = rng.integers(1, 9, n).astype(np.uint8)
    q = np.stack([rng.integers(0, 1 << int(b), d) for b in bits]).astype(np.uint8)
    scale = rng.uniform(0.1, 3, n).astype(np.float32)
    center = rng.uniform(-50, 50, n).astype(np.float32)
    pb = (d + 7) // 8
    off = _offsets(bits, pb)
    payload = np.zeros(off[-1], dtype=np.uint8)
    pack_bitplanes(q, bits, off, pb, payload)
    rows = np.array([4, 0, 8, 4], dtype=np.int64)
    out = np.empty((len(rows), d), dtype=np.float32)
    decode_adq_rows(payload, off, bits, scale, center, rows, planes, False, SPREAD_LUT, out)
    expect = _reference_decode(q, bits, scale, center, planes)[rows]
    np.testing.assert_allclose(out, expect, rtol=1e-6, atol=1e-4)


def test_decode_uint8_rounds_and_clips():
    bits = np.array([2], dtype=np.uint8)
    q = np.array([[0, 1, 2, 3, 3, 0, 1, 2]], dtype=np.uint8)
    off = _offsets(bits, 1)
    payload = np.zeros(off[-1], dtype=np.uint8)
    pack_bitplanes(q, bits, off, 1, payload)
    scale, center = np.array([100.0], np.float32), np.array([128.0], np.float32)
    out = np.empty((1, 8), dtype=np.uint8)
    decode_adq_rows(payload, off, bits, scale, center, np.zeros(1, np.int64), 8, True, SPREAD_LUT, out)
    # levels 128 + 100 * (t - 1.5) = -22, 78, 178, 278 -> clipped to 0..255
    np.testing.assert_array_equal(out[0], [0, 78, 178, 255, 255, 0, 78, 178])


def test_quantize_and_distortion_match_numpy():
    rng = np.random.default_rng(1)
    x = rng.normal(0, 5, (7, 33))
    center = np.round(rng.normal(0, 1, 7), 2)
    scales = rng.uniform(0.05, 2, (7, 8))
    scales[3] = 0.0
    dist = np.empty((7, 8))
    distortion_curves(x, center, scales, dist)
    for b in range(1, 9):
        s = scales[:, b - 1]
        bits = np.full(7, b, dtype=np.uint8)
        q = np.empty(x.shape, dtype=np.uint8)
        quantize_rows(x, center, s, bits, q)
        L = 1 << b
        safe = np.where(s == 0, 1, s)[:, None]
        expect_q = np.clip(np.floor((x - center[:, None]) / safe + L / 2), 0, L - 1)
        expect_q[s == 0] = 0
        np.testing.assert_array_equal(q, expect_q)
        recon = center[:, None] + s[:, None] * (expect_q + 0.5 - L / 2)
        recon[s == 0] = center[s == 0, None]
        np.testing.assert_allclose(dist[:, b - 1], ((x - recon) ** 2).sum(1), rtol=1e-12)


def test_hull_gains_brute_force():
    from itertools import combinations

    from torchcompress.codecs._kernels.hull import hull_gains

    rng = np.random.default_rng(7)
    dist = np.sort(rng.uniform(0, 10, (30, 8)), axis=1)[:, ::-1] + rng.uniform(0, 2, (30, 8))
    gains = np.empty((30, 7))
    hull_gains(dist, gains)
    for i in range(30):
        # cumulative hull at each b is the minimum over chords through points a <= b <= c
        hull = dist[i].copy()
        for a, c in combinations(range(8), 2):
            for b in range(a + 1, c):
                t = (b - a) / (c - a)
                hull[b] = min(hull[b], (1 - t) * dist[i, a] + t * dist[i, c])
        # a non-increasing hull: the running minimum of the lower hull
        expect = -np.diff(np.minimum.accumulate(hull))
        np.testing.assert_allclose(gains[i], np.maximum(expect, 0), atol=1e-9)
        assert (np.diff(gains[i]) <= 1e-12).all()



_ONE_COMPILE = """
import sys
import numpy as np
import torchcompress as tc
from torchcompress.codecs._kernels.gede_decode import decode_gede_rows
from torchcompress.codecs._kernels.lossless_decode import (decode_grey_rows, decode_rgb_rows,
                                                          decode_rows)
from torchcompress.codecs._kernels.lossy_decode import decode_lossy_rows
from torchcompress.codecs._kernels.lossy_lanes import decode_lossy_lanes
from torchcompress.codecs._kernels.ls_decode import (decode_ls_rgba_rows, decode_ls_rows,
                                                     decode_ls_rows_biased)

x = np.random.default_rng(11).integers(0, 256, (24, 3, 16, 16), dtype=np.uint8)
for codec, params in (("lossless", {}), ("lossy", {"bits": 2.0}), ("gede", {"mode": "lossless"})):
    path = f"{sys.argv[1]}/{codec}"
    tc.compress((x, np.arange(24) % 2), path, codec=codec, progress=False, **params)
    tc.open(path).__getitems__([0, 5])
    tc.open(path)[3]  # ds[i]: the same kernels
    tc.open(path).__getitems__(list(range(24)))  # lossy: a group of 16 through the lanes
# a MED archive compiles no least-squares decoder (it took 46 s of a first ds[i])
print("least squares", len(decode_ls_rows.signatures), len(decode_ls_rows_biased.signatures),
      len(decode_ls_rgba_rows.signatures))
ramp = (np.add.outer(np.arange(16), np.arange(16))[None] * np.array([[[1]], [[2]], [[3]]]))
smooth = (ramp[None] + np.random.default_rng(1).integers(0, 4, (24, 3, 16, 16))).astype(np.uint8)
path = f"{sys.argv[1]}/ls"
tc.compress((smooth, np.arange(24) % 2), path, predictor="least_squares", progress=False)
tc.open(path)[3]
# (kernel, positions of the records and of the archive-wide tables among its arguments)
for kernel, args in ((decode_rgb_rows, (0, 7, 9)), (decode_lossy_rows, (0, 5, 11, 12)),
                     (decode_gede_rows, (0, 4)), (decode_lossy_lanes, (0, 5, 6, 7, 8)),
                     (decode_ls_rows, (0, 6, 8))):
    print(kernel.__name__, len(kernel.signatures),
          any(sig[k].mutable for sig in kernel.signatures for k in args))
# its biases are zero, as the fit leaves them, there are no RGBA samples, and every sample is
# RGB: none of those rows are compiled
print("not taken", *(len(k.signatures) for k in (decode_ls_rows_biased, decode_ls_rgba_rows,
                                                  decode_grey_rows, decode_rows)))
"""


def test_fresh_and_stored_records_share_one_decoder_compile(tmp_path):
    """Archive tensors are read-only; the encoders' round-trip and PSNR decodes hand the
    decoders read-only records and tables too, so numba compiles each decoder once per
    process (a second compile cost a first `make demo` about 10 s). A fresh process: other
    tests call the kernels directly. An archive compiles only the one-record decoder it needs:
    the least-squares rows took 46 s of a MED archive's first ``ds[i]`` (MNIST, 2-core host)."""
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-c", _ONE_COMPILE, str(tmp_path)], capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.split("\n")[:7] == ["least squares 0 0 0", "decode_rgb_rows 1 False",
                                         "decode_lossy_rows 1 False", "decode_gede_rows 1 False",
                                         "decode_lossy_lanes 1 False", "decode_ls_rows 1 False",
                                         "not taken 0 0 0 0"], r.stdout
