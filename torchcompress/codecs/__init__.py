"""Codecs: arrays in, bytes out, and back. No torch imports here."""

from .adq import ADQCodec, ADQParams
from .gede import GeDeCodec, GeDeParams
from .lossless import LosslessCodec, LosslessParams
from .lossy import LossyCodec, LossyParams
from .original import OriginalCodec, OriginalParams
from .protocol import Codec, Encoded, ShardDecoder
from .registry import CODECS, make_codec

__all__ = ["ADQCodec", "ADQParams", "CODECS", "Codec", "Encoded", "GeDeCodec", "GeDeParams",
           "LosslessCodec", "LosslessParams", "LossyCodec", "LossyParams", "OriginalCodec", "OriginalParams", "ShardDecoder", "make_codec"]
