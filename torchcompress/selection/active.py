"""Expected-error-reduction active learning (DQAS Eq. 6), approximated on a linear head.

Eq. 6 asks, for every candidate ``x`` of the pool ``R``, for the pool's
expected log loss after retraining on ``S + {(x, y)}``. Retraining a network
per candidate is infeasible, so we (1) fit a ridge-regularised softmax head
on frozen features of ``S``, and (2) predict the effect of adding one
candidate by one Newton step (the influence function):
``dW = -H^-1 grad l(x, y) / (|S| + 1)``, so the pool loss changes by
``grad L_R . dW = -(grad l(x, y) . H^-1 grad L_R) / (|S| + 1)``. One
conjugate-gradient solve serves every candidate, and the per-candidate dot
product is ``(p_x - onehot(y))^T V phi_x``: O(|R| C d) in all. Labels are
known here (the data is labelled), so ``P_0(y|x)`` is the one-hot label and
Eq. 6's expected loss is the pool cross-entropy.
"""

from __future__ import annotations

import numpy as np
import torch

from .._arrays import as_index_array, to_numpy
from .._validation import check_positive_int

__all__ = ["LinearHead", "expected_error_reduction"]


class LinearHead:
    """Softmax regression ``W [phi; 1]`` fit by L-BFGS with an L2 penalty ``l2 |W|^2 / 2``."""

    def __init__(self, features: torch.Tensor, labels: torch.Tensor, num_classes: int,
                 l2: float = 1e-3, steps: int = 100):
        self.phi = torch.cat([features, torch.ones(len(features), 1, dtype=features.dtype)], 1)
        self.y, self.l2 = labels, l2
        self.w = torch.zeros(num_classes, self.phi.shape[1], dtype=features.dtype, requires_grad=True)
        opt = torch.optim.LBFGS([self.w], max_iter=steps, line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = self.objective(self.w)
            loss.backward()
            return loss
        opt.step(closure)
        self.w = self.w.detach()

    def objective(self, w: torch.Tensor) -> torch.Tensor:
        ce = torch.nn.functional.cross_entropy(self.phi @ w.T, self.y)
        return ce + 0.5 * self.l2 * (w * w).sum()

    def hvp(self, v: torch.Tensor) -> torch.Tensor:
        return torch.autograd.functional.hvp(self.objective, self.w, v)[1]


def _conjugate_gradient(hvp, b: torch.Tensor, iters: int = 100, tol: float = 1e-8) -> torch.Tensor:
    x = torch.zeros_like(b)
    r = b.clone()
    p = r.clone()
    rr = (r * r).sum()
    for _ in range(iters):
        hp = hvp(p)
        alpha = rr / (p * hp).sum()
        x += alpha * p
        r -= alpha * hp
        rr_new = (r * r).sum()
        if rr_new.sqrt() < tol * b.norm():
            break
        p = r + (rr_new / rr) * p
        rr = rr_new
    return x


def expected_error_reduction(features, labels, selected, k: int, *, num_classes: int,
                             pool=None, l2: float = 1e-3) -> np.ndarray:
    """The ``k`` pool samples whose addition most lowers the pool's predicted log loss.

    Args:
        features: (N, d) frozen features of all samples.
        labels: (N,) int labels.
        selected: indices of the current set ``S``.
        k: how many to add.
        num_classes: C.
        pool: candidate indices ``R`` (default: everything not in ``S``).
        l2: ridge penalty of the head.

    Returns:
        (k,) int64 indices from the pool, best first.
    """
    num_classes = check_positive_int("num_classes", num_classes)
    phi = torch.from_numpy(to_numpy(features, np.float64))
    n = len(phi)
    y = as_index_array("labels", labels)
    if phi.ndim != 2 or len(y) != n:
        raise ValueError(f"features should be (N, d) with one label each, but got {tuple(phi.shape)} "
                         f"and {tuple(y.shape)} labels")
    if len(y) and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"labels should be class ids in [0, {num_classes}) (num_classes="
                         f"{num_classes}), but got {int(y.min())}..{int(y.max())}")
    y = torch.from_numpy(y)
    sel = torch.from_numpy(as_index_array("selected", selected, n))
    if pool is None:
        mask = torch.ones(n, dtype=torch.bool)
        mask[sel] = False
        pool_idx = torch.nonzero(mask)[:, 0]
    else:
        pool_idx = torch.from_numpy(as_index_array("pool", pool, n))
        both = np.intersect1d(pool_idx.numpy(), sel.numpy())
        if both.size:
            raise ValueError(f"pool should hold candidates outside selected, but {both.size} "
                             f"index(es) are in both (e.g. {int(both[0])}); they could be picked "
                             "again")
    k = check_positive_int("k", k)
    if k > len(pool_idx):
        raise ValueError(f"k should be at most the pool size {len(pool_idx)}, but got k={k}")
    head = LinearHead(phi[sel], y[sel], num_classes, l2=l2)
    w = head.w.clone().requires_grad_(True)
    phi_r = torch.cat([phi[pool_idx], torch.ones(len(pool_idx), 1, dtype=phi.dtype)], 1)
    pool_loss = torch.nn.functional.cross_entropy(phi_r @ w.T, y[pool_idx])
    g_pool = torch.autograd.grad(pool_loss, w)[0]
    v = _conjugate_gradient(head.hvp, g_pool)
    with torch.no_grad():
        resid = torch.softmax(phi_r @ head.w.T, 1)
        resid[torch.arange(len(pool_idx)), y[pool_idx]] -= 1.0
        reduction = (resid * (phi_r @ v.T)).sum(1) / (len(sel) + 1)  # = -(change of pool loss)
    best = torch.argsort(-reduction, stable=True)[:k]
    return pool_idx[best].numpy()
