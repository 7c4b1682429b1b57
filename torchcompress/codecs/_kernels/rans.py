"""rANS primitives and the hybrid integer tokens shared by the lossless encoder and decoder.

The coder keeps a 32-bit state in ``[2**16, 2**32)`` between symbols (a
lossless stream's lies below ``2**16`` until its encoder's first word),
renormalises by 16-bit words and codes symbols with 12-bit frequencies (they
sum to 4096 per context). A stream is the final encoder state (little-endian) and then the
words in the order the decoder reads them; the decoder ends where the encoder
started, which doubles as an integrity check. The lossy codec's streams start
in state ``RANS_L`` and store 4 bytes of state. The lossless codec's (format 6)
start in state ``LOSSLESS_START`` = 1, since a state that starts at ``2**16``
carries 16 bits that say nothing (2 bytes a record, MNIST 0.26 points), and
store 3 bytes of state where it fits them (an odd stream length says so): its
decoder reads a word only while the record has one, because its states sit
below ``2**16`` until the encoder's first word.

Values are coded as hybrid tokens: ``v < 2**d`` is its own token; larger values
send their exponent and the two bits below the leading one as the token, and
the remaining ``e - 2`` low bits uniformly (through the same state, in chunks
of at most 8 bits). The lossy codec's tokens have ``d = 4`` (``LOSSY_DIRECT``),
the lossless codec's ``d = 5`` (``LOSSLESS_DIRECT``, format 5; 4 before).
"""

import numpy as np
from numba import njit

__all__ = ["COARSE_SHIFT", "EXTRA_CHUNK", "LOSSLESS_DIRECT", "LOSSLESS_START", "LOSSY_DIRECT",
           "PROB_BITS", "PROB_SCALE", "RANS_L", "floor_log2", "get_code", "get_token0",
           "num_tokens", "open_lossless", "put_symbol", "read_state", "state_bytes", "token_of",
           "token_base"]

PROB_BITS = 12
COARSE_SHIFT = 4  # the decoder's slot -> token table has 16-slot buckets
PROB_SCALE = 1 << PROB_BITS
RANS_L = 1 << 16
#: the lossless codec's start state (format 6; ``RANS_L`` before)
LOSSLESS_START = 1
EXTRA_CHUNK = 8
#: values below ``2**d`` are their own token: ``d`` of the lossy codec's tokens
LOSSY_DIRECT = 4
#: and of the lossless codec's: 32 direct tokens leave 7.8% of CIFAR's values with extra bits
#: instead of 17.5%, a branch the one-record decoder mispredicts (one record x0.92, archive
#: +0.03 points: the tables grow by 3.6 KB, the payload shrinks by 0.9 KB)
LOSSLESS_DIRECT = 5


def num_tokens(max_value: int, direct: int) -> int:
    """Tokens needed for values in ``[0, max_value]``, values below ``2**direct`` direct."""
    if max_value < 1 << direct:
        return 1 << direct
    e = int(max_value).bit_length() - 1
    return (1 << direct) + (e - direct + 1) * 4


@njit(cache=True, nogil=True, inline="always")
def floor_log2(v):
    """``floor(log2(v))`` of ``0 < v < 2**32`` (0 for ``v = 0``) in five compares and shifts,
    no loop: a loop over the bits kept the encoders' model passes from LLVM's vectorizer."""
    t = np.int64(v)
    s = np.int64(t >= 1 << 16) << 4
    t >>= s
    e = s
    s = np.int64(t >= 1 << 8) << 3
    t >>= s
    e += s
    s = np.int64(t >= 1 << 4) << 2
    t >>= s
    e += s
    s = np.int64(t >= 1 << 2) << 1
    t >>= s
    e += s
    return e + np.int64(t >= 2)


@njit(cache=True, nogil=True, inline="always")
def token_of(v, direct):
    """(token, number of extra bits) of value ``v >= 0`` (below ``2**32``); values below
    ``2**direct`` are their own token."""
    e = floor_log2(v)
    ne = max(e - 2, 0)
    if v < 1 << direct:
        return v, 0
    return (1 << direct) + (e - direct) * 4 + ((v >> ne) & 3), e - 2


@njit(cache=True, nogil=True, inline="always")
def token_base(tok, direct):
    """(value with its extra bits zero, number of extra bits) of token ``tok``."""
    if tok < 1 << direct:
        return tok, 0
    e = direct + ((tok - (1 << direct)) >> 2)
    m = (tok - (1 << direct)) & 3
    return (4 | m) << (e - 2), e - 2


