"""Peak memory of ``tc.compress`` against the number of samples, for every codec.

    python benchmarks/bench_compress.py                      # 200k CIFAR-size, 1M MNIST-size
    python benchmarks/bench_compress.py --cifar 20000 --mnist 100000

Each row compresses a generated map-style dataset (smooth images with noise,
made on demand from the index, so the source itself holds nothing) in a fresh
process, at a quarter of N and at N. "Growth" is the peak resident memory
(VmHWM, reset just before the call) minus the resident memory before it,
after a small warm-up compress has compiled the kernels and the source
object exists (for ``original``, a list of N file paths). Every codec
streams, so every row should be flat in N (GeDe streams above its
``fit_samples``, 16,384 by default). ``original`` stores PNG files: ``--files``
distinct files written once, listed over and over to reach N.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from common import proc_status  # noqa: E402

_NOISE = np.random.default_rng(0).integers(0, 24, 1 << 20).astype(np.uint8)


class Generated:
    """``n`` images of ``shape`` made from their index: a ramp plus table noise."""

    def __init__(self, n: int, shape: tuple):
        self.n, self.shape = n, shape
        c, h, w = shape
        self.size = c * h * w
        self.ramp = (np.add.outer(np.arange(h) * 5, np.arange(w) * 3)[None] +
                     40 * np.arange(c)[:, None, None]).astype(np.uint8)

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        start = (i * 7919) % (_NOISE.size - self.size)
        img = self.ramp + _NOISE[start:start + self.size].reshape(self.shape) + np.uint8(i % 50)
        return img, i % 10


class Files:
    """An ImageFolder-like ``.samples`` list: ``files`` PNGs listed over and over to ``n``."""

    def __init__(self, folder: str, n: int):
        names = sorted(os.listdir(folder))
        self.samples = [(os.path.join(folder, names[i % len(names)]), i % 10) for i in range(n)]
        self.classes = [str(k) for k in range(10)]


def _write_pngs(folder: str, count: int, shape: tuple) -> None:
    import imagecodecs

    g = Generated(count, shape)
    for i in range(count):
        img = g[i][0]
        a = img[0] if shape[0] == 1 else img.transpose(1, 2, 0)
        with open(os.path.join(folder, f"{i:06d}.png"), "wb") as f:
            f.write(imagecodecs.png_encode(np.ascontiguousarray(a)))


def _source(kind: str, n: int, shape: tuple, files: str | None):
    return Files(files, n) if kind == "original" else Generated(n, shape)


_PARAMS = {"lossless": {}, "adq": {"bits": 4.0}, "original": {}, "lossy": {"bits": 1.0},
           "gede": {"mode": "lossless"}}


def _child(codec: str, n: int, shape: tuple, files, out: str, queue) -> None:
    import torch

    import torchcompress as tc

    torch.set_num_threads(1)
    tc.compress(_source(codec, 64, shape, files), out + "-warm", codec=codec, progress=False,
                **_PARAMS[codec])
    shutil.rmtree(out + "-warm")
    source = _source(codec, n, shape, files)  # the source's own memory (a file list) not counted
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")  # reset VmHWM to the current RSS
    rss0 = proc_status("VmRSS")
    t0 = time.perf_counter()
    try:
        info = tc.compress(source, out, codec=codec, progress=False, **_PARAMS[codec])
        queue.put((proc_status("VmHWM") - rss0, info["bytes"], time.perf_counter() - t0))
    except BaseException as e:  # the parent waits for one answer
        queue.put(e)
        raise
    shutil.rmtree(out)


def _measure(codec, n, shape, files, tmp):
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(codec, n, shape, files, os.path.join(tmp, codec), q))
    p.start()
    got = q.get()
    p.join()
    if isinstance(got, BaseException):
        raise got
    return got


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cifar", type=int, default=200_000, help="CIFAR-size (3x32x32) samples")
    ap.add_argument("--mnist", type=int, default=1_000_000, help="MNIST-size (1x28x28) samples")
    ap.add_argument("--files", type=int, default=2000, help="distinct PNG files for 'original'")
    ap.add_argument("--codecs", nargs="+", default=list(_PARAMS))
    a = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, n, shape in (("CIFAR-size", a.cifar, (3, 32, 32)),
                                    ("MNIST-size", a.mnist, (1, 28, 28))):
            folder = os.path.join(tmp, f"png-{shape[0]}")
            os.mkdir(folder)
            if "original" in a.codecs:
                _write_pngs(folder, a.files, shape)
            for codec in a.codecs:
                quarter = _measure(codec, n // 4, shape, folder, tmp)
                full = _measure(codec, n, shape, folder, tmp)
                rows.append((name, codec, n, quarter[0], full[0], full[1], full[2]))
                print(f"  {name} {codec}: {quarter[0] / 2**20:.0f} -> {full[0] / 2**20:.0f} MB "
                      f"({full[2]:.0f} s)", flush=True)
    print(f"\nPeak RSS growth of tc.compress (VmHWM - RSS before; fresh process each; "
          f"{os.cpu_count()} CPUs, one thread)\n")
    print("| data | codec | N | growth at N/4 | growth at N | raw at N | archive | seconds |")
    print("|---|---|---|---|---|---|---|---|")
    for name, codec, n, q, f, size, sec in rows:
        raw = n * (3072 if name.startswith("CIFAR") else 784)
        print(f"| {name} | {codec} | {n:,} | {q / 2**20:.0f} MB | {f / 2**20:.0f} MB | "
              f"{raw / 2**20:,.0f} MB | {size / 2**20:,.0f} MB | {sec:.0f} |")


if __name__ == "__main__":
    main()
