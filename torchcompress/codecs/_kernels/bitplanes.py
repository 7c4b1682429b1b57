"""Bit-plane packing for ADQ records.

A record holds ``b`` planes of ``plane_bytes = ceil(D / 8)`` bytes each, most
significant plane first. Inside a plane, element ``j`` is bit ``7 - j % 8`` of
byte ``j // 8`` (``np.packbits`` order), so any prefix of planes is a coarser
quantization of the same sample.
"""

import numpy as np
from numba import njit

__all__ = ["SPREAD_LUT", "decode_adq_rows", "pack_bitplanes"]


def _make_spread_lut() -> np.ndarray:
    # SPREAD_LUT[v] has, in byte lane k (little-endian), bit (7 - k) of v: one
    # plane byte becomes eight one-bit lanes that a shift-or accumulates.
    lut = np.zeros(256, dtype=np.uint64)
    for v in range(256):
        w = 0
        for k in range(8):
            w |= ((v >> (7 - k)) & 1) << (8 * k)
        lut[v] = w
    return lut


SPREAD_LUT = _make_spread_lut()


@njit(cache=True, nogil=True)
def pack_bitplanes(q, bits, offsets, plane_bytes, out):
    """Pack quantized rows into plane-major records.

    Args:
        q: (N, D) uint8 codes, ``q[i] < 2 ** bits[i]``.
        bits: (N,) uint8 bits per sample, 1..8.
        offsets: (N + 1,) int64 record start of each sample in ``out``.
        plane_bytes: bytes per plane, ``ceil(D / 8)``.
        out: (offsets[N],) uint8, zero-filled by the caller.
    """
    n, d = q.shape
    for i in range(n):
        b = bits[i]
        base = offsets[i]
        for p in range(b):
            shift = b - 1 - p
            start = base + p * plane_bytes
            for j in range(d):
                bit = (q[i, j] >> shift) & 1
                out[start + (j >> 3)] |= np.uint8(bit << (7 - (j & 7)))


@njit(cache=True, nogil=True)
def decode_adq_rows(payload, offsets, bits, scale, center, rows, planes, round_u8, lut, out):
    """Decode ADQ records into rows of ``out``, eight elements per word.

    Args:
        payload: (P,) uint8 records of one shard.
        offsets: (n + 1,) int64 record starts.
        bits, scale, center: (n,) per-sample bits (uint8) and float32 params.
        rows: (B,) int64 sample indices into this shard.
        planes: use at most this many top planes (1..8).
        round_u8: round and clip levels to 0..255 (for uint8 output).
        lut: SPREAD_LUT.
        out: (B, D) float32 or uint8 destination.
    """
    d = out.shape[1]
    groups = d >> 3
    tail = d & 7
    plane_bytes = (d + 7) >> 3
    levels = np.empty(256, dtype=out.dtype)
    for r in range(rows.shape[0]):
        i = rows[r]
        b = np.int64(bits[i])
        k = b if planes > b else np.int64(planes)
        # Level t of the top-k view is the centre of its 2**(b-k) fine bins.
        step = float(scale[i]) * float(1 << (b - k))
        lo = float(center[i]) - float(scale[i]) * float(1 << (b - 1))
        for t in range(1 << k):
            v = lo + step * (t + 0.5)
            if round_u8:
                v = min(max(np.floor(v + 0.5), 0.0), 255.0)
            levels[t] = v
        base = offsets[i]
        row = out[r]
        for g in range(groups + (1 if tail else 0)):
            acc = np.uint64(0)
            for p in range(k):
                acc = (acc << np.uint64(1)) | lut[payload[base + p * plane_bytes + g]]
            o = g << 3
            # Two loops on purpose: the constant trip count of full groups lets
            # LLVM unroll them (one variable-count loop measured ~1.6x slower).
            if g < groups:
                for lane in range(8):
                    row[o + lane] = levels[acc & np.uint64(0xFF)]
                    acc >>= np.uint64(8)
            else:
                for lane in range(tail):
                    row[o + lane] = levels[acc & np.uint64(0xFF)]
                    acc >>= np.uint64(8)
