"""Dataset layer: the only place arrays become tensors."""

from .compress import compress
from .compressed import CompressedDataset, verify
from .concat import ConcatDataset
from .condensed import CondensedDataset, condense
from .opening import open_archive
from .summary import describe

__all__ = ["CompressedDataset", "ConcatDataset", "CondensedDataset", "compress", "condense", "describe",
           "open_archive", "verify"]
