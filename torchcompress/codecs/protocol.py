"""The codec seam: what every codec offers ``tc.compress``, the archive decoder and ``tc.open``.

A new codec is a module with a class that satisfies :class:`Codec` (plus its
kernels) and one entry in ``registry.CODECS``. Nothing above the codecs knows
a codec's details: they ask these methods and attributes.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

__all__ = ["Codec", "Encoded", "ShardDecoder"]


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

    def sample_shapes(self, rows: np.ndarray) -> np.ndarray | None:
        """(B, ndim) int64 shapes of ``rows`` for variable-shape codecs, else None."""


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
