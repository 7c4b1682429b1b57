"""Exception types raised by torchcompress.

Every error names the argument or file it is about, the rule that was broken,
the value that broke it, and what to do instead.
"""

__all__ = ["AugmentedSourceWarning", "CodecError", "FormatError", "LargerThanFilesWarning"]


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
