"""The codec seam: what every codec offers ``tc.compress``, the archive decoder and ``tc.open``.

A new codec is a module with a class that satisfies :class:`Codec` (plus its
kernels) and one entry in ``registry.CODECS``. Nothing above the codecs knows
a codec's details: they ask these methods and attributes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["Chunk", "Codec", "Encoded", "RowsDecoder", "ShardDecoder", "StreamEncoder",
           "WithoutBudget", "merge_scans"]


@runtime_checkable
class Encoded(Protocol):
    """A whole dataset, encoded in memory and sliceable into shards."""

    def shard(self, start: int, stop: int) -> dict[str, np.ndarray]:
        """The 1-D arrays stored in the shard of samples ``[start, stop)`` (labels excluded)."""

    def extras(self) -> dict[str, dict[str, np.ndarray]]:
        """Archive-wide tensor files by name (e.g. ``{"tables": {...}}``); may be empty."""

    def stats(self) -> dict:
        """Codec statistics for the manifest (JSON-able): achieved bits, PSNR, ..."""


@runtime_checkable
class ShardDecoder(Protocol):
    """Validated arrays of one shard; decodes rows (shard-local, int64, in range)."""

    def decode(self, rows: np.ndarray, out: np.ndarray, *, planes: int | None = None) -> None:
        """Fill ``out`` (B, D), float32 or the source's integer dtype, with rows ``rows``.

        Codecs with variable shapes also accept a flat ``out`` and ``out_off``
        (B,) int64 start offsets. Corrupt records raise FormatError.
        """

    def decode_one(self, row: int, out: np.ndarray, *, planes: int | None = None) -> None:
        """Fill ``out`` (the sample's own shape, C-contiguous, a dtype ``decode`` takes) with
        row ``row``: ``ds[i]``'s path. :class:`RowsDecoder` gives it through ``decode``."""

    def sample_shapes(self, rows: np.ndarray) -> np.ndarray | None:
        """(B, ndim) int64 shapes of ``rows`` for variable-shape codecs, else None."""


class RowsDecoder:
    """:meth:`ShardDecoder.decode_one` through ``decode`` with a one-row batch, for decoders
    without a faster one-sample path of their own."""

    def decode_one(self, row: int, out: np.ndarray, *, planes: int | None = None) -> None:
        self.decode(np.array([row], dtype=np.int64), out.reshape(1, -1), planes=planes)


@runtime_checkable
class Codec(Protocol):
    """A codec class instance, built by ``registry.make_codec(name, params)``.

    Attributes:
        name: registry name, stored in the manifest.
        params: frozen dataclass with ``to_dict``/``from_dict`` (the manifest's
            ``codec_params``).
        lossless: decodes bit-exact; ``compress`` verifies by default.
        measures_error: ``compress`` always decodes once to report the error.
        progressive: ``planes=`` applies; ``max_planes`` is its upper bound.
        variable_shapes: samples of different shapes may share an archive.
        output_dtypes: the dtypes its decoders write (``None``: any numeric
            dtype); the dataset converts from float32 otherwise.
        min_format_version: oldest archive layout the codec reads.
    """

    name: str
    params: Any
    lossless: bool
    measures_error: bool
    progressive: bool
    max_planes: int | None
    variable_shapes: bool
    output_dtypes: tuple | None
    min_format_version: int

    def describe(self) -> str:
        """A short phrase for messages, e.g. ``"codec='adq'"``."""

    def check_targets(self, labels: np.ndarray) -> None:
        """Raise ValueError when the codec cannot store these labels or targets."""

    def tolerance(self, flat: np.ndarray) -> float:
        """Largest error a verified round trip may show (0 for bit-exact codecs)."""

    def encode_dataset(self, x, labels: np.ndarray, *, importance: np.ndarray | None = None,
                       workers: int = 1) -> Encoded:
        """Encode ``x`` ((N, *shape) array, or a list of arrays for variable shapes).

        ``workers``: threads the codec may use; the bytes must not depend on it
        (ADQ and GeDe encode on one).
        """

    def open_tables(self, extras: dict, where: str) -> Any:
        """Validate the archive-wide tensors; the result is passed to every ``decoder``."""

    def decoder(self, arrays: dict, *, num_samples: int, sample_shape: tuple, sample_dtype,
                where: str, tables: Any) -> ShardDecoder:
        """Validate one shard's arrays (FormatError naming ``where``) and return its decoder."""

    # Optional: ``stream_encoder(n, *, importance=None, workers=1, sample_bytes=0) ->
    # StreamEncoder | None`` (``sample_bytes``: the first sample's size).
    # Codecs that have it compress any number of samples in bounded memory (None: not for
    # these samples); the others get the whole source in memory (``encode_dataset``).


@dataclass
class Chunk:
    """Consecutive samples, encoded: what a :class:`StreamEncoder` hands back per chunk.

    Attributes:
        arrays: the shard tensors of these samples (labels and ``shapes``
            excluded). Concatenating the arrays of consecutive chunks key by
            key gives the shard of all their samples.
        shapes: (B, ndim) int64 decoded sample shapes.
        stats: additive counters, merged by :meth:`StreamEncoder.stats`.
    """

    arrays: dict
    shapes: np.ndarray
    stats: dict


@runtime_checkable
class StreamEncoder(Protocol):
    """Bounded-memory encoding of N samples, in this order of calls (any may be skipped
    when it does not apply): ``fit`` the model on the samples ``fit_rows`` names (on
    one rank; ``model``/``load_model`` carry it to the others), ``summarize`` every
    sample (when ``summary_width`` > 0) and ``allocate`` from all summaries, then
    ``encode`` consecutive chunks. Chunks encode independently: the bytes do not
    depend on where chunks start, on threads or on ranks. ``labels`` are the
    samples' labels, for codecs with a model per class.

    Optional, for codecs whose fit must see something of every sample (GeDe's
    column ranges): ``use_folder(folder)`` first, with the archive's temporary
    folder (shared by every rank) for the encoder's scratch files; ``scan(samples,
    start, labels) -> dict`` of arrays per chunk, joined by :func:`merge_scans`
    and handed to ``load_scan(scan, dtype)`` on every rank before the fit;
    ``shard_pad`` ({tensor: bytes}) zero bytes that end each shard's tensor;
    ``shard_tensors(parts) -> parts``, a streamed shard's tensors (each a list of
    the chunks' parts, joined) as the shard stores them (the record codecs pack
    their lengths: ``record_lengths``); and
    ``close()`` on every rank once all ranks have encoded (rank 0: after the
    archive-wide tensors are written)."""

    summary_width: int

    def fit_rows(self, sample_bytes: int) -> np.ndarray:
        """(k,) int64 sorted rows the model is fit on (may be empty). ``sample_bytes``: the
        first sample's size, by which a codec bounds the bytes its fit reads."""

    def fit(self, samples: list, labels=None) -> None:
        """Fit the model on the samples of ``fit_rows`` (arrays, in that order)."""

    def model(self) -> dict:
        """The fitted model as numpy arrays (to broadcast to other ranks)."""

    def load_model(self, model: dict) -> None:
        """Take a model that another rank fit."""

    def summarize(self, samples: list, start: int, labels=None) -> np.ndarray:
        """(B, summary_width) float summaries of samples ``start, start + 1, ...`` (float64,
        or float32 to halve what N samples keep; one dtype per encoder)."""

    def allocate(self, summaries: np.ndarray) -> None:
        """Share a global budget from every sample's summary (N, summary_width)."""

    def bytes_per_sample(self, values: int) -> float:
        """Expected coded bytes per sample of about ``values`` values (sizes the shards;
        the same on every rank)."""

    def encode(self, samples: list, start: int, labels=None) -> Chunk:
        """Encode samples ``start, start + 1, ...``."""

    def extras(self) -> dict:
        """Archive-wide tensor files (as :meth:`Encoded.extras`)."""

    def stats(self, parts: list) -> dict:
        """The manifest's codec statistics from every chunk's ``stats``."""


def merge_scans(scans) -> dict:
    """Join ``StreamEncoder.scan`` results: the elementwise maximum of the arrays under one
    key (a minimum travels as a negated maximum); keys only one result has are kept."""
    out: dict = {}
    for s in scans:
        for k, v in s.items():
            out[k] = np.maximum(out[k], v) if k in out else v
    return out


class WithoutBudget:
    """:class:`StreamEncoder` parts for codecs with no global budget: no summaries, and the
    fit's ``_estimate`` of bytes per sample sizes the shards."""

    summary_width = 0
    _estimate = 0.0

    def summarize(self, samples: list, start: int, labels=None) -> np.ndarray:
        return np.zeros((len(samples), 0))

    def allocate(self, summaries: np.ndarray) -> None:
        pass

    def bytes_per_sample(self, values: int) -> float:
        return self._estimate
