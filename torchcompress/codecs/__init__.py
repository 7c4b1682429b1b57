"""Codecs: arrays in, bytes out, and back. No torch imports here."""

from .adq import ADQCodec, ADQParams
from .gede import GeDeCodec, GeDeParams
from .registry import CODECS, make_codec

__all__ = ["ADQCodec", "ADQParams", "CODECS", "GeDeCodec", "GeDeParams", "make_codec"]
