"""Lossy decoder for groups of 16 records: symbols in vector lanes, then each block's pixels.

``lossy_lane_symbols`` decodes the sixteen records' quantised blocks side by
side; each record's blocks are then dequantised, inverse-transformed and
coloured as the scalar decoder (``lossy_decode``) does, with the same float
arithmetic, so the pixels are the scalar decoder's, bit for bit. A record
that is not sound (a bad flag, or a stream that does not end at its end in
the start state) is left to the caller, who decodes it alone for the error.
"""

import numpy as np
from numba import njit

from .lossy_decode import planes_to_pixels
from .lossy_lane_symbols import (LANE_STATE, LUTS, ROW, SL_BAD, SL_BASE, SL_END, SL_NBT, SL_NBX,
                                 SL_NBY, SL_POS, SL_X, lossy_lane_symbols)
from .lossy_vectors import fill8x8, idct8x8
from .rans import RANS_L, read_state
from .simd import LANES

__all__ = ["LANE_STATE", "LUTS", "ROW", "decode_lossy_lanes"]


@njit(cache=True, nogil=True)
def decode_lossy_lanes(rec, offsets, dims, groups, ladder, qmul, qmul_raster, coarse, cum, luts,
                       tstride, maxq, basis, mat, mean, qc, region, state, plane, out, out_off,
                       rnd, bad):
    """Decode groups of 16 lossy records into ``out``.

    Args:
        groups: (G, 16) int64 shard rows, -1 for a spare lane; each record at least 5 bytes
            (so ``rec`` holds at least 5), of at most ``region // ROW - 1`` blocks.
            ``out_off``: (G, 16) their output starts.
        qmul_raster: ``qmul`` in raster order (entry ``ZIGZAG[z]`` is ``qmul``'s ``z``).
        coarse: the lane tables' int32 packed slot buckets, their shift last
            (``rans_tables.lane_buckets``);
            ``cum``: the (contexts * tstride,) uint16 cumulative frequencies as bytes;
            ``luts``: ``lossy_lane_symbols.LUTS``.
        qc: (16 * region,) int32, zero on the first call; each call leaves it so.
        state: (LANE_STATE,) int32 scratch; ``plane``: the scalar decoder's padded planes.
        bad: (G, 16) int64, set for a lane whose record is not sound (its pixels not written).
        The other arguments are ``decode_lossy_rows``'s.
    """
    blk = np.empty(64, dtype=np.float32)
    for g in range(groups.shape[0]):
        for k in range(LANE_STATE):
            state[k] = 0
        for lane in range(LANES):
            i = groups[g, lane]
            state[SL_BASE + lane] = lane * region
            if i < 0:  # a spare lane: no blocks, done from the start; the steps still read a
                state[SL_X + lane] = RANS_L  # word in every lane, here inside the first record
                state[SL_POS + lane] = 4
                state[SL_END + lane] = 4
                continue
            s, e = offsets[i], offsets[i + 1]
            x = read_state(rec, s + 1)
            state[SL_X + lane] = x - (1 << 32) if x >= 1 << 31 else x  # the uint32 bits
            state[SL_POS + lane] = s + 5
            state[SL_END + lane] = e
            state[SL_BAD + lane] = x < RANS_L or rec[s] >= ladder.shape[0]
            nby, nbx = (dims[i, 1] + 7) >> 3, (dims[i, 2] + 7) >> 3
            state[SL_NBX + lane] = nbx
            state[SL_NBY + lane] = nby
            state[SL_NBT + lane] = dims[i, 0] * nby * nbx
        lossy_lane_symbols(state, qc, rec, coarse, cum, luts, tstride, maxq)
        for lane in range(LANES):
            i = groups[g, lane]
            if i < 0:
                continue
            base = lane * region
            if (state[SL_BAD + lane] or state[SL_X + lane] != RANS_L
                    or state[SL_POS + lane] != state[SL_END + lane]):
                for k in range(base + ROW, base + (state[SL_NBT + lane] + 1) * ROW):
                    qc[k] = 0  # whatever it wrote: every row zero again
                bad[g, lane] = 1
                continue
            nplanes, h, w = dims[i, 0], dims[i, 1], dims[i, 2]
            nby, nbx = (h + 7) >> 3, (w + 7) >> 3
            wp = nbx * 8
            psize = nby * 8 * wp
            delta = ladder[rec[offsets[i]]]
            r = base + ROW
            for p in range(nplanes):
                for by in range(nby):
                    for bx in range(nbx):
                        last = qc[r + ROW - 1]
                        off = p * psize + by * 8 * wp + bx * 8
                        if last <= 1:  # the DC alone (a final AC symbol is never zero)
                            fill8x8(plane, off, wp,
                                    np.float32(qc[r] * delta * qmul[p, 0] * np.float32(0.125)))
                        else:
                            q = qc[r:r + 64]  # a view: indices from 0, so vector loads
                            qm = qmul_raster[p]
                            for k in range(64):  # raster order: one vector loop
                                blk[k] = q[k] * delta * qm[k]
                            for k in range(64):
                                q[k] = 0
                            idct8x8(blk, basis, plane, off, wp)
                        r += ROW
            planes_to_pixels(plane, psize, wp, nplanes, h, w, mat, mean, out, out_off[g, lane],
                             rnd)
