"""The ``"lossless"`` codec: a dataset-fit context model and rANS, bit-exact, any image size.

Each sample becomes planes (C, H, W) of unsigned codes (int8/int16 are offset;
RGB and RGBA go through YCoCg-R), predicted by MED from causal neighbours and
coded by rANS under static 12-bit tables, one per context (local activity x
predicted level, or x the previous plane's residual). The tables are fit once
on (up to ``fit_samples`` of) the data and stored once in the archive, so a
small image pays no header and no learning cost. Each sample is its own
stream: O(1) random access through the shard's offsets. A sample whose stream
would not be smaller than its raw codes is stored raw (its record length then
equals the raw size).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .._validation import check_positive_int
from ..errors import CodecError, FormatError
from ._kernels.lossless_decode import BAD_RANGE, BAD_STATE, OVERRUN, decode_rows
from ._kernels.lossless_encode import (count_samples, count_tokens, encode_sample, encode_samples,
                                       model_sample)
from ._kernels.pixel_model import CTX_PER_CLASS, NUM_CLASSES
from .lossless_tables import LosslessTables, normalize_counts
from .parallel import map_ranges

__all__ = ["LosslessCodec", "LosslessParams", "code_layout", "planes_of", "shard_records"]

_SOURCE_DTYPES = {np.dtype(np.uint8): (8, 0), np.dtype(np.int8): (8, -128),
                  np.dtype(np.uint16): (16, 0), np.dtype(np.int16): (16, -32768)}
_WIDE_INTS = "int32, int64, uint32 or uint64"
_ERRORS = {OVERRUN: "its stream ends early", BAD_STATE: "its stream does not end in the start state",
           BAD_RANGE: "it decodes to a value outside its range"}


@dataclass(frozen=True)
class LosslessParams:
    """Lossless settings stored in the manifest.

    Attributes:
        fit_samples: at most this many samples (spread evenly over the source)
            fit the model; the rest are only encoded.
    """

    fit_samples: int = 4096

    def __post_init__(self) -> None:
        check_positive_int("fit_samples", self.fit_samples)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "LosslessParams":
        return cls(**d)


def planes_of(shape: tuple) -> tuple[int, int, int]:
    """(planes, height, width) a sample of ``shape`` is coded as: (D,) -> (1, 1, D),
    (H, W) -> (1, H, W), (C, H, W) as is, more axes fold into the planes."""
    if len(shape) == 1:
        return 1, 1, int(shape[0])
    if len(shape) == 2:
        return 1, int(shape[0]), int(shape[1])
    return int(np.prod(shape[:-2])), int(shape[-2]), int(shape[-1])


def code_layout(samples, dtype: np.dtype) -> tuple[int, int]:
    """(bits, code_lo) for samples of ``dtype``; wide integers must fit 16 bits."""
    dtype = np.dtype(dtype)
    if dtype in _SOURCE_DTYPES:
        return _SOURCE_DTYPES[dtype]
    if dtype.kind not in "iu":
        raise CodecError(f"codec='lossless' stores integer samples (uint8, int8, uint16, int16), "
                         f"but got dtype {dtype}; use codec='gede' with precision= for floats")
    lo = min(int(s.min()) for s in samples)
    hi = max(int(s.max()) for s in samples)
    if 0 <= lo and hi <= 0xFFFF:
        return 16, 0
    if -(1 << 15) <= lo and hi < 1 << 15:
        return 16, -(1 << 15)
    raise CodecError(f"codec='lossless' stores integers up to 16 bits, but these {dtype} samples "
                     f"hold values in [{lo}, {hi}]; rescale them or use codec='gede'")


@dataclass
class LosslessEncoded:
    """A whole encoded dataset: tables plus per-sample records and shapes."""

    tables: LosslessTables
    payload: np.ndarray   # (P,) uint8 records in sample order
    offsets: np.ndarray   # (N + 1,) int64
    shapes: np.ndarray    # (N, ndim) int64 sample shapes
    raw_count: int

    def shard(self, start: int, stop: int) -> dict[str, np.ndarray]:
        off = self.offsets[start:stop + 1]
        lengths = np.diff(off)
        dtype = np.uint16 if lengths.size and lengths.max() < 1 << 16 else np.uint32
        out = {"lengths": lengths.astype(dtype),
               "records": self.payload[off[0]:off[-1]]}
        if self.shapes is not None:
            out["shapes"] = self.shapes[start:stop].astype(np.uint32)
        return out

    def extras(self) -> dict[str, dict]:
        return {"tables": self.tables.to_tensors()}

    def stats(self) -> dict:
        n = len(self.offsets) - 1
        return {"raw_samples": self.raw_count, "payload_bytes": int(self.offsets[-1]),
                "bits_per_sample": float(8 * self.offsets[-1] / n)}


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
    min_format_version = 3

    def __init__(self, params: LosslessParams):
        self.params = params

    def describe(self) -> str:
        return "codec='lossless'"

    def check_targets(self, labels: np.ndarray) -> None:
        pass

    def tolerance(self, flat: np.ndarray) -> float:
        return 0.0

    # -- encoding --

    def encode_dataset(self, x, labels, *, importance=None, workers: int = 1) -> LosslessEncoded:
        """Fit the model on up to ``fit_samples`` samples, then code every sample.

        ``x`` is an (N, *shape) array or a list of arrays of one ndim and dtype;
        ``workers`` threads code the samples (the bytes do not depend on it).
        """
        if importance is not None:
            raise ValueError("importance= applies to the lossy 'adq' codec; lossless keeps every value")
        samples = list(x) if not isinstance(x, np.ndarray) else x
        n = len(samples)
        bits, code_lo = code_layout(samples, samples[0].dtype)
        ndim = samples[0].ndim
        dims = np.array([planes_of(s.shape) for s in samples], dtype=np.int64).reshape(n, 3)
        colour = ndim == 3 and bool(np.isin(dims[:, 0], (3, 4)).any())
        classes = min(int(dims[:, 0].max()), NUM_CLASSES)
        t = LosslessTables.tokens_for(bits, colour)
        fit = np.unique(np.linspace(0, n - 1, min(n, self.params.fit_samples)).round().astype(np.int64))

        def count_range(a: int, b: int) -> np.ndarray:  # integer counts: their sum is exact
            idx = fit[a:b]
            scratch = _Scratch(dims[idx])
            counts = np.zeros((classes * CTX_PER_CLASS, t), dtype=np.int64)
            if isinstance(x, np.ndarray):
                p, h, w = (int(v) for v in dims[0])
                codes = x[idx].reshape(len(idx), p, h, w).astype(np.int32) - np.int32(code_lo)
                count_samples(codes, colour and p in (3, 4), bits - 8, scratch.pl, scratch.rs,
                              scratch.ctx, scratch.val, counts)
                return counts
            for i in idx:
                k = scratch.model(samples[i], dims[i], colour, bits, code_lo)
                count_tokens(scratch.ctx, scratch.val, k, counts)
            return counts

        counts = sum(map_ranges(count_range, len(fit), workers))
        tables = LosslessTables(bits, code_lo, colour, normalize_counts(counts))
        value_bytes = bits // 8

        def encode_range(a: int, b: int) -> list:
            scratch = _Scratch(dims[a:b])
            if isinstance(x, np.ndarray):  # one shape: the whole range in one kernel call
                p, h, w = (int(v) for v in dims[0])
                codes = x[a:b].reshape(b - a, p, h, w).astype(np.int32) - np.int32(code_lo)
                out = np.empty((b - a, p * h * w * value_bytes), dtype=np.uint8)
                sizes = np.empty(b - a, dtype=np.int64)
                encode_samples(codes, colour and p in (3, 4), bits - 8, tables.freq, tables.cum,
                               scratch.pl, scratch.rs, scratch.ctx, scratch.val, scratch.words,
                               out, sizes)
                return [out[j, :s].copy() if s >= 0 else _raw_record(x[a + j], code_lo, value_bytes)
                        for j, s in enumerate(sizes.tolist())]
            buf = np.empty(0, dtype=np.uint8)
            out = []
            for i in range(a, b):
                raw = int(dims[i].prod()) * value_bytes
                if buf.size < raw:
                    buf = np.empty(raw, dtype=np.uint8)
                k = scratch.model(samples[i], dims[i], colour, bits, code_lo)
                size = encode_sample(scratch.ctx, scratch.val, k, tables.freq, tables.cum,
                                     scratch.words, buf, 0, raw - 1)
                # never expand: store the raw codes
                out.append(_raw_record(samples[i], code_lo, value_bytes) if size < 0 else buf[:size].copy())
            return out

        chunks = [r for part in map_ranges(encode_range, n, workers) for r in part]
        raw_count = sum(int(r.size == dims[i].prod() * value_bytes) for i, r in enumerate(chunks))
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum([r.size for r in chunks], out=offsets[1:])
        payload = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.uint8)
        fixed = len({s.shape for s in samples}) == 1 if not isinstance(x, np.ndarray) else True
        shapes = None if fixed else np.array([s.shape for s in samples], dtype=np.int64)
        return LosslessEncoded(tables, payload, offsets, shapes, raw_count)

    # -- decoding --

    def open_tables(self, extras: dict, where: str) -> LosslessTables:
        if "tables" not in extras:
            raise FormatError(f"{where}: a lossless archive needs the extra file 'tables'")
        return LosslessTables.from_tensors(extras["tables"], where)

    def decoder(self, arrays: dict, *, num_samples: int, sample_shape: tuple, sample_dtype,
                where: str, tables: LosslessTables) -> "LosslessShard":
        return LosslessShard(arrays, tables, num_samples=num_samples, sample_shape=sample_shape,
                             where=where)


def _raw_record(sample: np.ndarray, code_lo: int, value_bytes: int) -> np.ndarray:
    codes = sample.astype(np.int64).reshape(-1) - code_lo
    return codes.astype("<u1" if value_bytes == 1 else "<u2").view(np.uint8)


class _Scratch:
    """Reusable model-pass buffers, sized for the largest sample."""

    def __init__(self, dims: np.ndarray):
        p, w = int(dims[:, 0].max()), int(dims[:, 2].max())
        size = int(dims.prod(axis=1).max())
        self.pl = np.zeros(p * 2 * (w + 2), dtype=np.int32)
        self.rs = np.zeros(p * 2 * (w + 2), dtype=np.int32)
        self.ctx = np.empty(size, dtype=np.int32)
        self.val = np.empty(size, dtype=np.int32)
        self.words = np.empty(3 * size + 2, dtype=np.int64)

    def model(self, sample, dims, colour, bits, code_lo) -> int:
        p, h, w = (int(v) for v in dims)
        codes = np.ascontiguousarray(sample).reshape(p, h, w).astype(np.int32) - np.int32(code_lo)
        colour_here = colour and p in (3, 4)
        return model_sample(codes, colour_here, bits - 8, self.pl, self.rs, self.ctx, self.val)


class LosslessShard:
    """Validated views of one shard's records; decodes rows on demand."""

    def __init__(self, arrays: dict, tables: LosslessTables, *, num_samples: int,
                 sample_shape: tuple, where: str):
        self.offsets, self.shapes, self.dims = shard_records(arrays, sample_shape, num_samples,
                                                             where, "lossless")
        if tables.classes < NUM_CLASSES and self.dims[:, 0].max() > tables.classes:
            raise FormatError(f"{where}: a sample has {int(self.dims[:, 0].max())} planes, but the "
                              f"tables model {tables.classes}")
        self.records, self.tables, self.where = arrays["records"], tables, where
        p, w = int(self.dims[:, 0].max()), int(self.dims[:, 2].max())
        self.pl = np.zeros(p * 2 * (w + 2), dtype=np.int32)
        self.rs = np.zeros(p * 2 * (w + 2), dtype=np.int32)
        t = tables
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
        t = self.tables
        flat = out.reshape(-1)
        if out_off is None:
            out_off = np.arange(len(rows), dtype=np.int64) * (out.shape[1] if out.ndim == 2 else 0)
        status = np.zeros(len(rows), dtype=np.int64)
        decode_rows(self.records, self.offsets, self.dims, rows, t.colour, t.bits, t.code_lo,
                    t.freq, t.cum, t.coarse, self.lo, self.hi, self.pl, self.rs, flat, out_off,
                    status)
        if status.any():
            b = int(np.flatnonzero(status)[0])
            raise FormatError(f"{self.where}: record {int(rows[b])} is corrupt "
                              f"({_ERRORS[int(status[b])]}); run tc.verify to find the damaged file")

    def sample_shapes(self, rows: np.ndarray) -> np.ndarray:
        return self.shapes[rows]


