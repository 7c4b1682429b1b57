"""A shard of variable-length records, as the record codecs (lossless, lossy, original) store
them: the validated offsets and shapes of its ``lengths``, ``records`` and ``shapes`` tensors
(FORMAT.md), and the errors their decoders report per row."""

from __future__ import annotations

import numpy as np

from ..errors import FormatError

__all__ = ["flat_rows", "raise_corrupt", "shard_records"]


def flat_rows(out: np.ndarray, rows: np.ndarray, out_off) -> tuple:
    """(flat view of ``out``, each row's start in it, a zeroed status per row) for a decoder
    writing (B, D) rows, or a flat ``out`` at ``out_off``."""
    if out_off is None:
        out_off = np.arange(len(rows), dtype=np.int64) * (out.shape[1] if out.ndim == 2 else 0)
    return out.reshape(-1), out_off, np.zeros(len(rows), dtype=np.int64)


def raise_corrupt(status: np.ndarray, rows: np.ndarray, where: str, errors: dict) -> None:
    """FormatError naming the first row a decoder flagged in ``status`` (none: no error)."""
    if status.any():
        b = int(np.flatnonzero(status)[0])
        raise FormatError(f"{where}: record {int(rows[b])} is corrupt "
                          f"({errors[int(status[b])]}); run tc.verify to find the damaged file")


def shard_records(arrays: dict, sample_shape: tuple, n: int, where: str, codec: str):
    """Validated (offsets (n + 1,), shapes (n, ndim), dims (n, 3)) of a shard of records.

    The shard holds ``lengths`` (U8 over ``length_base``, U16 or U32 per sample, see
    ``record_lengths``), ``records`` (the bytes, U8) and, in a mixed-shape archive,
    ``shapes`` (U32 (n, ndim)).
    """
    lengths = arrays.get("lengths")
    records = arrays.get("records")
    if lengths is None or records is None:
        raise FormatError(f"{where}: a {codec} shard needs tensors 'lengths' and 'records'")
    if lengths.dtype not in (np.uint8, np.uint16, np.uint32) or lengths.ndim != 1 \
            or lengths.shape[0] != n:
        raise FormatError(f"{where}: tensor 'lengths' should be 1-D U8, U16 or U32 with {n} "
                          f"entries, found {lengths.ndim}-D {lengths.dtype} of shape "
                          f"{list(lengths.shape)}")
    base = arrays.get("length_base")
    if (lengths.dtype == np.uint8) != (base is not None) or base is not None and (
            base.dtype != np.uint32 or base.shape != (1,)):
        found = "no length_base" if base is None else (
            f"length_base {base.dtype} of shape {list(base.shape)}")
        raise FormatError(f"{where}: tensor 'length_base' (U32, one entry) goes with U8 "
                          f"'lengths' and only with them, found lengths {lengths.dtype} and "
                          f"{found}")
    if records.dtype != np.uint8 or records.ndim != 1:
        raise FormatError(f"{where}: tensor 'records' should be 1-D U8")
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    if base is not None:
        offsets += np.arange(n + 1, dtype=np.int64) * int(base[0])
    if offsets[-1] != records.shape[0]:
        raise FormatError(f"{where}: records hold {records.shape[0]} bytes, but the lengths "
                          f"add up to {int(offsets[-1])}")
    shapes = _shard_shapes(arrays.get("shapes"), sample_shape, n, where)
    return offsets, shapes, _dims(shapes)


def _dims(shapes: np.ndarray) -> np.ndarray:
    """(n, 3) int64 (planes, height, width) of (n, ndim) shapes, as
    ``sample_layout.planes_of``."""
    n, ndim = shapes.shape
    if ndim == 1:
        return np.stack([np.ones(n, np.int64), np.ones(n, np.int64), shapes[:, 0]], axis=1)
    lead = shapes[:, :-2].prod(axis=1) if ndim > 2 else np.ones(n, np.int64)
    return np.ascontiguousarray(np.stack([lead, shapes[:, -2], shapes[:, -1]], axis=1))


def _shard_shapes(shapes, sample_shape: tuple, n: int, where: str) -> np.ndarray:
    """(n, ndim) int64 shapes: the shard's own for a mixed-shape archive, else the manifest's."""
    if None not in sample_shape:
        if shapes is not None:
            raise FormatError(f"{where}: tensor 'shapes' is only for archives of mixed shapes")
        return np.tile(np.array(sample_shape, dtype=np.int64), (n, 1))
    ndim = len(sample_shape)
    if shapes is None or shapes.dtype != np.uint32 or shapes.shape != (n, ndim):
        raise FormatError(f"{where}: tensor 'shapes' should be U32 of shape [{n}, {ndim}] (one "
                          "shape per sample)")
    s = np.asarray(shapes).astype(np.int64)
    fixed = np.array([-1 if d is None else d for d in sample_shape])
    if (s < 1).any() or ((fixed >= 0) & (s != fixed)).any():
        raise FormatError(f"{where}: tensor 'shapes' holds a zero dimension or one that differs "
                          f"from the manifest's sample_shape {list(sample_shape)}")
    if (s.prod(axis=1) > 1 << 31).any():
        raise FormatError(f"{where}: tensor 'shapes' holds a sample over 2**31 values")
    return s
