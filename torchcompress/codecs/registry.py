"""Codec registry: name -> codec class.

Every codec offers the archive-level protocol that ``tc.compress`` and the
datasets use: ``encode_dataset(x, labels, importance=)`` returns an encoded
object with ``shard(a, b)``, ``extras()``, ``stats(D, peak)`` and ``payload``;
``open_tables(extras, where)`` validates archive-wide arrays; and
``decoder(arrays, ...)`` validates one shard and returns an object whose
``decode(rows, out, planes=)`` fills ``out`` (B, D). Codecs also say what
``tc.compress`` may assume: ``lossless``, ``measures_error``, ``progressive``,
``describe()``, ``check_targets(labels)`` and ``tolerance(flat)``.
"""

from __future__ import annotations

from .adq import ADQCodec
from .gede import GeDeCodec

__all__ = ["CODECS", "make_codec"]

CODECS = {"adq": ADQCodec, "gede": GeDeCodec}


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
