"""``tc.weighted_loss``: reduce per-sample losses with per-sample weights.

Libraries disagree on how a weighted batch loss is normalised, and the choice
changes the effective learning rate and what the loss estimates:

- ``"sum"`` (default): ``sum(w * l) / sum(w)``, the weighted mean of the batch
  (0 for a batch whose weights are all zero).
  Independent of the weights' scale; torch's ``CrossEntropyLoss(weight=...)``
  reduces this way. On a full batch of condensed samples it is exactly the
  full-data mean loss of the cluster means (EntroGeDe Eq. 4, times 2).
  On minibatches it is a ratio estimator (slightly biased).
- ``"mean"``: ``sum(w * l) / B``, the batch mean of weighted losses. Scales with
  the weights; use it with importance weights that average 1 (e.g. ``1 / (N p_i)``
  for a sampler that draws ``i`` with probability ``p_i``).
- ``"unbiased"``: ``sum(w * l) / (B * mean_weight)``, with ``mean_weight`` the
  mean weight over the whole dataset. For a batch drawn uniformly from the
  dataset its expectation is ``sum_all(w * l) / sum_all(w)``, the full weighted
  mean, without the ratio bias of ``"sum"``.
"""

from __future__ import annotations

import math

import torch

from ._validation import check_choice

__all__ = ["weighted_loss"]


def weighted_loss(per_sample_loss: torch.Tensor, w: torch.Tensor, normalize: str = "sum", *,
                  mean_weight: float | None = None) -> torch.Tensor:
    """Weighted reduction of ``per_sample_loss`` (B,) with weights ``w`` (B,).

    Args:
        per_sample_loss: (B,) losses, e.g. ``F.cross_entropy(..., reduction="none")``;
            (B, ...) losses (``F.mse_loss`` of (B, 1) outputs, per-pixel losses) are
            averaged over their other dimensions first, as ``reduction="mean"`` does.
        w: (B,) non-negative weights (cast to the loss dtype).
        normalize: ``"sum"``, ``"mean"`` or ``"unbiased"`` (see the module doc).
        mean_weight: the dataset-wide mean weight; required for ``"unbiased"``.

    Returns:
        A scalar tensor.
    """
    check_choice("normalize", normalize, ("sum", "mean", "unbiased"))
    if not isinstance(per_sample_loss, torch.Tensor) or per_sample_loss.ndim == 0:
        raise ValueError("per_sample_loss should be a tensor of per-sample losses, (B,) or (B, ...) "
                         "(use reduction='none'), but got "
                         f"{getattr(per_sample_loss, 'shape', type(per_sample_loss).__name__)}")
    if per_sample_loss.ndim > 1:  # e.g. MSELoss(reduction='none') of (B, 1) outputs
        per_sample_loss = per_sample_loss.flatten(1).mean(1)
    w = torch.as_tensor(w, device=per_sample_loss.device).to(per_sample_loss.dtype)
    if w.shape != per_sample_loss.shape:
        raise ValueError(f"w should have one weight per sample, shape {tuple(per_sample_loss.shape)}, "
                         f"but got shape {tuple(w.shape)}")
    total = (w * per_sample_loss).sum()
    if normalize == "sum":  # a batch whose weights are all zero contributes 0, not 0/0 = NaN
        ws = w.sum()
        return total / torch.where(ws == 0, torch.ones_like(ws), ws)
    if normalize == "mean":
        return total / per_sample_loss.shape[0]
    if mean_weight is None or not math.isfinite(mean_weight) or mean_weight <= 0:
        raise ValueError("normalize='unbiased' needs mean_weight, the positive mean weight over "
                         f"the whole dataset (e.g. ds.weights.mean()), but got mean_weight={mean_weight!r}")
    return total / (per_sample_loss.shape[0] * float(mean_weight))
