"""The lossy codec's encoder: fit on a bounded sample, exact sizes, one allocation, chunks.

1. ``fit``: the colour basis and the rANS tables are fit on ``fit_samples``
   samples, whose own allocation (``lossy_rate.allocate``) also says which
   quantiser scales the dataset uses: a window of at most 16 scales around
   them, plus the coarsest scale there is.
2. ``summarize``: every sample is coded at each scale of the window, keeping
   only its exact record sizes and squared errors (4 bytes each).
3. ``allocate``: one Lagrange multiplier picks every sample's scale so that
   the records and their lengths fit ``bits * values / 8`` bytes. The sizes
   are the real ones, so the budget holds exactly, with no second pass.
4. ``encode``: chunks are coded at their picked scales by the same kernel
   (each record is checked against its priced size) and decoded once to
   measure the error a user sees.

``LossyCodec.encode_dataset`` runs the same steps in memory, so both paths
write the same bytes.
"""

from __future__ import annotations

import numpy as np

from ..errors import CodecError
from .sample_layout import FLOAT_IMAGES, dims_of, fit_rows, planes_of
from .lossy_rate import BlockCoder, FitSet, fit_tables, pick_scales
from .lossy_shard import LossyShard
from .lossy_tables import LADDER, LossyTables
from .lossy_transform import colour_basis
from .parallel import map_ranges
from .precision import round_up_f32
from .protocol import Chunk
from .record_lengths import pack_shard_lengths

__all__ = ["DEADZONE", "LossyStream", "RDO_LAMBDA", "as_planes"]

DEADZONE = 0.42
RDO_LAMBDA = 0.2
_MAX_WINDOW = 16     # scales each sample is sized at (plus the coarsest)
_MARGIN = 3          # scales beyond the fit samples' picks on either side
_COARSEST = len(LADDER) - 1
_SPLIT = 1 << 24     # sample values go in two float32 columns, exact below 2**48
_PSNR_ONE = 1 << 32  # fixed-point unit of the PSNR sums


def as_planes(x, planes: int | None = None, start: int = 0) -> list:
    """(P, H, W) uint8 views of the samples; anything else is refused with the fix."""
    out = []
    for i, a in enumerate(x):
        a = np.asarray(a)
        if a.dtype != np.uint8:
            hint = f"{FLOAT_IMAGES}; " if a.dtype.kind == "f" else ""
            raise CodecError(f"codec='lossy' stores uint8 images, but got dtype {a.dtype}; {hint}"
                             "use codec='lossless' for other integers or codec='adq' for floats")
        if a.ndim not in (2, 3) or (a.ndim == 3 and a.shape[0] not in (1, 3)):
            raise CodecError(f"codec='lossy' stores (H, W) or (C, H, W) images with 1 or 3 "
                             f"channels, but got a sample of shape {list(a.shape)}; use "
                             "codec='lossless' or codec='adq' for other shapes")
        out.append(a.reshape(planes_of(a.shape)))
        planes = out[0].shape[0] if planes is None else planes
        if out[-1].shape[0] != planes:
            raise CodecError(f"codec='lossy' needs one channel count per archive, but source "
                             f"sample {start + i} has {out[-1].shape[0]} and others {planes}; "
                             "convert them (e.g. to RGB) first")
    return out


