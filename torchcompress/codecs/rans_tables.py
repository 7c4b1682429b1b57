"""The rANS tables of the lossless and lossy codecs: token counts -> 12-bit frequencies, their
stored form (a byte per token), and the decoders' lookup arrays, one record at a time and in
lanes (packed slot buckets)."""

from __future__ import annotations

from functools import cached_property

import numpy as np

from ._kernels import readonly
from ._kernels.lane_coder import (PACKED_LO_BITS, PACKED_SHIFTS, PACKED_TOKEN_BITS,
                                 WIDE_BITS, WIDE_SHIFTS)
from ._kernels.pixel_model import CTX_PER_CLASS
from ._kernels.rans import COARSE_SHIFT, PROB_SCALE

__all__ = ["LOG_STEPS", "LaneTables", "SMALL_BUCKETS_BYTES", "bucket_shift", "lane_buckets",
           "normalize_counts", "pack_freq", "packed_buckets", "rans_lookup", "slot_buckets",
           "unpack_freq", "wide_buckets", "window_tokens"]

#: a packed frequency is the byte round(LOG_STEPS * log2(f))
LOG_STEPS = 16
#: stored byte -> integer weight 1024 * 2**(q / 16); integers, so that the reader's normalisation
#: is exact float arithmetic and every machine rebuilds the same frequencies
_WEIGHTS = np.rint(1024.0 * np.exp2(np.arange(256) / LOG_STEPS)).astype(np.float64)


