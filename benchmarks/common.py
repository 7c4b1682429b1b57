"""Data and measured operations shared by bench_decode.py and the pytest-benchmark file."""

from __future__ import annotations

import io
import os

import numpy as np


def load_images(data: str | None, n: int = 2000) -> tuple[np.ndarray, np.ndarray, str]:
    """(N, C, H, W) uint8 images and labels: an .npz via --data, else synthetic CIFAR-size."""
    if data:
        with np.load(data, allow_pickle=False) as z:
            x, y = z["x"], z["y"]
        if x.ndim == 4 and x.shape[-1] in (1, 3):
            x = x.transpose(0, 3, 1, 2)
        elif x.ndim == 3:
            x = x[:, None]
        return np.ascontiguousarray(x), y.astype(np.int64), os.path.basename(data)
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:32, 0:32] / 31.0
    base = (rng.uniform(0, 255, (n, 3, 1, 1)) * (1 - yy) + rng.uniform(0, 255, (n, 3, 1, 1)) * xx)
    x = np.clip(base + rng.normal(0, 20, (n, 3, 32, 32)), 0, 255).astype(np.uint8)
    return x, rng.integers(0, 10, n), f"synthetic {n} x 3x32x32"


def raw_memmap(x: np.ndarray, path: str) -> np.ndarray:
    """Write raw uint8 rows to ``path`` and memory-map them back: the speed limit."""
    flat = x.reshape(len(x), -1)
    flat.tofile(path)
    return np.memmap(path, dtype=np.uint8, mode="r", shape=flat.shape)


def png_blobs(x: np.ndarray, optimize: bool = False) -> list[bytes]:
    from PIL import Image

    out = []
    for img in x:
        hwc = img.transpose(1, 2, 0)
        im = Image.fromarray(hwc[..., 0] if hwc.shape[2] == 1 else hwc)
        buf = io.BytesIO()
        im.save(buf, format="PNG", optimize=optimize)
        out.append(buf.getvalue())
    return out


def pil_decode(blob: bytes) -> np.ndarray:
    """PNG or WebP bytes -> HWC (or HW) uint8."""
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(blob)))


def webp_blobs(x: np.ndarray) -> list[bytes]:
    """Per-image lossless WebP (Pillow, method 6: its smallest)."""
    from PIL import Image

    out = []
    for img in x:
        hwc = img.transpose(1, 2, 0)
        im = Image.fromarray(hwc[..., 0] if hwc.shape[2] == 1 else hwc)
        buf = io.BytesIO()
        im.save(buf, format="WEBP", lossless=True, method=6, quality=100)
        out.append(buf.getvalue())
    return out


def zstd_blobs(x: np.ndarray, level: int = 19) -> list[bytes]:
    import zstandard

    c = zstandard.ZstdCompressor(level=level)
    return [c.compress(img.tobytes()) for img in x]


def zstd_decoder(shape: tuple):
    import zstandard

    d = zstandard.ZstdDecompressor()
    return lambda blob: np.frombuffer(d.decompress(blob), dtype=np.uint8).reshape(shape)


def image_bench_args(description: str, repeats: int, extra=None):
    """Parse the shared image-benchmark arguments, pin one thread, load the data, pick indices.

    Returns ``(args, x, y, name, batch, singles, rate)``: ``batch`` a random
    batch, ``singles`` 512 random indices, ``rate(fn, items)`` the median rate.
    """
    import argparse

    import torch

    from torchcompress._timing import median_rate

    p = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", help=".npz with x (N,H,W[,C] or N,C,H,W uint8) and y")
    p.add_argument("--batch", type=int, default=256)
    p.add_argument("--repeats", type=int, default=repeats)
    if extra is not None:
        extra(p)
    args = p.parse_args()
    torch.set_num_threads(1)
    x, y, name = load_images(args.data)
    rng = np.random.default_rng(0)
    batch = rng.integers(0, len(x), args.batch)
    singles = rng.integers(0, len(x), 512).tolist()

    def rate(fn, items):
        return median_rate(fn, items, repeats=args.repeats)
    return args, x, y, name, batch, singles, rate


def load_samples(data: str | None, limit: int | None):
    """(list of CHW uint8 arrays, labels, name): an .npz or an ImageFolder of photos."""
    if data and os.path.isdir(data):
        from PIL import Image
        from torchvision.datasets import ImageFolder

        folder = ImageFolder(data)
        xs, ys = [], []
        for path, label in folder.samples[:limit]:
            with Image.open(path) as im:
                xs.append(np.ascontiguousarray(np.asarray(im.convert("RGB")).transpose(2, 0, 1)))
            ys.append(label)
        return xs, np.array(ys), f"{os.path.basename(os.path.normpath(data))} photos"
    x, y, name = load_images(data)
    return list(x[:limit]), y[:limit], name


def archive_bytes_without_labels(path: str) -> int:
    """The whole archive (every file) minus each shard's labels tensor, as its header gives
    its bytes (format 11 stores class labels in the narrowest integer type; int64 before)."""
    import torchcompress as tc
    from torchcompress.format.safetensors_io import read_header

    m = tc.format.ArchiveReader(path).manifest
    total = sum(os.path.getsize(os.path.join(path, f)) for f in os.listdir(path))
    labels = 0
    for s in m.shards:
        spec = read_header(os.path.join(path, s.file))[0]["labels"]
        labels += spec[3] - spec[2]  # (dtype, shape, begin, end)
    return total - labels


class ListSource:
    """A map-style dataset over a list of CHW arrays (photos of different sizes)."""

    def __init__(self, xs, ys):
        self.xs, self.ys = xs, ys

    def __len__(self):
        return len(self.xs)

    def __getitem__(self, i):
        return self.xs[i], int(self.ys[i])


def proc_status(key: str) -> int:
    """A byte count from ``/proc/self/status`` (Linux), e.g. ``VmRSS`` or ``VmHWM``."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {key} in /proc/self/status")
