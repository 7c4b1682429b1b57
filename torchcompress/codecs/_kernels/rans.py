"""rANS primitives and the hybrid integer tokens shared by the lossless encoder and decoder.

The coder keeps a 32-bit state in ``[2**16, 2**32)``, renormalises by 16-bit
words and codes symbols with 12-bit frequencies (they sum to 4096 per
context). A stream is the final encoder state (4 bytes, little-endian) and
then the words in the order the decoder reads them; the decoder ends where it
started, in state ``RANS_L``, which doubles as an integrity check.

Values are coded as hybrid tokens: ``v < 16`` is its own token; larger values
send their exponent and the two bits below the leading one as the token, and
the remaining ``e - 2`` low bits uniformly (through the same state, in chunks
of at most 8 bits).
"""

import numpy as np
from numba import njit

__all__ = ["COARSE_SHIFT", "EXTRA_CHUNK", "PROB_BITS", "PROB_SCALE", "RANS_L", "get_code",
           "num_tokens", "put_symbol", "read_state", "token_of", "token_base"]

PROB_BITS = 12
COARSE_SHIFT = 4  # the decoder's slot -> token table has 16-slot buckets
PROB_SCALE = 1 << PROB_BITS
RANS_L = 1 << 16
EXTRA_CHUNK = 8
_DIRECT = 16


def num_tokens(max_value: int) -> int:
    """Tokens needed for values in ``[0, max_value]``."""
    if max_value < _DIRECT:
        return _DIRECT
    e = int(max_value).bit_length() - 1
    return _DIRECT + (e - 3) * 4


@njit(cache=True, nogil=True, inline="always")
def token_of(v):
    """(token, number of extra bits) of value ``v >= 0``."""
    if v < _DIRECT:
        return v, 0
    e = 0
    t = v
    while t > 1:
        t >>= 1
        e += 1
    m = (v >> (e - 2)) & 3
    return _DIRECT + (e - 4) * 4 + m, e - 2


@njit(cache=True, nogil=True, inline="always")
def token_base(tok):
    """(value with its extra bits zero, number of extra bits) of token ``tok``."""
    if tok < _DIRECT:
        return tok, 0
    e = 4 + ((tok - _DIRECT) >> 2)
    m = (tok - _DIRECT) & 3
    return (4 | m) << (e - 2), e - 2


@njit(cache=True, nogil=True, inline="always")
def read_state(rec, s):
    """The stream's opening state: the 4 bytes at ``rec[s]``, little-endian (the caller keeps
    them inside the record)."""
    return (np.int64(rec[s]) | (np.int64(rec[s + 1]) << 8) | (np.int64(rec[s + 2]) << 16)
            | (np.int64(rec[s + 3]) << 24))


@njit(cache=True, nogil=True, inline="always")
def put_symbol(x, f, c, words, nw):
    """Encode one symbol of frequency ``f`` and cumulative ``c``; words go to ``words[nw]``.

    Returns the new (state, word count)."""
    if x >= (f << (32 - PROB_BITS)):
        words[nw] = x & 0xFFFF
        nw += 1
        x >>= 16
    return ((x // f) << PROB_BITS) + (x % f) + c, nw


@njit(cache=True, nogil=True, inline="always")
def get_code(rec, pos, end, x, c, cum, coarse):
    """Decode one hybrid-token value in context ``c`` from the stream ``rec[:end]`` (``coarse``:
    the flat slot-bucket table of ``lossless_tables.rans_lookup``).

    Returns (value, state, position); the position is past ``end`` when the
    stream ran out (the caller reports it). ``rec[end - 2 : end]`` must lie
    inside the record (its stream opens with the 4-byte state). Mirrors ``put_symbol`` and the
    token layout of :func:`token_of`.
    """
    mask = PROB_SCALE - 1
    slot = x & mask
    # unsigned indices (every one is >= 0): numba then emits no negative-index wraparound,
    # and LLVM reads the word below as one 16-bit load (lossy decode x0.94-0.95, paired runs)
    cu = np.uint64(c)
    t = np.uint64(coarse[(cu << np.uint64(PROB_BITS - COARSE_SHIFT)) + np.uint64(slot >> COARSE_SHIFT)])
    hi = np.int64(cum[cu, t + np.uint64(1)])
    while slot >= hi:
        t += np.uint64(1)
        hi = np.int64(cum[cu, t + np.uint64(1)])
    lo = np.int64(cum[cu, t])
    # the frequency is the difference of the cumulative entries already loaded: one table
    # load fewer per symbol (measured 1.5-3.5% off the lossy decode)
    x = (hi - lo) * (x >> PROB_BITS) + slot - lo
    # one word always suffices; read it without a branch (``end - 2`` is inside the record,
    # whose stream starts with a 4-byte state) and let the caller see ``pos > end``
    need = x < RANS_L
    q = np.uint64(min(pos, end - 2))
    word = np.int64(rec[q]) | (np.int64(rec[q + np.uint64(1)]) << 8)
    x = (x << 16) | word if need else x
    pos += 2 * need
    v, ne = token_base(np.int64(t))
    while ne > 0:
        nb = min(ne, EXTRA_CHUNK)
        f = 1 << (PROB_BITS - nb)
        slot = x & mask
        x = f * (x >> PROB_BITS) + (slot & (f - 1))
        if x < RANS_L:
            if pos + 2 > end:
                return 0, x, end + 1
            x = (x << 16) | np.int64(rec[pos]) | (np.int64(rec[pos + 1]) << 8)
            pos += 2
        ne -= nb
        v |= (slot >> (PROB_BITS - nb)) << ne
    return v, x, pos
