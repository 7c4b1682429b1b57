"""The lossless codec's causal pixel model: prediction and context, shared by both directions.

Two rows of each plane live in a ring of flat int32 scratch ``pl``: entry
``(p * 2 + row) * (W + 2) + x + 1`` holds pixel x of plane p in ring row
``row`` (image row y uses ring row ``(y + 1) & 1``). The row above the image
is zero; column 0 of a row is the pixel above the row's first pixel and
column W + 1 repeats the row's last pixel, so every pixel has W, N, NW and NE
neighbours. ``rs`` has the same layout and holds absolute residuals (its
padding stays zero).

The predictor is MED (LOCO-I), the median of W, N and W + N - NW. The context
of a value is ``a * 8 + level`` on plane 0 and ``min(p, 3) * 128 + a * 8 + q``
on plane p > 0, where ``a`` bins the activity
``|r_W| + |r_N| + (|r_NW| + |r_NE|) / 2 + (|W-NW| + |N-NW| + |N-NE|) / 2``
(scaled to 8 bits) into 16, ``level`` bins the prediction into 8 and ``q``
bins the previous plane's residual at the same pixel into 8, by its token
(``Q_LUT``: the bin of the token's smallest code, halved, so the next context
waits on the token alone, not on the value built from it). Planes 0..2 of
RGB(A) samples are YCoCg-R (``COLOUR_YCOCG``) or G, B - G, R - G
(``COLOUR_SUBTRACT_GREEN``), whichever the archive's fit codes smaller.

In an archive without colour (no 3- or 4-plane samples), plane 0's context
``c = a * 8 + level`` goes through the archive's map (``cmap``, fit on the
data: each fine context joins the class-0 context whose tables code it in the
fewest bits; a fine context the map does not list keeps its context) in two
stages: the pattern of W, N, NE and NW, each in four levels (``PATTERNS``:
256), makes ``c1 = cmap[pattern * 128 + c]``; the texture of W, N, NW and NE,
each below, at or above the prediction (``TEXTURES``: 81), then makes
``cmap[FINE_CONTEXTS + c1 * 81 + texture]``. An empty map leaves the contexts
as they are (colour archives). MNIST (format 8, ``tc.compress`` of 10,000
images, labels left out): 18.644% of raw with format 7's one stage over W, N
and NE in three levels, 18.304% with the first stage, 18.030% with both. The
second stage is one more lookup on the decoder's chain: the one-record decoder
15.0 -> 20.5 us an image and the lanes 3.77 -> 4.55 (min of 3 and 4 runs,
against format 7; the first stage alone cost 16.1 and 3.77, :func:`level4`).

A residual is coded as a non-negative code: zigzag (0, -1, 1, -2, ...) on
the colour transform's planes, and :func:`fold` on every other plane (its values lie in
``[0, maxv]``): zigzag while both signs are possible, then the distances on
the one side the range leaves (format 7: a prediction of 0 on MNIST's
background spent a bit on a sign it knew, MNIST 20.3 -> 19.1%). Y would fold
too, but gains 0.04 points on CIFAR and photos for 2% of the one-record
decoder's time.
"""

import numpy as np
from numba import njit

from .rans import LOSSLESS_DIRECT, token_base

__all__ = ["ACT_LUT", "COLOUR_NONE", "COLOUR_SUBTRACT_GREEN", "COLOUR_YCOCG", "CTX_PER_CLASS",
           "FINE_CONTEXTS", "LEVEL_LUT", "MAP_SIZE", "NUM_CLASSES", "PATTERNS", "Q_LUT", "RES_LUT",
           "TEXTURES", "activity", "colour_forward", "colour_inverse", "context_of",
           "fold", "level4", "med", "pad_row_end", "pad_row_start", "pattern_of", "ring_row_in",
           "texture_of",
           "unfold"]

CTX_PER_CLASS = 128
NUM_CLASSES = 4
#: an archive's colour transform of planes 0..2 (tables' ``colour``): none (no 3- or 4-plane
#: samples), YCoCg-R, or G, B - G, R - G (format 9, subtract green: CIFAR 49.36 -> 49.15% of
#: raw; the photos code 0.06 points smaller in YCoCg-R; the fit keeps whichever is smaller)
COLOUR_NONE, COLOUR_YCOCG, COLOUR_SUBTRACT_GREEN = 0, 1, 2
#: W, N, NE and NW, each 0, 1..95, 96..223 or 224..255 (their top 8 bits): plane 0's patterns
#: in an archive without colour
PATTERNS = 256
#: plane 0's fine contexts there: ``pattern * CTX_PER_CLASS + a * 8 + level``
FINE_CONTEXTS = CTX_PER_CLASS * PATTERNS
#: W, N, NW and NE each below, at or above the prediction: the map's second stage
TEXTURES = 81
#: the map's entries: FINE_CONTEXTS of the first stage, then CTX_PER_CLASS * TEXTURES of the
#: second (``context * TEXTURES + texture``)
MAP_SIZE = FINE_CONTEXTS + CTX_PER_CLASS * TEXTURES


