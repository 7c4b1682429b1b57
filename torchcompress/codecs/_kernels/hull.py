"""Per-bit gains along the lower convex hull of distortion curves."""

from numba import njit

__all__ = ["hull_gains"]


@njit(cache=True, nogil=True)
def hull_gains(dist, out):
    """Gain per added bit along each row's lower convex hull.

    From bit count ``b`` the hull goes to the ``j > b`` with the steepest
    average drop ``(D[b] - D[j]) / (j - b)``; every step on that segment gets
    that average. Steps after the curve stops falling get 0.

    Args:
        dist: (N, B) float64 error at 1..B bits.
        out: (N, B - 1) float64 gains, non-increasing along each row.
    """
    n, m = dist.shape
    for i in range(n):
        b = 0
        while b < m - 1:
            best = -1.0
            best_j = m - 1
            for j in range(b + 1, m):
                slope = (dist[i, b] - dist[i, j]) / (j - b)
                if slope > best:
                    best = slope
                    best_j = j
            if best < 0.0:
                best = 0.0
            for s in range(b, best_j):
                out[i, s] = best
            b = best_j
