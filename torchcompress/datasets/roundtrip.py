"""Decode a freshly encoded dataset and compare it with its source, before commit."""

from __future__ import annotations

import numpy as np

from ..errors import CodecError

__all__ = ["check_roundtrip"]

_BATCH = 1024


def check_roundtrip(codec, encoded, x: np.ndarray, y: np.ndarray, bounds: list[int], *,
                    exact: bool, tolerance: float = 0.0) -> dict:
    """Decode every sample from the shard arrays about to be written.

    Args:
        codec: the codec that produced ``encoded``.
        x: (N, *shape) source samples; ``y`` (N,) labels.
        bounds: shard boundaries ``[0, ..., N]``.
        exact: raise CodecError when a sample differs by more than ``tolerance``.

    Returns:
        ``{"exact_fraction", "max_abs_error"}`` over all values.
    """
    n = x.shape[0]
    flat = x.reshape(n, -1)
    tables = codec.open_tables(encoded.extras(), "memory")
    same = 0
    worst = 0.0
    for a, b in zip(bounds, bounds[1:]):
        arrays = dict(encoded.shard(a, b), labels=y[a:b])
        dec = codec.decoder(arrays, num_samples=b - a, sample_shape=x.shape[1:],
                            sample_dtype=x.dtype, where=f"samples [{a}, {b})", tables=tables)
        for s in range(a, b, _BATCH):
            e = min(s + _BATCH, b)
            out = np.empty((e - s, flat.shape[1]), dtype=np.float32)
            dec.decode(np.arange(s - a, e - a, dtype=np.int64), out)
            err = np.abs(out.astype(np.float64) - flat[s:e])
            same += int((err == 0).sum())
            worst = max(worst, float(err.max()))
            if exact and worst > tolerance:
                i = s + int(np.flatnonzero((err > tolerance).any(axis=1))[0])
                raise CodecError(f"verify failed: sample {i} decodes with error {worst:g} "
                                 f"(allowed {tolerance:g}); nothing was written. Please report "
                                 "this with the data that triggers it.")
    return {"exact_fraction": same / flat.size, "max_abs_error": worst}
