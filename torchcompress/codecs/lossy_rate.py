"""Rate control for the lossy codec: fit the tables, then give each sample its quantiser scale.

ADQ's idea moved into the DCT domain: every sample's rate-distortion curve
(bytes and squared error at each scale of ``LADDER`` near the dataset's
level) is priced with the dataset tables, and one Lagrange multiplier picks
each sample's point so that the bytes add up to the budget. This is the
greedy marginal allocation in closed form: every sample ends where one more
byte buys the same error everywhere, so easy samples give bytes to hard ones.
The real streams are then coded and the budget enforced exactly.
"""

from __future__ import annotations

import numpy as np

from ..errors import CodecError

from ._kernels.block_model import NUM_CONTEXTS
from ._kernels.lossless_encode import count_tokens
from ._kernels.lossy_encode import curve_blocks, model_blocks, sized_curve
from ._kernels.rans import token_base
from .lossy_tables import LADDER, TOKENS, LossyTables
from .lossy_transform import block_coefficients
from .parallel import map_ranges

__all__ = ["BlockCoder", "fit_tables", "pick_scales"]

HEADER_BYTES = 5.5   # scale byte, final state, half a word of rounding on average
_CACHE_BYTES = 256 << 20
_PICK_ROWS = 1 << 16
def _extra_bits() -> np.ndarray:
    """Extra (uniform) bits each token carries."""
    return np.array([token_base(t)[1] for t in range(TOKENS)], dtype=np.float64)


_EXTRA = _extra_bits()


