"""Memory-mapping archive files, and the file descriptors the maps hold.

Python's ``mmap`` keeps a duplicate of the file's descriptor for as long as the map lives,
unless it is told not to (``trackfd=False``, Python 3.13). A process that has read from every
shard of an archive holds one descriptor per shard, so an archive of more shards than the
open-files limit (``ulimit -n``, often 1,024) failed part way through an epoch with
"Too many open files": ImageNet at 64 MiB shards is thousands of them (a 2,001-shard archive
held 2,006 descriptors once read, on Python 3.11). Where maps hold descriptors, opening an
archive raises the process's soft limit toward its hard one to fit the files of every live
reader (children, DataLoader workers included, inherit it), warns where the hard limit is too
low, and a map that still finds none left names the limit and what to do.
"""

from __future__ import annotations

import errno
import mmap
import os
import sys
import warnings
import weakref

import numpy as np

from ..errors import user_stacklevel

try:
    import resource
except ImportError:  # Windows: no such limit to raise
    resource = None

__all__ = ["HOLDS_FD", "map_file", "reserve_descriptors"]

#: whether a live map holds a file descriptor (before Python 3.13's ``trackfd=False``)
HOLDS_FD = sys.version_info < (3, 13)
#: descriptors left for everything else (DataLoader pipes, shared memory, the user's files)
HEADROOM = 256
_RESERVED: dict[int, int] = {}  # id of a live reader -> its archive's files
_WARNED: set[str] = set()


def _limits() -> tuple[float, float] | None:
    """(soft, hard) open-files limits, an unlimited one as infinity (``RLIM_INFINITY`` is -1 on
    Linux); None without ``resource``."""
    if resource is None:
        return None
    return tuple(float("inf") if v == resource.RLIM_INFINITY else v
                 for v in resource.getrlimit(resource.RLIMIT_NOFILE))


def _shown(limit: float) -> str:
    return "unlimited" if limit == float("inf") else str(int(limit))


def reserve_descriptors(owner, path: str, files: int) -> None:
    """Make room for the ``files`` maps of the archive at ``path`` that ``owner`` (a reader,
    whose maps are its own) may hold while it lives: raise the soft open-files limit, up to the
    hard one, to the files of every live reader plus ``HEADROOM``; warn where the hard limit
    cannot hold them. (A dataset and ``tc.verify`` of one archive each map every shard.)"""
    limits = _limits()
    if not HOLDS_FD or limits is None:
        return
    path = os.path.abspath(path)
    _RESERVED[id(owner)] = files
    weakref.finalize(owner, _RESERVED.pop, id(owner), None)
    need = sum(_RESERVED.values()) + HEADROOM
    soft, hard = limits
    if need <= soft:
        return
    if soft < hard:
        try:  # the hard limit as the system gives it (RLIM_INFINITY where unlimited)
            resource.setrlimit(resource.RLIMIT_NOFILE, (
                int(min(need, hard)), resource.getrlimit(resource.RLIMIT_NOFILE)[1]))
        except (ValueError, OSError):  # e.g. past the system's own ceiling: warned below
            pass
    soft = _limits()[0]
    if need > soft and path not in _WARNED:
        _WARNED.add(path)
        others = "" if need - HEADROOM == files else \
            f" ({need - HEADROOM} with the other archives open here)"
        warnings.warn(
            f"{path}: its {files} files{others} each hold a file descriptor once read (Python "
            f"{sys.version_info[0]}.{sys.version_info[1]}'s memory maps keep one), more than the "
            f"open-files limit of {soft} (hard limit {_shown(hard)}) leaves: a pass over every "
            "sample would fail with 'Too many open files'. Raise the limit (ulimit -n, or the "
            "hard one as root), or compress it again with larger shards (shard_size=)",
            UserWarning, stacklevel=user_stacklevel())


def _mapped(path: str) -> mmap.mmap:
    with open(path, "rb") as f:
        return mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ,
                         **({} if HOLDS_FD else {"trackfd": False}))


def map_file(path: str) -> np.ndarray:
    """The bytes of ``path`` (not empty), memory-mapped read-only, as a plain ndarray (fast
    numba dispatch); an ``OSError`` naming the limit where no file descriptor is left."""
    try:
        m = _mapped(path)
    except OSError as e:
        if e.errno != errno.EMFILE:
            raise
        soft, hard = (_shown(v) for v in _limits() or (-1, -1))
        raise OSError(errno.EMFILE, f"{path}: no file descriptor left to map it: this process "
                      f"has {soft} (ulimit -n; hard limit {hard}), and each shard it has read "
                      "holds one on this Python. Raise the limit (ulimit -n), or compress the "
                      "archive again with larger shards (shard_size=)") from e
    return np.frombuffer(m, dtype=np.uint8)
