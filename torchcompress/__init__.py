"""torchcompress: store PyTorch training sets compactly and train from them directly.

>>> import torchcompress as tc
>>> info = tc.compress((x, y), "out.tcz", codec="adq", bits=2.0)   # doctest: +SKIP
>>> ds = tc.open("out.tcz")                                         # doctest: +SKIP
"""

__version__ = "0.2.0"

from . import codecs, dynamics, evaluate, format, samplers, selection  # noqa: E402
from .datasets import (CompressedDataset, ConcatDataset, CondensedDataset, compress,  # noqa: E402
                       condense, open_archive, verify)
from .dynamics import with_indices  # noqa: E402
from .losses import weighted_loss  # noqa: E402
from .errors import (AugmentedSourceWarning, CodecError, FormatError,  # noqa: E402
                     LargerThanFilesWarning)

open = open_archive  # noqa: A001  (tc.open, like torchvision's dataset constructors)

__all__ = sorted([
    "AugmentedSourceWarning", "CodecError", "CompressedDataset", "ConcatDataset",
    "CondensedDataset", "FormatError", "LargerThanFilesWarning",
    "__version__", "codecs",
    "compress", "condense", "dynamics", "evaluate", "format", "open", "open_archive", "samplers",
    "selection", "verify", "weighted_loss", "with_indices",
])
