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
from ..errors import FormatError
from ._kernels.bitplanes import SPREAD_LUT, decode_adq_rows
from .adq_stream import ADQStream, adq_stats
from .allocation import MAX_BITS
from .protocol import RowsDecoder

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
        return adq_stats(self.bits, self.sq_error, self.sample_size, self.peak)


class ADQShard(RowsDecoder):
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

    def decode(self, rows: np.ndarray, out: np.ndarray, *, planes: int | None = None) -> None:
        """Decode shard rows ``rows`` (int64, in range) into ``out`` (B, D) float32 or uint8,
        from the top ``planes`` bit-planes (None: all)."""
        decode_adq_rows(self.payload, self.offsets, self.bits, self.scale, self.center, rows,
                        MAX_BITS if planes is None else planes, out.dtype.itemsize == 1,
                        SPREAD_LUT, out)


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
        st = self.stream_encoder(len(x), importance=importance)
        st.allocate(st.summarize(x, 0))
        chunk = st.encode(x, 0)
        a = chunk.arrays
        offsets = np.zeros(len(x) + 1, dtype=np.int64)
        np.cumsum(a["bits"].astype(np.int64) * ((x.shape[1] + 7) // 8), out=offsets[1:])
        return ADQEncoded(a["bits"], a["scale"], a["center"], a["payload"], offsets, st.sq,
                          x.shape[1], st.peak)

    def stream_encoder(self, n: int, *, importance=None, workers: int = 1,
                       sample_bytes: int = 0) -> ADQStream:
        """The bounded-memory encoder of ``n`` samples (see ``protocol.StreamEncoder``)."""
        return ADQStream(self.params.bits, self.params.allocation, n, importance=importance)

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
