"""Atomic archive writer: build in a hidden sibling, fsync, then swap in."""

from __future__ import annotations

import ctypes
import errno
import os
import secrets
import shutil

import numpy as np

from .._validation import expand_path
from ..errors import FormatError
from .manifest import LABEL_DTYPES, MANIFEST_FILE, ExtraInfo, Manifest, ShardInfo
from .safetensors_io import write_tensors

__all__ = ["ArchiveWriter", "fsync_path", "narrow_labels", "shard_file_name", "write_shard_file"]


def shard_file_name(index: int) -> str:
    return f"shard-{index:05d}.safetensors"


def narrow_labels(labels):
    """Class labels (an int array, or a list of parts) in the first of :data:`LABEL_DTYPES`
    that holds them all; real-valued targets (float32) as they are."""
    parts = labels if isinstance(labels, list) else [labels]
    if not parts or parts[0].dtype.kind not in "iu" or not sum(p.size for p in parts):
        return labels
    lo = min(int(p.min()) for p in parts if p.size)
    hi = max(int(p.max()) for p in parts if p.size)
    dtype = next(t for t in LABEL_DTYPES if np.iinfo(t).min <= lo and hi <= np.iinfo(t).max)
    parts = [p.astype(dtype, copy=False) for p in parts]
    return parts if isinstance(labels, list) else parts[0]


def write_shard_file(folder: str, index: int, tensors: dict, start: int, stop: int,
                     metadata: dict | None = None, *, fsync: bool = True) -> ShardInfo:
    """Write shard ``index`` (samples ``[start, stop)``) into ``folder``; replaces one there.

    Several processes may write different shards of one archive into the
    writer's folder (``ArchiveWriter.folder``); the writer then takes their
    infos (``ArchiveWriter.shards``). ``fsync=False``: the caller syncs the file
    (:func:`fsync_path`) before the archive is committed.
    """
    file = shard_file_name(index)
    if "labels" in tensors:
        tensors = {**tensors, "labels": narrow_labels(tensors["labels"])}
    size, digest = write_tensors(os.path.join(folder, file), tensors, metadata, fsync=fsync)
    return ShardInfo(file, start, stop, size, digest)


def fsync_path(path: str) -> None:
    """Flush a file's data, or a directory's entries, to disk (through a read-only descriptor,
    which Linux accepts for both)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _renameat2(a: str, b: str, flag: int) -> int | None:
    """Linux's renameat2 with ``flag``: 0 when done, else the errno; None where libc lacks it."""
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (OSError, AttributeError, TypeError):  # TypeError: Windows has no CDLL(None)
        return None
    at_fdcwd = -100
    if fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), flag) == 0:
        return 0
    return ctypes.get_errno()


def _exchange(a: str, b: str) -> bool:
    """Atomically swap two paths (renameat2 RENAME_EXCHANGE); False if unsupported."""
    return _renameat2(a, b, 2) == 0


def _rename_noreplace(a: str, b: str) -> bool:
    """Move ``a`` to ``b`` unless ``b`` exists (then False), atomically where renameat2's
    RENAME_NOREPLACE is there; elsewhere ``os.rename``, which keeps a non-empty ``b``."""
    err = _renameat2(a, b, 1)
    if err == 0:
        return True
    if err == errno.EEXIST:
        return False
    if err is not None and err not in (errno.EINVAL, errno.ENOSYS):  # not the flag's support
        raise OSError(err, os.strerror(err), b)
    try:
        os.rename(a, b)
    except OSError as e:
        if e.errno in (errno.EEXIST, errno.ENOTEMPTY):
            return False
        raise
    return True


def check_target(path: str | os.PathLike, overwrite: bool) -> str:
    """The absolute archive path ``path`` names, or an error before any work: ``path`` empty,
    existing without ``overwrite``, a file, or a directory that is not an archive (``overwrite``
    replaces archives, never a folder of other files: ``path=""`` named the working directory)."""
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"path should be a str or os.PathLike naming the archive directory, but "
                        f"got {type(path).__name__}")
    if not os.fsdecode(path):
        raise ValueError("path should name an archive directory, but got path='' (that is the "
                         "working directory); pass e.g. 'train.tcz'")
    full = os.path.abspath(expand_path(path))
    if not os.path.exists(full):
        return full
    if not overwrite:
        raise FileExistsError(f"{full} already exists; pass overwrite=True to replace it")
    if not os.path.isdir(full):
        raise FileExistsError(f"{full} exists and is not an archive directory; remove it or "
                              "choose another path")
    entries = os.listdir(full)
    other = [e for e in entries if e != MANIFEST_FILE and not
             (e.endswith(".safetensors") and os.path.isfile(os.path.join(full, e)))]
    if other or (entries and MANIFEST_FILE not in entries):
        what = f"it holds {other[0]!r}" if other else f"it has no {MANIFEST_FILE}"
        raise FileExistsError(f"{full} is a directory but not an archive ({what}, among "
                              f"{len(entries)} entries); overwrite=True replaces archives only, "
                              "so nothing was touched: choose another path, or remove the "
                              "directory yourself")
    return full


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _remove_stale(parent: str, name: str) -> None:
    """Delete leftovers of writers to ``name`` that were killed (their pid is gone)."""
    prefix = f".{name}.partial-"
    for entry in os.listdir(parent):
        if entry.startswith(prefix):
            pid = entry[len(prefix):].split("-", 1)[0]
            if pid.isdigit() and not _pid_alive(int(pid)):
                shutil.rmtree(os.path.join(parent, entry), ignore_errors=True)


