"""Decoding the lossy codec's records: one shard's validated views, decoded on demand."""

from __future__ import annotations

import numpy as np
from numba.core.errors import NumbaError

from ..errors import FormatError
from ._kernels import readonly
from ._kernels.lossy_decode import BAD_RANGE, BAD_STATE, OVERRUN, decode_lossy_rows
from ._kernels.lossy_lanes import LANE_STATE, LUTS, ROW, decode_lossy_lanes
from ._kernels.simd import LANES, vector_gathers
from .lanes import lanes_unavailable, length_groups
from .lossy_tables import MAX_Q, LossyTables
from .lossy_transform import block_counts
from .protocol import RowsDecoder
from .record_shard import flat_rows, raise_corrupt, shard_records
from .scratch import PerThread

__all__ = ["LANE_BLOCKS", "LANES_MIN", "LossyShard"]

_ERRORS = {OVERRUN: "its stream ends early", BAD_STATE: "its stream does not end in the start state",
           BAD_RANGE: "it holds a scale, block length or coefficient outside its range"}
#: records of at most this many 8x8 blocks (a 128x128 RGB image) go through the 16 lanes, whose
#: scratch holds 16 of them; larger ones are decoded one at a time
LANE_BLOCKS = 768
#: a group goes through the lanes from this many records (its cost is about that of its
#: longest record's symbols; measured on CIFAR at bits 1.25, batches of n random images: the
#: lanes 17.7 / 15.3 / 13.6 us an image at n = 8 / 10 / 12, one at a time 15.1 / 14.5 / 14.3)
LANES_MIN = 11
USE_LANES = vector_gathers()


class LossyShard(RowsDecoder):
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
        self.blocks = block_counts(self.dims) if num_samples else np.zeros(0, dtype=np.int64)
        blocks = int(self.blocks.max()) if num_samples else 1
        # each thread its own: the quantised blocks (the last row stays zero), their lengths
        # (what the next image must clear) and a plane's samples; the lanes' block rows and state
        self._scratch = PerThread(lambda: (np.zeros((blocks + 1, 64), np.int64),
                                           np.zeros(blocks, np.int64),
                                           np.zeros(blocks * 64, np.float32)))
        region = (min(blocks, LANE_BLOCKS) + 1) * ROW
        self._lane_scratch = PerThread(lambda: (np.zeros(LANES * region, np.int32), region,
                                                np.zeros(LANE_STATE, np.int32)))

    def decode(self, rows: np.ndarray, out: np.ndarray, *, planes=None, out_off=None) -> None:
        """Decode shard ``rows`` into ``out``: (B, D) for one shape, or flat with ``out_off``."""
        flat, out_off, status = flat_rows(out, rows, out_off)
        groups, rest = self._lane_groups(rows)
        if len(groups):
            # the records not sound are decoded alone, for the error
            rest = np.union1d(rest, self._decode_lanes(rows, groups, flat, out_off))
        if len(rest):
            status[rest] = self._decode_each(rows[rest], flat, out_off[rest])
        raise_corrupt(status, rows, self.where, _ERRORS)

    def _decode_each(self, rows, flat, out_off) -> np.ndarray:
        t = self.tables
        status = np.zeros(len(rows), dtype=np.int64)
        qc, lastc, plane = self._scratch.get()
        decode_lossy_rows(self.records, self.offsets, self.dims, rows, t.ladder, t.qmul, t.pcls,
                          t.cum, t.coarse, MAX_Q, t.basis, t.mat, t.mean, qc, lastc, plane, flat,
                          out_off, flat.dtype == np.uint8, status)
        return status

    def _lane_groups(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """((G, 16) indices into ``rows``, -1 in spare lanes; the indices decoded one at a
        time)."""
        if not USE_LANES or len(rows) < LANES_MIN or len(self.records) >= 1 << 31:
            return np.empty((0, LANES), dtype=np.int64), np.arange(len(rows))
        lengths = self.offsets[rows + 1] - self.offsets[rows]
        return length_groups(lengths, (lengths >= 5) & (self.blocks[rows] <= LANE_BLOCKS),
                             LANES_MIN)

    def _decode_lanes(self, rows, groups, flat, out_off) -> np.ndarray:
        """Decode the (G, 16) groups of ``rows``; returns the group entries not sound."""
        t = self.tables
        qc, region, state = self._lane_scratch.get()
        plane = self._scratch.get()[2]
        spare = groups < 0
        shard_rows, starts = np.where(spare, -1, rows[groups]), np.where(spare, 0, out_off[groups])
        bad = np.zeros(groups.shape, dtype=np.int64)
        try:
            decode_lossy_lanes(self.records, self.offsets, self.dims, shard_rows, t.ladder,
                               t.qmul, t.qmul_raster, t.lane_coarse, t.cum_bytes, LUTS,
                               t.cum.shape[1], MAX_Q, t.basis, t.mat, t.mean, qc, region, state,
                               plane, flat, starts, flat.dtype == np.uint8, bad)
        except NumbaError as e:  # a numba/llvmlite that cannot build the vector code
            _lanes_off(e)
            bad[~spare] = 1  # every record decoded again, one at a time
        return groups[bad.astype(bool)]

    def sample_shapes(self, rows: np.ndarray) -> np.ndarray:
        return self.shapes[rows]


def _lanes_off(err: Exception) -> None:
    global USE_LANES
    USE_LANES = False
    lanes_unavailable("lossy", err)
