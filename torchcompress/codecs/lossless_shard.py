"""Decoding the lossless codec's records: one shard's validated views, decoded on demand (16
records at a time in vector lanes where the CPU gathers in hardware, the others one at a time)."""

from __future__ import annotations

import numpy as np
from numba.core.errors import NumbaError

from ..errors import FormatError
from ._kernels import readonly
from ._kernels.lossless_decode import (ANY, BAD_RANGE, BAD_STATE, OVERRUN, ROW_DECODERS,
                                       row_kind)
from ._kernels.lossless_lanes import STATE, decode_lanes
from ._kernels.ls_decode import decode_ls_rgba_rows, decode_ls_rows, decode_ls_rows_biased
from ._kernels.ls_lanes import decode_ls_lanes
from ._kernels.ls_model import ls_ring_size
from ._kernels.pixel_model import NUM_CLASSES
from ._kernels.simd import LANES, vector_gathers
from .lanes import LANES_MIN, lane_groups, lanes_unavailable, plane_groups
from .lossless_tables import LosslessTables
from .record_shard import flat_rows, raise_corrupt, shard_records
from .scratch import PerThread

__all__ = ["LosslessShard", "USE_LANES"]

_ERRORS = {OVERRUN: "it is too short for a stream's 3 bytes of state",
           BAD_STATE: "its stream does not end in the start state at the record's end",
           BAD_RANGE: "it decodes to a value outside its range"}
#: batches decode 16 records (of one plane count) at a time in vector lanes where the CPU
#: gathers in hardware (``_kernels.lossless_lanes``; the same values as one at a time, about
#: 3x faster)
USE_LANES = vector_gathers()


