"""Chunk jobs mapped in order: inline, or on forked worker processes that inherit the job.

The job (reader, codec, stream encoder, extras, flags) is set while a
:class:`Runner` maps it, so forked workers inherit it instead of receiving
it by pickle; chunk functions read it with :func:`job`.
"""

from __future__ import annotations

import os
import sys
import time

__all__ = ["Runner", "job"]

_JOB = None  # (reader, codec, stream encoder, extras, flags): what forked workers inherit
_POOL_WORTH = 0.5  # seconds of remaining work that pay for starting worker processes


class Runner:
    """Maps chunk jobs in order: inline, or on ``workers`` forked processes (Linux), which
    inherit the job's reader and fitted encoder; elsewhere the codec's threads do it. The
    first job runs inline and is timed: a job too small to pay for the processes
    (about 0.1 s to start) stays inline."""

    def __init__(self, workers: int, job: tuple):
        import multiprocessing as mp

        self.job, self.workers, self.pool = job, workers, None
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
        t0 = time.perf_counter()
        yield fn(items[0])
        rest = items[1:]
        if (time.perf_counter() - t0) * len(rest) < _POOL_WORTH:
            yield from map(fn, rest)
            return
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        self.pool = ProcessPoolExecutor(self.workers, mp_context=mp.get_context("fork"),
                                        initializer=_one_thread)
        yield from _ahead(self.pool, fn, rest, 2 * self.workers)

    def __enter__(self) -> "Runner":
        return self

    def __exit__(self, *exc) -> None:
        global _JOB
        _JOB = None
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)


def _ahead(pool, fn, items, window: int):
    """``map(fn, items)`` on ``pool``, in order, with at most ``window`` jobs in flight."""
    from collections import deque

    items, queue = iter(items), deque()
    for item in items:
        queue.append(pool.submit(fn, item))
        if len(queue) >= window:
            yield queue.popleft().result()
    while queue:
        yield queue.popleft().result()


def _one_thread() -> None:
    """In a worker process: the processes are the parallelism, not threads (as DataLoader's
    workers, torch gets one thread: a forked OpenMP pool must not be used)."""
    import threading

    import torch

    torch.set_num_threads(1)
    threading.Thread(target=_exit_with_parent, args=(os.getppid(),), daemon=True).start()
    reader, _, st, _, _ = _JOB
    for obj in (reader, st):
        if hasattr(obj, "workers"):
            obj.workers = 1


def _exit_with_parent(parent: int) -> None:
    """A worker whose compress was killed (its parent is gone) exits instead of waiting on
    a queue nobody writes to (as DataLoader's workers watch theirs)."""
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(1)


def job():
    """The job of the running :class:`Runner` (in a worker: the one it inherited)."""
    return _JOB
