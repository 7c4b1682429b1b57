"""The archive format: a manifest plus safetensors shards. No torch imports here."""

from .manifest import FORMAT_NAME, FORMAT_VERSION, MANIFEST_FILE, ExtraInfo, Manifest, ShardInfo
from .decoding import ArchiveDecoder
from .reader import ArchiveReader
from .verify import verify
from .writer import ArchiveWriter

__all__ = ["ArchiveDecoder", "ArchiveReader", "ArchiveWriter", "ExtraInfo", "FORMAT_NAME", "FORMAT_VERSION",
           "MANIFEST_FILE", "Manifest", "ShardInfo", "verify"]
