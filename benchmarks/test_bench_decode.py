"""pytest-benchmark view of the same operations: ``pytest benchmarks/ [--data PATH]``."""

import numpy as np
import pytest

import torchcompress as tc
from common import load_images, png_blobs, pil_decode, raw_memmap


@pytest.fixture(scope="module")
def setup(request, tmp_path_factory):
    x, y, _ = load_images(request.config.getoption("--data"))
    tmp = tmp_path_factory.mktemp("bench")
    tc.compress((x, y), tmp / "adq2.tcz", codec="adq", bits=2.0, progress=False)
    batch = np.random.default_rng(0).integers(0, len(x), 256)
    return x, tc.open(tmp / "adq2.tcz", output="raw"), raw_memmap(x, str(tmp / "raw.u8")), batch


def test_raw_memmap_gather(benchmark, setup):
    x, _, raw, batch = setup
    out = benchmark(lambda: raw[np.sort(batch)])
    assert out.shape == (256, x[0].size)


def test_png_decode(benchmark, setup):
    x, _, _, batch = setup
    blobs = png_blobs(x[batch[:64]])
    out = benchmark(lambda: [pil_decode(b) for b in blobs])
    assert len(out) == 64


def test_adq_getitem(benchmark, setup):
    _, ds, _, batch = setup
    out = benchmark(lambda: [ds[int(i)] for i in batch[:64]])
    assert len(out) == 64


def test_adq_getitems(benchmark, setup):
    _, ds, _, batch = setup
    out = benchmark(lambda: ds.__getitems__(batch.tolist()))
    assert len(out) == 256


@pytest.fixture(scope="module")
def gede(request, tmp_path_factory):
    x, y, _ = load_images(request.config.getoption("--data"))
    tmp = tmp_path_factory.mktemp("gede")
    for t in ("dct", "lossless"):
        tc.compress((x, y), tmp / f"{t}.tcz", codec="gede", mode=t, progress=False)
    batch = np.random.default_rng(0).integers(0, len(x), 256).tolist()
    return {t: tc.open(tmp / f"{t}.tcz", output="uint8") for t in ("dct", "lossless")}, batch


@pytest.mark.parametrize("transform", ["dct", "lossless"])
def test_gede_getitems(benchmark, gede, transform):
    datasets, batch = gede
    out = benchmark(lambda: datasets[transform].__getitems__(batch))
    assert len(out) == 256
