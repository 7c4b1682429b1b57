"""Archive reader: validates the structure at open, memory-maps shards lazily."""

from __future__ import annotations

import os

import numpy as np
import xxhash

from .._validation import expand_path
from ..errors import FormatError
from .manifest import LABEL_DTYPES, Manifest, load_manifest
from .mapping import reserve_descriptors
from .safetensors_io import open_tensors, read_header

__all__ = ["ArchiveReader", "check_file_hash"]

_CHUNK = 1 << 22


def _checked_header(file: str, recorded: int, what: str, noun: str) -> dict:
    """The tensor specs of ``file`` once it exists with the manifest's size and a sound header."""
    if not os.path.isfile(file):
        raise FormatError(f"{file}: {what} is missing; the archive is incomplete")
    _check_size(file, recorded, noun)
    return read_header(file)[0]


def _check_size(file: str, recorded: int, noun: str, later: bool = False) -> None:
    size = os.path.getsize(file) if os.path.isfile(file) else -1
    if size != recorded:
        found = "it is missing" if size < 0 else f"size is {size} bytes"
        raise FormatError(f"{file}: {found}, the manifest records {recorded}; the {noun} is "
                          "truncated or was replaced" + (
                              " after the archive was opened (e.g. compressed again with "
                              "overwrite=True): open it again" if later else ""))


def file_identity(file: str) -> tuple:
    """Which file this is (device, inode, modification time): a compress with overwrite=True
    writes new files, which the size alone does not tell apart when they are as long."""
    st = os.stat(file)
    return st.st_dev, st.st_ino, st.st_mtime_ns


def check_file_hash(file: str, recorded: str) -> None:
    """Raise FormatError unless the xxh3-64 of ``file`` is the manifest's ``recorded`` one."""
    h = xxhash.xxh3_64()
    with open(file, "rb") as f:
        while chunk := f.read(_CHUNK):
            h.update(chunk)
    if h.hexdigest() != recorded:
        raise FormatError(f"{file}: xxh3-64 is {h.hexdigest()}, the manifest records {recorded}; "
                          "the file is corrupt")


class ArchiveReader:
    """Read access to an archive directory.

    Opening checks the manifest, that every shard exists with its recorded
    size, that every shard header is well-formed with offsets inside the file,
    and that the labels match ``num_samples``. Extra files (archive-wide tables,
    small) are also hashed, since one flipped bit there would change many
    samples; shard payloads are hashed only by ``verify``. Shard data is
    memory-mapped on first use, per process; pickling keeps only the path.

    Args:
        path: archive directory.
    """

    def __init__(self, path: str | os.PathLike):
        if not isinstance(path, (str, bytes, os.PathLike)):
            raise TypeError(f"path should be a str or os.PathLike naming an archive directory, "
                            f"but got {type(path).__name__}")
        self.path = expand_path(path)
        self.manifest: Manifest = load_manifest(self.path)
        m = self.manifest
        reserve_descriptors(self, self.path, len(m.shards) + len(m.extras))  # one a file mapped
        labels = []
        for s in m.shards:
            file = self.shard_path(s.file)
            tensors = _checked_header(file, s.bytes, "shard file", "shard")
            spec = tensors.get("labels")
            if spec is None or spec[0] not in (*LABEL_DTYPES, np.float32) or len(spec[1]) != 1:
                raise FormatError(f"{file}: tensor 'labels' should be 1-D integers (classes: "
                                  "uint8, int8, uint16, int16, int32 or int64) or float32 "
                                  "(regression targets)")
            if spec[1][0] != s.stop - s.start:
                raise FormatError(f"{file}: holds {spec[1][0]} labels, but the shard covers "
                                  f"{s.stop - s.start} samples; label count != num_samples")
            # a copy (the map closes), class labels as int64 whatever each shard stores them in
            shard_labels = open_tensors(file)["labels"]
            labels.append(np.array(shard_labels, dtype=np.int64 if shard_labels.dtype.kind in "iu"
                                   else np.float32))
        if len({a.dtype for a in labels}) > 1:
            raise FormatError(f"{self.path}: shards disagree on the labels' kind (class labels "
                              "in some, real-valued targets in others)")
        self.labels = np.concatenate(labels)
        if m.target_shape and self.labels.dtype != np.float32:
            raise FormatError(f"{self.path}: target_shape {list(m.target_shape)} is for "
                              f"real-valued targets, but the labels are {self.labels.dtype}")
        for name, e in m.extras.items():
            file = self.shard_path(e.file)
            _checked_header(file, e.bytes, f"extra file {name!r}", "file")
            check_file_hash(file, e.xxh3_64)
        self.starts = np.array([s.start for s in m.shards], dtype=np.int64)
        # the files as opened here; a later map (lazily, in this process or a worker) checks it
        self.identity = {f: file_identity(self.shard_path(f)) for f in
                         [s.file for s in m.shards] + [e.file for e in m.extras.values()]}
        self._cache: dict = {}

    def shard_path(self, file: str) -> str:
        return os.path.join(self.path, file)

    def __len__(self) -> int:
        return self.manifest.num_samples

    def shard_index(self, indices: np.ndarray) -> np.ndarray:
        """Shard number of each global sample index (indices must be in range)."""
        return np.searchsorted(self.starts, indices, side="right") - 1

    def tensors(self, k: int) -> dict[str, np.ndarray]:
        """Memory-mapped tensors of shard ``k`` (opened once per process)."""
        t = self._cache.get(k)
        if t is None:
            s = self.manifest.shards[k]
            # mapped lazily (and again in every worker): a file replaced since the manifest was
            # read would decode under the old manifest and tables
            t = self._open_later(s.file, s.bytes, "shard")
            self._cache[k] = t
        return t

    def extras(self) -> dict[str, dict[str, np.ndarray]]:
        """Memory-mapped tensors of every extra file, by name (e.g. ``tables``)."""
        out = {}
        for name, e in self.manifest.extras.items():
            key = f"extra:{name}"
            if key not in self._cache:
                self._cache[key] = self._open_later(e.file, e.bytes, "file")
            out[name] = self._cache[key]
        return out

    def _open_later(self, name: str, recorded: int, noun: str) -> dict:
        """``name``'s tensors, mapped after the manifest was read: the same file, or an error."""
        file = self.shard_path(name)
        _check_size(file, recorded, noun, later=True)
        tensors = open_tensors(file)  # mapped first, so the file checked is the file mapped
        if file_identity(file) != self.identity.get(name):
            raise FormatError(f"{file}: the {noun} was replaced after the archive was opened (e.g. "
                              "compressed again with overwrite=True), so it would decode under "
                              "the old manifest and labels: open the archive again")
        return tensors

    def release(self) -> None:
        """Drop this process's memory maps; shards reopen on next use."""
        self._cache.clear()

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_cache"] = {}
        return state