def shard_records(arrays: dict, sample_shape: tuple, n: int, where: str, codec: str):
    """Validated (offsets (n + 1,), shapes (n, ndim), dims (n, 3)) of a shard of records.

    The shard holds ``lengths`` (U16 or U32 per sample), ``records`` (the
    bytes, U8) and, in a mixed-shape archive, ``shapes`` (U32 (n, ndim)).
    """
    lengths = arrays.get("lengths")
    records = arrays.get("records")
    if lengths is None or records is None:
        raise FormatError(f"{where}: a {codec} shard needs tensors 'lengths' and 'records'")
    if lengths.dtype not in (np.uint16, np.uint32) or lengths.ndim != 1 or lengths.shape[0] != n:
        raise FormatError(f"{where}: tensor 'lengths' should be 1-D U16 or U32 with {n} entries, "
                          f"found {lengths.ndim}-D {lengths.dtype} of shape {list(lengths.shape)}")
    if records.dtype != np.uint8 or records.ndim != 1:
        raise FormatError(f"{where}: tensor 'records' should be 1-D U8")
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    if offsets[-1] != records.shape[0]:
        raise FormatError(f"{where}: records hold {records.shape[0]} bytes, but the lengths "
                          f"add up to {int(offsets[-1])}")
    shapes = _shard_shapes(arrays.get("shapes"), sample_shape, n, where)
    return offsets, shapes, _dims(shapes)


def _dims(shapes: np.ndarray) -> np.ndarray:
    """(n, 3) int64 (planes, height, width) of (n, ndim) shapes, as :func:`planes_of`."""
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
