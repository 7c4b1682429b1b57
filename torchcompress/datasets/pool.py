"""Chunk jobs mapped in order: inline, or on forked worker processes that inherit the job
and on the calling process beside them.

The job (reader, codec, stream encoder, extras, flags) is set while a
:class:`Runner` maps it, so forked workers inherit it instead of receiving
it by pickle; chunk functions read it with :func:`job`. Large result arrays
come back the same way round: through files (:func:`ship`, :func:`landed`).
"""

from __future__ import annotations

import os
import sys
import time
import uuid

import numpy as np

from .sharing import shared_map

__all__ = ["Passes", "Runner", "Shipped", "job", "landed", "probe_first", "ship"]

_JOB = None  # (reader, codec, stream encoder, extras, flags): what forked workers inherit
#: seconds of remaining work that pay for starting worker processes: a pass's worker starts
#: 12-20 ms after it begins (0.03-0.05 s when both workers were forked; GeDe's scan of 30k
#: CIFAR images, 0.45-0.55 s of work since its wavelet got faster, ran inline below 0.5 s)
_POOL_WORTH = 0.25
#: a first probe that points to less than this much work is checked by a second one
_PROBE_AGAIN = 2.0
#: a worker's result array larger than this comes back through a file, not the pipe: 46 MB
#: of results took 0.05 s through files against 0.15 s pickled (a /tmp harness, 2 workers)
_SHIP_BYTES = 1 << 20
_IN_WORKER = False


class Runner:
    """Maps chunk jobs in order: inline, or on ``workers - 1`` forked processes (Linux), which
    inherit the job's reader and fitted encoder, and the calling process, which runs the next
    job itself whenever the oldest is not back yet (on one thread, as the workers do);
    elsewhere the codec's threads do it.

    Jobs are ``(first, stop)`` row ranges, or tuples that start with one. The first job
    is a probe (see :func:`probe_first`): it runs inline, and its time per row times the
    rows left decides whether the processes pay off; a small
    probe keeps the serial part of a parallel pass short. A probe also pays what a
    process pays once (numba kernels loaded from the cache: 20-30 ms), which on a pass of
    a few dozen rows outweighs the rows themselves; so where it points to a pass under
    ``_PROBE_AGAIN`` seconds, the next job runs inline too and decides instead. A runner of
    :class:`Passes` whose earlier pass forked skips the probes."""

    def __init__(self, workers: int, job: tuple, passes: "Passes | None" = None):
        import multiprocessing as mp

        self.job, self.workers, self.pool, self._saved = job, workers, None, []
        self.passes = passes
        # fork only on Linux (macOS's system libraries are not fork-safe once threads run)
        self.forks = workers > 1 and sys.platform.startswith("linux") and \
            "fork" in mp.get_all_start_methods()

    def map(self, fn, items):
        global _JOB
        _JOB = self.job
        items = list(items)
        if not self.forks or len(items) <= 1:
            return map(fn, items)
        return self._adaptive(fn, items)

    def _adaptive(self, fn, items):
        rest = items
        for _ in range(0 if self.passes and self.passes.forked else 2):
            # the probe, and where it points to a short pass, the next job
            probe, rest = rest[0], rest[1:]
            t0 = time.perf_counter()
            yield fn(probe)
            left = (time.perf_counter() - t0) / max(_rows(probe), 1) * sum(_rows(r) for r in rest)
            if left < _POOL_WORTH:
                yield from map(fn, rest)
                return
            if left >= _PROBE_AGAIN or len(rest) <= 1:
                break
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        if self.passes:
            self.passes.forked = True
        _trim_heap()
        # the calling process is one of the workers: it runs a job itself whenever the next
        # result is not back yet (one fork fewer, and its jobs' results need no pickle)
        self.pool = ProcessPoolExecutor(self.workers - 1, mp_context=mp.get_context("fork"),
                                        initializer=_one_thread)
        self._saved = _single_threaded(self.job)
        yield from shared_map(self.pool, fn, rest, self.workers - 1)

    def __enter__(self) -> "Runner":
        return self

    def __exit__(self, *exc) -> None:
        global _JOB
        _JOB = None
        if self.pool is not None:
            _restore(self._saved)
            # after a clean pass every job is done: the idle workers exit in the background
            # (11 ms a pass of waiting); after a failure, wait until none can still write
            self.pool.shutdown(wait=exc[0] is not None, cancel_futures=True)


