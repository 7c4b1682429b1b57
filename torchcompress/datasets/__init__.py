"""Dataset layer: the only place arrays become tensors."""

from .compress import compress
from .compressed import CompressedDataset, verify
from .condensed import CondensedDataset, condense
from .opening import open_archive
from .summary import describe

__all__ = ["CompressedDataset", "CondensedDataset", "compress", "condense", "describe",
           "open_archive", "verify"]
