"""The lossy codec's dataset-wide model: colour transform, quantiser, rANS tables, and their checks.

The rANS tables are stored packed (``rans_tables.pack_freq``), since a
CIFAR-size archive spends only a few hundred bytes per image; a context the
fit never saw codes with the seen contexts' pooled distribution.
"""

from __future__ import annotations

import numpy as np

from ..errors import FormatError
from ._kernels import readonly
from ._kernels.block_model import NUM_CONTEXTS, ZIGZAG
from ._kernels.rans import LOSSY_DIRECT, PROB_SCALE, num_tokens
from .rans_tables import (LOG_STEPS, LaneTables, normalize_counts, pack_freq, rans_lookup,
                          unpack_freq)

__all__ = ["LADDER", "LossyTables", "MAX_Q", "QMUL_RANGE", "TOKENS", "dct_basis"]

#: quantiser scales a record may pick: 0.5 * 2**(s / 8), s = 0..127
LADDER = (0.5 * 2.0 ** (np.arange(128) / 8.0)).astype(np.float32)
#: step multipliers per zigzag position stay in this range
QMUL_RANGE = (0.25, 16.0)
#: bound on a quantised coefficient: |coef| <= 8 * 255 * sqrt(3) < 3600, step >= 0.5 * 0.25
MAX_Q = 1 << 15
#: tokens covering every symbol code (DC residuals reach 2 * MAX_Q)
TOKENS = num_tokens(4 * MAX_Q + 1, LOSSY_DIRECT)


def dct_basis() -> np.ndarray:
    """(8, 8) float64 orthonormal DCT-II matrix: ``basis[u, i]``."""
    u = np.arange(8)[:, None]
    i = np.arange(8)[None, :]
    c = np.cos((2 * i + 1) * u * np.pi / 16) * np.sqrt(2 / 8)
    c[0] /= np.sqrt(2)
    return c


class LossyTables(LaneTables):
    """Validated model of a lossy archive, with the decoder's derived arrays.

    Args:
        qmul: (P, 64) float32 step multipliers per zigzag position.
        mat, mean: (P, P), (P,) float32 orthonormal colour transform:
            planes = mat @ (pixels - mean).
        lens, logf: the packed rANS tables (see the module docstring).
    """

    def __init__(self, qmul, mat, mean, lens, logf, where: str = ""):
        # read-only, as an archive's tensors are: one kernel compile for fresh and read tables
        self.qmul = readonly(np.ascontiguousarray(qmul, dtype=np.float32))
        self.mat = readonly(np.ascontiguousarray(mat, dtype=np.float32))
        self.mean = readonly(np.ascontiguousarray(mean, dtype=np.float32))
        self.lens = np.ascontiguousarray(lens, dtype=np.uint8)
        self.logf = np.ascontiguousarray(logf, dtype=np.uint8)
        if where:
            self._check(where)
        self.planes = self.mat.shape[0]
        self.pcls = np.minimum(np.arange(self.planes), 1).astype(np.int64)
        self.freq = unpack_freq(self.lens, self.logf, TOKENS, group=NUM_CONTEXTS)
        self.cum, self.coarse = (readonly(a) for a in rans_lookup(self.freq))  # one compile
        self.cost = np.log2(PROB_SCALE / self.freq.astype(np.float64)).astype(np.float32)
        self.qmul_raster = np.empty_like(self.qmul)  # the lane decoder's, by raster position
        self.qmul_raster[:, ZIGZAG] = self.qmul
        self.qmul_raster = readonly(self.qmul_raster)
        self.ladder = LADDER
        self.basis = dct_basis().astype(np.float32)

    @classmethod
    def fit(cls, counts: np.ndarray, qmul, mat, mean) -> "LossyTables":
        """Tables from (contexts, T) token counts, packed as they will be stored."""
        lens, logf = pack_freq(normalize_counts(counts, group=counts.shape[0]),
                               counts.sum(axis=1) > 0)
        return cls(qmul, mat, mean, lens, logf)

    def _check(self, where: str) -> None:
        p = self.mat.shape[0] if self.mat.ndim == 2 else -1
        if p not in (1, 3) or self.mat.shape != (p, p) or self.mean.shape != (p,) \
                or self.qmul.shape != (p, 64):
            raise FormatError(f"{where}: tensors 'mat', 'mean' and 'qmul' should be (P, P), (P,) and "
                              f"(P, 64) with P 1 or 3, found {list(self.mat.shape)}, "
                              f"{list(self.mean.shape)} and {list(self.qmul.shape)}")
        if not (np.isfinite(self.mat).all() and np.isfinite(self.mean).all()) \
                or np.abs(self.mat).max() > 1.0001 or np.abs(self.mean).max() > 255:
            raise FormatError(f"{where}: the colour transform holds a value outside its range "
                              "(|mat| <= 1, |mean| <= 255)")
        lo, hi = QMUL_RANGE
        if not ((self.qmul >= lo) & (self.qmul <= hi)).all():
            raise FormatError(f"{where}: tensor 'qmul' holds a step multiplier outside [{lo}, {hi}]")
        if self.lens.shape != (NUM_CONTEXTS,) or (self.lens > TOKENS).any() \
                or self.logf.ndim != 1 or int(self.lens.astype(np.int64).sum()) != self.logf.shape[0]:
            raise FormatError(f"{where}: tensors 'lens' and 'logf' should be {NUM_CONTEXTS} lengths "
                              f"of at most {TOKENS} and their bytes; the tables are corrupt")
        if (self.logf > LOG_STEPS * 12).any():
            raise FormatError(f"{where}: tensor 'logf' holds a frequency above {PROB_SCALE}")

    def to_tensors(self) -> dict[str, np.ndarray]:
        return {"qmul": self.qmul, "mat": self.mat, "mean": self.mean, "lens": self.lens,
                "logf": self.logf}

    @classmethod
    def from_tensors(cls, t: dict, where: str) -> "LossyTables":
        for name, dtype in (("qmul", np.float32), ("mat", np.float32), ("mean", np.float32),
                            ("lens", np.uint8), ("logf", np.uint8)):
            a = t.get(name)
            if a is None or a.dtype != dtype:
                raise FormatError(f"{where}: tensor {name!r} should be {np.dtype(dtype)}"
                                  + ("" if a is None else f", found {a.dtype}"))
        return cls(t["qmul"], t["mat"], t["mean"], t["lens"], t["logf"], where)
