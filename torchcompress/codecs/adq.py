"""ADQ: per-sample linear symmetric quantization with an adaptive bit budget.

Each sample gets a centre ``c`` (mid-range), a step ``s`` and ``b`` bits in
1..8. The mid-rise quantizer has ``2**b`` levels ``c + s * (t + 0.5 - 2**b/2)``
covering ``[c - s*2**b/2, c + s*2**b/2]``, so every element is within ``s/2``.
Codes are stored as ``b`` packed bit-planes, most significant first.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from .._validation import check_choice, check_range
from ..errors import CodecError, FormatError
from ._kernels.bitplanes import SPREAD_LUT, decode_adq_rows, pack_bitplanes
from ._kernels.quantize import distortion_curves, quantize_rows
from .allocation import MAX_BITS, allocate_bits

__all__ = ["ADQCodec", "ADQEncoded", "ADQParams", "ADQShard"]

ALLOCATIONS = ("adaptive", "uniform")


@dataclass(frozen=True)
class ADQParams:
    """ADQ settings stored in the manifest.

    Attributes:
        bits: average bits per element over the dataset, in [1, 8].
        allocation: ``"adaptive"`` (greedy, error-minimising) or ``"uniform"``.
    """

    bits: float = 2.0
    allocation: str = "adaptive"

    def __post_init__(self) -> None:
        object.__setattr__(self, "bits", check_range("bits", self.bits, 1, MAX_BITS))
        check_choice("allocation", self.allocation, ALLOCATIONS)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "ADQParams":
        return cls(**d)


def _round_up_f32(v: np.ndarray) -> np.ndarray:
    """Nearest float32 at or above each float64 value."""
    f = v.astype(np.float32)
    low = f.astype(np.float64) < v
    f[low] = np.nextafter(f[low], np.float32(np.inf))
    return f


def _steps(center32: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """(N, 8) float32 steps for 1..8 bits, rounded up so [lo, hi] stays covered."""
    c = center32.astype(np.float64)
    radius = np.maximum(hi - c, c - lo)
    levels = 2.0 ** np.arange(1, MAX_BITS + 1)
    return _round_up_f32(2.0 * radius[:, None] / levels[None, :])


@dataclass
class ADQEncoded:
    """A whole encoded dataset, sliceable into shards by sample range."""

    bits: np.ndarray      # (N,) uint8
    scale: np.ndarray     # (N,) float32
    center: np.ndarray    # (N,) float32
    payload: np.ndarray   # (P,) uint8
    offsets: np.ndarray   # (N + 1,) int64
    sq_error: np.ndarray  # (N,) float64 sum of squared errors per sample
    sample_size: int      # D
    peak: float           # PSNR peak: 255 for uint8 sources, else the value range

    def shard(self, start: int, stop: int) -> dict[str, np.ndarray]:
        """Arrays of samples ``[start, stop)`` as stored in one shard."""
        return {
            "bits": self.bits[start:stop],
            "scale": self.scale[start:stop],
            "center": self.center[start:stop],
            "payload": self.payload[self.offsets[start]:self.offsets[stop]],
        }

    def extras(self) -> dict:
        return {}

    def stats(self) -> dict:
        """Achieved bits and mean per-sample PSNR (each capped at 100 dB)."""
        peak = self.peak
        mse = self.sq_error / self.sample_size
        floor = (peak * 1e-5) ** 2 if peak > 0 else 1e-30
        psnr = 10.0 * np.log10(max(peak, 1e-30) ** 2 / np.maximum(mse, floor))
        return {
            "achieved_bits": float(self.bits.mean()),
            "bits_histogram": np.bincount(self.bits, minlength=MAX_BITS + 1)[1:].tolist(),
            "mean_psnr_db": float(psnr.mean()),
            "worst_psnr_db": float(psnr.min()),
            "mse": float(mse.mean()),
            "psnr_peak": peak,
        }


class ADQShard:
    """Validated views of one shard's ADQ arrays; decodes rows on demand."""

    def __init__(self, arrays: dict, *, num_samples: int, sample_size: int, where: str):
        need = {"bits": np.uint8, "scale": np.float32, "center": np.float32, "payload": np.uint8}
        for name, dtype in need.items():
            a = arrays.get(name)
            if a is None:
                raise FormatError(f"{where}: missing tensor {name!r}; the shard is not an ADQ shard")
            if a.dtype != dtype or a.ndim != 1:
                raise FormatError(f"{where}: tensor {name!r} should be 1-D {np.dtype(dtype)}, "
                                  f"found {a.ndim}-D {a.dtype}")
            if name != "payload" and a.shape[0] != num_samples:
                raise FormatError(f"{where}: tensor {name!r} has {a.shape[0]} entries, "
                                  f"expected {num_samples} (one per sample)")
        bits = np.asarray(arrays["bits"])
        if num_samples and (bits.min() < 1 or bits.max() > MAX_BITS):
            bad = int(np.flatnonzero((bits < 1) | (bits > MAX_BITS))[0])
            raise FormatError(f"{where}: bits[{bad}]={int(bits[bad])} is outside 1..{MAX_BITS}")
        for name in ("scale", "center"):
            v = np.asarray(arrays[name])
            if not np.isfinite(v).all() or (name == "scale" and (v < 0).any()):
                raise FormatError(f"{where}: tensor {name!r} holds a negative or non-finite value")
        self.plane_bytes = (sample_size + 7) // 8
        self.offsets = np.zeros(num_samples + 1, dtype=np.int64)
        np.cumsum(bits.astype(np.int64) * self.plane_bytes, out=self.offsets[1:])
        if self.offsets[-1] != arrays["payload"].shape[0]:
            raise FormatError(f"{where}: payload has {arrays['payload'].shape[0]} bytes, "
                              f"but the bits per sample need {int(self.offsets[-1])}")
        self.bits, self.scale, self.center = bits, arrays["scale"], arrays["center"]
        self.payload = arrays["payload"]
        self.sample_size = sample_size

    def sample_shapes(self, rows: np.ndarray) -> None:
        return None  # one shape per archive

    def decode(self, rows: np.ndarray, out: np.ndarray, *, planes: int = MAX_BITS) -> None:
        """Decode shard rows ``rows`` (int64, in range) into ``out`` (B, D) float32 or uint8."""
        decode_adq_rows(self.payload, self.offsets, self.bits, self.scale, self.center, rows,
                        planes, out.dtype.itemsize == 1, SPREAD_LUT, out)


