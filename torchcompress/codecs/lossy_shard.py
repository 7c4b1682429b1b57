"""Decoding the lossy codec's records: one shard's validated views, decoded on demand."""

from __future__ import annotations

import numpy as np

from ..errors import FormatError
from ._kernels import readonly
from ._kernels.lossy_decode import BAD_RANGE, BAD_STATE, OVERRUN, decode_lossy_rows
from .lossless import flat_rows, raise_corrupt, shard_records
from .lossy_tables import MAX_Q, LossyTables
from .lossy_transform import block_counts

__all__ = ["LossyShard"]

_ERRORS = {OVERRUN: "its stream ends early", BAD_STATE: "its stream does not end in the start state",
           BAD_RANGE: "it holds a scale, block length or coefficient outside its range"}


class LossyShard:
    """Validated views of one shard's records; decodes rows on demand."""

    def __init__(self, arrays: dict, tables: LossyTables, *, num_samples: int, sample_shape: tuple,
                 where: str):
        self.offsets, self.shapes, self.dims = shard_records(arrays, sample_shape, num_samples,
                                                             where, "lossy")
        if num_samples and self.dims[:, 0].max() > tables.planes or \
                (num_samples and self.dims[:, 0].min() != tables.planes):
            raise FormatError(f"{where}: a sample has a plane count other than the tables' "
                              f"{tables.planes}")
        self.records, self.tables, self.where = readonly(arrays["records"]), tables, where
        blocks = int(block_counts(self.dims).max()) if num_samples else 1
        self.qc = np.zeros((blocks + 1, 64), dtype=np.int64)  # the last row stays zero
        self.lastc = np.zeros(blocks, dtype=np.int64)
        self.plane = np.zeros(blocks * 64, dtype=np.float32)

    def decode(self, rows: np.ndarray, out: np.ndarray, *, planes=None, out_off=None) -> None:
        """Decode shard ``rows`` into ``out``: (B, D) for one shape, or flat with ``out_off``."""
        t = self.tables
        flat, out_off, status = flat_rows(out, rows, out_off)
        decode_lossy_rows(self.records, self.offsets, self.dims, rows, t.ladder, t.qmul, t.pcls,
                          t.cum, t.coarse, MAX_Q, t.basis, t.mat, t.mean, self.qc,
                          self.lastc, self.plane, flat, out_off, flat.dtype == np.uint8, status)
        raise_corrupt(status, rows, self.where, _ERRORS)

    def sample_shapes(self, rows: np.ndarray) -> np.ndarray:
        return self.shapes[rows]
