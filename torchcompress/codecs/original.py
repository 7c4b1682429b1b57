"""The ``"original"`` codec: each image file's bytes, stored as they are.

For a folder of JPEGs the smallest storage that is lossless to the source is
the files themselves: no re-encoding, no generation loss. Records are the
lossless codec's (``lengths``, ``records``, per-sample ``shapes``), one file
each. Shapes come from the file headers at compress time: (1, H, W) for
greyscale files, (3, H, W) for everything else (decoded as RGB). An archive
that holds both decodes every file as RGB (its manifest's channel count is
``None``), as torchvision's ImageFolder does.

The dataset layer decodes records with ``torchvision.io`` (batched, and on
the GPU with ``tc.open(path, device="cuda")``); this module's own decoder
(Pillow, numpy only) serves ``tc.verify``-style checks and the codec seam.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np

from ..errors import CodecError, FormatError
from .lossless import LosslessEncoded
from .sample_layout import common_shape, fit_rows
from .protocol import Chunk, RowsDecoder, WithoutBudget
from .record_lengths import pack_shard_lengths
from .record_shard import shard_records

__all__ = ["OriginalCodec", "OriginalParams", "file_shape"]


@dataclass(frozen=True)
class OriginalParams:
    """No settings: the files are kept as they are."""

    def to_dict(self) -> dict:
        return {}

    @classmethod
    def from_dict(cls, d: dict) -> "OriginalParams":
        return cls(**d)


def file_shape(data: np.ndarray, where: str) -> tuple[int, int, int]:
    """(C, H, W) an image file decodes to: C = 1 for greyscale modes, else 3 (RGB)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data.tobytes())) as im:
            w, h = im.size
            mode = im.mode
    except (UnidentifiedImageError, OSError) as e:
        raise CodecError(f"{where} is not an image file Pillow can read ({e}); codec='original' "
                         "stores image files (JPEG, PNG, ...) as they are") from None
    return (1 if mode in ("1", "L", "I;16", "I", "F") else 3), int(h), int(w)


class OriginalEncoded(LosslessEncoded):
    """The files as records; no tables."""

    def extras(self) -> dict:
        return {}

    def stats(self) -> dict:
        n = len(self.offsets) - 1
        return {"original_files": n, "payload_bytes": int(self.offsets[-1])}


class OriginalCodec:
    """The ``"original"`` codec. Its inputs are file bytes (``stores_files``), not pixels."""

    name = "original"
    params_type = OriginalParams
    lossless = False          # decoded pixels depend on the decoder; the bytes are exact
    measures_error = False
    progressive = False
    variable_shapes = True
    stores_files = True
    output_dtypes = (np.dtype(np.uint8),)
    max_planes = None
    min_format_version = 3

    def __init__(self, params: OriginalParams):
        self.params = params

    def describe(self) -> str:
        return "codec='original'"

    def check_targets(self, labels: np.ndarray) -> None:
        pass

    def tolerance(self, flat: np.ndarray) -> float:
        return float("inf")

    def stream_encoder(self, n: int, *, importance=None, workers: int = 1,
                       sample_bytes: int = 0) -> "OriginalStream":
        """The bounded-memory encoder of ``n`` files (see ``protocol.StreamEncoder``)."""
        if importance is not None:
            raise ValueError("importance= applies to the 'adq' codec; codec='original' keeps the "
                             "files as they are")
        return OriginalStream(n)

    def encode_dataset(self, x, labels, *, importance=None, workers: int = 1) -> OriginalEncoded:
        """``x``: a list of (bytes,) uint8 arrays, one image file each."""
        chunk = self.stream_encoder(len(x), importance=importance).encode(x, 0)
        shapes = chunk.shapes
        offsets = np.zeros(len(x) + 1, dtype=np.int64)
        np.cumsum(chunk.arrays["lengths"], out=offsets[1:])
        fixed = bool((shapes == shapes[0]).all())
        enc = OriginalEncoded(None, chunk.arrays["records"], offsets, None if fixed else shapes,
                              raw_count=0)
        enc.sample_shape = common_shape(shapes)
        enc.source_values = int(shapes.prod(axis=1).sum())
        return enc

    def open_tables(self, extras: dict, where: str) -> None:
        return None

    def decoder(self, arrays: dict, *, num_samples: int, sample_shape: tuple, sample_dtype,
                where: str, tables=None) -> "OriginalShard":
        return OriginalShard(arrays, num_samples=num_samples, sample_shape=sample_shape, where=where)


