"""Generalized-deduplication kernels: bit statistics, the base search, packing, decoding.

Values are unsigned column codes ``u`` (N, D) uint16. A *position* is a pair
(column ``j``, bit ``k``). A model splits every column's bits with a mask:
``base_mask[j]`` bits live in the shared base table, the rest of the column's
``width[j]`` bits are per-sample deviation bits.

Bit streams are LSB-first: field bit ``t`` of a stream starting at byte ``o``
is bit ``t % 8`` of byte ``o + t // 8``. A base row is, column by column, the
column's base bits (``pext`` of the mask, low bits first); a record is the
base id (``id_bits``) then, column by column, the deviation bits.

A column mask is *contiguous* when its set bits form one run; its field is
then ``(v >> shift) & ((1 << count) - 1)``; ``shift = -1`` marks the general
case, which loops over the mask bits.
"""

import numpy as np
from numba import njit

PAD_BYTES = 3  # spare bytes after records and tables: the decoder reads 24-bit windows

__all__ = ["FIELD_OFFSET_BITS", "FIELD_SLOW", "LAYOUT_ROWS", "MODEL_FIELDS", "PAD_BYTES", "bit_counts", "clog2",
           "FIELD_BPOS_AT", "FIELD_BW_AT", "FIELD_DW_AT", "FIELD_SIGN_AT", "decode_gede_row",
           "decode_gede_rows", "eq1_size", "pack_records", "pack_table", "record_base", "row_start",
           "read_base_ids", "refine_groups", "search_base"]


@njit(cache=True, nogil=True)
def bit_counts(u, out):
    """Count ones per position: ``out[j, k] = sum_i bit k of u[i, j]``.

    The 16-step inner loop has a fixed trip count, so it vectorizes; counts
    go through int32 accumulators in chunks small enough never to overflow.

    Args:
        u: (N, D) uint16 codes.
        out: (D, 16) int64, zero-filled by the caller.
    """
    n, d = u.shape
    acc = np.zeros((d, 16), dtype=np.int32)
    for s in range(0, n, 1 << 30):
        for i in range(s, min(n, s + (1 << 30))):
            for j in range(d):
                v = np.int32(u[i, j])
                for k in range(16):
                    acc[j, k] += (v >> k) & 1
        for j in range(d):
            for k in range(16):
                out[j, k] += acc[j, k]
                acc[j, k] = 0


@njit(cache=True, nogil=True)
def clog2(x):
    """ceil(log2(x)) for x >= 1 (0 for x <= 1): bits of an id among x values."""
    b = 0
    while (1 << b) < x:
        b += 1
    return b


@njit(cache=True, nogil=True)
def eq1_size(nb, lb, ld, n, m):
    """Eq. 1 of EntroGeDe in bits: bases + (n + m) (id + deviation) + m weights."""
    s = nb * lb + (n + m) * (clog2(nb) + ld)
    if m > 0:
        s += m * clog2(n)
    return s


@njit(cache=True, nogil=True)
def refine_groups(u, col, bit, group, nb, child):
    """Split every group by bit ``bit`` of column ``col``; returns the new group count.

    New ids are dense, in order of first appearance. ``child`` is (2 * N,)
    int64 filled with -1; it is left filled with -1 again.
    """
    n = u.shape[0]
    count = 0
    for i in range(n):
        key = 2 * group[i] + ((u[i, col] >> bit) & 1)
        c = child[key]
        if c < 0:
            c = count
            child[key] = c
            count += 1
        group[i] = c
    for key in range(2 * nb):
        child[key] = -1
    return count


@njit(cache=True, nogil=True)
def search_base(u, pos_col, pos_bit, l_const, l_total, m, tau, group, best_group, child):
    """EntroGeDe compression phase (Algorithm 1, lines 10-27), incremental.

    Positions are added in the given order (increasing entropy); each step
    refines the groups in O(N) instead of recounting unique rows.

    Args:
        u: (N, D) uint16 codes of one model.
        pos_col, pos_bit: (P,) candidate positions, in order.
        l_const: constant bits, in the base from the start.
        l_total: all bits per sample.
        m: condensed samples stored alongside (Eq. 1); 0 for plain compression.
        tau: plateau threshold.
        group: (N,) int64 zeros; scratch.
        best_group: (N,) int64 out: base id of each row at the best prefix.
        child: (2 * N,) int64 filled with -1; scratch.

    Returns:
        (best prefix length, bases at the best prefix, Eq. 1 size at the best).
    """
    n = u.shape[0]
    nb = 1
    lb = l_const
    best = eq1_size(1, lb, l_total - lb, n, m)
    best_len = 0
    best_nb = 1
    for i in range(n):
        best_group[i] = 0
    c = 0
    for t in range(pos_col.shape[0]):
        nb = refine_groups(u, pos_col[t], pos_bit[t], group, nb, child)
        lb += 1
        s = eq1_size(nb, lb, l_total - lb, n, m)
        if s < best:
            best = s
            best_len = t + 1
            best_nb = nb
            best_group[:] = group
            c = 0
        else:
            c += 1
            if c >= tau or nb == n:
                break
    return best_len, best_nb, best


