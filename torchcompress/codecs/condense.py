"""EntroGeDe clustering phase: condensed, weighted samples from high-entropy bits.

Columns are read as offset binary (value minus the column minimum), so a
column's most significant bits split its value range in order and a cluster
is a box of nearby values. Of each column's non-constant bits, the most
significant ones are ranked by decreasing entropy and the top ``beta`` are
kept; when ``beta`` exceeds the number of columns, the next most significant
bits follow, round by round (Algorithm 1, lines 4-6). Rows with the same
pattern on those bits form a cluster; its mean (in value space) is a
condensed sample and its size the weight, so the weights sum to ``n``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validation import check_positive_int
from ._kernels.gede import refine_groups
from .gede_model import bit_entropy

__all__ = ["Condensed", "cluster_positions", "condense_rows"]


@dataclass
class Condensed:
    """Condensed samples: ``x`` (m, D) float64 means, ``y`` (m,), ``weight`` (m,) int64,
    ``cluster`` (n,) int64 of every source row, ``positions`` the (column, bit) pairs used."""

    x: np.ndarray
    y: np.ndarray
    weight: np.ndarray
    cluster: np.ndarray
    positions: np.ndarray


def cluster_positions(v: np.ndarray, beta: int) -> np.ndarray:
    """(k, 2) int64 (column, bit) pairs, k = min(beta, non-constant bits), in selection order."""
    beta = check_positive_int("beta", beta)
    n, d = v.shape
    u = v - v.min(axis=0)
    rounds: list[list[tuple[float, int, int]]] = []
    for j in range(d):
        col = u[:, j]
        width = int(col.max()).bit_length()
        msb_first = []
        for k in range(width - 1, -1, -1):
            ones = int(((col >> k) & 1).sum())
            if 0 < ones < n:
                msb_first.append((float(bit_entropy(np.array([ones]), n)[0]), j, k))
        for r, item in enumerate(msb_first):
            while len(rounds) <= r:
                rounds.append([])
            rounds[r].append(item)
    chosen: list[tuple[int, int]] = []
    for cands in rounds:
        cands.sort(key=lambda t: (-t[0], t[1]))  # decreasing entropy, then column order
        for _, j, k in cands[:beta - len(chosen)]:
            chosen.append((j, k))
        if len(chosen) == beta:
            break
    return np.array(chosen, dtype=np.int64).reshape(-1, 2)


def condense_rows(values: np.ndarray, v: np.ndarray, y: np.ndarray, beta: int, *,
                  start_groups: np.ndarray | None = None) -> Condensed:
    """Cluster rows by their pattern on the top-``beta`` bits and average each cluster.

    Args:
        values: (n, D) float64 samples in value space (what the means average).
        v: (n, D) int64 integer columns (fixed point) the bits come from.
        y: (n,) targets: real targets are averaged per cluster; with integer
            classes every cluster stays inside one class.
        start_groups: (n,) int64 initial partition; default the classes for
            integer ``y``, one group for real ``y``.
    """
    n = v.shape[0]
    if start_groups is None and y.dtype.kind != "f":
        start_groups = y
    pos = cluster_positions(v, beta)
    # a row per position: each split reads one, contiguous
    ut = np.ascontiguousarray(((v - v.min(axis=0))[:, pos[:, 0]]).T if len(pos) else
                              np.zeros((0, n)), dtype=np.uint16)
    if start_groups is None:
        group = np.zeros(n, dtype=np.int64)
        nb = 1
    else:
        _, group = np.unique(start_groups, return_inverse=True)
        group = group.astype(np.int64)
        nb = int(group.max()) + 1
    child = np.full(2 * max(n, 1), -1, dtype=np.int64)
    for t in range(len(pos)):
        nb = refine_groups(ut[t], int(pos[t, 1]), group, nb, child)
    weight = np.bincount(group, minlength=nb).astype(np.int64)
    sums = np.zeros((nb, values.shape[1]), dtype=np.float64)
    np.add.at(sums, group, values)
    x = sums / weight[:, None]
    if y.dtype.kind == "f":
        yc = (np.bincount(group, weights=y.astype(np.float64), minlength=nb) / weight).astype(y.dtype)
    else:
        yc = np.empty(nb, dtype=y.dtype)
        yc[group] = y  # every cluster lies inside one class
    return Condensed(x, yc, weight, group, pos)
