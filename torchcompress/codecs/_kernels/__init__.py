"""Numba kernels. Pure functions: arrays in, a caller-allocated array out.

Callers (the codec wrappers) validate shapes, dtypes and bounds first; the
kernels do no checking of their own.
"""

import numpy as np

__all__ = ["readonly"]


def readonly(a: np.ndarray) -> np.ndarray:
    """A read-only view of ``a``. Archive tensors are read-only, and numba compiles a kernel
    once per array type: arrays a codec hands to a decoder from both places (freshly encoded
    and read back) go through this, so each decoder compiles once."""
    v = a.view()
    v.flags.writeable = False
    return v
