"""The ``"lossy"`` codec: 8x8 DCT, dataset-fit quantiser and tables, per-sample rate allocation, rANS.

Each uint8 image (1 or 3 channels, any size) goes through an orthonormal
opponent colour basis around the dataset's mean pixel, an 8x8 block DCT
(edge blocks padded by repeating the last row and column), a deadzone
quantiser whose step is the sample's scale times a per-position multiplier,
and the lossless codec's rANS coder under static, context-modelled tables fit
once on the dataset. ``bits`` is the average number of bits per value over
the whole dataset and the budget is exact: records and their lengths never
exceed ``bits * values / 8`` bytes (tables, shapes and labels are reported
apart). Each sample is one record: its scale index, then its stream.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .._validation import check_positive_int, check_range
from ..errors import CodecError, FormatError
from ._kernels.lossy_decode import BAD_RANGE, BAD_STATE, OVERRUN, decode_lossy_rows
from .lossless import LosslessEncoded, planes_of, shard_records
from .lossy_rate import BlockCoder, allocate, pick_scales
from .lossy_tables import MAX_Q, LossyTables
from .lossy_transform import colour_basis
from .parallel import map_ranges

__all__ = ["LossyCodec", "LossyParams"]

_ERRORS = {OVERRUN: "its stream ends early", BAD_STATE: "its stream does not end in the start state",
           BAD_RANGE: "it holds a scale, block length or coefficient outside its range"}
DEADZONE = 0.42
RDO_LAMBDA = 0.2


@dataclass(frozen=True)
class LossyParams:
    """Lossy settings stored in the manifest.

    Attributes:
        bits: average bits per value over the dataset (records and lengths),
            in (0, 8].
        fit_samples: at most this many samples (spread evenly) fit the colour
            basis and the tables.
    """

    bits: float = 0.5
    fit_samples: int = 4096

    def __post_init__(self) -> None:
        object.__setattr__(self, "bits", check_range("bits", self.bits, 1e-3, 8))
        check_positive_int("fit_samples", self.fit_samples)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "LossyParams":
        return cls(**d)


class LossyEncoded(LosslessEncoded):
    """Records as the lossless codec's, with the lossy tables and per-sample errors."""

    def __init__(self, tables, payload, offsets, shapes, values, budget):
        super().__init__(tables, payload, offsets, shapes, raw_count=0)
        self.values, self.budget = values, budget
        self.sq_error = np.zeros(len(values))

    def stats(self) -> dict:
        n = len(self.offsets) - 1
        values = self.values
        lengths = sum(v.nbytes for k, v in self.shard(0, n).items() if k == "lengths")
        payload = int(self.offsets[-1]) + lengths
        mse = np.maximum(self.sq_error / values, (255 * 1e-5) ** 2)
        psnr = 10.0 * np.log10(255.0 ** 2 / mse)
        tables = sum(a.nbytes for a in self.tables.to_tensors().values())
        return {"achieved_bits": 8.0 * payload / values.sum(), "payload_bytes": payload,
                "budget_bytes": int(self.budget), "table_bytes": int(tables),
                "mean_psnr_db": float(psnr.mean()), "worst_psnr_db": float(psnr.min()),
                "mse": float((self.sq_error.sum() / values.sum())), "psnr_peak": 255.0}