def _trim_heap() -> None:
    """Hand the C heap's free pages back before a fork (glibc's ``malloc_trim``). Pages the
    parent keeps are shared with the child, and the first write to each in either process
    copies it; returned pages come back zeroed instead, without a copy. Free heap is
    there because numpy's freed arrays are reused (30k CIFAR images at 2 workers, GeDe:
    1.34 -> 1.30 s, in three alternating pairs of runs)."""
    import ctypes

    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: nothing to hand back this way
        pass


class Passes:
    """The passes of one compress, in order: once one has started worker processes, the
    later ones (as large: they read every sample again) start theirs at once, without the
    probes (which ran 2-11 ms inline a pass while the other cores waited)."""

    def __init__(self, workers: int):
        self.workers, self.forked = workers, False

    def runner(self, job: tuple) -> Runner:
        return Runner(self.workers, job, self)

    def probe_first(self, ranges: list) -> list:
        """:func:`probe_first` for the next pass: its ranges as they are once a pass forked
        (no probes to split off: the eighths went to the worker first, which then waited
        17 ms for more while the calling process ran a whole chunk)."""
        return list(ranges) if self.forked else probe_first(ranges, self.workers)


def _rows(item: tuple) -> int:
    return item[1] - item[0]


def probe_first(ranges: list, workers: int) -> list:
    """``ranges`` ((a, b, ...) tuples) with the first split when ``workers > 1``: two
    eighths of it (at least one row each) for :class:`Runner`'s probes, then the rest; each
    part keeps the first range's other fields. (A second probe of the whole rest ran 7/8 of
    a chunk inline in every pass: 13-41 ms each of GeDe's three passes over 30k CIFAR
    images at 2 workers.)"""
    if workers <= 1 or not ranges or _rows(ranges[0]) < 2:
        return list(ranges)
    a, b, *more = ranges[0]
    step = max(1, (b - a) // 8)
    cuts = [a] + [c for c in (a + step, a + 2 * step) if c < b] + [b]
    return [(c, d, *more) for c, d in zip(cuts, cuts[1:])] + list(ranges[1:])


def _one_thread() -> None:
    """In a worker process: the processes are the parallelism, not threads (as DataLoader's
    workers, torch gets one thread: a forked OpenMP pool must not be used)."""
    import threading

    import torch

    global _IN_WORKER
    _IN_WORKER = True
    torch.set_num_threads(1)
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    _single_threaded(_JOB)


def _single_threaded(job: tuple) -> list:
    """Give the job's reader and encoder one thread each (the processes are the parallelism);
    returns what :func:`_restore` puts back."""
    reader, _, st, _, _ = job
    saved = [(obj, obj.workers) for obj in (reader, st) if hasattr(obj, "workers")]
    for obj, _ in saved:
        obj.workers = 1
    return saved


def _restore(saved: list) -> None:
    for obj, workers in saved:
        obj.workers = workers


def _exit_with_parent(parent: int) -> None:
    """A worker whose compress was killed (its parent is gone) exits instead of waiting on
    a queue nobody writes to (as DataLoader's workers watch theirs)."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def job():
    """The job of the running :class:`Runner` (in a worker: the one it inherited)."""
    return _JOB


class Shipped:
    """A worker's result array, left in a file of ``folder`` for the parent to map."""

    def __init__(self, path: str, dtype: np.dtype, shape: tuple):
        self.path, self.dtype, self.shape = path, dtype, shape


def ship(arrays: dict, folder: str | None) -> dict:
    """``arrays`` as a worker returns them: in a worker process, each larger than
    ``_SHIP_BYTES`` goes to a file in ``folder`` (the archive's hidden folder, removed with it
    when compress fails) and becomes a :class:`Shipped`; elsewhere they pass as they are."""
    if not _IN_WORKER or folder is None:
        return arrays
    out = {}
    for key, a in arrays.items():
        if a.nbytes <= _SHIP_BYTES:
            out[key] = a
            continue
        path = os.path.join(folder, f"result-{uuid.uuid4().hex}.tmp")
        with open(path, "wb") as f:
            f.write(memoryview(np.ascontiguousarray(a)).cast("B"))
        out[key] = Shipped(path, a.dtype, a.shape)
    return out


def landed(arrays: dict) -> dict:
    """The parent's side of :func:`ship`: each :class:`Shipped` mapped read-only (its file
    is removed at once; the mapping keeps the bytes until it is dropped)."""
    out = {}
    for key, a in arrays.items():
        if isinstance(a, Shipped):
            m = np.memmap(a.path, dtype=a.dtype, mode="r", shape=a.shape)  # over 1 MiB: not empty
            os.remove(a.path)
            a = m
        out[key] = a
    return out
