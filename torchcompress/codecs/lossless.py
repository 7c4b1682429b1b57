"""The ``"lossless"`` codec: a dataset-fit context model and rANS, bit-exact, any image size.

Each sample becomes planes (C, H, W) of unsigned codes (int8/int16 are offset;
RGB and RGBA go through YCoCg-R or subtract green, whichever codes the fit
smaller), predicted by MED from causal neighbours (or, for 8-bit RGB(A), by
linear predictors fit on the data, ``_kernels/ls_model.py``: with
``predictor="least_squares"``, or by default where they code the fit samples 1%
smaller) and coded by rANS under static
12-bit tables, one per context (local activity x predicted level, or x the
previous plane's residual). The tables are fit once
on (up to ``fit_samples`` of) the data and stored once in the archive, so a
small image pays no header and no learning cost. Each sample is its own
stream: O(1) random access through the shard's offsets. A sample whose stream
would not be smaller than its raw codes is stored raw (its record length then
equals the raw size).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from numba.core.errors import NumbaError

from .._validation import check_positive_int
from ..errors import FormatError
from ._kernels import readonly
from ._kernels.lossless_decode import BAD_RANGE, BAD_STATE, OVERRUN, decode_rows
from ._kernels.lossless_lanes import STATE, decode_lanes
from ._kernels.pixel_model import NUM_CLASSES
from ._kernels.simd import LANES, vector_gathers
from ._kernels.ls_lanes import decode_ls_lanes
from ._kernels.ls_model import ls_ring_size
from .lanes import LANES_MIN, lane_groups, lanes_unavailable, shape_groups
from .lossless_stream import (COLOURS, PREDICTOR_CHOICES, LosslessStream, code_layout, model_stats,
                              planes_of)
from .lossless_tables import LosslessTables
from .record_lengths import pack_lengths
from .record_shard import flat_rows, raise_corrupt, shard_records
from .scratch import PerThread

__all__ = ["LosslessCodec", "LosslessParams", "code_layout", "planes_of"]

_ERRORS = {OVERRUN: "it is too short for a stream's 3 bytes of state",
           BAD_STATE: "its stream does not end in the start state at the record's end",
           BAD_RANGE: "it decodes to a value outside its range"}
#: batches decode 16 records (of one plane count) at a time in vector lanes where the CPU
#: gathers in hardware (``_kernels.lossless_lanes``; the same values as one at a time, about
#: 3x faster)
USE_LANES = vector_gathers()


@dataclass(frozen=True)
class LosslessParams:
    """Lossless settings stored in the manifest.

    Attributes:
        fit_samples: at most this many samples (spread evenly over the source)
            fit the model; the rest are only encoded. The fit also reads at most
            64 MiB of samples, counted by the first sample's size (but at least 64).
        colour: the reversible colour transform of RGB(A) samples' first three planes:
            ``"ycocg"`` (YCoCg-R), ``"subtract_green"`` (G, B - G, R - G) or ``"auto"``,
            whichever codes the fit samples in fewer bits (subtract green on CIFAR, 0.21
            points smaller; YCoCg-R on the photos of ``benchmarks/``, 0.06).
        predictor: ``"med"`` (the median edge detector), ``"least_squares"``: for 8-bit RGB(A)
            images, linear predictors over MED and ten neighbours fit on the data per plane and
            activity (CIFAR 1.3 points smaller; batches decode about as fast, one record at a
            time slower: see README), or ``"auto"``: least squares where it codes the fit
            samples of an 8-bit colour source at least 1% smaller (CIFAR), else MED (the
            photos of ``benchmarks/``, grey and 16-bit sources). The archive's ``info``
            names the one chosen.
    """

    fit_samples: int = 4096
    colour: str = "auto"
    predictor: str = "auto"

    def __post_init__(self) -> None:
        check_positive_int("fit_samples", self.fit_samples)
        if self.colour not in COLOURS:
            raise ValueError(f"colour={self.colour!r} is not a colour transform; pass one of "
                             f"{', '.join(map(repr, COLOURS))}")
        if self.predictor not in PREDICTOR_CHOICES:
            raise ValueError(f"predictor={self.predictor!r} is not a predictor; pass one of "
                             f"{', '.join(map(repr, PREDICTOR_CHOICES))}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "LosslessParams":
        return cls(**d)


@dataclass
class LosslessEncoded:
    """A whole encoded dataset: tables plus per-sample records and shapes."""

    tables: LosslessTables
    payload: np.ndarray   # (P,) uint8 records in sample order
    offsets: np.ndarray   # (N + 1,) int64
    shapes: np.ndarray    # (N, ndim) int64 sample shapes
    raw_count: int

    @classmethod
    def from_chunk(cls, tables, chunk, raw_count: int):
        """The dataset encoded as one stream encoder ``Chunk`` (``lengths`` and ``records``)."""
        lengths = chunk.arrays["lengths"]
        offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        uniform = len(lengths) == 0 or bool((chunk.shapes == chunk.shapes[0]).all())
        return cls(tables, chunk.arrays["records"], offsets, None if uniform else chunk.shapes,
                   raw_count)

    def shard(self, start: int, stop: int) -> dict[str, np.ndarray]:
        off = self.offsets[start:stop + 1]
        out = {**pack_lengths(np.diff(off)), "records": self.payload[off[0]:off[-1]]}
        if self.shapes is not None:
            out["shapes"] = self.shapes[start:stop].astype(np.uint32)
        return out

    def extras(self) -> dict[str, dict]:
        return {"tables": self.tables.to_tensors()}

    def stats(self) -> dict:
        n = len(self.offsets) - 1
        return {"raw_samples": self.raw_count, "payload_bytes": int(self.offsets[-1]),
                "bits_per_sample": float(8 * self.offsets[-1] / n), **model_stats(self.tables)}


class LosslessCodec:
    """The ``"lossless"`` codec. Works on sample arrays; knows nothing of torch."""

    name = "lossless"
    params_type = LosslessParams
    lossless = True
    measures_error = False
    progressive = False
    variable_shapes = True
    output_dtypes = None  # writes any numeric dtype
    max_planes = None
    # version 5: 32 direct tokens, the previous plane binned by token; 6: streams start in state 1;
    # 7: residuals folded over their plane's range, plane 0's map of fine contexts without colour;
    # 8: that map over W, N, NE and NW in four levels, then their texture against the
    # prediction, stored as its moved entries; record lengths a byte each where they fit
    min_format_version = 8

    def __init__(self, params: LosslessParams):
        self.params = params

    def describe(self) -> str:
        return "codec='lossless'"

    def check_targets(self, labels: np.ndarray) -> None:
        pass

    def tolerance(self, flat: np.ndarray) -> float:
        return 0.0

    # -- encoding --

    def stream_encoder(self, n: int, *, importance=None, workers: int = 1,
                       sample_bytes: int = 0) -> LosslessStream:
        """The bounded-memory encoder of ``n`` samples (see ``protocol.StreamEncoder``)."""
        if importance is not None:
            raise ValueError("importance= applies to the lossy 'adq' codec; lossless keeps every value")
        return LosslessStream(self.params.fit_samples, n, workers=workers,
                              colour=self.params.colour, predictor=self.params.predictor)

    def encode_dataset(self, x, labels, *, importance=None, workers: int = 1) -> LosslessEncoded:
        """Fit the model on up to ``fit_samples`` samples, then code every sample.

        ``x`` is an (N, *shape) array or a list of arrays of one ndim and dtype;
        ``workers`` threads code the samples (the bytes do not depend on it).
        """
        samples = list(x) if not isinstance(x, np.ndarray) else x
        n = len(samples)
        st = self.stream_encoder(n, importance=importance, workers=workers)
        st.layout = code_layout(samples, samples[0].dtype)  # in memory: every sample's range
        rows = st.fit_rows(samples[0].nbytes)
        st.fit(samples[rows] if isinstance(samples, np.ndarray) else [samples[i] for i in rows])
        chunk = st.encode(samples)
        return LosslessEncoded.from_chunk(st.tables, chunk, chunk.stats["raw_samples"])

    # -- decoding --

    def open_tables(self, extras: dict, where: str) -> LosslessTables:
        if "tables" not in extras:
            raise FormatError(f"{where}: a lossless archive needs the extra file 'tables'")
        return LosslessTables.from_tensors(extras["tables"], where)

    def decoder(self, arrays: dict, *, num_samples: int, sample_shape: tuple, sample_dtype,
                where: str, tables: LosslessTables) -> "LosslessShard":
        return LosslessShard(arrays, tables, num_samples=num_samples, sample_shape=sample_shape,
                             where=where)


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
        t = self.tables
        pl, rs, one, off, status = self._scratch.get()
        one[0] = row
        decode_rows(self.records, self.offsets, self.dims, one, t.colour, t.bits, t.code_lo,
                    t.cum, t.coarse, t.cmap32, t.wts, t.bias, pl, rs, out.reshape(-1), off,
                    status)
        if status[0]:
            raise_corrupt(status.copy(), one.copy(), self.where, _ERRORS)

    def _decode_each(self, rows, flat, out_off, status=None) -> np.ndarray:
        t = self.tables
        status = np.zeros(len(rows), dtype=np.int64) if status is None else status
        pl, rs = self._scratch.get()[:2]
        decode_rows(self.records, self.offsets, self.dims, rows, t.colour, t.bits, t.code_lo,
                    t.cum, t.coarse, t.cmap32, t.wts, t.bias, pl, rs, flat, out_off, status)
        return status

    def _lane_groups(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """((G, 16) indices of coded rows, each group of one plane count (of one shape for the
        least-squares lanes); the indices decoded one at a time)."""
        if len(rows) < LANES_MIN or len(self.records) >= 1 << 31:  # int32 stream positions
            return np.empty((0, LANES), dtype=np.int64), np.arange(len(rows))
        # one shape: every row's dims are the first's (a view, not a gather of B rows)
        dims = np.broadcast_to(self.dims[:1], (len(rows), 3)) if self.one_shape else self.dims[rows]
        if self.tables.ls is not None and not (self.one_shape and int(self.dims[0, 0]) == 3):
            # the least-squares lanes take RGB records of one shape a group; others one at a
            # time
            return shape_groups(dims, self.coded[rows], 3)
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