class LossyCodec:
    """The ``"lossy"`` codec. Works on uint8 sample arrays; knows nothing of torch."""

    name = "lossy"
    params_type = LossyParams
    lossless = False
    measures_error = False  # encode_dataset decodes every sample to report its PSNR
    progressive = False
    variable_shapes = True
    output_dtypes = (np.dtype(np.float32), np.dtype(np.uint8))
    max_planes = None
    min_format_version = 3

    def __init__(self, params: LossyParams):
        self.params = params

    def describe(self) -> str:
        return f"codec='lossy' (bits={self.params.bits:g})"

    def check_targets(self, labels: np.ndarray) -> None:
        pass

    def tolerance(self, flat: np.ndarray) -> float:
        return float("inf")

    # -- encoding --

    def encode_dataset(self, x, labels, *, importance=None, workers: int = 1) -> LossyEncoded:
        """Fit the colour basis and tables, allocate the budget, code every sample (pricing,
        coding and measuring on ``workers`` threads; the bytes do not depend on it)."""
        if importance is not None:
            raise ValueError("importance= applies to the 'adq' codec; codec='lossy' shares its "
                             "budget by each sample's rate-distortion curve")
        samples = _as_planes(x)
        n = len(samples)
        dims = np.array([s.shape for s in samples], dtype=np.int64).reshape(n, 3)
        planes = int(dims[0, 0])
        values = dims.prod(axis=1)
        budget = int(self.params.bits * values.sum() / 8)
        fit = np.unique(np.linspace(0, n - 1, min(n, self.params.fit_samples)).round().astype(np.int64))
        mat, mean = colour_basis(samples, fit, planes)
        qmul = np.ones((planes, 64), dtype=np.float32)
        coder = BlockCoder(samples, dims, DEADZONE, RDO_LAMBDA)
        coder.workers = workers
        len_bytes = 2 * n
        tables, window, rate, dist, col = allocate(coder, fit, budget - len_bytes,
                                                   values[fit].sum() / values.sum(), qmul, mat, mean)
        records = coder.encode_all(window[col], tables)
        records = _fit_budget(coder, tables, records, window, rate, dist, col, budget,
                              self.params.bits, int(values.sum()))
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum([r.size for r in records], out=offsets[1:])
        payload = np.concatenate(records)
        fixed = len({s.shape for s in samples}) == 1
        shapes = None if fixed else np.array([a.shape for a in x], dtype=np.int64)
        enc = LossyEncoded(tables, payload, offsets, shapes, values, budget)
        enc.sq_error = _squared_errors(enc, samples, dims, np.asarray(x[0]).shape, workers)
        return enc

    # -- decoding --

    def open_tables(self, extras: dict, where: str) -> LossyTables:
        if "tables" not in extras:
            raise FormatError(f"{where}: a lossy archive needs the extra file 'tables'")
        return LossyTables.from_tensors(extras["tables"], where)

    def decoder(self, arrays: dict, *, num_samples: int, sample_shape: tuple, sample_dtype,
                where: str, tables: LossyTables) -> "LossyShard":
        return LossyShard(arrays, tables, num_samples=num_samples, sample_shape=sample_shape,
                          where=where)


def _as_planes(x) -> list:
    """(P, H, W) uint8 views of the samples; anything else is refused with the fix."""
    first = x[0]
    if np.asarray(first).dtype != np.uint8:
        raise CodecError(f"codec='lossy' stores uint8 images, but got dtype {np.asarray(first).dtype}; "
                         "use codec='lossless' for other integers or codec='adq' for floats")
    out = []
    for a in x:
        a = np.asarray(a)
        if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[0] not in (1, 3)):
            raise CodecError(f"codec='lossy' stores (H, W) or (C, H, W) images with 1 or 3 "
                             f"channels, but got a sample of shape {list(a.shape)}; use "
                             "codec='lossless' or codec='adq' for other shapes")
        out.append(a.reshape(planes_of(a.shape)))
    if len({a.shape[0] for a in out}) > 1:
        raise CodecError("codec='lossy' needs one channel count per archive, but the samples mix "
                         "1 and 3 channels; convert them (e.g. to RGB) first")
    return out


