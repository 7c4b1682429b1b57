"""The lossless fit's token counts: the model pass's scratch, the counts under the
least-squares model, and the bits counts code to under their tables."""

from __future__ import annotations

import numpy as np

from ._kernels.lossless_encode import count_tokens, model_sample
from ._kernels.pixel_model import COLOUR_NONE
from ._kernels.rans import LOSSLESS_DIRECT, PROB_SCALE, token_base
from .lossless_tables import LosslessTables, ls_kernel_arrays
from .ls_fit import LsScratch, ls_code, sample_codes
from .parallel import map_ranges

__all__ = ["Scratch", "coded_bits", "ls_counts"]


class Scratch:
    """Reusable model-pass buffers, sized for the largest sample."""

    def __init__(self, dims: np.ndarray):
        p, w = int(dims[:, 0].max()), int(dims[:, 2].max())
        size = int(dims.prod(axis=1).max())
        self.pl = np.zeros(p * 2 * (w + 2), dtype=np.int32)
        self.rs = np.zeros(p * 2 * (w + 2), dtype=np.int32)
        self.ctx = np.empty(size, dtype=np.int32)
        self.val = np.empty(size, dtype=np.int32)
        self.words = np.empty(3 * size + 2, dtype=np.int64)

    def model(self, sample, dims, colour, bits, code_lo, cmap) -> int:
        codes = sample_codes(sample, dims, code_lo)
        return model_sample(codes, colour if dims[0] in (3, 4) else COLOUR_NONE, bits - 8, self.pl,
                            self.rs, self.ctx, self.val, cmap)


def coded_bits(tables: LosslessTables, counts: np.ndarray, scale: float = 1.0) -> float:
    """Bits the fit samples' ``counts`` code to under ``tables``: their tokens and the tokens'
    extra bits (times ``scale``: the fit samples they stand for), and the tables' stored bytes
    (the least-squares model's included)."""
    extra = np.array([token_base(t, LOSSLESS_DIRECT)[1] for t in range(counts.shape[1])])
    f = tables.freq.astype(np.float64)
    stored = sum(a.nbytes for a in tables.packed) + (
        0 if tables.ls is None else sum(a.nbytes for a in tables.ls))
    return float(scale * (counts * (extra - np.log2(f / PROB_SCALE))).sum() + 8 * stored)


def ls_counts(samples, dims, colour: int, bits: int, code_lo: int, rows: int, tokens: int,
              ls: tuple, workers: int = 1, which: np.ndarray | None = None) -> np.ndarray:
    """(``rows``, ``tokens``) token counts of the fit samples ``which`` (default: all) under
    the least-squares model ``ls`` (weights, biases); samples of other plane counts under MED."""
    w64, b64 = ls_kernel_arrays(ls)
    which = np.arange(len(samples)) if which is None else which

    def count_range(a: int, b: int) -> np.ndarray:
        counts = np.zeros((rows, tokens), dtype=np.int64)
        scratch, ls_scratch = Scratch(dims[which[a:b]]), LsScratch(dims[which[a:b]])
        for i in which[a:b]:
            if dims[i, 0] in (3, 4):
                k = ls_code(sample_codes(samples[i], dims[i], code_lo), colour, w64, b64,
                            ls_scratch)
                count_tokens(ls_scratch.ctx, ls_scratch.val, k, counts, LOSSLESS_DIRECT)
            else:
                k = scratch.model(samples[i], dims[i], colour, bits, code_lo,
                                  np.zeros(0, np.int32))
                count_tokens(scratch.ctx, scratch.val, k, counts, LOSSLESS_DIRECT)
        return counts
    return sum(map_ranges(count_range, len(which), workers))
