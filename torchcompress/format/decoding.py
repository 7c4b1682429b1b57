"""The one place a global sample index becomes a shard row and a decoded numpy array.

Used by ``tc.open`` (through the dataset), the round-trip check of
``tc.compress`` and ``tc.verify``. Numpy only: tensors are the dataset's job.
"""

from __future__ import annotations

import bisect
import math
import mmap
import os
from typing import Callable

import numpy as np

from ..codecs import make_codec
from ..codecs.protocol import Codec, ShardDecoder
from ..errors import FormatError
from .manifest import MANIFEST_FILE
from .reader import ArchiveReader

__all__ = ["ArchiveDecoder"]

#: decoded outputs of this many bytes or more get an anonymous mapping of their own rather
#: than numpy's allocator, which asks the kernel for transparent huge pages on arrays from 4
#: MiB: where the kernel zeroes and compacts those on the first write (THP ``defrag`` set to
#: ``madvise``, the common default), a batch of photos decoded 213 photos/s against 284/s from
#: plain pages (244 photos, 141 MB, median of 6 alternating repeats, `/tmp` harness)
MAPPED_OUTPUT = 1 << 22


def empty_output(shape: tuple, dtype) -> np.ndarray:
    """An uninitialised, writable C-contiguous array for a decoder to fill."""
    dtype = np.dtype(dtype)
    nbytes = math.prod(shape) * dtype.itemsize
    if nbytes < MAPPED_OUTPUT:
        return np.empty(shape, dtype)
    return np.frombuffer(mmap.mmap(-1, nbytes), dtype=dtype).reshape(shape)