class OriginalStream(WithoutBudget):
    """``protocol.StreamEncoder`` for files: no model, no budget; the fit rows only size shards."""

    shard_tensors = staticmethod(pack_shard_lengths)

    def __init__(self, n: int):
        self.n, self._estimate = n, 0.0

    def fit_rows(self, sample_bytes: int = 0) -> np.ndarray:
        return fit_rows(self.n, 256)

    def fit(self, samples, labels=None) -> None:
        self._estimate = float(np.mean([f.size for f in samples]))

    def model(self) -> dict:
        return {"estimate": np.array([self._estimate])}

    def load_model(self, model: dict) -> None:
        self._estimate = float(model["estimate"][0])

    def encode(self, samples, start: int = 0, labels=None) -> Chunk:
        m = len(samples)
        shapes = []
        for i, f in enumerate(samples):
            try:
                shapes.append(file_shape(f, f"file {start + i}"))
            except CodecError as e:
                e.sample = start + i  # the dataset layer, which knows the file, names it
                raise
        shapes = np.array(shapes, dtype=np.int64).reshape(m, 3)
        lengths = np.array([f.size for f in samples], dtype=np.int64)
        dtype = np.uint16 if not m or lengths.max() < 1 << 16 else np.uint32
        payload = np.concatenate(samples) if m else np.zeros(0, np.uint8)
        return Chunk({"lengths": lengths.astype(dtype), "records": payload}, shapes,
                     {"original_files": m, "payload_bytes": int(lengths.sum())})

    def extras(self) -> dict:
        return {}

    def stats(self, parts: list) -> dict:
        return {k: sum(p[k] for p in parts) for k in ("original_files", "payload_bytes")}


class OriginalShard(RowsDecoder):
    """Validated views of one shard's files."""

    def __init__(self, arrays: dict, *, num_samples: int, sample_shape: tuple, where: str):
        if len(sample_shape) != 3 or sample_shape[0] not in (1, 3, None):
            raise FormatError(f"{where}: an 'original' archive stores (C, H, W) images, but the "
                              f"manifest's sample_shape is {list(sample_shape)}")
        self.offsets, self.shapes, _ = shard_records(arrays, sample_shape, num_samples, where,
                                                     "original")
        if sample_shape[0] is None:
            # files of both kinds (ImageNet holds a few greyscale JPEGs among colour ones):
            # every file decodes as RGB, as ImageFolder's loader gives it, so no batch mixes
            # channel counts; an archive of greyscale files alone decodes them as (1, H, W)
            self.shapes = self.shapes.copy()
            self.shapes[:, 0] = 3
        self.records, self.where = arrays["records"], where

    def records_of(self, rows: np.ndarray) -> list:
        """The stored file bytes of ``rows`` (views into the shard)."""
        return [self.records[self.offsets[r]:self.offsets[r + 1]] for r in rows]

    def decode(self, rows: np.ndarray, out: np.ndarray, *, planes=None, out_off=None) -> None:
        """Decode with Pillow into ``out`` (uint8): (B, D), or flat with ``out_off``."""
        from PIL import Image

        flat = out.reshape(-1)
        if out_off is None:
            out_off = np.arange(len(rows), dtype=np.int64) * (out.shape[1] if out.ndim == 2 else 0)
        for b, r in enumerate(rows):
            c, h, w = (int(v) for v in self.shapes[r])
            try:
                with Image.open(io.BytesIO(self.records_of([r])[0].tobytes())) as im:
                    a = np.asarray(im.convert("L" if c == 1 else "RGB"))
            except Exception as e:  # noqa: BLE001 - any decoder failure is a corrupt record
                raise FormatError(f"{self.where}: record {int(r)} is corrupt ({e}); run tc.verify "
                                  "to find the damaged file") from None
            if a.shape[:2] != (h, w):
                raise FormatError(f"{self.where}: record {int(r)} decodes to {a.shape[1]}x"
                                  f"{a.shape[0]}, but its stored shape is {w}x{h}")
            flat[out_off[b]:out_off[b] + c * h * w] = (a if c == 1 else a.transpose(2, 0, 1)).reshape(-1)

    def sample_shapes(self, rows: np.ndarray) -> np.ndarray:
        return self.shapes[rows]
