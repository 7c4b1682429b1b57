"""Read safetensors files as validated, memory-mapped numpy views; write them durably.

The header is parsed here rather than by the safetensors package so that every
offset and length is checked against the real file size before any view is
made, and a bad file raises :class:`FormatError` naming it.
"""

from __future__ import annotations

import errno
import json
import os
import struct

import numpy as np
import xxhash

from ..errors import FormatError
from .mapping import map_file

__all__ = ["DTYPES", "read_header", "open_tensors", "write_tensors"]

DTYPES = {
    "U8": np.uint8, "I8": np.int8, "U16": np.uint16, "I16": np.int16, "U32": np.uint32,
    "I32": np.int32, "U64": np.uint64, "I64": np.int64, "F16": np.float16, "F32": np.float32,
    "F64": np.float64, "BOOL": np.bool_,
}
MAX_HEADER = 100 * 1024 * 1024


def read_header(path: str) -> tuple[dict, int, int]:
    """Parse and check the header of ``path``.

    Returns:
        ``(tensors, data_start, file_size)`` where ``tensors`` maps name to
        ``(dtype, shape, begin, end)`` with offsets relative to ``data_start``.
    """
    try:
        size = os.path.getsize(path)
        with open(path, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise FormatError(f"{path}: file is {size} bytes, too short for a safetensors header")
            (n,) = struct.unpack("<Q", head)
            if n > MAX_HEADER or 8 + n > size:
                raise FormatError(f"{path}: header length {n} does not fit in the file "
                                  f"({size} bytes); the file is truncated or corrupt")
            raw = f.read(n)
    except FileNotFoundError:
        raise FormatError(f"{path}: shard file is missing; the archive is incomplete") from None
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise FormatError(f"{path}: header is not valid JSON ({e}); the file is corrupt") from None
    if not isinstance(header, dict):
        raise FormatError(f"{path}: header should be a JSON object, found {type(header).__name__}")
    data_start = 8 + n
    data_len = size - data_start
    tensors = {}
    spans = []
    for name, spec in header.items():
        if name == "__metadata__":
            continue
        try:
            dtype = np.dtype(DTYPES[spec["dtype"]])
            shape = tuple(int(s) for s in spec["shape"])
            begin, end = (int(v) for v in spec["data_offsets"])
        except (KeyError, TypeError, ValueError):
            raise FormatError(f"{path}: tensor {name!r} has a malformed entry {spec!r}") from None
        if any(s < 0 for s in shape) or not 0 <= begin <= end <= data_len:
            raise FormatError(f"{path}: tensor {name!r} offsets [{begin}, {end}] point outside "
                              f"the data section (0..{data_len} bytes)")
        if end - begin != int(np.prod(shape, dtype=np.int64)) * dtype.itemsize:
            raise FormatError(f"{path}: tensor {name!r} spans {end - begin} bytes but shape "
                              f"{list(shape)} of {dtype} needs "
                              f"{int(np.prod(shape, dtype=np.int64)) * dtype.itemsize}")
        if (data_start + begin) % dtype.itemsize:
            raise FormatError(f"{path}: tensor {name!r} is not aligned to {dtype.itemsize} bytes")
        tensors[name] = (dtype, shape, begin, end)
        spans.append((begin, end, name))
    spans.sort()
    for (_, e0, a), (b1, _, b) in zip(spans, spans[1:]):
        if b1 < e0:
            raise FormatError(f"{path}: tensors {a!r} and {b!r} overlap")
    return tensors, data_start, size


def open_tensors(path: str) -> dict[str, np.ndarray]:
    """Memory-map every tensor of ``path`` as a read-only numpy view."""
    tensors, data_start, size = read_header(path)
    if size == data_start:
        buf = np.zeros(0, dtype=np.uint8)
    else:
        buf = map_file(path)
    out = {}
    for name, (dtype, shape, begin, end) in tensors.items():
        a = buf[data_start + begin:data_start + end].view(dtype).reshape(shape)
        out[name] = a
    return out


# the safetensors writer orders tensors by this dtype rank (highest first), then by name
_RANK = ["BOOL", "U8", "I8", "I16", "U16", "F16", "I32", "U32", "F32", "F64", "I64", "U64"]
_NAMES = {np.dtype(v): k for k, v in DTYPES.items()}


def write_tensors(path: str, tensors: dict, metadata: dict | None = None, *,
                  fsync: bool = True) -> tuple[int, str]:
    """Write ``tensors`` to ``path`` in safetensors format and fsync it (``fsync=False``: the
    caller syncs it before it counts as written).

    A tensor may be given as a list of 1-D pieces of one dtype, written one
    after the other (the shard writer joins chunks this way without a second
    copy). The bytes are the ones ``safetensors.numpy.save`` writes (the tests
    check this): tensors ordered by dtype then name, the header padded with
    spaces to 8 bytes.

    Returns:
        ``(size_in_bytes, xxh3_64_hexdigest)`` of the written file.
    """
    pieces = {k: [np.asarray(p, order="C") for p in (v if isinstance(v, list) else [v])]
              for k, v in tensors.items()}  # (not ascontiguousarray: it makes 0-d arrays 1-d)
    specs = []
    for name, parts in pieces.items():
        dtype = np.dtype(parts[0].dtype)
        if dtype not in _NAMES or any(np.dtype(p.dtype) != dtype for p in parts):
            raise TypeError(f"tensor {name!r} should have one dtype of {sorted(DTYPES)}, "
                            f"but got {[str(p.dtype) for p in parts]}")
        if len(parts) > 1 and any(p.ndim != 1 for p in parts):
            raise ValueError(f"tensor {name!r}: only 1-D pieces can be joined")
        shape = list(parts[0].shape) if len(parts) == 1 else [sum(p.shape[0] for p in parts)]
        specs.append((_NAMES[dtype], name, shape, sum(p.nbytes for p in parts)))
    specs.sort(key=lambda t: (-_RANK.index(t[0]), t[1]))
    header = {"__metadata__": dict(metadata)} if metadata else {}
    offset = 0
    for dt, name, shape, nbytes in specs:
        header[name] = {"dtype": dt, "shape": shape, "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    head = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
    head += b" " * (-len(head) % 8)
    digest = xxhash.xxh3_64()
    try:
        with open(path, "wb") as f:
            for block in [struct.pack("<Q", len(head)), head] + \
                    [p.reshape(-1).view(np.uint8) for _, name, _, _ in specs for p in pieces[name]]:
                digest.update(block)
                f.write(block)
            f.flush()
            if fsync:
                os.fsync(f.fileno())
    except OSError as e:
        if e.errno != errno.ENOSPC:
            raise
        raise OSError(e.errno, f"no space left on the device ({8 + len(head) + offset:,} bytes "
                               "to write); free space there or write the archive to another disk",
                      path) from e
    return 8 + len(head) + offset, digest.hexdigest()
