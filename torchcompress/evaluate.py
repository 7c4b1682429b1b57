"""Evaluation helpers that feed the adaptive samplers."""

from __future__ import annotations

import numpy as np
import torch

from ._distributed import all_reduce_sum
from ._validation import check_flag, check_positive_int

__all__ = ["per_class_accuracy"]


def _logits(out) -> torch.Tensor:
    """The (B, C) logits of a model's output: a tensor, the first of a tuple (Inception's aux
    logits), or ``.logits`` (Hugging Face's model outputs)."""
    if isinstance(out, (tuple, list)) and out:
        out = out[0]
    out = getattr(out, "logits", out)
    if not isinstance(out, torch.Tensor) or out.ndim != 2:
        raise TypeError("per_class_accuracy needs the model to return (B, C) logits (or a tuple "
                        f"starting with them, or an object with .logits), but it returned "
                        f"{type(out).__name__}{tuple(out.shape) if hasattr(out, 'shape') else ''}")
    return out


@torch.no_grad()
def per_class_accuracy(model: torch.nn.Module, loader, num_classes: int, *,
                       device: torch.device | str | None = None,
                       distributed: bool = True) -> np.ndarray:
    """(C,) accuracy of ``model`` on each class of ``loader`` (NaN for a class it never saw).

    Batches are ``(x, y, ...)``; extra items (weights, indices) are ignored.
    Under DDP the correct and total counts are summed over ranks, so every rank
    gets the same accuracies (feed them to ``ClassRatioSampler.update``).
    The model's train/eval mode is restored afterwards. ``device``: where the
    inputs go; by default the device of the model's first parameter.
    ``distributed=False`` counts this process's batches alone: for an
    evaluation on one rank (under ``if rank == 0:``), where the sum over ranks
    would wait for ranks that never call it. ``ClassRatioSampler.update`` still
    runs on every rank (it takes rank 0's accuracies).
    """
    num_classes = check_positive_int("num_classes", num_classes)
    distributed = check_flag("distributed", distributed)
    if not isinstance(model, torch.nn.Module):  # it goes to eval mode: a function would not
        raise TypeError(f"model should be a torch.nn.Module (it is put in eval mode for the "
                        f"count and back), but got {type(model).__name__}; wrap a function with "
                        "its model in one, e.g. torch.nn.Sequential(preprocess_module, model)")
    if device is None:
        device = next((p.device for p in model.parameters()), None)
    was_training = model.training
    model.eval()
    counts = torch.zeros(2, num_classes, dtype=torch.float64)
    try:
        for batch in loader:
            x, y = batch[0], torch.as_tensor(batch[1])
            if device is not None and isinstance(x, torch.Tensor):
                x = x.to(device)
            pred = _logits(model(x)).argmax(1).cpu()
            y = y.cpu().long()
            if len(y) and (y.min() < 0 or y.max() >= num_classes):
                raise ValueError(f"the loader's labels should be class ids in [0, {num_classes}) "
                                 f"(num_classes={num_classes}), but a batch holds "
                                 f"{int(y.min())}..{int(y.max())}")
            counts[0] += torch.bincount(y[pred == y], minlength=num_classes)[:num_classes].double()
            counts[1] += torch.bincount(y, minlength=num_classes)[:num_classes].double()
    finally:
        model.train(was_training)
    if distributed:
        counts = all_reduce_sum(counts)
    total = counts[1].numpy()
    return np.where(total > 0, counts[0].numpy() / np.maximum(total, 1), np.nan)