@njit(cache=True, nogil=True)
def _pext(v, mask, shift):
    if shift >= 0:
        return (v & mask) >> shift
    r = 0
    t = 0
    k = 0
    while mask >> k:
        if (mask >> k) & 1:
            r |= ((v >> k) & 1) << t
            t += 1
        k += 1
    return r


@njit(cache=True, nogil=True)
def _pdep(f, mask, shift):
    if shift >= 0:
        return (f << shift) & mask
    r = 0
    t = 0
    k = 0
    while mask >> k:
        if (mask >> k) & 1:
            r |= ((f >> t) & 1) << k
            t += 1
        k += 1
    return r


@njit(cache=True, nogil=True)
def _pack_row(row, mask, shift, count, acc, nacc, out, pos):
    """Append each column's masked bits of ``row`` after ``nacc`` bits already in ``acc``;
    write the stream LSB-first into ``out`` from byte ``pos``."""
    for j in range(row.shape[0]):
        w = count[j]
        if w == 0:
            continue
        acc |= np.uint64(_pext(np.int64(row[j]), np.int64(mask[j]), shift[j])) << np.uint64(nacc)
        nacc += w
        while nacc >= 8:
            out[pos] = np.uint8(acc & np.uint64(255))
            acc >>= np.uint64(8)
            nacc -= 8
            pos += 1
    while nacc > 0:  # the tail, which may be a whole id wider than a byte
        out[pos] = np.uint8(acc & np.uint64(255))
        acc >>= np.uint64(8)
        nacc -= 8
        pos += 1


@njit(cache=True, nogil=True)
def pack_table(u, first_row, mask, shift, count, row_bytes, out, out_off):
    """Write the base rows of one model.

    Args:
        u: (N, D) uint16 codes of the model's rows.
        first_row: (nb,) int64, a row of each base.
        mask, shift, count: (D,) base mask (uint16), contiguity shift (int64),
            popcount (int64) per column.
        row_bytes: bytes per base row.
        out: flat uint8 table, zero-filled; rows start at ``out_off``.
    """
    for b in range(first_row.shape[0]):
        _pack_row(u[first_row[b]], mask, shift, count, np.uint64(0), 0, out, out_off + b * row_bytes)


@njit(cache=True, nogil=True)
def pack_records(u, model, base_id, id_bits, mask, shift, count, offsets, out):
    """Write one record per row: base id, then each column's deviation bits.

    Args:
        u: (N, D) uint16 codes.
        model: (N,) int64 model of each row.
        base_id: (N,) int64 base of each row in its model.
        id_bits: (G,) int64 id width per model.
        mask, shift, count: (G, D) deviation mask (uint16), contiguity shift
            and popcount (int64) per model and column.
        offsets: (N + 1,) int64 record starts in ``out``.
        out: flat uint8, zero-filled.
    """
    for i in range(u.shape[0]):
        g = model[i]
        _pack_row(u[i], mask[g], shift[g], count[g], np.uint64(base_id[i]), id_bits[g], out,
                  offsets[i])


@njit(cache=True, nogil=True)
def read_base_ids(records, offsets, model, id_bits, out):
    """Read the base id at the start of every record into ``out`` (N,) int64."""
    for i in range(out.shape[0]):
        out[i] = record_base(records, offsets[i], id_bits[model[i]])


@njit(cache=True, nogil=True)
def _field(buf, start, bit, width_mask):
    p = start + (bit >> 3)
    word = np.int64(buf[p]) | (np.int64(buf[p + 1]) << 8) | (np.int64(buf[p + 2]) << 16)
    return (word >> (bit & 7)) & width_mask


# rows of the per-model column layout used for columns whose masks are not the common shape
LAYOUT_ROWS = ("boff", "bfull", "bshift", "bmask", "doff", "dfull", "dshift", "dmask", "signed")
MODEL_FIELDS = ("tab_off", "row_bytes", "id_bits")

# A column's fast descriptor (uint64): deviation bit offset in the record (26 bits), deviation
# width (5), base bit offset in the base row (26), base width (5), zigzag flag (1), and bit 63
# set when the column must take the general path (its masks are not "deviation bits low,
# base bits right above").
FIELD_OFFSET_BITS = 26
FIELD_DW_AT, FIELD_BPOS_AT, FIELD_BW_AT, FIELD_SIGN_AT = 26, 31, 57, 62  # bit where each part starts
FIELD_SLOW = np.uint64(1) << np.uint64(63)


