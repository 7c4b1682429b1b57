import numpy as np
import pytest


@pytest.fixture
def images():
    """(40, 3, 8, 8) uint8 images with structure (gradients + noise), labels 0..3."""
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 255, 64).reshape(1, 1, 8, 8)
    x = (ramp * rng.uniform(0.2, 1.0, (40, 3, 1, 1)) + rng.normal(0, 12, (40, 3, 8, 8)))
    x = np.clip(x, 0, 255).astype(np.uint8)
    y = np.arange(40) % 4
    return x, y


@pytest.fixture
def archive(tmp_path, images):
    import torchcompress as tc

    path = tmp_path / "a.tcz"
    tc.compress(images, path, codec="adq", bits=2.0, shard_size=16, progress=False)
    return path
