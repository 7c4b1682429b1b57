"""Codecs: arrays in, bytes out, and back. No torch imports here."""

from .adq import ADQCodec, ADQParams
from .registry import CODECS, make_codec

__all__ = ["ADQCodec", "ADQParams", "CODECS", "make_codec"]
