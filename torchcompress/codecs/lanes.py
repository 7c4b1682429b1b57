"""Which rows of a batch a lane decoder takes: groups of 16 coded records of one shape."""

from __future__ import annotations

import numpy as np

from ._kernels.simd import LANES

__all__ = ["LANES_MIN", "lane_groups"]

#: a shape's last records go into lanes (the spare lanes repeat one) when at least this many
#: are left; fewer are decoded one at a time
LANES_MIN = 6


def lane_groups(dims: np.ndarray, coded: np.ndarray) -> tuple[list, np.ndarray]:
    """(index arrays of ``LANES`` rows of one shape, the sorted indices decoded one at a time).

    Args:
        dims: (B, k) each row's shape; ``coded``: (B,) bool, the rows a lane may take.
    """
    idx = np.flatnonzero(coded)
    if not len(idx) or (dims[idx] == dims[idx[0]]).all():  # one shape: no grouping
        by_shape = [idx]
    else:
        _, inv = np.unique(dims[idx], axis=0, return_inverse=True)
        inv = inv.reshape(-1)
        by_shape = [idx[inv == k] for k in range(int(inv.max()) + 1)]
    groups, alone = [], [np.flatnonzero(~coded)]
    for ix in by_shape:
        full = len(ix) - len(ix) % LANES
        groups += [ix[k:k + LANES] for k in range(0, full, LANES)]
        left = ix[full:]
        if len(left) >= LANES_MIN:
            groups.append(np.concatenate([left, np.full(LANES - len(left), left[0])]))
        else:
            alone.append(left)
    return groups, np.sort(np.concatenate(alone))
