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
from ..errors import FormatError
from .lossless import LosslessEncoded
from .lossy_shard import LossyShard
from .lossy_stream import LossyStream, as_planes
from .lossy_tables import LossyTables

__all__ = ["LossyCodec", "LossyParams"]


@dataclass(frozen=True)
class LossyParams:
    """Lossy settings stored in the manifest.

    Attributes:
        bits: average bits per value over the dataset (records and lengths),
            in (0, 8].
        fit_samples: at most this many samples (spread evenly) fit the colour
            basis and the tables; and at most 64 MiB of them, counted by the
            first sample's size (but at least 64).
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
    """Records as the lossless codec's (lengths stored as ``record_lengths.pack_lengths`` packs
    them: never wider than the budget counted), with the encoder's statistics."""

    @classmethod
    def of(cls, tables, chunk, stats: dict) -> "LossyEncoded":
        enc = cls.from_chunk(tables, chunk, raw_count=0)
        enc._stats = stats
        return enc

    def stats(self) -> dict:
        return dict(self._stats)


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
        """Fit, size every sample, allocate the budget and code, all in memory (sizing, coding
        and measuring on ``workers`` threads; the bytes do not depend on it)."""
        st = self.stream_encoder(len(x), importance=importance, workers=workers)
        samples = as_planes(x)
        st.fit([samples[i] for i in st.fit_rows(samples[0].nbytes)])
        st.allocate(st.summarize(samples, 0))
        chunk = st.encode(x, 0)
        return LossyEncoded.of(st.tables, chunk, st.stats([chunk.stats]))

    def stream_encoder(self, n: int, *, importance=None, workers: int = 1,
                       sample_bytes: int = 0) -> LossyStream:
        """The bounded-memory encoder of ``n`` samples (see ``protocol.StreamEncoder``)."""
        if importance is not None:
            raise ValueError("importance= applies to the 'adq' codec; codec='lossy' shares its "
                             "budget by each sample's rate-distortion curve")
        return LossyStream(self.params.bits, self.params.fit_samples, n, workers=workers)

    # -- decoding --

    def open_tables(self, extras: dict, where: str) -> LossyTables:
        if "tables" not in extras:
            raise FormatError(f"{where}: a lossy archive needs the extra file 'tables'")
        return LossyTables.from_tensors(extras["tables"], where)

    def decoder(self, arrays: dict, *, num_samples: int, sample_shape: tuple, sample_dtype,
                where: str, tables: LossyTables) -> "LossyShard":
        return LossyShard(arrays, tables, num_samples=num_samples, sample_shape=sample_shape,
                          where=where)
