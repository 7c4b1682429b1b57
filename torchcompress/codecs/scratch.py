"""Per-thread scratch for the shard decoders.

The decoding kernels release the GIL and overwrite their scratch (pixel rings, block rows,
lane state) on every call, and the lossy decoder relies on what its last call left there.
Two threads decoding through one dataset (a thread pool, or ``tc.compress`` reading an
archive with ``workers``) would overwrite each other's and return wrong pixels or name sound
records corrupt, so each thread gets its own set, made on its first use.
"""

from __future__ import annotations

import threading
from typing import Callable, Generic, TypeVar

__all__ = ["PerThread"]

T = TypeVar("T")


class PerThread(Generic[T]):
    """``make()``'s value, one per thread: :meth:`get` makes it on a thread's first call."""

    def __init__(self, make: Callable[[], T]):
        self._make = make
        self._local = threading.local()

    def get(self) -> T:
        got = getattr(self._local, "value", None)
        if got is None:
            got = self._local.value = self._make()
        return got
