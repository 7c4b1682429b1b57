"""Full integrity check: structure plus a hash of every shard."""

from __future__ import annotations

import os

from .reader import ArchiveReader, check_file_hash

__all__ = ["verify"]


def verify(path: str | os.PathLike) -> dict:
    """Check the structure and recompute the xxh3-64 of every shard and extra file.

    Raises:
        FormatError: naming the first shard whose hash or structure is wrong.

    Returns:
        ``{"path", "num_samples", "shards", "bytes"}`` of the verified archive.
    """
    reader = ArchiveReader(path)
    m = reader.manifest  # the extras were hashed when the reader opened
    for s in m.shards:
        check_file_hash(reader.shard_path(s.file), s.xxh3_64)
    total = sum(s.bytes for s in m.shards) + sum(e.bytes for e in m.extras.values())
    return {"path": reader.path, "num_samples": len(reader), "shards": len(reader.manifest.shards),
            "bytes": total}
