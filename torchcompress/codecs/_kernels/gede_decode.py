"""GeDe decoding kernels: a record and its base row back to column values.

A record holds its deviation fields in record order, grouped into runs of
one deviation width, has-base flag and zigzag flag (``groups``). Inside a
run the field offsets step by a constant, so the decode loop reads no
per-column descriptor for the deviation bits. The record and its base row
are first copied into aligned uint32 scratch, so every field is one shift
of a 64-bit word pair.

Columns whose masks are not "deviation bits low, base bits right above"
(rare: non-contiguous masks) are decoded again afterwards through the
general ``layout`` path, which overwrites the run loop's value.
"""

import numpy as np
from numba import njit

from .gede import pdep

__all__ = ["GROUP_FIELDS", "LAYOUT_ROWS", "MODEL_FIELDS", "decode_gede_row", "decode_gede_rows",
           "read_base_ids", "record_base", "row_start", "scratch_words"]

# rows of the per-model column layout used by the general path
LAYOUT_ROWS = ("boff", "bfull", "bshift", "bmask", "doff", "dfull", "dshift", "dmask", "signed")
# columns of ``models`` (G, 8) int64 and of ``groups`` (R, 6) int64
MODEL_FIELDS = ("tab_off", "row_bytes", "id_bits", "rec_bytes", "group_start", "group_stop",
                "slow_start", "slow_stop")
GROUP_FIELDS = ("width", "count", "bit", "pos", "has_base", "signed")


