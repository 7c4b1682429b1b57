"""Sample ranges encoded on several threads: the numba kernels release the GIL.

Each range is encoded independently with its own scratch and the results are
joined in range order, so the bytes do not depend on the number of workers.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable

__all__ = ["map_ranges", "range_chunk"]


def map_ranges(fn: Callable[[int, int], object], n: int, workers: int,
               chunk: int | None = None) -> list:
    """``[fn(a, b) for each range [a, b) of ``chunk`` samples]``, on ``workers`` threads
    (``chunk`` by default: :func:`range_chunk`, so 64 large photos still use every thread)."""
    chunk = range_chunk(n, workers) if chunk is None else chunk
    bounds = [(a, min(a + chunk, n)) for a in range(0, n, chunk)]
    if workers <= 1 or len(bounds) <= 1:
        return [fn(a, b) for a, b in bounds]
    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda ab: fn(*ab), bounds))


def range_chunk(n: int, workers: int, most: int = 256) -> int:
    """Samples per range: ``most``, or fewer so that ``workers`` threads all get some."""
    return max(1, min(most, -(-n // max(1, 2 * workers)))) if workers > 1 else most