class ArchiveWriter:
    """Write shards into a temporary sibling directory, then commit atomically.

    Until :meth:`commit` returns, nothing exists at ``path`` (or the old archive
    is still there, whole, when overwriting). Use as a context manager: an
    exception discards everything written.

    Args:
        path: target archive directory.
        overwrite: replace an existing archive (or empty directory) at ``path``,
            never a directory of other files (:func:`check_target`).
    """

    def __init__(self, path: str | os.PathLike, *, overwrite: bool = False):
        self.path = check_target(path, overwrite)
        parent, name = os.path.split(self.path)
        if not name:
            raise ValueError(f"path should name an archive directory, but got path={path!r}")
        os.makedirs(parent, exist_ok=True)
        _remove_stale(parent, name)
        self._tmp = os.path.join(parent, f".{name}.partial-{os.getpid()}-{secrets.token_hex(4)}")
        os.mkdir(self._tmp)
        self.overwrite = bool(overwrite)
        self.shards: list[ShardInfo] = []
        self.extras: dict[str, ExtraInfo] = {}

    def write_shard(self, tensors: dict, start: int, stop: int, metadata: dict | None = None) -> ShardInfo:
        """Write one shard holding samples ``[start, stop)``."""
        info = write_shard_file(self._tmp, len(self.shards), tensors, start, stop, metadata)
        self.shards.append(info)
        return info

    @property
    def folder(self) -> str:
        """The hidden folder being written (committed into place by :meth:`commit`)."""
        return self._tmp

    def write_extra(self, name: str, tensors: dict) -> ExtraInfo:
        """Write an archive-wide tensor file (e.g. a codec's tables) as ``NAME.safetensors``."""
        if not name.isidentifier() or name in self.extras:
            raise ValueError(f"extra name should be a new identifier, but got name={name!r}")
        file = f"{name}.safetensors"
        size, digest = write_tensors(os.path.join(self._tmp, file), tensors)
        self.extras[name] = ExtraInfo(file, size, digest)
        return self.extras[name]

    def commit(self, manifest: Manifest) -> str:
        """Write the manifest and move the archive into place; returns the path.

        The manifest is read back first, as ``tc.open`` reads it: a manifest the
        reader would refuse raises ``ValueError`` here, and nothing is moved."""
        text = manifest.to_json()
        try:
            Manifest.from_json(text, MANIFEST_FILE)
        except FormatError as e:
            raise ValueError(f"refusing to commit {os.fspath(self.path)!r}: its reader would "
                             f"refuse it ({e})") from None
        with open(os.path.join(self._tmp, MANIFEST_FILE), "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        fsync_path(self._tmp)
        parent = os.path.dirname(self.path)
        # another process may write the same path meanwhile: without overwrite, never replace
        # what it committed; with it, the last commit wins
        while not _rename_noreplace(self._tmp, self.path):
            if not self.overwrite:
                raise FileExistsError(f"{self.path} appeared while this archive was being "
                                      "written (another process wrote it); it was left as it "
                                      "is: pass overwrite=True to replace it")
            if _exchange(self._tmp, self.path):
                shutil.rmtree(self._tmp)  # now holds the old archive
                break
            if os.path.exists(self.path) and not os.path.isdir(self.path):
                raise FileExistsError(f"{self.path} appeared as a file while this archive was "
                                      "being written; remove it or choose another path")
            if os.path.isdir(self.path):
                old = self._tmp + "-old"
                os.rename(self.path, old)
                if _rename_noreplace(self._tmp, self.path):
                    shutil.rmtree(old)
                    break
                shutil.rmtree(old)
        fsync_path(parent)
        self._tmp = None
        return self.path

    def abort(self) -> None:
        """Discard everything written so far."""
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None

    def __enter__(self) -> "ArchiveWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()