class ADQCodec:
    """The ``"adq"`` codec. Works on (N, D) arrays; knows nothing of torch."""

    name = "adq"
    params_type = ADQParams
    lossless = False        # verify=True is refused
    measures_error = False  # no decode-and-compare pass at compress time
    progressive = True      # planes= applies
    max_planes = 8          # MAX_BITS
    variable_shapes = False
    output_dtypes = (np.dtype(np.float32), np.dtype(np.uint8))  # the kernel rounds and clamps
    min_format_version = 1  # oldest archive layout this codec reads

    def __init__(self, params: ADQParams):
        self.params = params

    def encode(self, x: np.ndarray, *, importance: np.ndarray | None = None) -> ADQEncoded:
        """Quantize ``x`` (N, D) (uint8 or real) under the bit budget."""
        n, d = x.shape
        if x.dtype.kind == "f":
            finite = np.isfinite(x).all(axis=1)
            if not finite.all():
                bad = int(np.flatnonzero(~finite)[0])
                raise CodecError(f"sample {bad} contains NaN or inf; ADQ needs finite values: "
                                 "replace or drop those samples before compressing")
        if importance is not None:
            importance = np.asarray(importance, dtype=np.float64)
            if importance.shape != (n,) or not np.isfinite(importance).all() or (importance < 0).any():
                raise ValueError(f"importance should be {n} finite non-negative weights (one per "
                                 f"sample), but got shape {importance.shape}")
        lo = x.min(axis=1).astype(np.float64)
        hi = x.max(axis=1).astype(np.float64)
        center = ((lo + hi) / 2).astype(np.float32)
        steps = _steps(center, lo, hi)
        c64 = center.astype(np.float64)
        dist = np.empty((n, MAX_BITS), dtype=np.float64)
        distortion_curves(x, c64, steps.astype(np.float64), dist)
        bits = allocate_bits(dist, self.params.bits, importance=importance,
                             allocation=self.params.allocation)
        scale = steps[np.arange(n), bits.astype(np.int64) - 1]
        q = np.empty((n, d), dtype=np.uint8)
        quantize_rows(x, c64, scale.astype(np.float64), bits, q)
        plane_bytes = (d + 7) // 8
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(bits.astype(np.int64) * plane_bytes, out=offsets[1:])
        payload = np.zeros(int(offsets[-1]), dtype=np.uint8)
        pack_bitplanes(q, bits, offsets, plane_bytes, payload)
        sq = dist[np.arange(n), bits.astype(np.int64) - 1]
        peak = 255.0 if x.dtype == np.uint8 else float(x.max()) - float(x.min())
        return ADQEncoded(bits, scale, center, payload, offsets, sq, d, peak)

    def open_shard(self, arrays: dict, *, num_samples: int, sample_size: int, where: str) -> ADQShard:
        return ADQShard(arrays, num_samples=num_samples, sample_size=sample_size, where=where)

    # -- the archive-level protocol shared by all codecs (see registry.py) --

    def encode_dataset(self, x: np.ndarray, labels: np.ndarray, *,
                       importance: np.ndarray | None = None, workers: int = 1) -> ADQEncoded:
        """Encode ``x`` (N, *shape) on one thread (vectorised numpy); ADQ ignores labels."""
        return self.encode(x.reshape(x.shape[0], -1), importance=importance)

    def describe(self) -> str:
        return "codec='adq'"

    def check_targets(self, labels: np.ndarray) -> None:
        pass  # any labels or targets

    def tolerance(self, flat: np.ndarray) -> float:
        return 0.0

    def open_tables(self, extras: dict, where: str) -> None:
        return None  # ADQ keeps everything in the shards

    def decoder(self, arrays: dict, *, num_samples: int, sample_shape: tuple, sample_dtype,
                where: str, tables=None) -> ADQShard:
        return self.open_shard(arrays, num_samples=num_samples,
                               sample_size=int(np.prod(sample_shape)), where=where)
