"""Dataset layer: the only place arrays become tensors."""

from .compress import compress
from .compressed import CompressedDataset, open_archive, verify

__all__ = ["CompressedDataset", "compress", "open_archive", "verify"]
