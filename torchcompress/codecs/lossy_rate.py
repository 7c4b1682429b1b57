"""Rate control for the lossy codec: fit the tables, size and code each sample's record.

ADQ's idea moved into the DCT domain: a sample's rate-distortion curve is
its bytes and squared error at each scale of ``LADDER`` near the dataset's
level, and one Lagrange multiplier (:func:`pick_scales`) picks each sample's
point so that the bytes add up to the budget. This is the greedy marginal
allocation in closed form: every sample ends where one more byte buys the
same error everywhere, so easy samples give bytes to hard ones.
:class:`FitSet` prices the fit samples' curves with the tables' entropy
(estimates, to fit the tables); :class:`BlockCoder` sizes and codes records
exactly, so the allocation meets the budget to the byte.
"""

from __future__ import annotations

import numpy as np

from ..errors import CodecError
from ._kernels.block_model import NUM_CONTEXTS
from ._kernels.lossy_encode import count_many, curves_many, sized_curve
from ._kernels.rans import LOSSY_DIRECT, token_base
from .lossy_tables import LADDER, TOKENS, LossyTables
from .lossy_transform import block_coefficients, block_counts
from .parallel import map_ranges

__all__ = ["BlockCoder", "FitSet", "fit_tables", "pick_scales"]

HEADER_BYTES = 5.5   # scale byte, final state, half a word of rounding on average
_PICK_ROWS = 1 << 16


def _extra_bits() -> np.ndarray:
    """Extra (uniform) bits each token carries."""
    return np.array([token_base(t, LOSSY_DIRECT)[1] for t in range(TOKENS)], dtype=np.float64)


_EXTRA = _extra_bits()


class BlockCoder:
    """Coefficients and records of samples, one at a time, with scratch sized for the largest.

    Args:
        samples: (P, H, W) uint8 arrays (indexable); ``dims`` (N, 3) their shapes.
        deadzone, lam: quantiser rounding offset and rate-distortion weight.
    """

    def __init__(self, samples, dims: np.ndarray, deadzone: float, lam: float):
        self.samples, self.dims = samples, dims
        self.deadzone, self.lam = deadzone, lam
        blocks = int(block_counts(dims).max())
        self.qc = np.zeros((blocks, 64), dtype=np.int64)
        self.lastc = np.zeros(blocks, dtype=np.int64)
        self.ctx = np.empty(blocks * 65, dtype=np.int32)
        self.val = np.empty(blocks * 65, dtype=np.int32)
        self.words = np.empty(3 * blocks * 65 + 2, dtype=np.int64)
        self.buf = np.empty(blocks * 65 * 8 + 64, dtype=np.uint8)

    def coefficients(self, i: int, tables: LossyTables) -> np.ndarray:
        return block_coefficients(self.samples[i], tables.mat, tables.mean)

    def sized(self, i: int, window: np.ndarray, tables: LossyTables):
        """(exact record bytes, squared error) of sample ``i`` at each scale of ``window``;
        the last scale's stream is left in ``self.buf[1:]``."""
        coef = self.coefficients(i, tables)
        p, h, w = (int(v) for v in self.dims[i])
        size = np.empty(len(window), dtype=np.int64)
        dist = np.empty(len(window))
        if not sized_curve(coef, p, (h + 7) // 8, (w + 7) // 8, tables.pcls, tables.qmul, LADDER,
                           np.ascontiguousarray(window, dtype=np.int64), self.deadzone, self.lam,
                           tables.cost, tables.freq, tables.cum, self.qc, self.lastc, self.ctx,
                           self.val, self.words, self.buf, size, dist):
            # 8 bytes per symbol hold a token and its extra bits, so this cannot happen
            raise CodecError(f"internal error: sample {i}'s stream did not fit its buffer; please "
                             "report this with the data that triggers it")
        return size, dist

    def encode(self, i: int, s: int, tables: LossyTables) -> np.ndarray:
        """The record of sample ``i`` at scale ``s``: the scale byte, then the rANS stream
        (coded by the kernel that priced :meth:`sized`, so the sizes agree)."""
        size, _ = self.sized(i, np.array([s]), tables)
        self.buf[0] = s
        return self.buf[:int(size[0])].copy()


