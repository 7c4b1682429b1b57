"""Decode-throughput measurement shared by the demo and the benchmarks."""

from __future__ import annotations

import statistics
import time
from typing import Callable

__all__ = ["median_rate"]


def median_rate(fn: Callable[[], object], items_per_call: int, *, repeats: int = 5,
                min_seconds: float = 0.05) -> float:
    """Median items/s of ``fn`` over ``repeats`` runs, each looped for ``min_seconds``."""
    fn()  # warm up (JIT, page cache)
    rates = []
    for _ in range(repeats):
        calls, t0 = 0, time.perf_counter()
        while True:
            fn()
            calls += 1
            dt = time.perf_counter() - t0
            if dt >= min_seconds:
                break
        rates.append(calls * items_per_call / dt)
    return statistics.median(rates)
