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

from .._validation import check_positive_int
from ..errors import FormatError
from .lossless_shard import LosslessShard
from .lossless_stream import COLOURS, PREDICTOR_CHOICES, LosslessStream, code_layout, model_stats
from .lossless_tables import LosslessTables
from .record_lengths import pack_lengths
from .sample_layout import planes_of

__all__ = ["LosslessCodec", "LosslessParams", "code_layout", "planes_of"]

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
                where: str, tables: LosslessTables) -> LosslessShard:
        return LosslessShard(arrays, tables, num_samples=num_samples, sample_shape=sample_shape,
                             where=where)