def _lut(edges) -> np.ndarray:
    return np.searchsorted(np.asarray(edges), np.arange(256), side="right").astype(np.int32) - 1


#: activity 0..255 -> bin 0..15
ACT_LUT = _lut([0, 1, 2, 3, 4, 6, 8, 11, 15, 20, 27, 36, 50, 70, 100, 140])
#: previous plane's absolute residual 0..255 -> bin 0..7
RES_LUT = _lut([0, 1, 2, 4, 7, 12, 20, 32])
#: token of the previous plane's residual -> its bin: entry ``128 * (shift > 0) + t`` is
#: RES_LUT's bin of the token's smallest code, halved (its smallest absolute residual under
#: zigzag, at most that under :func:`fold`; shifted to 8 bits); lossless tokens
#: stay below 128 (at most 84, for 16-bit colour)
Q_LUT = np.array([RES_LUT[min((token_base(t, LOSSLESS_DIRECT)[0] + 1) >> 1 >> s, 255)]
                  for s in (0, 8) for t in range(128)], dtype=np.int32)
#: predicted level (top 8 bits) -> bin 0..7: 0, six bands, 255
LEVEL_LUT = np.array([0] + [1 + (v * 6) // 256 for v in range(1, 255)] + [7], dtype=np.int32)


@njit(cache=True, nogil=True, inline="always")
def med(w, n, nw):
    """Median edge detector: the median of W, N and W + N - NW, without branches."""
    return max(min(w, n), min(max(w, n), w + n - nw))


@njit(cache=True, nogil=True, inline="always")
def fold(r, pred, maxv):
    """The code in ``[0, maxv]`` of residual ``r`` of a value in ``[0, maxv]`` predicted as
    ``pred`` (in the same range): zigzag while ``|r|`` is at most ``k``, the prediction's
    distance to the nearer end of the range, then ``k + |r|`` (only one sign is left)."""
    k = min(pred, maxv - pred)
    a = abs(r)
    return 2 * a - (r < 0) if a <= k else k + a


@njit(cache=True, nogil=True, inline="always")
def unfold(v, pred, maxv):
    """The residual of code ``v`` (:func:`fold`'s inverse); a code above ``maxv`` gives a value
    outside the range (the decoders' range test reports it)."""
    k = min(pred, maxv - pred)
    if v <= 2 * k:
        return (v >> 1) ^ -(v & 1)
    return v - k if pred < maxv - pred else k - v


@njit(cache=True, nogil=True, inline="always")
def pattern_of(w, n, ne, nw, shift):
    """Plane 0's pattern (0..255) of W, N, NE and NW: each 0, 1..95, 96..223 or 224..255 (top 8
    bits). With a map, plane 0's context ``c`` becomes ``cmap[pattern * CTX_PER_CLASS + c]``
    (the pattern's part comes off the chain from W to the context), looked up in the kernel's
    own loop (inside an inlined function numba counted references to the map around the
    lookup: MNIST one record 10 -> 38 us)."""
    return (level4(w >> shift) << 6) | (level4(n >> shift) << 4) | (level4(ne >> shift) << 2) \
        | level4(nw >> shift)


@njit(cache=True, nogil=True, inline="always")
def texture_of(w, n, nw, ne, pred):
    """The second stage's texture (0..80) of W, N, NW and NE: each below (0), at (1) or above
    (2) the prediction, in base 3 (W the most significant)."""
    return ((_side(w, pred) * 3 + _side(n, pred)) * 3 + _side(nw, pred)) * 3 + _side(ne, pred)


@njit(cache=True, nogil=True, inline="always")
def _side(v, pred):
    return 1 + np.int64(v > pred) - np.int64(v < pred)


@njit(cache=True, nogil=True, inline="always")
def level4(v):
    """0, 1..95, 96..223 or 224..255 -> 0..3, by arithmetic (``(v + 32) >> 7`` is 0, 1 or 2
    from 96 and 224 on; ``min(v, 1)`` adds the step at 1): four vector operations in the
    lanes, where three compares took eight (MNIST lanes 4.1 -> 3.8 us an image with the first
    stage alone, as format 7's three levels of three neighbours: min of 5 runs each)."""
    return ((v + 32) >> 7) + min(v, 1)


@njit(cache=True, nogil=True, inline="always")
def context_of(p, w, n, nw, ne, rw, rn, rnw, rne, pred, prev_t, shift, act_lut, q_lut,
               level_lut):
    """Context of plane ``p``'s value, before the map of plane 0's fine contexts
    (:func:`pattern_of`), from the neighbours' values ``w``, ``n``, ``nw``, ``ne``, their
    absolute residuals ``rw``, ``rn``, ``rnw``, ``rne`` and MED's prediction ``pred``
    (``prev_t``: the token of the previous plane's residual at this pixel).

    Needs no clamps but the activity's: plane 0's values lie in ``[0, 2**bits)`` (the
    encoder's codes; the decoders store a value in the rings only once it passed its range
    test), so MED's ``pred >> shift`` is in 0..255 (and plane 0's fine context below
    ``FINE_CONTEXTS``); ``prev_t`` is a token, below 85 (the decoders' search stops at a
    table's last token)."""
    a = activity(w, n, nw, ne, rw, rn, rnw, rne, shift, act_lut) * 8
    if p == 0:
        return a + level_lut[np.uint64(pred >> shift)]
    return min(p, 3) * CTX_PER_CLASS + a + q_lut[np.uint64(((shift >> 3) << 7) + prev_t)]


@njit(cache=True, nogil=True, inline="always")
def activity(w, n, nw, ne, rw, rn, rnw, rne, shift, act_lut):
    """The activity bin (0..15) of a value from its neighbours and their absolute residuals."""
    act = (rw + rn + ((rnw + rne) >> 1) + ((abs(w - nw) + abs(n - nw) + abs(n - ne)) >> 1)) >> shift
    # unsigned indices (each is >= 0): numba then emits no negative-index wraparound
    return act_lut[np.uint64(min(act, 255))]


@njit(cache=True, nogil=True, inline="always")
def ring_row_in(x, y, colour, ring, depth, stride, pad, cur):
    """Row ``y`` of every plane of ``x`` (P, H, W) into ring row ``cur`` of an encoder's ring
    (``depth`` rows a plane of ``stride`` entries, ``pad`` columns before the first pixel):
    plane p's pixel i at ``(depth * p + cur) * stride + pad + i``, planes 0..2 through the
    colour transform ``colour`` (none: 0)."""
    nplanes, _, w = x.shape
    first = 0
    if colour:
        b0, b1 = cur * stride + pad, (depth + cur) * stride + pad
        b2 = (2 * depth + cur) * stride + pad
        for i in range(w):
            yv, co, cg = colour_forward(x[0, y, i], x[1, y, i], x[2, y, i], colour)
            ring[b0 + i] = yv
            ring[b1 + i] = co
            ring[b2 + i] = cg
        first = 3
    for p in range(first, nplanes):
        b = (depth * p + cur) * stride + pad
        for i in range(w):
            ring[b + i] = x[p, y, i]


@njit(cache=True, nogil=True, inline="always")
def pad_row_start(pl, nplanes, w2, cur, prv):
    """Column 0 of the new row takes the pixel above its first pixel."""
    for p in range(nplanes):
        pl[(2 * p + cur) * w2] = pl[(2 * p + prv) * w2 + 1]


@njit(cache=True, nogil=True, inline="always")
def pad_row_end(pl, nplanes, w2, cur):
    """The last column repeats the row's last pixel (the next row's NE there)."""
    for p in range(nplanes):
        base = (2 * p + cur) * w2
        pl[base + w2 - 1] = pl[base + w2 - 2]


@njit(cache=True, nogil=True, inline="always")
def colour_forward(r, g, b, colour):
    """Planes 0..2 of one pixel under transform ``colour``: (Y, Co, Cg) of YCoCg-R (exact in
    integers) or (G, B - G, R - G)."""
    if colour == COLOUR_SUBTRACT_GREEN:
        return g, b - g, r - g
    co = r - b
    t = b + (co >> 1)
    cg = g - t
    return t + (cg >> 1), co, cg


@njit(cache=True, nogil=True, inline="always")
def colour_inverse(yv, co, cg, colour):
    """(R, G, B) of one pixel's planes 0..2 under transform ``colour`` (for subtract green,
    ``yv, co, cg`` are G, B - G, R - G)."""
    if colour == COLOUR_SUBTRACT_GREEN:
        return cg + yv, yv, co + yv
    t = yv - (cg >> 1)
    g = cg + t
    b = t - (co >> 1)
    return b + co, g, b