class ArchiveDecoder:
    """Decodes samples of an archive (or of a freshly encoded dataset) by global index.

    Args:
        codec: the archive's codec.
        tables: what ``codec.open_tables`` returned.
        starts: (S,) int64 first sample of each shard; ``num_samples`` N.
        sample_shape: the manifest's shape (``None`` where samples differ).
        sample_dtype: the source dtype.
        shard_arrays: shard number -> its arrays (labels included).
        where: shard number -> a name for error messages.
    """

    def __init__(self, codec: Codec, tables, starts: np.ndarray, num_samples: int,
                 sample_shape: tuple, sample_dtype, shard_arrays: Callable[[int], dict],
                 where: Callable[[int], str]):
        self.codec, self.tables = codec, tables
        self.starts = np.asarray(starts, dtype=np.int64)
        self._starts = self.starts.tolist()  # for bisect: one sample's lookup in 0.1 us, not 1
        self.stops = np.append(self.starts[1:], num_samples)
        self.num_samples = num_samples
        self.sample_shape = tuple(sample_shape)
        self.fixed = None not in self.sample_shape
        self.sample_size = int(np.prod(self.sample_shape)) if self.fixed else None
        self.sample_dtype = np.dtype(sample_dtype)
        self._arrays, self._where = shard_arrays, where
        self._decoders: dict[int, ShardDecoder] = {}

    @classmethod
    def from_reader(cls, reader: ArchiveReader) -> "ArchiveDecoder":
        """The decoder of an open archive; a codec entry it cannot read is a FormatError."""
        m = reader.manifest
        try:
            codec = make_codec(m.codec, m.codec_params, warn_renamed=False)
        except (TypeError, ValueError) as e:
            raise FormatError(f"{os.path.join(reader.path, MANIFEST_FILE)}: codec {m.codec!r} "
                              f"with codec_params {m.codec_params} cannot be read ({e}); the "
                              "manifest is corrupt or from a newer torchcompress") from None
        if m.format_version < codec.min_format_version:
            raise FormatError(f"{reader.path}: format_version {m.format_version} is older than the "
                              f"{m.codec!r} record layout this torchcompress reads (version "
                              f"{codec.min_format_version}); compress the source again")
        tables = codec.open_tables(reader.extras(), reader.path)
        return cls(codec, tables, reader.starts, m.num_samples, m.sample_shape, m.sample_dtype,
                   reader.tensors, lambda k: reader.shard_path(m.shards[k].file))

    @classmethod
    def from_encoded(cls, codec: Codec, encoded, labels: np.ndarray, bounds: list[int],
                     sample_shape: tuple, sample_dtype, tables=None) -> "ArchiveDecoder":
        """The decoder of shards about to be written (``bounds`` = [0, ..., N]); ``tables``:
        the codec's opened tables of ``encoded``, when the caller has them."""
        if tables is None:
            tables = codec.open_tables(encoded.extras(), "memory")
        starts = np.array(bounds[:-1], dtype=np.int64)

        def arrays(k):
            a, b = bounds[k], bounds[k + 1]
            return dict(encoded.shard(a, b), labels=labels[a:b])

        return cls(codec, tables, starts, bounds[-1], sample_shape, sample_dtype, arrays,
                   lambda k: f"samples [{bounds[k]}, {bounds[k + 1]})")

    def shard(self, k: int) -> ShardDecoder:
        """The validated decoder of shard ``k`` (built once)."""
        d = self._decoders.get(k)
        if d is None:
            a, b = int(self.starts[k]), int(self.stops[k])
            d = self.codec.decoder(self._arrays(k), num_samples=b - a, sample_shape=self.sample_shape,
                                   sample_dtype=self.sample_dtype, where=self._where(k),
                                   tables=self.tables)
            self._decoders[k] = d
        return d

    def check_all(self) -> None:
        """Validate every shard now (then forget the decoders, so nothing stays mapped)."""
        for k in range(len(self.starts)):
            self.shard(k)
        self._decoders.clear()

    def locate(self, i: int) -> tuple[int, int]:
        """(shard, row) of global index ``i`` (in range)."""
        k = bisect.bisect_right(self._starts, i) - 1
        return k, i - self._starts[k]

    def decode_one(self, i: int, dtype, planes: int | None = None) -> np.ndarray:
        """Sample ``i`` as an array of its own shape."""
        k, row = (0, i) if len(self._starts) == 1 else self.locate(i)
        dec = self.shard(k)
        if self.fixed:  # no more than float64's 8 bytes a value: numpy's own (cheaper)
            out = (np.empty(self.sample_shape, dtype) if self.sample_size < MAPPED_OUTPUT >> 3
                   else empty_output(self.sample_shape, dtype))
        else:
            out = empty_output(tuple(dec.sample_shapes(np.array([row], dtype=np.int64))[0]), dtype)
        dec.decode_one(row, out, planes=planes)
        return out

    def decode(self, idx: np.ndarray, dtype, planes: int | None = None):
        """Samples ``idx`` ((B,) int64, in range): a (B, *shape) array, or a list of arrays
        when the archive's samples differ in shape."""
        if not self.fixed:
            return self._decode_list(idx, dtype, planes)
        out = empty_output((len(idx), self.sample_size), dtype)
        groups = list(self._by_shard(idx))
        if len(groups) == 1:  # one shard: straight into the output
            groups[0][2].decode(groups[0][1], out, planes=planes)
        else:
            for pos, rows, dec in groups:
                tmp = empty_output((len(pos), self.sample_size), dtype)
                dec.decode(rows, tmp, planes=planes)
                out[pos] = tmp
        return out.reshape(len(idx), *self.sample_shape)

    def _by_shard(self, idx: np.ndarray):
        """``(positions in idx, shard rows, shard decoder)`` for each shard ``idx`` touches."""
        shard = np.searchsorted(self.starts, idx, side="right") - 1
        if len(idx) and (shard == shard[0]).all():  # the usual batch: no grouping work
            k = int(shard[0])
            yield np.arange(len(idx)), idx - self.starts[k], self.shard(k)
            return
        for k in np.unique(shard):
            pos = np.flatnonzero(shard == k)
            yield pos, idx[pos] - self.starts[k], self.shard(int(k))

    def records(self, idx: np.ndarray) -> list:
        """The stored bytes of samples ``idx`` (codecs that store files: ``stores_files``)."""
        out = [None] * len(idx)
        for pos, rows, dec in self._by_shard(idx):
            for p, rec in zip(pos, dec.records_of(rows)):
                out[p] = rec
        return out

    def where_of(self, i: int) -> str:
        """The file (or range) holding sample ``i``, for messages."""
        return self._where(self.locate(i)[0])

    def sample_shapes(self, idx: np.ndarray) -> np.ndarray:
        """(B, ndim) shapes of samples ``idx``."""
        if self.fixed:
            return np.tile(np.array(self.sample_shape, dtype=np.int64), (len(idx), 1))
        out = np.empty((len(idx), len(self.sample_shape)), dtype=np.int64)
        for pos, rows, dec in self._by_shard(idx):
            out[pos] = dec.sample_shapes(rows)
        return out

    def _decode_list(self, idx, dtype, planes) -> list:
        result = [None] * len(idx)
        for pos, rows, dec in self._by_shard(idx):
            shapes = dec.sample_shapes(rows)
            sizes = shapes.prod(axis=1)
            off = np.zeros(len(rows), dtype=np.int64)
            np.cumsum(sizes[:-1], out=off[1:])
            flat = empty_output((int(sizes.sum()),), dtype)
            dec.decode(rows, flat, planes=planes, out_off=off)
            for j, p in enumerate(pos):
                result[p] = flat[off[j]:off[j] + sizes[j]].reshape(tuple(shapes[j]))
        return result
