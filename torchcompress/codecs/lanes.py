"""Which rows of a batch a lane decoder takes, in groups of 16.

The lossless lanes (:func:`lane_groups`) take coded records of one plane
count. A group runs over its widest and tallest record, so a record smaller than
that leaves its lane idle for the rest (see ``lossless_lanes``). Records of
one plane count are taken widest first, then tallest, and cut into groups of
16: photos of one width and similar heights fill a group. A group is kept
when its records fill at least ``LANES_MIN`` of its 16 lanes' steps; else
its first record, too big for the others, is decoded one at a time and the
group starts at the next (the lanes cost a third of the one-at-a-time
decoder per value on real photos, so a group pays from about 5 of 16 lanes).

The least-squares lanes (:func:`plane_groups`) model three planes: they take the
coded RGB records, of any shapes, as :func:`lane_groups` cuts them.

The lossy lanes (:func:`length_groups`) walk each record's symbols to its
own end, so they take records longest first.
"""

from __future__ import annotations

import warnings

import numpy as np

from ._kernels.simd import LANES

__all__ = ["LANES_MIN", "lane_groups", "lanes_unavailable", "length_groups", "plane_groups"]

#: a group is decoded in lanes when its records fill at least this many of its 16 lanes'
#: steps (a group of fewer than 16 records repeats one in the spare lanes)
LANES_MIN = 6


def lane_groups(dims: np.ndarray, coded: np.ndarray,
                one_shape: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """((G, LANES) indices, each row a group of one plane count; the sorted indices decoded
    one at a time).

    Args:
        dims: (B, 3) each row's (planes, height, width); ``coded``: (B,) bool, the rows a lane
            may take; ``one_shape``: every row has the same dims (the caller knows).
    """
    if coded.all():  # the usual batch (two flatnonzero calls fewer)
        idx, alone = np.arange(len(coded)), [np.empty(0, dtype=np.int64)]
    else:
        idx, alone = np.flatnonzero(coded), [np.flatnonzero(~coded)]
    if one_shape or (len(idx) and (dims[idx] == dims[idx[0]]).all()):
        full = len(idx) - len(idx) % LANES  # one shape: every full group, in order
        first = idx[:full].reshape(-1, LANES)
        if full == len(idx) == len(coded):  # a whole batch of coded records: nothing else
            return first, alone[0]
        groups, by_planes = [first], [idx[full:]]
    else:
        groups = [np.empty((0, LANES), dtype=np.int64)]
        by_planes = [idx[dims[idx, 0] == p] for p in np.unique(dims[idx, 0])]
    for ix in by_planes:
        ix = ix[np.lexsort((-dims[ix, 1], -dims[ix, 2]))]  # stable: one shape keeps its order
        area = (dims[ix, 1] * dims[ix, 2]).tolist()
        hs, ws = dims[ix, 1].tolist(), dims[ix, 2].tolist()
        k = 0
        while k < len(ix):  # plain Python on lists: a batch has tens of groups
            end = min(k + LANES, len(ix))
            if sum(area[k:end]) >= LANES_MIN * max(hs[k:end]) * max(ws[k:end]):  # filled
                g = ix[k:end]
                groups.append(np.concatenate([g, np.full(LANES - len(g), g[0])])[None])
                k = end
            else:  # its first record, the widest, is too big for the rest: decoded alone
                alone.append(ix[k:k + 1])
                k += 1
    return np.concatenate(groups).astype(np.int64, copy=False), np.sort(np.concatenate(alone))


def plane_groups(dims: np.ndarray, coded: np.ndarray,
                 planes: int) -> tuple[np.ndarray, np.ndarray]:
    """:func:`lane_groups` for lanes that model ``planes`` planes only (the least-squares lanes:
    RGB): the rows ``coded`` of ``planes`` planes, of any shapes, in groups; every other row is
    decoded one at a time."""
    ok = coded & (dims[:, 0] == planes)
    idx = np.flatnonzero(ok)
    if not len(idx):
        return np.empty((0, LANES), dtype=np.int64), np.arange(len(coded))
    groups, alone = lane_groups(dims[idx], np.ones(len(idx), dtype=bool))
    return idx[groups], np.sort(np.concatenate([np.flatnonzero(~ok), idx[alone]]))


def length_groups(lengths: np.ndarray, ok: np.ndarray,
                  min_fill: int = LANES_MIN) -> tuple[np.ndarray, np.ndarray]:
    """((G, LANES) indices, -1 in spare lanes; the sorted indices decoded one at a time) for a
    lane decoder whose lanes each walk their own record to its end (the lossy codec's): the
    rows ``ok`` allows, longest ``lengths`` first, in groups of 16, so a group's records end
    at about the same step. A last group of fewer than ``min_fill`` is decoded one at a time.
    """
    idx = np.flatnonzero(ok)
    idx = idx[np.argsort(-lengths[idx], kind="stable")]
    full = len(idx) - len(idx) % LANES
    keep = full + (len(idx) - full if len(idx) - full >= min_fill else 0)
    groups = np.full(-(-keep // LANES) * LANES, -1, dtype=np.int64)
    groups[:keep] = idx[:keep]
    alone = np.ones(len(lengths), dtype=bool)
    alone[idx[:keep]] = False
    return groups.reshape(-1, LANES), np.flatnonzero(alone)


def lanes_unavailable(codec: str, err: Exception) -> None:
    """Warn that ``codec``'s lane decoder does not compile here (the caller then turns its lanes
    off and decodes one record at a time)."""
    warnings.warn(f"torchcompress: the 16-lane {codec} decoder does not compile here ({err}); "
                  "decoding one record at a time", RuntimeWarning, stacklevel=4)
