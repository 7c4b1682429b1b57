"""Argument checks shared by the public API: one message style everywhere."""

from __future__ import annotations

import math
import numbers
import operator
import os
import re
from typing import Any, Iterable

import numpy as np

__all__ = ["check_callable", "check_choice", "check_flag", "check_fraction", "check_index",
           "check_positive_int", "check_range", "expand_path", "listing"]


def check_positive_int(name: str, value: Any, *, allow_zero: bool = False) -> int:
    """Return ``value`` as int, or raise TypeError/ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} should be an int, but got {name}={value!r} ({type(value).__name__})")
    lo = 0 if allow_zero else 1
    if value < lo:
        kind = "a non-negative" if allow_zero else "a positive"
        raise ValueError(f"{name} should be {kind} integer value, but got {name}={value}")
    return int(value)


def check_flag(name: str, value: Any) -> bool:
    """``value`` as bool when it is one (numpy's too): ``overwrite="no"`` is truthy, and would
    replace an archive."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} should be True or False, but got {name}={value!r} "
                        f"({type(value).__name__})")
    return bool(value)


def check_range(name: str, value: Any, lo: float, hi: float) -> float:
    """Return ``value`` as float if ``lo <= value <= hi``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} should be a number, but got {name}={value!r} ({type(value).__name__})")
    v = float(value)
    if not (math.isfinite(v) and lo <= v <= hi):
        raise ValueError(f"{name} should be in [{lo}, {hi}], but got {name}={value}")
    return v


def check_fraction(name: str, value: Any) -> float:
    """Return ``value`` as float if ``0 < value <= 1``."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise TypeError(f"{name} should be a number in (0, 1], but got {name}={value!r}") from None
    if not (math.isfinite(v) and 0.0 < v <= 1.0):
        raise ValueError(f"{name} should be in (0, 1], but got {name}={value}")
    return v


def check_choice(name: str, value: Any, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``; otherwise list the valid ones."""
    choices = list(choices)
    if value not in choices:
        valid = ", ".join(repr(c) for c in choices)
        raise ValueError(f"{name} should be one of {valid}, but got {name}={value!r}")
    return value


def check_callable(name: str, value: Any) -> Any:
    """``value`` when it is None or callable; else a TypeError naming ``name``."""
    if value is not None and not callable(value):
        raise TypeError(f"{name} should be callable (e.g. a torchvision transform) or None, but "
                        f"got {name}={value!r} ({type(value).__name__})")
    return value


def check_index(i: Any, n: int, what: str) -> int:
    """``i`` as an index in ``[0, n)`` (negative ones count from the end) into ``what``
    (e.g. "a dataset of 40 samples"), or a TypeError/IndexError saying so."""
    if isinstance(i, bool) or not isinstance(i, numbers.Integral):
        # a one-element integer tensor or array (a sampler's torch.randint, say) is an index, as
        # for TensorDataset and torchvision's datasets; floats, bools and the rest are not
        dtype = getattr(i, "dtype", None)
        try:
            if "int" not in str(dtype):
                raise TypeError
            i = operator.index(i)
        except (TypeError, RuntimeError):
            what = type(i).__name__ if dtype is None else \
                f"{type(i).__name__} of dtype {dtype} and shape {tuple(i.shape)}"
            many = "; decode several with ds.__getitems__(indices)" \
                if ("int" in str(dtype) and math.prod(i.shape) > 1) or \
                isinstance(i, (slice, list, tuple, range)) else ""
            raise TypeError(f"index should be an int, but got {what}{many}") from None
    if not -n <= i < n:
        raise IndexError(f"index {i} is out of range for {what}")
    return int(i) % n


#: a URL's scheme (two letters at least: ``C:/`` is a Windows drive)
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]+://")


def expand_path(p: Any) -> Any:
    """A path argument with ``~`` expanded, as torchvision's dataset roots are (a str, bytes or
    PathLike, as a str; anything else, e.g. a dataset, unchanged). A URL is refused: as a
    local path ``s3://b/x.tcz`` named the folder ``s3:/b/x.tcz`` under the working directory."""
    if not isinstance(p, (str, bytes, os.PathLike)):
        return p
    path = os.fsdecode(p)
    if _URL.match(path):
        raise ValueError(f"{path!r} is a URL, but torchcompress reads and writes local paths only "
                         "(a mounted bucket works: s3fs, gcsfuse, blobfuse); copy the data or "
                         "the archive to a local path, or mount it")
    return os.path.expanduser(path)


def listing(items: Iterable[Any], limit: int = 3) -> str:
    """The first ``limit`` of ``items`` joined for a message, with ", ..." where more follow."""
    items = [str(v) for v in items]
    return ", ".join(items[:limit]) + (", ..." if len(items) > limit else "")
