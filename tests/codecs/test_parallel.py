"""``compress(num_workers=...)``: the same bytes for any number of encoding threads."""

import numpy as np
import pytest

import torchcompress as tc
from torchcompress.codecs.parallel import map_ranges


def _images(n=600, seed=0):
    rng = np.random.default_rng(seed)
    ramp = np.add.outer(np.arange(12), np.arange(12)) * 6.0
    return np.clip(ramp + rng.uniform(0, 60, (n, 3, 1, 1)) + rng.normal(0, 9, (n, 3, 12, 12)),
                   0, 255).astype(np.uint8)


@pytest.mark.parametrize("params", [{"codec": "lossless"}, {"codec": "lossy", "bits": 0.8}],
                         ids=["lossless", "lossy"])
def test_bytes_do_not_depend_on_workers(tmp_path, params):
    x = _images()
    y = np.arange(len(x)) % 4
    files = {}
    for workers in (0, 1, 2, 3):  # 0: the calling process alone, as DataLoader's num_workers=0
        path = tmp_path / f"w{workers}.tcz"
        tc.compress((x, y), path, num_workers=workers, progress=False, **params)
        files[workers] = [(path / f).read_bytes() for f in ("shard-00000.safetensors", "tables.safetensors")]
    assert files[0] == files[1] == files[2] == files[3]


def test_map_ranges_keeps_order_and_covers_every_sample():
    got = map_ranges(lambda a, b: list(range(a, b)), 1000, workers=3, chunk=7)
    assert [i for part in got for i in part] == list(range(1000))
    assert map_ranges(lambda a, b: (a, b), 0, workers=2) == []
    # by default a few large samples (64 photos for a fit) still reach every thread
    assert map_ranges(lambda a, b: (a, b), 64, workers=2) == [(0, 16), (16, 32), (32, 48), (48, 64)]
    assert map_ranges(lambda a, b: (a, b), 600, workers=1) == [(0, 256), (256, 512), (512, 600)]


@pytest.mark.parametrize("bad, err, msg", [(-1, ValueError, "a non-negative integer value, but got "
                                                           "num_workers=-1"),
                                          (1.5, TypeError, "an int")])
def test_bad_num_workers(tmp_path, bad, err, msg):
    with pytest.raises(err, match="num_workers should be " + msg):
        tc.compress((_images(4), np.zeros(4, int)), tmp_path / "x.tcz", num_workers=bad,
                    progress=False)
    assert not (tmp_path / "x.tcz").exists()