@njit(cache=True, nogil=True)
def record_base(records, rs, id_bits):
    """The base id at the start of the record at byte ``rs``."""
    base = np.int64(0)
    for t in range((id_bits + 7) // 8):
        base |= np.int64(records[rs + t]) << (8 * t)
    return base & ((np.int64(1) << id_bits) - 1)


@njit(cache=True, nogil=True)
def read_base_ids(records, offsets, model, id_bits, out):
    """Read the base id at the start of every record into ``out`` (N,) int64."""
    for i in range(out.shape[0]):
        out[i] = record_base(records, offsets[i], id_bits[model[i]])


@njit(cache=True, nogil=True)
def row_start(records, rec_off, model, models, r):
    """(model, record start, base-row start) of shard row ``r``."""
    g = model[r]
    rs = rec_off[r]
    return g, rs, models[g, 0] + record_base(records, rs, models[g, 2]) * models[g, 1]


@njit(cache=True, nogil=True)
def _field(buf, start, bit, width_mask):
    p = start + (bit >> 3)
    word = np.int64(buf[p]) | (np.int64(buf[p + 1]) << 8) | (np.int64(buf[p + 2]) << 16)
    return (word >> (bit & 7)) & width_mask


@njit(cache=True, nogil=True)
def _general_column(records, rs, table, ts, lay):
    bf = _field(table, ts, lay[0], lay[1])
    df = _field(records, rs, lay[4], lay[5])
    v = pdep(bf, np.int64(lay[3]), lay[2]) | pdep(df, np.int64(lay[7]), lay[6])
    return _unzigzag(np.uint64(v), np.uint64(lay[8]))


@njit(cache=True, nogil=True)
def _unzigzag(v, sg):
    """The signed value of code ``v`` (uint64) when ``sg`` is 1, else ``v`` itself."""
    return np.int64((v >> sg) ^ (np.uint64(0) - (v & sg)))


@njit(cache=True, nogil=True)
def _word_pair(words, bit):
    """64 bits of ``words`` (uint32) from word ``bit >> 5``, shifted to start at ``bit``."""
    k = bit >> np.uint64(5)
    x = np.uint64(words[k]) | (np.uint64(words[k + np.uint64(1)]) << np.uint64(32))
    return x >> (bit & np.uint64(31))


@njit(cache=True, nogil=True)
def _run(rw, tw, bit, w, n, pos, with_base, sg, bdesc, dest, out):
    """Decode the ``n`` fields of one run: ``w`` bits each from record bit ``bit``."""
    u = np.uint64
    mask = (u(1) << w) - u(1)
    for i in range(n):
        v = _word_pair(rw, bit + i * w) & mask
        if with_base:
            bd = u(bdesc[pos + i])
            v |= (_word_pair(tw, bd >> u(5)) & ((u(1) << (bd & u(31))) - u(1))) << w
        out[dest[pos + i]] = _unzigzag(v, sg)


@njit(cache=True, nogil=True)
def decode_gede_row(records, rs, table, ts, mrow, groups, bdesc, dest, slow, layout, rw, tw, out):
    """Rebuild one sample's column values: deviation runs, base bits, unzigzag.

    Index arithmetic is unsigned, so numba emits no negative-index wraparound.

    Args:
        records: flat uint8 records (+ padding); the record starts at byte ``rs``.
        table: flat uint8 base tables (+ padding); the base row starts at byte ``ts``.
        mrow: (8,) the model's row of ``models`` (MODEL_FIELDS).
        groups: (R, 6) int64 runs of every model (GROUP_FIELDS).
        bdesc: (D,) uint32 per record position of the model: base field bit
            offset in the base row << 5 | base width.
        dest: (D,) uint32 per record position: the index of ``out`` it fills.
        slow: (S, 2) int64 (column, record position) of every model's columns
            that take the general path.
        layout: (D, 9) int32 the model's general layout (LAYOUT_ROWS).
        rw, tw: uint32 scratch of at least rec_bytes / 4 + 2 and row_bytes / 4 + 2 words.
        out: (D,) values, any numeric dtype.
    """
    u = np.uint64
    r8, t8 = rw.view(np.uint8), tw.view(np.uint8)
    nr, nt = mrow[3], mrow[1]
    r8[:nr] = records[rs:rs + nr]
    t8[:nt] = table[ts:ts + nt]
    for q in range(mrow[4], mrow[5]):
        w, n, bit, pos, sg = u(groups[q, 0]), u(groups[q, 1]), u(groups[q, 2]), u(groups[q, 3]), \
            u(groups[q, 5])
        if groups[q, 4]:  # one call per flag value, so each inlined copy has it constant
            _run(rw, tw, bit, w, n, pos, True, sg, bdesc, dest, out)
        else:
            _run(rw, tw, bit, w, n, pos, False, sg, bdesc, dest, out)
    for s in range(mrow[6], mrow[7]):
        out[dest[slow[s, 1]]] = _general_column(records, rs, table, ts, layout[slow[s, 0]])


@njit(cache=True, nogil=True)
def decode_gede_rows(records, rec_off, model, rows, table, models, groups, bdesc, dest, slow,
                     layout, out):
    """Rebuild the column values of ``rows`` (see ``decode_gede_row``).

    Args:
        records: flat uint8 records of the shard (+ padding); ``rec_off``
            (N + 1,) int64 record starts.
        model: (N,) int64 model of each shard row.
        rows: (B,) int64 shard rows to decode (validated by the caller).
        table: flat uint8 base tables (+ padding).
        models: (G, 8) int64 per model, MODEL_FIELDS.
        groups, slow: as ``decode_gede_row``; bdesc, dest (G, D); layout (G, D, 9).
        out: (B, D) int32.
    """
    rw, tw = scratch_words(models)
    for b in range(rows.shape[0]):
        g, rs, ts = row_start(records, rec_off, model, models, rows[b])
        decode_gede_row(records, rs, table, ts, models[g], groups, bdesc[g], dest[g], slow,
                        layout[g], rw, tw, out[b])


@njit(cache=True, nogil=True)
def scratch_words(models):
    """Aligned uint32 scratch for the largest record and the largest base row."""
    return (np.zeros(models[:, 3].max() // 4 + 2, dtype=np.uint32),
            np.zeros(models[:, 1].max() // 4 + 2, dtype=np.uint32))
