"""ADQ in bounded memory: per-sample summaries, one global allocation, then chunks.

A sample's summary is its range and its squared error at 1..8 bits (80
bytes), all the greedy allocation needs; the samples themselves are read
again, chunk by chunk, to be quantised. ``ADQCodec.encode`` runs the same
three steps on one in-memory chunk, so both paths write the same bytes.
"""

from __future__ import annotations

import numpy as np

from ..errors import CodecError
from ._kernels.bitplanes import pack_bitplanes
from ._kernels.quantize import distortion_curves, quantize_rows
from .allocation import MAX_BITS, allocate_bits
from .precision import round_up_f32
from .protocol import Chunk

__all__ = ["ADQStream", "check_importance"]


def _steps(center32: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """(N, 8) float32 steps for 1..8 bits, rounded up so [lo, hi] stays covered."""
    c = center32.astype(np.float64)
    radius = np.maximum(hi - c, c - lo)
    levels = 2.0 ** np.arange(1, MAX_BITS + 1)
    return round_up_f32(2.0 * radius[:, None] / levels[None, :])


def check_importance(importance, n: int) -> np.ndarray | None:
    """``importance`` as (n,) float64 finite non-negative weights, or None."""
    if importance is None:
        return None
    w = np.asarray(importance, dtype=np.float64)
    rule = f"importance should be {n} finite non-negative weights (one per sample)"
    if w.shape != (n,):
        raise ValueError(f"{rule}, but got shape {w.shape}")
    bad = np.flatnonzero(~(np.isfinite(w) & (w >= 0)))
    if len(bad):
        raise ValueError(f"{rule}, but importance[{bad[0]}] is {w[bad[0]]}")
    return w


def _rows(samples) -> np.ndarray:
    x = samples if isinstance(samples, np.ndarray) else np.stack(samples)
    return x.reshape(len(x), -1)


class ADQStream:
    """ADQ's ``protocol.StreamEncoder``: summaries, allocation, chunks."""

    summary_width = 2 + MAX_BITS  # lo, hi, squared error at 1..8 bits

    def __init__(self, bits: float, allocation: str, n: int, *, importance=None):
        self.bits, self.allocation, self.n = bits, allocation, n
        self.importance = check_importance(importance, n)
        self.lo = self.hi = self.alloc = self.sq = None
        self.peak, self.dtype = 255.0, None

    def fit_rows(self, sample_bytes: int = 0) -> np.ndarray:
        return np.zeros(0, dtype=np.int64)

    def fit(self, samples, labels=None) -> None:
        pass

    def model(self) -> dict:
        return {}

    def load_model(self, model: dict) -> None:
        pass

    def summarize(self, samples, start: int, labels=None) -> np.ndarray:
        x = _rows(samples)
        if x.dtype.kind == "f":
            finite = np.isfinite(x).all(axis=1)
            if not finite.all():
                bad = start + int(np.flatnonzero(~finite)[0])
                raise CodecError(f"sample {bad} contains NaN or inf; ADQ needs finite values: "
                                 "replace or drop those samples before compressing")
            big = np.abs(x).max(axis=1) > np.finfo(np.float32).max
            if big.any():  # its float32 centre and step would be inf: an archive none can open
                bad = start + int(np.flatnonzero(big)[0])
                raise CodecError(f"sample {bad} holds a value past float32's range (about "
                                 "3.4e38), where ADQ keeps each sample's centre and step: scale "
                                 "the data before compressing")
        out = np.empty((len(x), self.summary_width), dtype=np.float64)
        out[:, 0] = x.min(axis=1)
        out[:, 1] = x.max(axis=1)
        center = ((out[:, 0] + out[:, 1]) / 2).astype(np.float32)
        steps = _steps(center, out[:, 0], out[:, 1])
        distortion_curves(x, center.astype(np.float64), steps.astype(np.float64), out[:, 2:])
        self.dtype = x.dtype
        return out

    def allocate(self, summaries: np.ndarray) -> None:
        """Greedy bits under the budget; keeps each sample's range, bits and error."""
        self.lo, self.hi = summaries[:, 0].copy(), summaries[:, 1].copy()
        dist = summaries[:, 2:]
        self.alloc = allocate_bits(dist, self.bits, importance=self.importance,
                                   allocation=self.allocation)
        self.sq = dist[np.arange(len(dist)), self.alloc.astype(np.int64) - 1].copy()
        if self.dtype != np.uint8:
            self.peak = float(self.hi.max()) - float(self.lo.min()) if len(self.hi) else 0.0

    def bytes_per_sample(self, values: int) -> float:
        return float(self.alloc.mean()) * ((values + 7) // 8) if len(self.alloc) else 1.0

    def center_scale(self, a: int, b: int) -> tuple[np.ndarray, np.ndarray]:
        """(center, scale) float32 of samples ``[a, b)``."""
        center = ((self.lo[a:b] + self.hi[a:b]) / 2).astype(np.float32)
        steps = _steps(center, self.lo[a:b], self.hi[a:b])
        return center, steps[np.arange(b - a), self.alloc[a:b].astype(np.int64) - 1]

    def encode(self, samples, start: int = 0, labels=None) -> Chunk:
        x = _rows(samples)
        n, d = x.shape
        bits = self.alloc[start:start + n]
        center, scale = self.center_scale(start, start + n)
        q = np.empty((n, d), dtype=np.uint8)
        quantize_rows(x, center.astype(np.float64), scale.astype(np.float64), bits, q)
        plane_bytes = (d + 7) // 8
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(bits.astype(np.int64) * plane_bytes, out=offsets[1:])
        payload = np.zeros(int(offsets[-1]), dtype=np.uint8)
        pack_bitplanes(q, bits, offsets, plane_bytes, payload)
        shapes = np.array([np.shape(s) for s in samples], dtype=np.int64).reshape(n, -1)
        return Chunk({"bits": bits, "scale": scale, "center": center, "payload": payload},
                     shapes, {"sample_size": d})

    def extras(self) -> dict:
        return {}

    def stats(self, parts: list) -> dict:
        """Achieved bits and mean per-sample PSNR (each capped at 100 dB)."""
        d = parts[0]["sample_size"] if parts else 1
        return adq_stats(self.alloc, self.sq, d, self.peak)


def adq_stats(bits: np.ndarray, sq_error: np.ndarray, sample_size: int, peak: float) -> dict:
    """The manifest's ADQ statistics from per-sample bits and squared errors."""
    mse = sq_error / sample_size
    floor = (peak * 1e-5) ** 2 if peak > 0 else 1e-30
    psnr = 10.0 * np.log10(max(peak, 1e-30) ** 2 / np.maximum(mse, floor))
    return {
        "achieved_bits": float(bits.mean()),
        "bits_histogram": np.bincount(bits, minlength=MAX_BITS + 1)[1:].tolist(),
        "mean_psnr_db": float(psnr.mean()),
        "worst_psnr_db": float(psnr.min()),
        "mse": float(mse.mean()),
        "psnr_peak": peak,
    }
