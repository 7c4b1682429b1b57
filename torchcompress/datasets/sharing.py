"""Jobs shared, in order, between a process pool and the calling process: whoever is free
claims the next one.

A job handed to a pool process early waits in its queue while the calling
process may run out of work: at the end of a pass of 16 large photos a chunk,
the calling process sat idle 0.4 s of 3.1 while the worker ran the two jobs it
had been given. So no job is anyone's until it is claimed: a feeder thread
claims the next for a pool process as each one finishes (and one more ahead,
queued, while more than a round of jobs is left, so the processes never wait on
the handover in the middle of a pass), and the calling process claims the
next for itself whenever the oldest result is not back yet.
"""

from __future__ import annotations

import threading
from concurrent.futures import FIRST_COMPLETED, wait

__all__ = ["shared_map"]


class _Claims:
    """The jobs' shared state: the next unclaimed index, results not yet yielded, and a
    bound on the jobs claimed but not yet yielded (memory stays bounded however far one
    side runs ahead of a slow other)."""

    def __init__(self, n: int, bound: int):
        self.n, self.bound, self.next, self.yielded = n, bound, 0, 0
        self.ready: dict = {}  # index -> (ok, value or exception)
        self.stop = False
        self.cond = threading.Condition()

    def claim(self):
        """The next index, or None: all claimed, stopped, or the bound reached (caller holds
        ``cond``)."""
        if self.stop or self.next >= self.n or self.next - self.yielded >= self.bound:
            return None
        self.next += 1
        return self.next - 1

    def put(self, i: int, ok: bool, value) -> None:
        with self.cond:
            self.ready[i] = (ok, value)
            self.cond.notify_all()


def _top_up(pool, fn, items: list, procs: int, c: _Claims, flying: dict) -> None:
    """Claim jobs for the pool up to ``procs`` on it (``2 * procs`` while more than
    ``2 * procs`` are unclaimed); the caller holds ``c.cond``."""
    depth = 2 * procs if c.n - c.next > 2 * procs else procs
    while len(flying) < depth:
        i = c.claim()
        if i is None:
            return
        try:
            flying[pool.submit(fn, items[i])] = i
        except BaseException as e:  # noqa: BLE001 - the pool shut down: a failure elsewhere
            c.stop = True
            c.put(i, False, e)  # ``cond`` is re-entrant


def _feed(pool, fn, items: list, procs: int, c: _Claims, flying: dict) -> None:
    """The feeder thread: tops the pool up as its jobs finish; every claimed job gets a
    result or its exception."""
    while True:
        with c.cond:
            _top_up(pool, fn, items, procs, c, flying)
            if not flying:
                if c.stop or c.next >= c.n:
                    return
                c.cond.wait()  # at the bound: until a result is yielded
                continue
        done, _ = wait(flying, return_when=FIRST_COMPLETED)
        for f in done:
            i = flying.pop(f)
            try:
                c.put(i, True, f.result())
            except BaseException as e:  # noqa: BLE001 - raised in order, by the caller
                c.put(i, False, e)


def shared_map(pool, fn, items: list, procs: int):
    """``map(fn, items)`` in order, on ``pool``'s ``procs`` processes and the calling one
    (see the module docstring); at most ``3 * (procs + 1)`` jobs are claimed and not yet
    yielded."""
    c, flying = _Claims(len(items), 3 * (procs + 1)), {}
    with c.cond:  # the pool's first jobs before the calling process claims any
        _top_up(pool, fn, items, procs, c, flying)
    feeder = threading.Thread(target=_feed, args=(pool, fn, items, procs, c, flying),
                              daemon=True)
    feeder.start()
    try:
        for k in range(len(items)):
            while True:
                with c.cond:
                    got = c.ready.pop(k, None)
                    i = None if got is not None else c.claim()
                    if got is None and i is None:
                        c.cond.wait()  # job k runs elsewhere, or the bound holds this side
                        continue
                if got is not None:
                    break
                c.put(i, True, fn(items[i]))  # an exception here ends the map at once
            ok, value = got
            if not ok:
                raise value
            with c.cond:
                c.yielded += 1
                c.cond.notify_all()
            yield value
    finally:
        with c.cond:
            c.stop = True
            c.cond.notify_all()