class LossyStream:
    """The lossy codec's ``protocol.StreamEncoder`` (see the module docstring)."""

    shard_tensors = staticmethod(pack_shard_lengths)

    def __init__(self, bits: float, fit_samples: int, n: int, *, workers: int = 1):
        self.bits, self.n, self.workers = bits, n, workers
        self.fit_samples = fit_samples
        self.tables: LossyTables | None = None
        self.window = np.zeros(0, dtype=np.int64)
        self.summary_width = 0
        self.scale = self.size = None
        self.wide, self.budget = False, 0

    def fit_rows(self, sample_bytes: int = 0) -> np.ndarray:
        return fit_rows(self.n, self.fit_samples, sample_bytes)

    def fit(self, samples, labels=None) -> None:
        """Colour basis and tables from the fit samples, at their share of the budget."""
        planes = as_planes(samples)
        dims = dims_of(planes)
        idx = np.arange(len(planes))
        mat, mean = colour_basis(planes, idx, int(dims[0, 0]))
        fit = FitSet(planes, dims, mat, mean, DEADZONE, RDO_LAMBDA, self.workers)
        budget = self.bits * dims.prod(axis=1).sum() / 8 - 2 * len(planes)
        qmul = np.ones((int(dims[0, 0]), 64), dtype=np.float32)
        self.tables, picked = fit_tables(fit, budget, qmul, mat, mean)
        self._set_window(int(picked.min()), int(picked.max()))

    def _set_window(self, first: int, last: int) -> None:
        lo, hi = max(0, first - _MARGIN), min(_COARSEST, last + _MARGIN)
        step = -(-(hi - lo + 1) // _MAX_WINDOW)
        self.window = np.unique(np.append(np.arange(lo, hi + 1, step), _COARSEST)).astype(np.int64)
        self.summary_width = 2 + 2 * len(self.window)

    def model(self) -> dict:
        return {**self.tables.to_tensors(), "window": self.window}

    def load_model(self, model: dict) -> None:
        model = dict(model)
        self.window = np.asarray(model.pop("window"), dtype=np.int64)
        self.summary_width = 2 + 2 * len(self.window)
        self.tables = LossyTables.from_tensors(model, "the broadcast model")

    def _planes(self, samples, start: int) -> list:
        return as_planes(samples, self.tables.planes, start)

    def summarize(self, samples, start: int, labels=None) -> np.ndarray:
        """(B, 2 + 2W) float32: the sample's value count (two columns), then its exact record
        bytes and its squared error at each scale of the window."""
        planes = self._planes(samples, start)
        dims = dims_of(planes)
        w = len(self.window)
        out = np.empty((len(planes), self.summary_width), dtype=np.float32)
        values = dims.prod(axis=1)
        out[:, 0], out[:, 1] = values // _SPLIT, values % _SPLIT

        def size_range(a: int, b: int) -> None:
            coder = BlockCoder(planes[a:b], dims[a:b], DEADZONE, RDO_LAMBDA)
            for i in range(a, b):
                size, dist = coder.sized(i - a, self.window, self.tables)
                out[i, 2:2 + w] = round_up_f32(size.astype(np.float64))  # never under
                out[i, 2 + w:] = dist

        map_ranges(size_range, len(planes), self.workers)
        return out

    def allocate(self, summaries: np.ndarray) -> None:
        """Every sample's scale, the largest quality whose records and lengths fit the budget."""
        n, w = len(summaries), len(self.window)
        values = summaries[:, 0].astype(np.int64) * _SPLIT + summaries[:, 1].astype(np.int64)
        self.budget = int(self.bits * values.sum() / 8)
        rate, dist = summaries[:, 2:2 + w], summaries[:, 2 + w:]
        for width in (2, 4):  # lengths are U16 unless a record needs U32
            col = pick_scales(rate, dist, self.budget - width * n)
            size = np.take_along_axis(rate, col[:, None].astype(np.intp), axis=1)[:, 0] \
                .astype(np.int64)
            if width == 4 or not n or size.max() < 1 << 16:
                break
        self.wide = width == 4
        total = int(size.sum()) + width * n
        if total > self.budget:
            need = 8 * total / max(int(values.sum()), 1)
            fix = (f"use bits >= {need:.3g}" if need <= 8 else
                   "samples this small do not fit any lossy budget; use codec='lossless'")
            raise CodecError(f"bits={self.bits:g} is too small for codec='lossy' on these samples: "
                             f"its budget is {self.budget} bytes, but even the coarsest quantiser "
                             f"needs {total}; {fix}")
        self.scale, self.size = self.window[col].astype(np.uint8), size

    def bytes_per_sample(self, values: int) -> float:
        return float(self.size.mean()) if self.size is not None and len(self.size) else 1.0

    def encode(self, samples, start: int = 0, labels=None) -> Chunk:
        """Code ``samples`` at their picked scales, then decode them to measure the error."""
        planes = self._planes(samples, start)
        dims = dims_of(planes)
        m = len(planes)
        records: list = [None] * m

        def encode_range(a: int, b: int) -> None:
            coder = BlockCoder(planes[a:b], dims[a:b], DEADZONE, RDO_LAMBDA)
            for i in range(a, b):
                rec = coder.encode(i - a, int(self.scale[start + i]), self.tables)
                if rec.size > self.size[start + i]:
                    raise CodecError(
                        f"source sample {start + i} coded to {rec.size} bytes, but its first "
                        f"read sized it at {self.size[start + i]}: the source gave other values "
                        "when read again (a random transform such as RandomCrop or ColorJitter "
                        "on the dataset?); codec='lossy' reads a source twice, so compress its "
                        "samples without augmentations and pass them to tc.open(transform=...). "
                        "If the source gives the same values every time, please report this")
                records[i] = rec

        map_ranges(encode_range, m, self.workers)
        lengths = np.array([r.size for r in records], dtype=np.uint32 if self.wide else np.uint16)
        payload = np.concatenate(records) if m else np.zeros(0, dtype=np.uint8)
        arrays = {"lengths": lengths, "records": payload}
        sq = self._squared_errors(arrays, planes, dims)
        values = dims.prod(axis=1)
        psnr = 10.0 * np.log10(255.0 ** 2 / np.maximum(sq / values, (255 * 1e-5) ** 2))
        shapes = np.array([np.shape(s) for s in samples], dtype=np.int64).reshape(m, -1)
        # integer sums (PSNR in fixed point): the same totals however the samples are chunked
        return Chunk(arrays, shapes, {
            "payload_bytes": int(lengths.astype(np.int64).sum()) + lengths.nbytes,
            "samples": m, "values": int(values.sum()), "sq_error": int(sq.sum()),
            "psnr_fx": int(np.rint(psnr * _PSNR_ONE).astype(np.int64).sum()),
            "worst_psnr": float(psnr.min()) if m else np.inf})

    def _squared_errors(self, arrays: dict, planes: list, dims: np.ndarray) -> np.ndarray:
        """Per-sample squared error of the decoded uint8 pixels (what a user's PSNR sees)."""
        m = len(planes)
        out = np.zeros(m, dtype=np.int64)
        arrays = {**arrays, "shapes": dims.astype(np.uint32)}

        def measure(a: int, b: int) -> None:
            shard = LossyShard(arrays, self.tables, num_samples=m, sample_shape=(None,) * 3,
                               where="freshly encoded records")
            rows = np.arange(a, b, dtype=np.int64)
            sizes = dims[rows].prod(axis=1)
            off = np.zeros(len(rows), dtype=np.int64)
            np.cumsum(sizes[:-1], out=off[1:])
            flat = np.empty(int(sizes.sum()), dtype=np.uint8)
            shard.decode(rows, flat, out_off=off)
            for k, i in enumerate(rows):
                d = flat[off[k]:off[k] + sizes[k]].astype(np.int64) - planes[i].reshape(-1)
                out[i] = d @ d

        map_ranges(measure, m, self.workers)
        return out

    def extras(self) -> dict:
        return {"tables": self.tables.to_tensors()}

    def stats(self, parts: list) -> dict:
        payload = sum(p["payload_bytes"] for p in parts)
        values = max(sum(p["values"] for p in parts), 1)
        samples = max(sum(p["samples"] for p in parts), 1)
        sq = sum(p["sq_error"] for p in parts)
        tables = sum(a.nbytes for a in self.tables.to_tensors().values())
        return {"achieved_bits": 8.0 * payload / values, "payload_bytes": int(payload),
                "budget_bytes": int(self.budget), "table_bytes": int(tables),
                "mean_psnr_db": sum(p["psnr_fx"] for p in parts) / _PSNR_ONE / samples,
                "worst_psnr_db": min(p["worst_psnr"] for p in parts) if parts else float("inf"),
                "mse": sq / values, "psnr_peak": 255.0}
