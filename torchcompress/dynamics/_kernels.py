"""Numba kernel behind TrainingDynamics.record: one pass per batch, no temporaries."""

import numpy as np
from numba import njit

__all__ = ["accumulate_batch"]


@njit(cache=True, nogil=True)
def accumulate_batch(z, y, idx, buf):
    """Add per-sample statistics of one batch into ``buf`` (5, N) float64.

    Rows of ``buf``: L2 norm of softmax - one-hot (EVA Eq. 3), a count, 1 if
    the argmax is right, the margin ``z[y] - max_{c != y} z[c]``, the entropy.

    Args:
        z: (B, C) float32 logits; ``y``, ``idx``: (B,) int64 targets and
            dataset indices, validated by the caller.
    """
    b, c = z.shape
    for i in range(b):
        t = y[i]
        zmax = z[i, 0]
        arg = 0
        other = -np.inf
        for k in range(1, c):
            if z[i, k] > zmax:
                zmax = z[i, k]
                arg = k
        for k in range(c):
            if k != t and z[i, k] > other:
                other = z[i, k]
        s = 0.0
        for k in range(c):
            s += np.exp(np.float64(z[i, k]) - zmax)
        log_s = np.log(s)
        sq = 0.0
        ent = 0.0
        for k in range(c):
            lp = np.float64(z[i, k]) - zmax - log_s
            p = np.exp(lp)
            sq += p * p
            ent -= p * lp
        p_t = np.exp(np.float64(z[i, t]) - zmax - log_s)
        j = idx[i]
        buf[0, j] += np.sqrt(max(sq - 2.0 * p_t + 1.0, 0.0))
        buf[1, j] += 1.0
        buf[2, j] += 1.0 if arg == t else 0.0
        buf[3, j] += np.float64(z[i, t]) - other
        buf[4, j] += ent
