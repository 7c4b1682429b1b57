"""Contracts every codec satisfies: round trip, error bound, deterministic bytes."""

import numpy as np


def encode_decode(codec, x, *, planes=8, dtype=np.float32):
    """Encode (N, D) ``x`` with ``codec`` and decode every row back."""
    enc = codec.encode(x)
    n, d = x.shape
    shard = codec.open_shard(enc.shard(0, n), num_samples=n, sample_size=d, where="memory")
    out = np.empty((n, d), dtype=dtype)
    shard.decode(np.arange(n, dtype=np.int64), out, planes=planes)
    return enc, out


def check_error_bound(codec, x):
    enc, out = encode_decode(codec, x)
    err = np.abs(out.astype(np.float64) - x.astype(np.float64)).max(axis=1)
    slack = 1e-6 * (np.abs(x.astype(np.float64)).max() + 1)
    assert (err <= enc.scale.astype(np.float64) / 2 + slack).all(), \
        f"worst excess {(err - enc.scale / 2).max()}"
    return enc, out


def check_deterministic(codec, x):
    a, b = codec.encode(x), codec.encode(x.copy())
    n = x.shape[0]
    for name, arr in a.shard(0, n).items():
        np.testing.assert_array_equal(arr, b.shard(0, n)[name], err_msg=name)
