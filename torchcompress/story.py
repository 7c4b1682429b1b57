"""``make demo`` / ``torchcompress demo``: the product's story in under 30 seconds.

On data that ships with scikit-learn (its 1,797 handwritten digits, scaled to
0-255, and 32x32 tiles of its two sample photos): compress losslessly and
lossily, compare the sizes with per-image PNG and zstd, then train the same
small CNN on the raw digits and on each archive.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time

import numpy as np

__all__ = ["run_story", "warm_lossy"]


def _digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits (0-16), scaled to 0-255 and upsampled bilinearly to 32x32."""
    import torch
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.from_numpy(d.images.astype(np.float32)[:, None] * (255 / 16))
    x = torch.nn.functional.interpolate(x, size=(32, 32), mode="bilinear", align_corners=False)
    return x.round().clamp(0, 255).to(torch.uint8).numpy(), d.target.astype(np.int64)


def _tiles() -> tuple[np.ndarray, np.ndarray]:
    """32x32 RGB tiles of scikit-learn's two sample photos, labelled by photo."""
    from sklearn.datasets import load_sample_images

    xs, ys = [], []
    for k, img in enumerate(load_sample_images().images):
        h, w = (s // 32 * 32 for s in img.shape[:2])
        t = img[:h, :w].reshape(h // 32, 32, w // 32, 32, 3).transpose(0, 2, 4, 1, 3)
        xs.append(t.reshape(-1, 3, 32, 32))
        ys.append(np.full(len(xs[-1]), k))
    return np.ascontiguousarray(np.concatenate(xs)), np.concatenate(ys).astype(np.int64)


def _anchor_bytes(x: np.ndarray) -> tuple[int, int]:
    """Per-image PNG (Pillow, level 9) and zstd-19 bytes of (N, C, H, W) uint8 images."""
    import io

    import zstandard
    from PIL import Image

    png = 0
    for a in x:
        buf = io.BytesIO()
        Image.fromarray(a[0] if a.shape[0] == 1 else a.transpose(1, 2, 0)).save(
            buf, format="PNG", compress_level=9)
        png += buf.tell()
    z = zstandard.ZstdCompressor(level=19)
    return png, sum(len(z.compress(a.tobytes())) for a in x)


def _archive_bytes(info: dict) -> int:
    return int(info["bytes"])


def _train(x: np.ndarray, y: np.ndarray, xt: np.ndarray, yt: np.ndarray, epochs: int = 5) -> float:
    """Test accuracy of a small CNN trained on uint8 images ``x`` (same seed every time)."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    xb_all = torch.from_numpy(x).float() / 255
    yb_all = torch.from_numpy(y)
    # stride-2 convolutions, not max-pooling: torch's CPU max_pool2d was two thirds of the
    # training time (1.55 -> 0.55 s per model, and 0.956 -> 0.969 on the raw digits)
    net = nn.Sequential(nn.Conv2d(1, 16, 3, padding=1, stride=2), nn.ReLU(),
                        nn.Conv2d(16, 32, 3, padding=1, stride=2), nn.ReLU(),
                        nn.Flatten(), nn.Linear(32 * 64, 10))
    opt = torch.optim.Adam(net.parameters(), 3e-3)
    g = torch.Generator().manual_seed(0)
    for _ in range(epochs):
        for idx in torch.randperm(len(x), generator=g).split(64):
            opt.zero_grad()
            nn.functional.cross_entropy(net(xb_all[idx]), yb_all[idx]).backward()
            opt.step()
    with torch.no_grad():
        pred = net(torch.from_numpy(xt).float() / 255).argmax(1).numpy()
    return float((pred == yt).mean())


def _decoded(path: str) -> np.ndarray:
    import torchcompress as tc

    ds = tc.open(path)
    return np.stack([b[0].numpy() for b in ds.__getitems__(list(range(len(ds))))])


def warm_lossy(folder: str, bits: float = 0.5) -> None:
    """Run the lossy codec on a few of each set's images, in ``folder``, for numba to compile
    and cache its kernels (what :func:`run_story` starts in a second process)."""
    import torchcompress as tc

    for k, (x, y) in enumerate((_digits(), _tiles())):
        tc.compress((x[:64], y[:64]), f"{folder}/{k}.tcz", codec="lossy", bits=bits,
                    progress=False)
        _decoded(f"{folder}/{k}.tcz")


def _start_warming(folder: str, bits: float):
    """On two or more cores, :func:`warm_lossy` in a second process while this one runs the
    lossless codec: on a first run, compiling the kernels is most of the story's time, and
    numba's on-disk cache hands this process what the other compiled (story 20–26 s -> 15–20
    s, alternating runs on this 2-core machine). Its archives go into ``folder``, which the
    caller removes after stopping it."""
    if (os.cpu_count() or 1) < 2 or _lossy_cached():
        return None
    return subprocess.Popen([sys.executable, "-c", "from torchcompress.story import warm_lossy; "
                             f"warm_lossy({folder!r}, {bits!r})"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def _lossy_cached() -> bool:
    """Whether numba's on-disk cache already holds the lossy decoder (a run before this one)."""
    from .codecs._kernels.lossy_decode import decode_lossy_rows

    try:  # numba's own index file; another numba version may keep it elsewhere: warm anyway
        return os.path.exists(decode_lossy_rows._cache._cache_file._index_path)
    except AttributeError:
        return False


def run_story(bits: float = 0.5) -> None:
    import torchcompress as tc

    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        os.mkdir(f"{tmp}/warm")
        helper = _start_warming(f"{tmp}/warm", bits)
        try:
            _story(tc, bits, t0, tmp)
        finally:
            if helper is not None:  # done long before, unless this machine is slow
                helper.kill()
                helper.wait()


def _story(tc, bits: float, t0: float, tmp: str) -> None:
    sets = {"digits": _digits(), "photo tiles": _tiles()}
    name = next(iter(sets))
    print("torchcompress demo: scikit-learn's digits (8x8, upsampled to 32x32) and 32x32 tiles of "
          "its two sample photos; sizes are whole archives (labels included) against the pixels")
    print(f"| data | raw bytes | PNG per image | zstd-19 per image | lossless (exact) | "
          f"lossy bits={bits:g} (mean PSNR) |")
    print("|---|---|---|---|---|---|")
    archives = {}
    for label, (x, y) in sets.items():
        png, zst = _anchor_bytes(x)
        lossless = tc.compress((x, y), f"{tmp}/{len(archives)}.tcz", progress=False)
        exact = np.array_equal(_decoded(f"{tmp}/{len(archives)}.tcz"), x)
        archives[label, "lossless"] = f"{tmp}/{len(archives)}.tcz"
        lossy = tc.compress((x, y), f"{tmp}/{len(archives)}.tcz", codec="lossy", bits=bits,
                            progress=False)
        archives[label, "lossy"] = f"{tmp}/{len(archives)}.tcz"
        raw = x.size
        label = f"{label.split(' ')[0]} {len(x):,} x {'x'.join(map(str, x.shape[1:]))}"
        print(f"| {label} | {raw:,} | {100 * png / raw:.1f}% | {100 * zst / raw:.1f}% | "
              f"{100 * _archive_bytes(lossless) / raw:.1f}%{'' if exact else ' (NOT EXACT)'} | "
              f"{100 * _archive_bytes(lossy) / raw:.1f}% ({lossy['mean_psnr_db']:.1f} dB) |")
    x, y = sets[name]
    order = np.random.default_rng(0).permutation(len(x))
    tr, te = order[:1437], order[1437:]
    print()
    print(f"The same small CNN, 5 epochs on {len(tr)} digits, tested on the other {len(te)}:")
    rows = [("raw uint8 pixels", x[tr])]
    for kind in ("lossless", "lossy"):
        rows.append((f"decoded from the {kind} archive", _decoded(archives[name, kind])[tr]))
    for label, xs in rows:
        print(f"  {label:34s} test accuracy {_train(xs, y[tr], x[te], y[te]):.3f}")
    print(f"({time.perf_counter() - t0:.1f} s; `torchcompress demo --npz FILE` runs the codec "
          "table on your own data)")
