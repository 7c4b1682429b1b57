"""The archive manifest: what is stored, how, and where."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field

import numpy as np

from .._validation import listing
from ..errors import FormatError

__all__ = ["ExtraInfo", "FORMAT_NAME", "FORMAT_VERSION", "LABEL_DTYPES", "MANIFEST_FILE",
           "Manifest", "ShardInfo", "load_manifest"]

FORMAT_NAME = "torchcompress"
FORMAT_VERSION = 11
MANIFEST_FILE = "manifest.json"
#: the dtypes a shard's class labels are stored in, the first that holds them (version 11;
#: int64 before): MNIST's archive 1,484,570 -> 1,414,562 bytes, 18.9 -> 18.0% of its source
LABEL_DTYPES = (np.uint8, np.int8, np.uint16, np.int16, np.int32, np.int64)


@dataclass(frozen=True)
class ShardInfo:
    """One shard file holding samples ``[start, stop)``."""

    file: str
    start: int
    stop: int
    bytes: int
    xxh3_64: str


@dataclass(frozen=True)
class ExtraInfo:
    """An archive-wide tensor file, e.g. the GeDe model tables."""

    file: str
    bytes: int
    xxh3_64: str


@dataclass
class Manifest:
    """Everything needed to read an archive, serialised as ``manifest.json``."""

    codec: str
    codec_params: dict
    sample_shape: tuple
    sample_dtype: str
    num_samples: int
    shards: list
    classes: list | None = None
    provenance: dict = field(default_factory=dict)
    stats: dict = field(default_factory=dict)
    format_version: int = FORMAT_VERSION
    extras: dict = field(default_factory=dict)  # name -> ExtraInfo
    target_shape: tuple = ()  # (1,): real targets given (and given back) as one-value columns

    def to_json(self) -> str:
        d = asdict(self)
        d["sample_shape"] = list(self.sample_shape)
        if not d["extras"]:
            del d["extras"]  # archives without extras keep the original layout
        if self.target_shape:
            d["target_shape"] = list(self.target_shape)
        else:
            del d["target_shape"]  # scalar labels, as before version 11
        d = {"format": FORMAT_NAME, **d}
        return json.dumps(d, indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str, where: str) -> "Manifest":
        try:
            d = json.loads(text, object_pairs_hook=_unique_keys)
        except json.JSONDecodeError as e:
            raise FormatError(f"{where}: not valid JSON ({e})") from None
        except _DuplicateKey as e:
            raise FormatError(f"{where}: key {e.args[0]!r} appears twice in one object; the "
                              "manifest is corrupt or was edited by hand") from None
        if not isinstance(d, dict) or d.get("format") != FORMAT_NAME:
            found = d.get("format") if isinstance(d, dict) else type(d).__name__
            raise FormatError(f"{where}: 'format' should be {FORMAT_NAME!r}, found {found!r}; "
                              "this is not a torchcompress archive")
        version = d.get("format_version")
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise FormatError(f"{where}: 'format_version' should be a positive int, found {version!r}")
        if version > FORMAT_VERSION:
            raise FormatError(f"{where}: format_version {version} is newer than this torchcompress "
                              f"reads ({FORMAT_VERSION}); upgrade torchcompress to open it")
        try:
            m = cls(
                codec=str(d["codec"]), codec_params=dict(d["codec_params"]),
                sample_shape=tuple(None if s is None else int(s) for s in d["sample_shape"]),
                sample_dtype=str(d["sample_dtype"]), num_samples=int(d["num_samples"]),
                shards=[ShardInfo(str(s["file"]), int(s["start"]), int(s["stop"]),
                                  int(s["bytes"]), str(s["xxh3_64"])) for s in d["shards"]],
                classes=None if d.get("classes") is None else [str(c) for c in d["classes"]],
                provenance=dict(d.get("provenance") or {}), stats=dict(d.get("stats") or {}),
                format_version=version,
                extras={str(k): ExtraInfo(str(e["file"]), int(e["bytes"]), str(e["xxh3_64"]))
                        for k, e in dict(d.get("extras") or {}).items()},
                target_shape=tuple(int(s) for s in d.get("target_shape", [])),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise FormatError(f"{where}: missing or malformed field ({type(e).__name__}: {e})") from None
        m._check(where)
        return m

    def _check(self, where: str) -> None:
        if not self.sample_shape or any(s is not None and s < 1 for s in self.sample_shape):
            raise FormatError(f"{where}: sample_shape {list(self.sample_shape)} is empty or has a "
                              "zero or negative dimension")
        try:
            np.dtype(self.sample_dtype)
        except TypeError:
            raise FormatError(f"{where}: sample_dtype {self.sample_dtype!r} is not a numpy dtype") from None
        if self.num_samples < 1 or not self.shards:
            raise FormatError(f"{where}: num_samples={self.num_samples} with {len(self.shards)} "
                              "shards; an archive holds at least one sample")
        names = [s.file for s in self.shards] + [e.file for e in self.extras.values()]
        if len(set(names)) != len(names):
            raise FormatError(f"{where}: a file is listed twice among shards and extras")
        for e in self.extras.values():
            if os.path.basename(e.file) != e.file or e.file in ("", ".", "..", MANIFEST_FILE):
                raise FormatError(f"{where}: extra file name {e.file!r} must be a plain file name")
        pos = 0
        for s in self.shards:
            if os.path.basename(s.file) != s.file or s.file in ("", ".", ".."):
                raise FormatError(f"{where}: shard file name {s.file!r} must be a plain file name")
            if s.start != pos or s.stop <= s.start:
                raise FormatError(f"{where}: shard {s.file!r} covers [{s.start}, {s.stop}), "
                                  f"expected to start at {pos} and be non-empty")
            pos = s.stop
        if pos != self.num_samples:
            raise FormatError(f"{where}: shards cover {pos} samples but num_samples="
                              f"{self.num_samples}")
        if self.target_shape not in ((), (1,)):
            raise FormatError(f"{where}: target_shape {list(self.target_shape)} should be [] or "
                              "[1] (one label or target per sample)")
        if self.classes is not None and not self.classes:
            raise FormatError(f"{where}: 'classes' is an empty list; use null when unknown")

    @property
    def sample_size(self) -> int | None:
        """Values per sample, or None when samples differ in shape (``null`` dimensions)."""
        if None in self.sample_shape:
            return None
        return int(np.prod(self.sample_shape))


class _DuplicateKey(Exception):
    pass


def _unique_keys(pairs: list) -> dict:
    """``json.loads`` hook: a key given twice is an error, not "the last one wins"."""
    d = {}
    for k, v in pairs:
        if k in d:
            raise _DuplicateKey(k)
        d[k] = v
    return d


#: the file endings torchvision's ImageFolder reads
_IMAGE_ENDINGS = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def _folder_hint(root: str) -> str:
    """For a folder that is no archive: where its first subfolders hold images (an image
    folder, as ImageFolder reads it), that it is a source to compress."""
    def holds_images(folder: str) -> bool:
        with os.scandir(folder) as entries:
            return any(e.is_file() and e.name.lower().endswith(_IMAGE_ENDINGS) for e in entries)
    try:
        with os.scandir(root) as entries:
            subs = sorted(e.path for e in entries if e.is_dir() and not e.name.startswith("."))
        images = any(holds_images(sub) for sub in subs[:3])
    except OSError:
        return ""
    if not images:
        return ""
    names = listing(os.path.basename(s) for s in subs)
    return (f"; it holds folders of images ({names}), as an image folder does: compress it "
            f"first, tc.compress({root!r}, 'out.tcz'), and open that")


def load_manifest(root: str) -> Manifest:
    """Read and validate ``root/manifest.json``."""
    path = os.path.join(root, MANIFEST_FILE)
    if os.path.exists(root) and not os.path.isdir(root):
        folder = os.path.dirname(root)
        hint = f"open its folder, tc.open({folder!r})" if os.path.isfile(
            os.path.join(folder, MANIFEST_FILE)) else ("to compress this file, pass it to "
                                                       "tc.compress as the source")
        raise NotADirectoryError(f"archive {root!r} is a file, but an archive is a directory with "
                                 f"{MANIFEST_FILE} (as tc.compress writes it); {hint}")
    if not os.path.isdir(root):
        near = f"{root}.tcz"  # the ending tc.compress's examples give
        raise FileNotFoundError(f"archive {root!r} does not exist (expected a directory "
                                f"with {MANIFEST_FILE})"
                                + (f"; did you mean {near!r}?" if os.path.isdir(near) else ""))
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        raise FormatError(f"{path}: missing; {root!r} is not a torchcompress archive"
                          + _folder_hint(root)) from None
    except UnicodeDecodeError:
        raise FormatError(f"{path}: not UTF-8 text; the manifest is corrupt") from None
    return Manifest.from_json(text, path)
