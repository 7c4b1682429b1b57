"""The ``info`` summary of an archive: sizes against raw, and codec stats."""

from __future__ import annotations

import os

import numpy as np

from ..format import ArchiveReader
from ..format.manifest import MANIFEST_FILE

__all__ = ["summarize"]


def summarize(reader: ArchiveReader) -> dict:
    """Sizes (every file, as on disk) against raw uint8, float32 and source-dtype bytes."""
    m = reader.manifest
    size = (sum(s.bytes for s in m.shards) + sum(e.bytes for e in m.extras.values())
            + os.path.getsize(reader.shard_path(MANIFEST_FILE)))
    raw = m.stats.get("source_values") or m.num_samples * (m.sample_size or 1)
    info = {
        "path": reader.path,
        "codec": m.codec,
        "codec_params": dict(m.codec_params),
        "num_samples": m.num_samples,
        "sample_shape": list(m.sample_shape),
        "sample_dtype": m.sample_dtype,
        "num_shards": len(m.shards),
        "bytes": size,
        "pct_of_uint8": 100.0 * size / raw,
        "pct_of_float32": 100.0 * size / (4 * raw),
        "pct_of_source": 100.0 * size / (np.dtype(m.sample_dtype).itemsize * raw),
        "classes": m.classes,
    }
    info.update(m.stats)
    return info