class LosslessShard:
    """Validated views of one shard's records; decodes rows on demand."""

    def __init__(self, arrays: dict, tables: LosslessTables, *, num_samples: int,
                 sample_shape: tuple, where: str):
        self.offsets, self.shapes, self.dims = shard_records(arrays, sample_shape, num_samples,
                                                             where, "lossless")
        if tables.classes < NUM_CLASSES and self.dims[:, 0].max() > tables.classes:
            raise FormatError(f"{where}: a sample has {int(self.dims[:, 0].max())} planes, but the "
                              f"tables model {tables.classes}")
        self.records, self.tables, self.where = readonly(arrays["records"]), tables, where
        # decode_rows' rule: a record of exactly the raw size is stored raw (if the two ever
        # disagreed, the lane would flag the record and it would be decoded alone); the lanes
        # read 4 bytes at a time, so a 3-byte record (its state alone) is decoded alone
        length = np.diff(self.offsets)
        self.coded = (length != self.dims.prod(axis=1) * ((tables.bits + 7) // 8)) & (length >= 4)
        self.one_shape = bool((self.dims == self.dims[:1]).all())
        p, w = int(self.dims[:, 0].max()), int(self.dims[:, 2].max())
        ring = max(p * 2 * (w + 2), ls_ring_size(p, w) if tables.ls is not None else 0)
        # the one-at-a-time decoder's rings (pl, rs) and decode_one's row, offset and status;
        # the lane decoder's rings, row and state: each thread its own
        self._scratch = PerThread(lambda: (np.zeros(ring, np.int32), np.zeros(ring, np.int32),
                                           *(np.zeros(1, np.int64) for _ in range(3))))
        self._lane_scratch = PerThread(lambda: (
            np.zeros(ring * LANES, np.int32), np.zeros(ring * LANES, np.int32),
            np.zeros(p * w * LANES, np.int32), np.zeros(STATE, np.int32)))
        # one record at a time, by plane count: a least-squares archive's RGB rows through its
        # kernel with the biases or without and its RGBA rows through their own (ls_decode),
        # the others through MED's of their kind (lossless_decode.row_kind): each kernel
        # compiled on first use only (a first ds[i] compiled them all: 55-59 s on 2 cores)
        mapped = len(tables.cmap32) > 0
        self._kernels = {p: (ROW_DECODERS[row_kind(p, mapped)], False) for p in range(1, 5)}
        if tables.ls is not None:
            rgb = decode_ls_rows_biased if len(tables.bias) else decode_ls_rows
            self._kernels.update({3: (rgb, True), 4: (decode_ls_rgba_rows, True)})
        t = tables
        # the lanes' plane ranges (the one-at-a-time decoder takes them from the codes' bits)
        self.lo = np.zeros(p, dtype=np.int64)
        self.hi = np.zeros(p, dtype=np.int64)
        maxv = (1 << t.bits) - 1
        self.hi[:] = maxv
        if t.colour and p >= 3:
            self.lo[1:3] = -maxv

    def sizes(self, rows: np.ndarray) -> np.ndarray:
        """Number of values of each row."""
        return self.dims[rows].prod(axis=1)

    def decode(self, rows: np.ndarray, out: np.ndarray, *, planes=None, out_off=None) -> None:
        """Decode shard ``rows`` into ``out``: (B, D) for one shape, or flat with ``out_off``."""
        if len(rows) == 1 and out_off is None:
            self.decode_one(int(rows[0]), out)
            return
        flat, out_off, status = flat_rows(out, rows, out_off)
        groups, rest = self._lane_groups(rows) if USE_LANES else ((), np.arange(len(rows)))
        if len(rest) == len(rows):
            self._decode_each(rows, flat, out_off, status)
        else:
            if len(rest):
                status[rest] = self._decode_each(rows[rest], flat, out_off[rest])
            bad = groups[self._decode_lanes(rows[groups], flat, out_off[groups])]
            if len(bad):  # decoded alone, for the error
                status[bad] = self._decode_each(rows[bad], flat, out_off[bad])
        raise_corrupt(status, rows, self.where, _ERRORS)

    def decode_one(self, row: int, out: np.ndarray, *, planes=None) -> None:
        """Row ``row`` into ``out`` (its values, C-contiguous): ``ds[i]``, through the batch
        kernel with this thread's one-element rows, offset and status arrays (none made per
        call; with the archive's and dataset's side of it, CIFAR ``ds[i]`` 32.3-33.0 ->
        30.6-31.0 us, `/tmp` harness)."""
        pl, rs, one, off, status = self._scratch.get()
        one[0] = row
        self._decode_rows(one, out.reshape(-1), off, status, pl, rs, int(self.dims[row, 0]))
        if status[0]:
            raise_corrupt(status.copy(), one.copy(), self.where, _ERRORS)

    def _decode_each(self, rows, flat, out_off, status=None) -> np.ndarray:
        status = np.zeros(len(rows), dtype=np.int64) if status is None else status
        pl, rs = self._scratch.get()[:2]
        planes = self.dims[rows, 0]
        kinds = np.unique(planes)
        if len(kinds) == 1:
            self._decode_rows(rows, flat, out_off, status, pl, rs, int(kinds[0]))
            return status
        for p in kinds:  # grey, RGB and RGBA samples in one archive: each through its kernel
            part = planes == p
            part_status = np.zeros(int(part.sum()), dtype=np.int64)
            self._decode_rows(rows[part], flat, out_off[part], part_status, pl, rs, int(p))
            status[part] = part_status
        return status

    def _decode_rows(self, rows, flat, out_off, status, pl, rs, planes: int) -> None:
        """One record at a time, rows of ``planes`` planes, through their kernel."""
        t = self.tables
        kernel, ls = self._kernels.get(planes) or (ROW_DECODERS[ANY], False)  # 5+ planes
        if ls:
            kernel(self.records, self.offsets, self.dims, rows, t.colour, t.code_lo, t.cum,
                   t.coarse, t.wts, t.bias, pl, rs, flat, out_off, status)
        else:
            kernel(self.records, self.offsets, self.dims, rows, t.colour, t.bits, t.code_lo,
                   t.cum, t.coarse, t.cmap32, pl, rs, flat, out_off, status)

    def _lane_groups(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """((G, 16) indices of coded rows, each group of one plane count (three for the
        least-squares lanes); the indices decoded one at a time)."""
        if len(rows) < LANES_MIN or len(self.records) >= 1 << 31:  # int32 stream positions
            return np.empty((0, LANES), dtype=np.int64), np.arange(len(rows))
        # one shape: every row's dims are the first's (a view, not a gather of B rows)
        dims = np.broadcast_to(self.dims[:1], (len(rows), 3)) if self.one_shape else self.dims[rows]
        if self.tables.ls is not None and not (self.one_shape and int(self.dims[0, 0]) == 3):
            # the least-squares lanes take RGB records (of any shapes); others one at a time
            return plane_groups(dims, self.coded[rows], 3)
        return lane_groups(dims, self.coded[rows], self.one_shape)

    def _decode_lanes(self, rows: np.ndarray, flat: np.ndarray, out_off: np.ndarray) -> np.ndarray:
        """Decode (G, 16) coded rows, each group of one plane count; returns which lanes were
        not sound."""
        t = self.tables
        pl, rs, row, state = self._lane_scratch.get()
        bad = np.zeros(rows.shape, dtype=np.int64)
        try:
            if t.ls is not None:
                decode_ls_lanes(self.records, self.offsets, rows, self.dims[rows], t.colour,
                                t.code_lo, t.lane_coarse, t.cum_bytes, t.cum.shape[1],
                                t.lane_luts, t.lane_wts, t.lane_bias, pl, rs, row, state, flat,
                                out_off, bad)
                return bad.astype(bool)
            decode_lanes(self.records, self.offsets, rows, self.dims[rows], t.colour,
                         (1 << t.bits) - 1, t.bits - 8, t.code_lo, t.lane_coarse, t.cum_bytes,
                         t.cum.shape[1], t.lane_luts, self.lo, self.hi, pl, rs, row, state, flat,
                         out_off, bad)
        except NumbaError as e:  # a numba/llvmlite that cannot build the vector code
            _lanes_off(e)
            bad[:] = 1  # every lane decoded again, one at a time
        return bad.astype(bool)

    def sample_shapes(self, rows: np.ndarray) -> np.ndarray:
        return self.shapes[rows]


def _lanes_off(err: Exception) -> None:
    global USE_LANES
    USE_LANES = False
    lanes_unavailable("lossless", err)
