"""Fit the lossless codec's least-squares model (``_kernels.ls_model``) on the fit samples.

One pass over the 8-bit RGB(A) fit samples (or every fourth of them): the normal equations of
each (plane, activity bin)'s predictor over MED and ten neighbours, solved and rounded to
``2**-8`` units. The pass sums over sample ranges in any order (float sums of integers below
2**53), so the model does not depend on the number of workers.

The biases format 10 stores beside the weights are left at zero: fit (each bias key's mean
base residual) they took CIFAR from 47.797 to 47.725% of raw (`encode_dataset`, payload and
tables; the photos 41.43 -> 41.21% in the bench), and they cost the decoders a texture, a key
and a lookup on every value, which they skip when every bias is zero (one CIFAR record 88 ->
59 us: see README).
"""

from __future__ import annotations

import numpy as np

from ._kernels.ls_encode import MODE_CODE, MODE_NORMAL, NORMAL_WIDTH, ls_model_sample
from ._kernels.ls_model import BIAS_KEYS, FEATURES, LS_BINS, LS_PLANES, LS_SHIFT, ls_ring_size
from .parallel import map_ranges

__all__ = ["LS_MIN_VALUES", "LsScratch", "fit_ls", "ls_code", "sample_codes"]

#: a (plane, activity bin) with fewer fit values keeps MED alone (weight 1 on MED)
LS_MIN_VALUES = 64
#: the normal equations sum over every NORMAL_STEP-th fit sample where that leaves at least
#: STEP_MIN: on CIFAR (3,051 fit samples, with the biases then fit) every sample 47.750% of
#: raw, every 2nd 47.753, every 4th 47.718, every 8th 47.725. The pass took 180 us an image
#: over every sample. The photos' fit (64 photos, the biases then fit) over 16 of them: 41.41%
#: against 41.21 over all 64
NORMAL_STEP, STEP_MIN = 4, 256
_KEYS = LS_PLANES * LS_BINS
_EMPTY_W, _EMPTY_B = np.zeros((0, FEATURES), np.int64), np.zeros(0, np.int64)


class LsScratch:
    """Rings and outputs of :func:`ls_model_sample` for samples of up to these dims."""

    def __init__(self, dims: np.ndarray):
        p, w = int(dims[:, 0].max()), int(dims[:, 2].max())
        size = int(dims.prod(axis=1).max())
        self.v = np.zeros(ls_ring_size(p, w), np.int32)
        self.am = np.zeros(ls_ring_size(p, w), np.int32)
        self.ctx = np.empty(size, np.int32)
        self.val = np.empty(size, np.int32)


def sample_codes(sample, dims, code_lo: int) -> np.ndarray:
    """One sample as (P, H, W) int32 codes (its values less ``code_lo``)."""
    p, h, w = (int(d) for d in dims)
    return np.ascontiguousarray(sample).reshape(p, h, w).astype(np.int32) - np.int32(code_lo)


def _normal_equations(samples, dims, colour: int, code_lo: int, workers: int):
    """The normal equations (xtx, whole, and xty) and value counts of each (plane, activity
    bin), summed over every ``NORMAL_STEP``-th colour sample (every one where that leaves
    fewer than ``STEP_MIN``)."""
    rows = np.flatnonzero(np.isin(dims[:, 0], (3, 4)))
    if len(rows) >= NORMAL_STEP * STEP_MIN:
        rows = rows[::NORMAL_STEP]

    def run(a: int, b: int):
        s = LsScratch(dims[rows[a:b]])
        normal = np.zeros((_KEYS, FEATURES, NORMAL_WIDTH))
        cnt = np.zeros(_KEYS, np.int64)
        for i in rows[a:b]:
            ls_model_sample(sample_codes(samples[i], dims[i], code_lo), colour, _EMPTY_W,
                            _EMPTY_B, MODE_NORMAL, s.v, s.am, s.ctx, s.val, normal, cnt)
        return normal, cnt

    parts = map_ranges(run, len(rows), workers)
    normal, cnt = (sum(p[j] for p in parts) for j in range(2))
    return normal[:, :, :FEATURES], normal[:, :, FEATURES], cnt


def fit_ls(samples, dims: np.ndarray, colour: int, code_lo: int,
           workers: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """(weights (3, 16, 11) int16, biases (3, 1024) int8, all zero) fit on the 3- and 4-plane
    ``samples`` (8-bit codes after ``code_lo``) under colour transform ``colour``."""
    xtx, xty, n = _normal_equations(samples, dims, colour, code_lo, workers)
    wts = np.zeros((_KEYS, FEATURES))
    wts[:, 0] = 1.0  # MED alone where a bin saw too few values
    for k in range(_KEYS):
        if n[k] < LS_MIN_VALUES:
            continue
        a = xtx[k].copy()
        # a touch of ridge: neighbours that are equal on every fit value (flat images) leave
        # the equations singular
        a += np.eye(FEATURES) * (1e-6 * np.trace(a) / FEATURES + 1e-9)
        wts[k] = np.linalg.solve(a, xty[k])
    q = np.clip(np.rint(wts * (1 << LS_SHIFT)), -(1 << 15), (1 << 15) - 1).astype(np.int16)
    return q.reshape(LS_PLANES, LS_BINS, FEATURES), np.zeros((LS_PLANES, BIAS_KEYS), np.int8)


def ls_code(codes: np.ndarray, colour: int, wts: np.ndarray, bias: np.ndarray,
            scratch: LsScratch) -> int:
    """Contexts and codes of one 3- or 4-plane sample's ``codes`` (P, H, W) int32 into
    ``scratch.ctx`` and ``scratch.val``; returns their number."""
    return ls_model_sample(codes, colour, wts, bias, MODE_CODE, scratch.v, scratch.am,
                           scratch.ctx, scratch.val, _NO_NORMAL, _EMPTY_B)


_NO_NORMAL = np.zeros((0, 0, 0))
