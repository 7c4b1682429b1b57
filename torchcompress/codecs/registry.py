"""Codec registry: name -> codec class. Each class satisfies ``protocol.Codec``."""

from __future__ import annotations

import warnings

from .adq import ADQCodec
from .gede import GeDeCodec
from .lossless import LosslessCodec
from .lossy import LossyCodec
from .original import OriginalCodec

__all__ = ["CODECS", "make_codec"]

CODECS = {"adq": ADQCodec, "gede": GeDeCodec, "lossless": LosslessCodec, "lossy": LossyCodec,
          "original": OriginalCodec}


def make_codec(name: str, params: dict, *, warn_renamed: bool = True):
    """Build codec ``name`` from a parameter dict; unknown names list the valid ones.

    A parameter the codec renamed (``renamed_params``) is accepted under its
    old name, with a DeprecationWarning unless ``warn_renamed`` is False
    (reading an archive written before the rename).
    """
    if name not in CODECS:
        valid = ", ".join(repr(k) for k in sorted(CODECS))
        raise ValueError(f"codec should be one of {valid}, but got codec={name!r}")
    cls = CODECS[name]
    params = dict(params)
    for old, new in getattr(cls, "renamed_params", {}).items():
        if old in params:
            if new in params:
                raise TypeError(f"codec {name!r} got both {old}= and {new}=; pass only {new}=")
            if warn_renamed:
                warnings.warn(f"{old}= as a {name!r} codec option is deprecated and will be removed in "
                              f"the next release; use {new}= ({old}= is the per-sample callable in "
                              "tc.open)", DeprecationWarning, stacklevel=3)
            params[new] = params.pop(old)
    fields = cls.params_type.__dataclass_fields__
    unknown = sorted(set(params) - set(fields))
    if unknown:
        raise TypeError(f"codec {name!r} got unknown parameter(s) {unknown}; "
                        f"valid ones are {sorted(fields)}")
    return cls(cls.params_type.from_dict(params))
