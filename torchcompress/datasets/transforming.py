"""A dataset's transform arguments, checked as torchvision's datasets take them and called
with a hint where a pipeline written for PIL images meets a tensor."""

from __future__ import annotations

import torch

from .._validation import check_callable

__all__ = ["check_transforms", "pil_hint"]


def check_transforms(transforms, transform, target_transform):
    """The three transform arguments checked as torchvision's ``VisionDataset`` takes them:
    ``transforms(x, y)`` (joint) or ``transform``/``target_transform``, not both."""
    for name, value in (("transforms", transforms), ("transform", transform),
                        ("target_transform", target_transform)):
        check_callable(name, value)
    if transforms is not None and (transform is not None or target_transform is not None):
        raise ValueError("pass transforms= (one callable taking and returning (x, y)) or "
                         "transform=/target_transform=, not both (as torchvision's datasets)")
    return transforms, transform, target_transform


def pil_hint(fn, *args):
    """``fn(*args)``; torchvision's "pic should be PIL Image" (ToTensor or PILToTensor given a
    tensor, as ``ds[i]`` gives one) gains what to do instead."""
    try:
        return fn(*args)
    except TypeError as e:
        if "should be PIL Image" not in str(e) or not isinstance(args[0], torch.Tensor):
            raise
        raise TypeError(f"{e}: the transform takes PIL images (torchvision's ToTensor() or "
                        "PILToTensor()), but this dataset gives uint8 CHW tensors, as "
                        "torchvision.io does. Replace ToTensor() by v2.ToDtype(torch.float32, "
                        "scale=True) (the same values, faster), drop PILToTensor(), or open "
                        "the archive with output='pil' to get PIL images as torchvision's "
                        "datasets give them") from e
