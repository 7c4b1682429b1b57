"""How a shard stores its records' lengths (the lossless, lossy and original codecs' layout).

Lengths are U8 over a ``length_base`` (U32, (1,)) when the shard's lengths span
less than 256, else U16 when each is below 65,536, else U32 (format 8; MNIST's
lossless records, 27 to 282 bytes, store a byte a record fewer: 18.030 ->
17.903% of raw). Chunks carry plain U16/U32 lengths; a shard packs them once
joined, in memory (``LosslessEncoded.shard``) or streamed (the stream
encoders' ``shard_tensors``), so both ways write the same bytes.
"""

from __future__ import annotations

import numpy as np

__all__ = ["pack_lengths", "pack_shard_lengths"]


def pack_lengths(lengths: np.ndarray) -> dict[str, np.ndarray]:
    """``{"lengths": ...}`` and, for U8, ``{"length_base": ...}`` of a shard's lengths."""
    lengths = np.asarray(lengths, dtype=np.int64)
    if lengths.size and int(lengths.max() - lengths.min()) < 256:
        base = int(lengths.min())
        return {"lengths": (lengths - base).astype(np.uint8),
                "length_base": np.array([base], dtype=np.uint32)}
    return {"lengths": lengths.astype(np.uint16 if not lengths.size or lengths.max() < 1 << 16
                                      else np.uint32)}


def pack_shard_lengths(parts: dict[str, list]) -> dict[str, list]:
    """A streamed shard's tensors (each a list of the chunks' parts) with the lengths packed."""
    packed = pack_lengths(np.concatenate(parts["lengths"]))
    return {**parts, **{key: [value] for key, value in packed.items()}}
