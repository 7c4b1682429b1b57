"""Lossless decoder in 16 lanes: sixteen coded records with the same number of planes decoded in
lockstep.

The scalar decoder (``lossless_decode``) is one serial chain per value: the
rANS state, then the context, which needs the value just decoded. Here lane
``l`` of every vector belongs to record ``l``, so each step of the chain runs
once for all sixteen, with AVX-512 gathers for the table loads (the steps are
``lane_steps``' intrinsics, the write-out ``lane_output``'s; one- and three-plane
records go a whole row at a time through ``lane_row``'s). The results are the
scalar decoder's, bit for bit.

Records of different heights and widths share a group (photos): the group
runs over its widest and tallest record, and a lane outside its own record
steps along without moving its stream or writing out. Its ring entries then
hold values of no record; the entries its next row reads are set at the end
of each row (the last column repeats the row's last pixel, its residual is
0), as the scalar decoder has them.

Safety: every stream read is clamped inside the record (the caller passes
records of at least 4 bytes, in a payload under 2 GiB; a 3-byte record, its
state alone, is decoded one at a time), and a lane reads a word only while its
record has one, so however long a corrupt lane decodes on, its int32 position
stays inside the record. A lane that does not end exactly at its end, in the
start state, or that decodes a value out of range gets its bad flag; the
caller decodes such a record alone with the scalar decoder, which names the
error.
"""

from numba import njit

from .lane_output import lane_emit, lane_plane_row
from .lane_row import lane_row1, lane_row3
from .lane_steps import (LUTS, STATE, ST_ACT, ST_BAD, ST_END, ST_H, ST_POS, ST_PREV,
                         ST_W, ST_X, lane_active, lane_step)
from .rans import LOSSLESS_START, open_lossless
from .simd import LANES

__all__ = ["LUTS", "STATE", "decode_lanes", "group_extent", "lane_verdicts", "open_lanes"]


@njit(cache=True, nogil=True)
def open_lanes(state, rec, offsets, rows, dims, g):
    """``state`` for group ``g``: each lane's stream opened (state, position, end), its
    record's height and width, and every lane active."""
    for k in range(STATE):  # plain loops: slice assignments cost seconds of compile
        state[k] = 0
    for lane in range(LANES):
        s, e = offsets[rows[g, lane]], offsets[rows[g, lane] + 1]
        x, pos = open_lossless(rec, s, e)
        state[ST_X + lane] = x - (1 << 32) if x >= 1 << 31 else x  # the uint32 bits
        state[ST_POS + lane] = pos
        state[ST_END + lane] = e
        state[ST_H + lane] = dims[g, lane, 1]
        state[ST_W + lane] = dims[g, lane, 2]
        state[ST_ACT + lane] = 1  # one shape: every lane inside its record throughout


@njit(cache=True, nogil=True, inline="always")
def group_extent(dims, g):
    """(tallest, widest, whether the shapes differ) of group ``g``'s records (``dims`` (G, 16,
    3)): a group runs over its tallest and widest record."""
    h, w = dims[g, 0, 1], dims[g, 0, 2]
    mixed = False
    for lane in range(1, LANES):
        mixed |= dims[g, lane, 1] != h or dims[g, lane, 2] != w
        h = max(h, dims[g, lane, 1])
        w = max(w, dims[g, lane, 2])
    return h, w, mixed


@njit(cache=True, nogil=True)
def lane_verdicts(state, bad, g):
    """``bad[g, l]`` set for each lane that did not end exactly at its record's end, in the
    start state, without a value out of range."""
    for lane in range(LANES):
        if (state[ST_X + lane] != LOSSLESS_START or state[ST_POS + lane] != state[ST_END + lane]
                or state[ST_BAD + lane]):
            bad[g, lane] = 1


@njit(cache=True, nogil=True)
def decode_lanes(rec, offsets, rows, dims, colour, maxv, shift, code_lo, coarse, cum, tstride,
                 luts, lo, hi, pl, rs, row, state, out, out_off, bad):
    """Decode groups of 16 coded records: group ``g`` is shard rows ``rows[g]``, of shapes
    ``dims[g]`` (P, H, W) with one P, each at least 4 bytes, into ``out`` at ``out_off[g]``;
    ``bad[g, l]`` is set for a lane whose record is not sound.

    Args:
        rows, out_off, bad: (G, 16); ``dims``: (G, 16, 3); ``colour``: the transform of 3- and
            4-plane samples' planes 0..2 (``pixel_model.COLOUR_*``).
        coarse: the int32 lane buckets, their shift last (``rans_tables.lane_buckets``);
            ``cum``: the (contexts * tstride,) uint16 cumulative frequencies as bytes.
        pl, rs: (>= P * 2 * (W + 2) * 16,) int32 lane rings; ``row``: (>= P * W * 16,)
            int32; ``state``: (STATE,) int32.
    """
    for g in range(rows.shape[0]):  # one function, not a callee per group: half the compile
        nplanes = dims[g, 0, 0]
        h, w, mixed = group_extent(dims, g)
        colour_g = colour if nplanes == 3 or nplanes == 4 else 0
        w2 = w + 2
        open_lanes(state, rec, offsets, rows, dims, g)
        for k in range(nplanes * 2 * w2 * LANES):
            pl[k] = 0
            rs[k] = 0
        for y in range(h):
            cur = (y + 1) & 1
            prv = y & 1
            for p in range(nplanes):  # column 0 takes the pixel above the row's first pixel
                d, a = (2 * p + cur) * w2 * LANES, ((2 * p + prv) * w2 + 1) * LANES
                for k in range(LANES):
                    pl[d + k] = pl[a + k]
            # RGB and one plane: the whole row in one loop of vector IR (three planes with a map,
            # which only archives without colour have, take the steps below)
            if nplanes == 3 and luts.shape[0] == len(LUTS):
                lane_row3(state, pl, rs, rec, coarse, cum, luts, lo, hi, row, cur * w2 + 1,
                          prv * w2 + 1, 2 * w2, shift, tstride, w, y, colour_g, maxv)
            elif nplanes == 1:
                lane_row1(state, pl, rs, rec, coarse, cum, luts, lo, hi, row, cur * w2 + 1,
                          prv * w2 + 1, 2 * w2, shift, tstride, w, y, colour_g, maxv)
            else:
                for i in range(w):
                    if mixed:
                        lane_active(state, i, y)
                    for k in range(LANES):
                        state[ST_PREV + k] = 0
                    for p in range(nplanes):
                        lane_step(state, pl, rs, rec, coarse, cum, luts,
                                  (2 * p + cur) * w2 + i + 1, (2 * p + prv) * w2 + i + 1, p,
                                  shift, tstride, lo[p], hi[p], colour_g == 0 or p >= 3)
                    lane_emit(state, pl, row, cur * w2 + i + 1, 2 * w2, i, w, nplanes, colour_g,
                              maxv)
            for p in range(nplanes):
                base = (2 * p + cur) * w2 * LANES
                if mixed:  # each lane's last column + 1 repeats its last pixel, residual 0
                    for lane in range(LANES):
                        wl = dims[g, lane, 2]
                        pl[base + (wl + 1) * LANES + lane] = pl[base + wl * LANES + lane]
                        rs[base + (wl + 1) * LANES + lane] = 0
                else:  # the last column repeats the row's last pixel
                    for k in range(LANES):
                        pl[base + (w2 - 1) * LANES + k] = pl[base + (w2 - 2) * LANES + k]
                lane_plane_row(row, p, y, h, w, mixed, dims, g, code_lo, out, out_off)
        lane_verdicts(state, bad, g)