class FitSet:
    """The fit samples' DCT coefficients in one array, counted and priced a range of samples
    per kernel call, on ``workers`` threads (the kernels hold no GIL; integer counts, so the
    sums do not depend on the split).

    Args:
        samples: (P, H, W) uint8 arrays; ``dims`` (N, 3) their shapes.
        mat, mean: the colour transform (the same for every table of the fit).
    """

    def __init__(self, samples, dims: np.ndarray, mat, mean, deadzone: float, lam: float,
                 workers: int = 1):
        self.dims = np.ascontiguousarray(dims, dtype=np.int64)
        blocks = block_counts(self.dims)
        self.block_off = np.zeros(len(blocks) + 1, dtype=np.int64)
        np.cumsum(blocks, out=self.block_off[1:])
        self.coef = np.concatenate([block_coefficients(s, mat, mean) for s in samples])
        self.deadzone, self.lam, self.workers = deadzone, lam, workers
        self._blocks = int(blocks.max())

    def __len__(self) -> int:
        return len(self.dims)

    def _scratch(self) -> tuple:
        b = self._blocks
        return (np.zeros((b, 64), dtype=np.int64), np.zeros(b, dtype=np.int64),
                np.empty(b * 65, dtype=np.int32), np.empty(b * 65, dtype=np.int32))

    def _map(self, fn) -> list:
        n = len(self)
        return map_ranges(fn, n, self.workers)

    def count(self, scales: np.ndarray, tables: LossyTables, lam: float) -> np.ndarray:
        """Token counts of every sample at ``scales`` (N,)."""
        scales = np.ascontiguousarray(scales, dtype=np.int64)

        def count_range(a: int, b: int) -> np.ndarray:
            counts = np.zeros((tables.freq.shape[0], TOKENS), dtype=np.int64)
            count_many(self.coef, self.block_off[a:b + 1], self.dims[a:b], scales[a:b],
                       tables.pcls, tables.qmul, LADDER, self.deadzone, lam, tables.cost,
                       *self._scratch(), counts)
            return counts

        return sum(self._map(count_range))

    def curves(self, window: np.ndarray, tables: LossyTables) -> tuple[np.ndarray, np.ndarray]:
        """(N, len(window)) estimated bytes and squared errors of every sample at each scale."""
        window = np.ascontiguousarray(window, dtype=np.int64)
        rate = np.empty((len(self), len(window)))
        dist = np.empty((len(self), len(window)))

        def price_range(a: int, b: int) -> None:
            curves_many(self.coef, self.block_off[a:b + 1], self.dims[a:b], tables.pcls,
                        tables.qmul, LADDER, window, self.deadzone, self.lam, tables.cost,
                        *self._scratch(), rate[a:b], dist[a:b])

        self._map(price_range)
        return rate / 8 + HEADER_BYTES, dist


def entropy_bytes(counts: np.ndarray) -> float:
    """Bytes an adaptive-optimal coder needs for these token counts (extra bits included)."""
    c = counts.astype(np.float64)
    tot = c.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        bits = np.where(c > 0, c * np.log2(np.where(c > 0, tot / np.maximum(c, 1), 1)), 0).sum()
    return float(bits + (c * _EXTRA[None, :]).sum()) / 8


def pick_scales(rate: np.ndarray, dist: np.ndarray, budget: float) -> np.ndarray:
    """Column per row (int16) minimising ``dist + lam * rate`` with the largest-quality ``lam``
    whose total rate fits ``budget`` (the coarsest column when nothing fits). Rows go in
    blocks, so the temporaries stay small however many rows there are."""
    n = rate.shape[0]

    def choose(lam):
        j = np.empty(n, dtype=np.int16)
        total = 0.0  # float64: integer byte counts add up exactly
        for a in range(0, n, _PICK_ROWS):
            r = rate[a:a + _PICK_ROWS]
            c = np.argmin(dist[a:a + _PICK_ROWS] + lam * r, axis=1)
            j[a:a + len(c)] = c
            total += np.take_along_axis(r, c[:, None], axis=1).sum(dtype=np.float64)
        return j, total

    lo, hi = 0.0, 1.0
    j, total = choose(hi)
    while total > budget and hi < 1e30:
        hi *= 4.0
        j, total = choose(hi)
    if total > budget:
        return np.full(n, rate.shape[1] - 1, dtype=np.int16)
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        jm, tm = choose(mid)
        if tm <= budget:
            hi, j = mid, jm
        else:
            lo = mid
    return j


def fit_tables(fit: FitSet, budget: float, qmul, mat, mean) -> tuple[LossyTables, np.ndarray]:
    """Tables for the fit samples sharing ``budget`` bytes of records, and the quantiser scale
    each of them picks.

    The samples' level is the scale at which they just fit the budget at their
    empirical entropy; tables are fit there, every sample is priced at every
    other scale of a window around it, scales are picked with one Lagrange
    multiplier, and the tables are refit on the samples at their picks.
    """
    n = len(fit)
    plain = LossyTables.fit(np.zeros((NUM_CONTEXTS, TOKENS), dtype=np.int64), qmul, mat, mean)
    lo, hi = 0, len(LADDER) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        counts = fit.count(np.full(n, mid), plain, 0.0)
        if entropy_bytes(counts) + HEADER_BYTES * n <= budget:
            hi = mid
        else:
            lo = mid + 1
    tables = LossyTables.fit(fit.count(np.full(n, lo), plain, 0.0), qmul, mat, mean)
    # where the picks fall on real data, every other scale
    window = np.arange(max(0, lo - 8), min(len(LADDER) - 1, lo + 5) + 1, 2)
    rate, dist = fit.curves(window, tables)
    picked = window[pick_scales(rate, dist, budget)]
    counts = fit.count(picked, tables, fit.lam)
    return LossyTables.fit(counts, qmul, mat, mean), picked
