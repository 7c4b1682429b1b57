"""Codec registry: name -> codec class. Each class satisfies ``protocol.Codec``."""

from __future__ import annotations

from .adq import ADQCodec
from .gede import GeDeCodec
from .lossless import LosslessCodec

__all__ = ["CODECS", "make_codec"]

CODECS = {"adq": ADQCodec, "gede": GeDeCodec, "lossless": LosslessCodec}


def make_codec(name: str, params: dict):
    """Build codec ``name`` from a parameter dict; unknown names list the valid ones."""
    if name not in CODECS:
        valid = ", ".join(repr(k) for k in sorted(CODECS))
        raise ValueError(f"codec should be one of {valid}, but got codec={name!r}")
    cls = CODECS[name]
    fields = cls.params_type.__dataclass_fields__
    unknown = sorted(set(params) - set(fields))
    if unknown:
        raise TypeError(f"codec {name!r} got unknown parameter(s) {unknown}; "
                        f"valid ones are {sorted(fields)}")
    return cls(cls.params_type.from_dict(params))