@njit(cache=True, nogil=True)
def _general_column(records, rs, table, ts, lay):
    bf = _field(table, ts, lay[0], lay[1])
    df = _field(records, rs, lay[4], lay[5])
    v = _pdep(bf, np.int64(lay[3]), lay[2]) | _pdep(df, np.int64(lay[7]), lay[6])
    sg = lay[8]
    return (v >> sg) ^ -(v & sg)


@njit(cache=True, nogil=True)
def record_base(records, rs, id_bits):
    """The base id at the start of the record at byte ``rs``."""
    base = np.int64(0)
    for t in range((id_bits + 7) // 8):
        base |= np.int64(records[rs + t]) << (8 * t)
    return base & ((np.int64(1) << id_bits) - 1)


@njit(cache=True, nogil=True)
def row_start(records, rec_off, model, models, r):
    """(model, record start, base-row start) of shard row ``r``."""
    g = model[r]
    rs = rec_off[r]
    return g, rs, models[g, 0] + record_base(records, rs, models[g, 2]) * models[g, 1]


@njit(cache=True, nogil=True)
def decode_gede_row(records, rs, table, ts, fields, layout, order, out):
    """Rebuild one sample's column values: base bits, deviation bits, unzigzag.

    Index arithmetic is unsigned: numba then emits no negative-index
    wraparound, which halves the cost of this loop.

    Args:
        records: flat uint8 records (+ padding); the record starts at byte ``rs``.
        table: flat uint8 base tables (+ padding); the base row starts at byte ``ts``.
        fields: (D,) uint64 fast descriptors of the model (see FIELD_SLOW).
        layout: (D, 9) int32 general layout of the model, for slow columns.
        order: (D,) uint32: column ``j`` goes to ``out[order[j]]`` (a fused
            inverse transform wants its own layout); empty: ``out[j]``.
        out: (D,) values, any numeric dtype.
    """
    u = np.uint64
    m26 = (u(1) << u(FIELD_OFFSET_BITS)) - u(1)
    urs, uts = u(rs), u(ts)
    permuted = order.shape[0] > 0
    for j in range(fields.shape[0]):
        f = fields[j]
        k = order[j] if permuted else u(j)
        if f & FIELD_SLOW:
            out[k] = _general_column(records, rs, table, ts, layout[j])
            continue
        dpos = f & m26
        dw = (f >> u(FIELD_DW_AT)) & u(31)
        bpos = (f >> u(FIELD_BPOS_AT)) & m26
        bw = (f >> u(FIELD_BW_AT)) & u(31)
        p = urs + (dpos >> u(3))
        wd = u(records[p]) | (u(records[p + u(1)]) << u(8)) | (u(records[p + u(2)]) << u(16))
        q = uts + (bpos >> u(3))
        wb = u(table[q]) | (u(table[q + u(1)]) << u(8)) | (u(table[q + u(2)]) << u(16))
        v = np.int64((((wb >> (bpos & u(7))) & ((u(1) << bw) - u(1))) << dw)
                     | ((wd >> (dpos & u(7))) & ((u(1) << dw) - u(1))))
        sg = np.int64((f >> u(FIELD_SIGN_AT)) & u(1))
        out[k] = (v >> sg) ^ -(v & sg)


@njit(cache=True, nogil=True)
def decode_gede_rows(records, rec_off, model, rows, table, models, fields, layout, out):
    """Rebuild the column values of ``rows`` (see ``decode_gede_row``).

    Every field sits at a fixed bit offset of its record or base row, so the
    columns decode independently; each field is read as a 24-bit window, which
    is why ``records`` and ``table`` end with PAD_BYTES spare bytes.

    Args:
        records: flat uint8 records of the shard (+ padding); ``rec_off``
            (N + 1,) int64 record starts.
        model: (N,) int64 model of each shard row.
        rows: (B,) int64 shard rows to decode (validated by the caller).
        table: flat uint8 base tables (+ padding).
        models: (G, 3) int64: table offset, base-row bytes, id bits per model.
        fields: (G, D) uint64 fast descriptors per model and column.
        layout: (G, D, 9) int32 per column, in LAYOUT_ROWS order: base field
            bit offset, ``(1 << count) - 1``, contiguity shift (-1: general),
            mask; the same four for the deviation field; 1 if zigzag-coded.
        out: (B, D) int32.
    """
    same = np.empty(0, dtype=np.uint32)
    for b in range(rows.shape[0]):
        g, rs, ts = row_start(records, rec_off, model, models, rows[b])
        decode_gede_row(records, rs, table, ts, fields[g], layout[g], same, out[b])