def normalize_counts(counts: np.ndarray, group: int = CTX_PER_CLASS) -> np.ndarray:
    """(contexts, T) int64 counts -> uint16 frequencies, each >= 1, summing to 4096 per row.

    Seen tokens get their share rounded; unseen ones the minimum of 1, since
    any token can occur in a sample the fit did not see. An empty context
    takes the pooled counts of its ``group`` of contexts (or a uniform row).
    """
    counts = np.asarray(counts, dtype=np.float64).copy()
    ctx, t = counts.shape
    pooled = counts.reshape(-1, group, t).sum(axis=1)
    for k in np.flatnonzero(counts.sum(axis=1) == 0):
        counts[k] = pooled[k // group]
    counts[counts.sum(axis=1) == 0] = 1.0
    freq = np.maximum(1, np.rint(counts * (PROB_SCALE / counts.sum(axis=1, keepdims=True))))
    return _settle(freq.astype(np.int64)).astype(np.uint16)


def _settle(freq: np.ndarray) -> np.ndarray:
    """Move each row's rounding surplus or deficit onto its largest entries, one unit per entry
    in turn (largest first, ties by position, round and round), never below 1; computed per
    row in closed form (the test checks it against that loop)."""
    ctx, t = freq.shape
    diff = PROB_SCALE - freq.sum(axis=1)
    order = np.argsort(-freq, axis=1, kind="stable")
    ranked = np.take_along_axis(freq, order, axis=1)  # each row descending
    rank = np.arange(t)
    # a surplus: the entry of rank k gets one unit per round that reaches it
    up = np.maximum(0, (diff[:, None] - rank + t - 1) // t)
    # a deficit d: r full rounds take min(r, f - 1) from each entry; r is the most rounds
    # whose total stays <= d, and the rest comes off the first entries still above 1
    room = ranked - 1
    asc = room[:, ::-1]
    before = np.zeros((ctx, t + 1), dtype=np.int64)
    np.cumsum(asc, axis=1, out=before[:, 1:])
    floor = np.concatenate([np.zeros((ctx, 1), dtype=np.int64), asc[:, :-1]], axis=1)
    d = np.maximum(0, -diff)
    seg = (before[:, :t] + floor * (t - rank) <= d[:, None]).sum(axis=1) - 1
    rounds = (d - before[np.arange(ctx), seg]) // (t - seg)
    taken = np.minimum(rounds[:, None], room)
    down = taken + (rank < (d - taken.sum(axis=1))[:, None])
    np.put_along_axis(freq, order, ranked + up - down, axis=1)
    return freq


def pack_freq(freq: np.ndarray, seen: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(contexts, T) 12-bit frequencies in their stored form: per context, how many leading
    tokens are stored (up to its last token above the minimum of 1; 0 for a context the fit
    never saw, ``seen`` False) and each one's byte ``round(16 * log2(f))``. About a third of
    the bytes of the uint16 rows (CIFAR: a 30,880-byte tables file becomes 9,819)."""
    used = freq > 1
    lens = np.where(used.any(axis=1), freq.shape[1] - np.argmax(used[:, ::-1], axis=1), 0)
    lens = np.where(seen, np.maximum(lens, 1), 0)
    logs = np.rint(LOG_STEPS * np.log2(freq.astype(np.float64))).astype(np.uint8)
    parts = [logs[c, :n] for c, n in enumerate(lens)]
    return lens.astype(np.uint8), np.concatenate(parts) if parts else np.zeros(0, np.uint8)


def unpack_freq(lens: np.ndarray, logf: np.ndarray, tokens: int, group: int) -> np.ndarray:
    """(contexts, ``tokens``) 12-bit frequencies from :func:`pack_freq`'s form (the caller has
    checked that ``logf`` holds ``sum(lens)`` bytes): weights ``1024 * 2**(b / 16)``, the
    minimum for unstored tokens, normalised as :func:`normalize_counts` does. A context never
    seen takes the pooled frequencies of the seen ones in its ``group`` of contexts (all
    contexts' where its group saw none)."""
    f = np.full((len(lens), tokens), _WEIGHTS[0])
    pos = 0
    for c, n in enumerate(lens.astype(np.int64)):
        f[c, :n] = _WEIGHTS[logf[pos:pos + n]]
        pos += n
    freq = normalize_counts(f, group=len(lens))
    seen = lens > 0
    if seen.any() and not seen.all():
        rows = freq.astype(np.float64) * seen[:, None]
        everyone = rows.sum(axis=0)
        for g in range(0, len(lens), group):
            if seen[g:g + group].all():
                continue
            pool = rows[g:g + group].sum(axis=0) if seen[g:g + group].any() else everyone
            pooled = normalize_counts(pool[None], group=1)
            freq[g:g + group][~seen[g:g + group]] = pooled[0]
    return freq


def rans_lookup(freq: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The decoder's arrays for (contexts, T) uint16 frequencies: (contexts, T + 1) uint16
    cumulative frequencies and the slot-bucket -> first token table, (contexts * 256,) uint8
    flat (context ``c``'s row at ``c << 8``: a shift, not a multiply, on the decoders' chain
    from context to token)."""
    f = freq.astype(np.int64)
    cum = np.zeros((f.shape[0], f.shape[1] + 1), dtype=np.int64)
    np.cumsum(f, axis=1, out=cum[:, 1:])
    return cum.astype(np.uint16), slot_buckets(cum, COARSE_SHIFT).reshape(-1)  # cache-small


#: narrow buckets of 4 slots (4 KB a context) up to this many bytes, else wide ones of 32 slots
#: (2 KB a context, ``lane_coder.WIDE_SHIFTS``). With the L2 cold, as the bench and a training
#: loop leave it, a table past the AMD host's 1 MB L2 read faster at half the size (CIFAR's 384
#: contexts in 8-slot narrow buckets, least squares x0.90-1.005, median x0.96), and wide
#: 32-slot buckets at a quarter of it faster again (x0.83-0.89 against 8-slot narrow ones);
#: MNIST's 128 contexts (512 KB) read x1.03-1.14 wide, at any bucket size
SMALL_BUCKETS_BYTES = 512 << 10


def bucket_shift(contexts: int) -> int:
    """The lanes' bucket shift for ``contexts`` contexts: narrow 4-slot buckets for small
    tables, wide 32-slot ones past ``SMALL_BUCKETS_BYTES`` (:func:`lane_buckets`)."""
    small, wide = PACKED_SHIFTS[0], WIDE_SHIFTS[-1]
    return small if contexts * (PROB_SCALE >> small) * 4 <= SMALL_BUCKETS_BYTES else wide


def lane_buckets(cum: np.ndarray, shift: int) -> np.ndarray:
    """The lanes' buckets of (contexts, T + 1) cumulative frequencies: narrow
    (:func:`packed_buckets`) for a shift in ``PACKED_SHIFTS``, wide (:func:`wide_buckets`) for
    one in ``WIDE_SHIFTS``; the lanes tell them apart by the shift, the table's last word."""
    return (wide_buckets if shift in WIDE_SHIFTS else packed_buckets)(cum, shift)


class LaneTables:
    """The lane decoders' flat tables of ``self.cum`` ((contexts, T + 1) cumulative
    frequencies), built when a lane decoder first asks for them: the encoder's and the fit's
    tables never do (the buckets take 2 or 4 KB a context)."""

    @cached_property
    def lane_coarse(self) -> np.ndarray:
        """The lanes' slot buckets (:func:`lane_buckets`), flat and read-only."""
        return readonly(lane_buckets(self.cum, bucket_shift(self.cum.shape[0])))

    @cached_property
    def cum_bytes(self) -> np.ndarray:
        """The cumulative frequencies as bytes (the lanes gather two at a time), read-only."""
        return readonly(np.ascontiguousarray(self.cum).reshape(-1).view(np.uint8))


def packed_buckets(cum: np.ndarray, shift: int) -> np.ndarray:
    """(contexts * (4096 >> shift) + 1,) int32: for each ``2**shift``-slot bucket of each
    context, the token that covers most of the bucket's slots (:func:`window_tokens` of width
    1), the cumulative frequency below it and the one above it in one word (``lane_coder``'s
    PACKED_* layout), then ``shift`` (the lanes read it from there), for (contexts, T + 1)
    cumulative frequencies of at most ``2**PACKED_TOKEN_BITS`` tokens. Built a block of
    contexts at a time, so its scratch stays small beside the table. Against the bucket's
    first token, the majority token takes CIFAR's least-squares lanes (8-slot buckets) from 31%
    to 20% of plane steps through ``cum``: kernel time x0.93, MED x0.966, MNIST x0.99 (paired
    in-process runs, bit-exact)."""
    _check(cum, shift, PACKED_SHIFTS, "packed")
    per = PROB_SCALE >> shift
    flat = np.empty(cum.shape[0] * per + 1, dtype=np.uint32)
    out = flat[:-1].reshape(cum.shape[0], per)
    for a in range(0, cum.shape[0], 16):
        c = cum[a:a + 16].astype(np.int64)
        out[a:a + 16] = _narrow_entries(c, window_tokens(c, shift, 1))
    flat[-1] = shift
    return flat.view(np.int32)


def wide_buckets(cum: np.ndarray, shift: int) -> np.ndarray:
    """(contexts * (4096 >> shift) * 2 + 1,) int32: for each ``2**shift``-slot bucket of each
    context two words, the first of the three consecutive tokens that cover most of it
    (:func:`window_tokens`) in a narrow entry (:func:`packed_buckets`), then the cumulative
    frequencies above the next two tokens (``WIDE_BITS`` each; 4096 past the last token), then
    ``shift``. A lane picks its token of the three with two compares."""
    _check(cum, shift, WIDE_SHIFTS, "wide")
    per, tokens = PROB_SCALE >> shift, cum.shape[1] - 1
    flat = np.empty(cum.shape[0] * per * 2 + 1, dtype=np.uint32)
    out = flat[:-1].reshape(cum.shape[0], per, 2)
    for a in range(0, cum.shape[0], 64):
        c = cum[a:a + 64].astype(np.int64)
        w = window_tokens(c, shift, 3)
        rows = np.arange(len(c))[:, None]
        out[a:a + 64, :, 0] = _narrow_entries(c, w)
        out[a:a + 64, :, 1] = (c[rows, np.minimum(w + 2, tokens)]
                               | (c[rows, np.minimum(w + 3, tokens)] << WIDE_BITS))
    flat[-1] = shift
    return flat.view(np.int32)


def _check(cum: np.ndarray, shift: int, shifts: tuple, form: str) -> None:
    if cum.shape[1] - 1 > 1 << PACKED_TOKEN_BITS:
        raise ValueError(f"{form} buckets hold tokens below {1 << PACKED_TOKEN_BITS}, "
                         f"but the tables have {cum.shape[1] - 1}")
    if shift not in shifts:
        raise ValueError(f"{form} buckets have a shift in {shifts}, but got {shift}")


def _narrow_entries(cum: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Narrow entries (``lane_coder``'s PACKED_* layout) of tokens ``t`` (contexts, buckets)
    of (contexts, T + 1) int64 cumulative frequencies: the token, then its two bounds."""
    rows = np.arange(len(cum))[:, None]
    return (t | (cum[rows, t] << PACKED_TOKEN_BITS)
            | (cum[rows, t + 1] << (PACKED_TOKEN_BITS + PACKED_LO_BITS)))


def window_tokens(cum: np.ndarray, shift: int, width: int) -> np.ndarray:
    """(contexts, 4096 >> shift) intp: for each ``2**shift``-slot bucket of (contexts, T + 1)
    int64 cumulative frequencies, the first of the ``width`` consecutive tokens that cover most
    of its slots (the earliest of a tie, among windows starting at one of its tokens; near the
    last token, fewer than ``width``). Width 1 is the bucket's majority token."""
    size, tokens = 1 << shift, cum.shape[1] - 1
    start = np.arange(PROB_SCALE >> shift, dtype=np.int64) << shift
    rows = np.arange(len(cum))[:, None]
    best = first = slot_buckets(cum, shift).astype(np.intp)
    last = np.stack([np.searchsorted(c, start + size - 1, side="right") - 1 for c in cum])
    cover = np.full(first.shape, -1, np.int64)
    for k in range(int((last - first).max()) + 1):  # windows from each token in the bucket
        w = np.minimum(first + k, tokens - 1)
        lo = cum[rows, w]
        c = np.where(lo < start + size,
                     np.minimum(cum[rows, np.minimum(w + width, tokens)], start + size)
                     - np.maximum(lo, start), -1)
        better = c > cover
        best, cover = np.where(better, w, best), np.where(better, c, cover)
    return best


def slot_buckets(cum: np.ndarray, shift: int) -> np.ndarray:
    """(contexts, 4096 >> shift) uint8: the token at the start of each ``2**shift``-slot bucket
    of (contexts, T + 1) cumulative frequencies."""
    slots = np.arange(PROB_SCALE >> shift, dtype=np.int64) << shift
    return np.stack([np.searchsorted(c, slots, side="right") - 1
                     for c in cum.astype(np.int64)]).astype(np.uint8)
