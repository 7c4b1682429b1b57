"""Decode-throughput measurement shared by the demo and the benchmarks."""

from __future__ import annotations

import statistics
import time
from typing import Callable

__all__ = ["median_rate", "median_rates", "paired_ratios", "paired_rates", "paired_runs"]


def median_rate(fn: Callable[[], object], items_per_call: int, *, repeats: int = 5,
                min_seconds: float = 0.05) -> float:
    """Median items/s of ``fn`` over ``repeats`` runs, each looped for ``min_seconds``."""
    fn()  # warm up (JIT, page cache)
    return statistics.median(_rate(fn, items_per_call, min_seconds) for _ in range(repeats))


def paired_rates(fns: list, items_per_call: int, *, repeats: int = 5,
                 min_seconds: float = 0.05) -> tuple[list, list]:
    """Median items/s of each of ``fns``, timed in turn within each repeat, and the median
    ratio of each to the first: a machine that slows down mid-run slows all of them."""
    runs = paired_runs(fns, items_per_call, repeats=repeats, min_seconds=min_seconds)
    return median_rates(runs), paired_ratios(runs, 0)


def paired_runs(fns: list, items_per_call: int, *, repeats: int = 5,
                min_seconds: float = 0.05) -> list:
    """``repeats`` lists of items/s, one per fn, each timed in turn (after one warm-up call)."""
    for fn in fns:
        fn()
    return [[_rate(fn, items_per_call, min_seconds) for fn in fns] for _ in range(repeats)]


def median_rates(runs: list) -> list:
    """The median over ``runs`` of each fn's items/s."""
    return [statistics.median(r[k] for r in runs) for k in range(len(runs[0]))]


def paired_ratios(runs: list, base: int) -> list:
    """The median over ``runs`` of each fn's rate divided by fn ``base``'s in the same run."""
    return [statistics.median(r[k] / r[base] for r in runs) for k in range(len(runs[0]))]


def _rate(fn: Callable[[], object], items_per_call: int, min_seconds: float) -> float:
    calls, t0 = 0, time.perf_counter()
    while True:
        fn()
        calls += 1
        dt = time.perf_counter() - t0
        if dt >= min_seconds:
            return calls * items_per_call / dt
