"""Whether the ranks of a ``torch.distributed`` group compress together.

Under a process group, ``compress`` shares the work among the ranks through collectives, so
every rank must call it. Called on one rank only (``if rank == 0: tc.compress(...)``, then
``dist.barrier()``, the usual way to prepare data under DDP), its first collective waited for
ranks that never came, until the group's timeout (30 minutes by default) ended it with gloo's
"Timed out waiting ... for recv". Before any collective the ranks now meet through the group's
store (keys, not collectives, so a rank waiting in the user's own ``barrier`` is not disturbed):
when every rank arrives the work is shared; when some have not arrived within
``JOIN_TIMEOUT_S`` the ranks that came compress alone, each by itself, with a warning.
"""

from __future__ import annotations

import collections
import contextlib
import contextvars
import datetime
import os
import time
import warnings

import torch.distributed as dist
import xxhash

from .._distributed import is_distributed, replica_info

__all__ = ["JOIN_TIMEOUT_S", "alone", "compress_together", "world"]

#: seconds the ranks wait for one another at the start of a compress with distributed=None
JOIN_TIMEOUT_S = 60.0

_ALONE = contextvars.ContextVar("torchcompress_compress_alone", default=False)
_CALLS: collections.Counter = collections.Counter()  # compresses this process began, per path


def world() -> tuple[int, int]:
    """``(world_size, rank)`` of the compress under way: ``(1, 0)`` inside :func:`alone`."""
    return (1, 0) if _ALONE.get() else replica_info(None, None)


@contextlib.contextmanager
def alone():
    """This process compresses by itself, whatever group it is in (no collectives)."""
    token = _ALONE.set(True)
    try:
        yield
    finally:
        _ALONE.reset(token)


def _store():
    try:
        from torch.distributed.distributed_c10d import _get_default_store
        return _get_default_store()
    except Exception:  # a torch without it, or a group without a store: no meeting
        return None


def _group_timeout() -> float:
    try:
        from torch.distributed.distributed_c10d import _get_default_timeout
        return _get_default_timeout(dist.get_backend()).total_seconds()
    except Exception:
        return datetime.timedelta(minutes=30).total_seconds()


def compress_together(path: str, distributed: bool | None) -> bool:
    """True when every rank of the process group calls this compress (share the work), False
    when this process compresses alone. ``distributed``: None meets the other ranks for
    ``JOIN_TIMEOUT_S`` (alone, with a warning, when not all come), True requires them all (an
    error when not all come within the group's timeout), False never waits."""
    if distributed is False:
        return False
    if not is_distributed():
        if distributed:
            raise ValueError("distributed=True shares the compress among the ranks of a "
                             "torch.distributed process group, but none is initialised: call "
                             "torch.distributed.init_process_group first, or leave "
                             "distributed=None")
        return False
    size = dist.get_world_size()
    store = _store()
    if size == 1 or store is None:
        return size > 1
    name = os.path.abspath(os.fspath(path))
    key = f"torchcompress/compress/{xxhash.xxh3_64_hexdigest(name.encode())}/{_CALLS[name]}"
    _CALLS[name] += 1
    if store.add(f"{key}/arrived", 1) == size:
        store.compare_set(f"{key}/decision", "", "together")
    timeout = JOIN_TIMEOUT_S if distributed is None else _group_timeout()
    deadline = time.monotonic() + timeout
    while not store.check([f"{key}/decision"]):
        if time.monotonic() > deadline:
            store.compare_set(f"{key}/decision", "", "alone")
            break
        time.sleep(0.02)
    if store.get(f"{key}/decision") == b"together":
        return True
    came = int(store.add(f"{key}/arrived", 0))
    if distributed:
        raise RuntimeError(f"compress(..., distributed=True) waits for all {size} ranks of the "
                           f"process group, but {came} called it within {timeout:.0f} s: call "
                           "it on every rank with the same arguments, or pass "
                           "distributed=False to compress on one rank alone")
    warnings.warn(f"compress: {came} of the process group's {size} ranks called it within "
                  f"{timeout:.0f} s, so this rank compresses {os.fspath(path)!r} by itself. To "
                  "share the work, call compress on every rank with the same arguments; on one "
                  "rank alone (under `if rank == 0:`), pass distributed=False, which does not "
                  "wait", UserWarning, stacklevel=3)
    return False
