"""Exception types raised by torchcompress.

Every error names the argument or file it is about, the rule that was broken,
the value that broke it, and what to do instead.
"""

import os
import sys

__all__ = ["AugmentedSourceWarning", "CodecError", "FormatError", "LargerThanFilesWarning",
           "user_stacklevel"]

_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


class FormatError(ValueError):
    """An archive on disk is malformed, truncated, corrupt or from a newer version."""


class CodecError(ValueError):
    """A codec cannot encode the given data with the given parameters."""


class LargerThanFilesWarning(UserWarning):
    """An archive takes more bytes than the image files it was made from (e.g. a lossless
    archive of JPEGs' pixels): ``codec="original"`` keeps the files."""


class AugmentedSourceWarning(UserWarning):
    """The source given to ``tc.compress`` transforms its samples at random (e.g.
    ``RandomResizedCrop``): the archive would store one draw; pass augmentations to
    ``tc.open(transform=...)`` instead."""


def user_stacklevel() -> int:
    """The ``stacklevel`` at which a ``warnings.warn`` in the function calling this names the
    first line outside torchcompress (the user's call), however deep the package's own calls
    run."""
    frame, level = sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    return level
