"""Whether the ranks of a ``torch.distributed`` group compress together, and the group as the
compress under way sees it.

Under a process group, ``compress`` shares the work among the ranks through collectives, so
every rank must call it. Called on one rank only (``if rank == 0: tc.compress(...)``, then
``dist.barrier()``, the usual way to prepare data under DDP), its first collective waited for
ranks that never came, until the group's timeout (30 minutes by default) ended it with gloo's
"Timed out waiting ... for recv". The ranks now meet first through the group's store (keys,
not a collective, so a rank waiting in the user's own ``barrier`` is not disturbed): a rank
that waits says so after ``NOTICE_S``, and when not every rank has come within
``JOIN_TIMEOUT_S`` every rank that came raises an error saying what to pass. None of them
compresses alone then: the ranks that came expected to share the work, and each writing the
whole archive to one path would cost the work many times over.
"""

from __future__ import annotations

import collections
import contextlib
import contextvars
import datetime
import os
import time
import warnings

import numpy as np
import torch.distributed as dist
import xxhash

from .._distributed import is_distributed, replica_info

__all__ = ["JOIN_TIMEOUT_S", "NOTICE_S", "SAMPLES_COMPARED", "alone", "check_same_source",
           "compress_together", "world"]

#: seconds the ranks wait for one another at the start of a compress (distributed=None)
JOIN_TIMEOUT_S = 300.0
#: seconds of waiting after which a rank says what it waits for
NOTICE_S = 10.0

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


def _meet(store, key: str, size: int, timeout: float, path) -> tuple[bool, int]:
    """(every rank came within ``timeout`` seconds, how many came). The meeting is decided
    once, by the last rank to come or the first to give up; a late rank reads the decision."""
    if store.add(f"{key}/arrived", 1) == size:
        store.compare_set(f"{key}/decision", "", "all")
    start = time.monotonic()
    noticed = False
    while not store.check([f"{key}/decision"]):
        waited = time.monotonic() - start
        if waited > timeout:
            store.compare_set(f"{key}/decision", "", "some")
            break
        if waited > NOTICE_S and not noticed:
            noticed = True
            came = int(store.add(f"{key}/arrived", 0))
            warnings.warn(f"compress({os.fspath(path)!r}) is waiting for the process group's "
                          f"other ranks ({came} of {size} have called it), which share the work; "
                          "to compress on this rank alone (under `if rank == 0:`, or in "
                          "PyTorch Lightning's prepare_data, which runs on one rank), pass "
                          "distributed=False", UserWarning, stacklevel=4)
        time.sleep(0.02)
    return store.get(f"{key}/decision") == b"all", int(store.add(f"{key}/arrived", 0))


def compress_together(path, distributed: bool | None) -> bool:
    """True when every rank of the process group calls this compress (share the work), False
    when this process compresses alone (no group, as ``per_class_accuracy`` and
    ``TrainingDynamics`` count alone without one, or ``distributed=False``); an error when not
    every rank comes (see ``compress``'s ``distributed``)."""
    if distributed is False or not is_distributed():  # no group: nothing to share
        return False
    size, store = dist.get_world_size(), _store()
    if size == 1 or store is None:
        return size > 1
    name = os.path.abspath(os.fspath(path))
    key = f"torchcompress/compress/{xxhash.xxh3_64_hexdigest(name.encode())}/{_CALLS[name]}"
    _CALLS[name] += 1
    timeout = JOIN_TIMEOUT_S if distributed is None else _group_timeout()
    together, came = _meet(store, key, size, timeout, path)
    if together:
        return True
    raise RuntimeError(
        f"compress({os.fspath(path)!r}): {came} of the process group's {size} ranks called it "
        f"within {timeout:.0f} s, and under a process group every rank does a share. Call it on "
        "every rank with the same arguments (in PyTorch Lightning, its setup hook runs on every "
        "rank); to compress on one rank alone (under `if rank == 0:`, or in Lightning's "
        "prepare_data), pass distributed=False" + ("; to wait longer for late ranks, "
                                                   "distributed=True waits as long as the group's "
                                                   "timeout" if distributed is None else "")
        + ". Nothing was written")


#: samples, evenly spaced, whose bytes the ranks compare before sharing a compress
SAMPLES_COMPARED = 8


def check_same_source(reader) -> None:
    """Every rank of a shared compress must read the same source: each encodes its own shards
    from its own copy, so a source that differs by rank (a ``random_split`` or a shuffle without
    a fixed generator, each rank's own files) made an archive of some ranks' samples and
    others', verified shard by shard against each rank's copy, without an error. The ranks
    compare their lengths and the bytes and labels of a few samples; all raise if they differ."""
    size = world()[0]
    if size == 1:
        return
    n = reader.n
    rows = np.unique(np.linspace(0, n - 1, min(n, SAMPLES_COMPARED)).round().astype(np.int64))
    xs, ys = getattr(reader, "read_unresized", reader.read)(rows)  # before resize= rounds
    h = xxhash.xxh3_64()
    for a in xs:
        a = np.ascontiguousarray(a)
        h.update(repr((a.dtype.str, a.shape)).encode())
        h.update(a.tobytes())
    h.update(np.ascontiguousarray(ys).tobytes())
    seen = [None] * size
    dist.all_gather_object(seen, (n, h.hexdigest()))
    if len(set(seen)) > 1:
        k = next(r for r, s in enumerate(seen) if s != seen[0])
        what = (f"rank 0 has {seen[0][0]} samples and rank {k} {seen[k][0]}" if seen[k][0] !=
                seen[0][0] else f"rank 0 and rank {k} differ in samples {rows.tolist()}, compared")
        raise ValueError(f"compress under a process group: every rank encodes its share of one "
                         f"source, but the ranks' sources differ ({what}). Pass every rank the "
                         "same source: a random_split or a shuffle needs a generator with one "
                         "seed on every rank, e.g. torch.Generator().manual_seed(0), and a "
                         "transform must not draw at random; to compress on one rank alone, "
                         "pass distributed=False")
