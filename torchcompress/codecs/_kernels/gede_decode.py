"""GeDe decoding kernels: a record and its base row back to column values.

A record holds its deviation fields in record order, grouped into runs of
equal deviation width (``groups``). Inside a run the field offsets step by
a constant, so the decode loop reads no per-column descriptor for the
deviation bits; the record and its base row are first copied into aligned
uint32 scratch, so every field is one shift of a 64-bit word pair.

Columns whose masks are not "deviation bits low, base bits right above"
(rare: non-contiguous masks) are decoded again afterwards through the
general ``layout`` path, which overwrites the run loop's value.
"""

import numpy as np
from numba import njit

from .gede import pdep

__all__ = ["GROUP_FIELDS", "LAYOUT_ROWS", "MODEL_FIELDS", "POS_BPOS_AT", "POS_BW_AT", "POS_OFFSET_BITS",
           "POS_SIGN_AT", "decode_gede_row", "decode_gede_rows", "read_base_ids", "record_base",
           "row_start", "scratch_words"]

# rows of the per-model column layout used by the general path
LAYOUT_ROWS = ("boff", "bfull", "bshift", "bmask", "doff", "dfull", "dshift", "dmask", "signed")
# columns of ``models`` (G, 8) int64 and of ``groups`` (R, 5) int64
MODEL_FIELDS = ("tab_off", "row_bytes", "id_bits", "rec_bytes", "group_start", "group_stop",
                "slow_start", "slow_stop")
GROUP_FIELDS = ("width", "count", "bit", "pos", "has_base")
# a record position's descriptor (uint64): its column (26 bits), the column's base field bit
# offset in the base row (26 bits) and width (5), and its zigzag flag
POS_OFFSET_BITS = 26
POS_BPOS_AT, POS_BW_AT, POS_SIGN_AT = 26, 52, 57


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
    sg = lay[8]
    return (v >> sg) ^ -(v & sg)


@njit(cache=True, nogil=True)
def _word_pair(words, bit):
    """64 bits of ``words`` (uint32) from word ``bit >> 5``, shifted to start at ``bit``."""
    k = bit >> np.uint64(5)
    x = np.uint64(words[k]) | (np.uint64(words[k + np.uint64(1)]) << np.uint64(32))
    return x >> (bit & np.uint64(31))


@njit(cache=True, nogil=True)
def decode_gede_row(records, rs, table, ts, mrow, groups, posdesc, slow, layout, order, rw, tw, out):
    """Rebuild one sample's column values: deviation runs, base bits, unzigzag.

    Index arithmetic is unsigned, so numba emits no negative-index wraparound.

    Args:
        records: flat uint8 records (+ padding); the record starts at byte ``rs``.
        table: flat uint8 base tables (+ padding); the base row starts at byte ``ts``.
        mrow: (8,) the model's row of ``models`` (MODEL_FIELDS).
        groups: (R, 5) int64 runs of every model (GROUP_FIELDS).
        posdesc: (D,) uint64 the model's record-position descriptors.
        slow: (S,) int64 columns of every model that take the general path.
        layout: (D, 9) int32 the model's general layout (LAYOUT_ROWS).
        order: (D,) uint32: column ``j`` goes to ``out[order[j]]`` (a fused
            inverse transform wants its own layout); empty: ``out[j]``.
        rw, tw: uint32 scratch of at least rec_bytes / 4 + 2 and row_bytes / 4 + 2 words.
        out: (D,) values, any numeric dtype.
    """
    u = np.uint64
    r8, t8 = rw.view(np.uint8), tw.view(np.uint8)
    nr, nt = mrow[3], mrow[1]
    r8[:nr] = records[rs:rs + nr]
    t8[:nt] = table[ts:ts + nt]
    permuted = order.shape[0] > 0
    m26 = (u(1) << u(POS_OFFSET_BITS)) - u(1)
    for q in range(mrow[4], mrow[5]):
        w, bit, pos = u(groups[q, 0]), u(groups[q, 2]), u(groups[q, 3])
        mask = (u(1) << w) - u(1)
        with_base = groups[q, 4] != 0
        for i in range(u(groups[q, 1])):
            v = _word_pair(rw, bit + i * w) & mask
            d = posdesc[pos + i]
            if with_base:
                bw = (d >> u(POS_BW_AT)) & u(31)
                v |= (_word_pair(tw, (d >> u(POS_BPOS_AT)) & m26) & ((u(1) << bw) - u(1))) << w
            j = d & m26
            sg = (d >> u(POS_SIGN_AT)) & u(1)
            x = np.int64((v >> sg) ^ (u(0) - (v & sg)))
            if permuted:
                out[order[j]] = x
            else:
                out[j] = x
    for s in range(mrow[6], mrow[7]):
        j = slow[s]
        x = _general_column(records, rs, table, ts, layout[j])
        if permuted:
            out[order[j]] = x
        else:
            out[j] = x


@njit(cache=True, nogil=True)
def decode_gede_rows(records, rec_off, model, rows, table, models, groups, posdesc, slow, layout,
                     out):
    """Rebuild the column values of ``rows`` (see ``decode_gede_row``).

    Args:
        records: flat uint8 records of the shard (+ padding); ``rec_off``
            (N + 1,) int64 record starts.
        model: (N,) int64 model of each shard row.
        rows: (B,) int64 shard rows to decode (validated by the caller).
        table: flat uint8 base tables (+ padding).
        models: (G, 8) int64 per model, MODEL_FIELDS.
        groups, slow: as ``decode_gede_row``; posdesc (G, D), layout (G, D, 9).
        out: (B, D) int32.
    """
    same = np.empty(0, dtype=np.uint32)
    rw, tw = scratch_words(models)
    for b in range(rows.shape[0]):
        g, rs, ts = row_start(records, rec_off, model, models, rows[b])
        decode_gede_row(records, rs, table, ts, models[g], groups, posdesc[g], slow, layout[g], same,
                        rw, tw, out[b])


@njit(cache=True, nogil=True)
def scratch_words(models):
    """Aligned uint32 scratch for the largest record and the largest base row."""
    return (np.zeros(models[:, 3].max() // 4 + 2, dtype=np.uint32),
            np.zeros(models[:, 1].max() // 4 + 2, dtype=np.uint32))