def _fit_budget(coder, tables, records, window, rate, dist, col, budget, bits, values) -> list:
    """Re-pick scales until the coded records plus their lengths fit ``budget`` exactly.

    The curves are estimates: the real total is compared with the estimate,
    the estimate's target corrected by their ratio (in either direction, so
    the budget is used, not just respected) and the changed samples coded
    again; at the end, while the total is over, single samples step to
    coarser scales (the cheapest error per byte first), up to the coarsest
    scale there is.
    """
    n = len(records)
    sizes = np.array([r.size for r in records], dtype=np.int64)
    rows = np.arange(n)

    def length_bytes():
        return (2 if sizes.max() < 1 << 16 else 4) * n

    def total():
        return int(sizes.sum()) + length_bytes()

    for _ in range(4):
        real = total()
        if 0.998 * budget <= real <= budget:
            break
        ratio = (real - length_bytes()) / max(rate[rows, col].sum(), 1e-9)
        new = pick_scales(rate, dist, 0.999 * (budget - length_bytes()) / max(ratio, 1e-9))
        for i in np.flatnonzero(new != col):
            records[i] = coder.encode(int(i), int(window[new[i]]), tables)
            sizes[i] = records[i].size
        col = new
    scale = np.array([int(r[0]) for r in records], dtype=np.int64)
    while total() > budget:
        ok = scale < len(tables.ladder) - 1
        if not ok.any():
            need = 8 * total() / values
            fix = (f"use bits >= {need:.3g}" if need <= 8 else
                   "samples this small do not fit any lossy budget; use codec='lossless'")
            raise CodecError(f"bits={bits:g} is too small for codec='lossy' on these samples: its "
                             f"budget is {budget} bytes, but even the coarsest quantiser needs "
                             f"{total()}; {fix}")
        # the cheapest error per saved byte, from the curves where they reach
        gain = np.full(n, np.inf)
        j = np.searchsorted(window, scale)
        inside = ok & (j + 1 < len(window)) & (window[np.minimum(j, len(window) - 1)] == scale)
        rows = np.flatnonzero(inside)
        dr = rate[rows, j[rows]] - rate[rows, j[rows] + 1]
        dd = dist[rows, j[rows] + 1] - dist[rows, j[rows]]
        gain[rows] = np.where(dr > 0, dd / np.maximum(dr, 1e-9), np.inf)
        i = int(np.argmin(gain)) if np.isfinite(gain).any() else int(np.flatnonzero(ok)[sizes[ok].argmax()])
        scale[i] += 1
        records[i] = coder.encode(i, int(scale[i]), tables)
        sizes[i] = records[i].size
    return records


def _squared_errors(enc: LossyEncoded, samples: list, dims: np.ndarray, shape: tuple,
                    workers: int) -> np.ndarray:
    """Per-sample squared error of the decoded uint8 pixels (what a user's PSNR sees)."""
    n = len(samples)
    arrays = enc.shard(0, n)
    out = np.zeros(n)

    def measure(a: int, b: int) -> None:
        shard = LossyShard(arrays, enc.tables, num_samples=n,
                           sample_shape=(None,) * len(shape) if enc.shapes is not None else shape,
                           where="freshly encoded records")
        rows = np.arange(a, b, dtype=np.int64)
        sizes = dims[rows].prod(axis=1)
        off = np.zeros(len(rows), dtype=np.int64)
        np.cumsum(sizes[:-1], out=off[1:])
        flat = np.empty(int(sizes.sum()), dtype=np.uint8)
        shard.decode(rows, flat, out_off=off)
        for k, i in enumerate(rows):
            d = flat[off[k]:off[k] + sizes[k]].astype(np.float64) - samples[i].reshape(-1)
            out[i] = float(d @ d)

    map_ranges(measure, n, workers)
    return out


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
        self.records, self.tables, self.where = arrays["records"], tables, where
        d = self.dims
        blocks = int((d[:, 0] * ((d[:, 1] + 7) // 8) * ((d[:, 2] + 7) // 8)).max()) if num_samples else 1
        pixels = int((d[:, 0] * ((d[:, 1] + 7) // 8) * ((d[:, 2] + 7) // 8)).max() * 64) if num_samples else 64
        self.qc = np.zeros((blocks + 1, 64), dtype=np.int64)  # the last row stays zero
        self.lastc = np.zeros(blocks, dtype=np.int64)
        self.plane = np.zeros(pixels, dtype=np.float32)

    def decode(self, rows: np.ndarray, out: np.ndarray, *, planes=None, out_off=None) -> None:
        """Decode shard ``rows`` into ``out``: (B, D) for one shape, or flat with ``out_off``."""
        t = self.tables
        flat = out.reshape(-1)
        if out_off is None:
            out_off = np.arange(len(rows), dtype=np.int64) * (out.shape[1] if out.ndim == 2 else 0)
        status = np.zeros(len(rows), dtype=np.int64)
        decode_lossy_rows(self.records, self.offsets, self.dims, rows, t.ladder, t.qmul, t.pcls,
                          t.freq, t.cum, t.coarse, MAX_Q, t.basis, t.mat, t.mean, self.qc,
                          self.lastc, self.plane, flat, out_off, flat.dtype == np.uint8, status)
        if status.any():
            b = int(np.flatnonzero(status)[0])
            raise FormatError(f"{self.where}: record {int(rows[b])} is corrupt "
                              f"({_ERRORS[int(status[b])]}); run tc.verify to find the damaged file")

    def sample_shapes(self, rows: np.ndarray) -> np.ndarray:
        return self.shapes[rows]