class BlockCoder:
    """Coefficients, symbols and streams of samples, with scratch sized for the largest.

    Args:
        samples: (P, H, W) uint8 arrays (indexable); ``dims`` (N, 3) their shapes.
        deadzone, lam: quantiser rounding offset and rate-distortion weight.
    """

    def __init__(self, samples, dims: np.ndarray, deadzone: float, lam: float, *,
                 cache_bytes: int = _CACHE_BYTES):
        self.samples, self.dims, self.cache_bytes = samples, dims, cache_bytes
        self.deadzone, self.lam = deadzone, lam
        blocks = int((dims[:, 0] * ((dims[:, 1] + 7) // 8) * ((dims[:, 2] + 7) // 8)).max())
        self.qc = np.zeros((blocks, 64), dtype=np.int64)
        self.lastc = np.zeros(blocks, dtype=np.int64)
        self.ctx = np.empty(blocks * 65, dtype=np.int32)
        self.val = np.empty(blocks * 65, dtype=np.int32)
        self.words = np.empty(3 * blocks * 65 + 2, dtype=np.int64)
        self.buf = np.empty(blocks * 65 * 8 + 64, dtype=np.uint8)
        self._cache: dict[int, np.ndarray] = {}
        self._cached_bytes = 0
        self.workers = 1

    def fork(self) -> "BlockCoder":
        """A coder with its own scratch, sharing the samples and the coefficient cache (for a
        worker thread)."""
        other = BlockCoder.__new__(BlockCoder)
        other.__dict__.update(self.__dict__)
        for name in ("qc", "lastc", "ctx", "val", "words", "buf"):
            setattr(other, name, np.empty_like(getattr(self, name)))
        other.qc[:] = 0
        other.lastc[:] = 0
        return other

    def coefficients(self, i: int, tables: LossyTables) -> np.ndarray:
        """Sample ``i``'s coefficients; the first ``cache_bytes`` worth stay cached (the fit
        samples are priced many times)."""
        coef = self._cache.get(i)
        if coef is None:
            coef = block_coefficients(self.samples[i], tables.mat, tables.mean)
            if self._cached_bytes + coef.nbytes <= self.cache_bytes:
                self._cache[i] = coef
                self._cached_bytes += coef.nbytes
        return coef

    def symbols(self, i: int, coef: np.ndarray, s: int, tables: LossyTables, lam: float):
        """(number of symbols, squared error) of sample ``i`` at scale ``s``."""
        p, h, w = (int(v) for v in self.dims[i])
        steps = LADDER[s] * tables.qmul[:p]
        return model_blocks(coef, p, (h + 7) // 8, (w + 7) // 8, tables.pcls, steps,
                            (1.0 / steps).astype(np.float32), self.deadzone, lam, tables.cost, self.qc, self.lastc, self.ctx, self.val)

    def count(self, idx, scales, tables: LossyTables, lam: float) -> np.ndarray:
        """Token counts of samples ``idx`` at ``scales``."""
        counts = np.zeros((tables.freq.shape[0], TOKENS), dtype=np.int64)
        for i, s in zip(idx, scales):
            k, _ = self.symbols(int(i), self.coefficients(int(i), tables), int(s), tables, lam)
            count_tokens(self.ctx, self.val, k, counts)
        return counts

    def curves(self, window: np.ndarray, tables: LossyTables) -> tuple[np.ndarray, np.ndarray]:
        """(N, len(window)) estimated bytes and squared errors of every sample at each scale."""
        n = len(self.dims)
        rate = np.empty((n, len(window)))
        dist = np.empty((n, len(window)))
        window = np.ascontiguousarray(window, dtype=np.int64)

        def price_range(a: int, b: int) -> None:
            me = self.fork() if self.workers > 1 else self
            for i in range(a, b):
                p, h, w = (int(v) for v in me.dims[i])
                curve_blocks(me.coefficients(i, tables), p, (h + 7) // 8, (w + 7) // 8, tables.pcls,
                             tables.qmul, LADDER, window, me.deadzone, me.lam, tables.cost, me.qc,
                             me.lastc, me.ctx, me.val, rate[i], dist[i])

        map_ranges(price_range, n, self.workers)
        rate = rate / 8 + HEADER_BYTES
        return rate, dist

    def sized(self, i: int, window: np.ndarray, tables: LossyTables, coef=None):
        """(exact record bytes, squared error) of sample ``i`` at each scale of ``window``;
        the last scale's stream is left in ``self.buf[1:]``."""
        coef = self.coefficients(i, tables) if coef is None else coef
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

    def encode(self, i: int, s: int, tables: LossyTables, coef=None) -> np.ndarray:
        """The record of sample ``i`` at scale ``s``: the scale byte, then the rANS stream
        (coded by the kernel that priced :meth:`sized`, so the sizes agree)."""
        size, _ = self.sized(i, np.array([s]), tables, coef)
        self.buf[0] = s
        return self.buf[:int(size[0])].copy()


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


def fit_tables(coder: BlockCoder, budget: float, qmul, mat, mean) -> tuple[LossyTables, np.ndarray]:
    """Tables for the samples of ``coder`` (the fit samples) sharing ``budget`` bytes of records,
    and the quantiser scale each of them picks.

    The samples' level is the scale at which they just fit the budget at their
    empirical entropy; tables are fit there, every sample is priced at every
    other scale of a window around it, scales are picked with one Lagrange
    multiplier, and the tables are refit on the samples at their picks.
    """
    fit = np.arange(len(coder.dims))
    plain = LossyTables.fit(np.zeros((NUM_CONTEXTS, TOKENS), dtype=np.int64), qmul, mat, mean)
    lo, hi = 0, len(LADDER) - 1
    while lo < hi:
        mid = (lo + hi) // 2
        counts = coder.count(fit, np.full(len(fit), mid), plain, 0.0)
        if entropy_bytes(counts) + HEADER_BYTES * len(fit) <= budget:
            hi = mid
        else:
            lo = mid + 1
    tables = LossyTables.fit(coder.count(fit, np.full(len(fit), lo), plain, 0.0), qmul, mat, mean)
    # where the picks fall on real data, every other scale
    window = np.arange(max(0, lo - 8), min(len(LADDER) - 1, lo + 5) + 1, 2)
    rate, dist = coder.curves(window, tables)
    picked = window[pick_scales(rate, dist, budget)]
    counts = coder.count(fit, picked, tables, coder.lam)
    return LossyTables.fit(counts, qmul, mat, mean), picked