@njit(cache=True, nogil=True, inline="always")
def state_bytes(length):
    """Bytes of state that open a lossless stream (from ``LOSSLESS_START``) of ``length``
    bytes: 3 when the length is odd (the words that follow are 2 bytes each), else 4 (a stream
    from ``RANS_L`` always opens with 4)."""
    return 4 - (length & 1)


@njit(cache=True, nogil=True, inline="always")
def read_state(rec, s, nbytes=4):
    """The stream's opening state: the ``nbytes`` (3 or 4) bytes at ``rec[s]``, little-endian
    (the caller keeps them inside the record)."""
    x = np.int64(rec[s]) | (np.int64(rec[s + 1]) << 8) | (np.int64(rec[s + 2]) << 16)
    return x | (np.int64(rec[s + 3]) << 24) if nbytes == 4 else x


@njit(cache=True, nogil=True, inline="always")
def open_lossless(rec, start, end):
    """(state, position after it) of the lossless stream ``rec[start:end]``, whose 3 or 4
    bytes of state (:func:`state_bytes`) the caller has checked the record holds."""
    nbytes = state_bytes(end - start)
    return read_state(rec, start, nbytes), start + nbytes


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
def _renormalise(rec, pos, end, x, start):
    """The state ``x`` after a symbol, with one word read where it fell below ``RANS_L``:
    (state, position), as :func:`get_code` says."""
    # one word always suffices; read it without a branch (``end - 2`` is inside the record,
    # whose stream starts with 3 or 4 bytes of state) and, from ``RANS_L``, let the caller
    # see ``pos > end``
    lim = RANS_L
    if start != RANS_L:  # no word left: no read; the bound depends on ``pos`` alone, so the
        # state's chain keeps its one compare (``x < RANS_L and pos + 2 <= end``: one record
        # x1.04; this x1.01, `/tmp` harness)
        lim = np.int64(pos + 2 <= end) << 16
    need = x < lim
    q = np.uint64(min(pos, end - 2))
    word = np.int64(rec[q]) | (np.int64(rec[q + np.uint64(1)]) << 8)
    x = (x << 16) | word if need else x
    pos += 2 * need
    return x, pos


@njit(cache=True, nogil=True, inline="always")
def get_token0(rec, pos, end, x, f0, start=RANS_L):
    """Decode token 0 of a context whose token 0 has frequency ``f0`` (its cumulative frequency
    0; the caller has seen the state's slot below ``f0``): (state, position), as
    :func:`get_code` says; token 0 is the value 0, with no extra bits."""
    return _renormalise(rec, pos, end, f0 * (x >> PROB_BITS) + (x & (PROB_SCALE - 1)), start)


@njit(cache=True, nogil=True, inline="always")
def get_code(rec, pos, end, x, c, cum, coarse, direct, start=RANS_L):
    """Decode one hybrid-token value in context ``c`` from the stream ``rec[:end]`` (``coarse``:
    the flat slot-bucket table of ``rans_tables.rans_lookup``; ``direct``: the tokens'
    ``d``, and ``start``: the encoder's start state, constants of the caller's codec).

    Returns (value, token, state, position); from ``RANS_L`` the position is past ``end`` when
    the stream ran out (the caller reports it); from ``LOSSLESS_START`` it never passes
    ``end`` (a word is read only while the record has one; a stream that runs out ends in
    the wrong state). ``rec[end - 2 : end]`` must lie inside the record (its stream opens
    with 3 or 4 bytes of state). Mirrors ``put_symbol`` and the token layout of
    :func:`token_of`.
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
    x, pos = _renormalise(rec, pos, end, (hi - lo) * (x >> PROB_BITS) + slot - lo, start)
    tok = np.int64(t)
    v, ne = token_base(tok, direct)
    while ne > 0:
        nb = min(ne, EXTRA_CHUNK)
        f = 1 << (PROB_BITS - nb)
        slot = x & mask
        x = f * (x >> PROB_BITS) + (slot & (f - 1))
        if x < RANS_L:
            if pos + 2 > end:
                if start == RANS_L:
                    return 0, tok, x, end + 1
            else:
                x = (x << 16) | np.int64(rec[pos]) | (np.int64(rec[pos + 1]) << 8)
                pos += 2
        ne -= nb
        v |= (slot >> (PROB_BITS - nb)) << ne
    return v, tok, x, pos
