"""``make demo``'s helper process: it compiles the lossy kernels only when numba has not cached
them (the story itself needs scikit-learn's data, which the test install does not carry)."""

import os

import numpy as np

import torchcompress as tc
from torchcompress import story


def test_the_demo_warms_the_lossy_kernels_only_when_they_are_not_cached(tmp_path, monkeypatch):
    x = np.random.default_rng(0).integers(0, 256, (8, 3, 16, 16), dtype=np.uint8)
    tc.compress((x, np.zeros(8, dtype=np.int64)), tmp_path / "l.tcz", codec="lossy", bits=2.0,
                progress=False)
    tc.open(tmp_path / "l.tcz").__getitems__(list(range(8)))  # numba saves the decoder
    assert story._lossy_cached() is True  # numba's index file is where the story looks
    assert story._start_warming(str(tmp_path), 0.5) is None
    monkeypatch.setattr(story, "_lossy_cached", lambda: False)
    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    assert story._start_warming(str(tmp_path), 0.5) is None  # one core: nothing to overlap
