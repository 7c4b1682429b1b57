"""Decoding archives of image files (``codec="original"``) with ``torchvision.io``, on CPU or GPU."""

from __future__ import annotations

import numpy as np
import torch

from ..errors import FormatError

__all__ = ["FileImages", "check_decodable"]

_JPEG = b"\xff\xd8"
#: files ``torchvision.io.decode_image`` decodes to one image, by their first bytes (and WebP)
_FORMATS = {"JPEG": (b"\xff\xd8\xff",), "PNG": (b"\x89PNG\r\n\x1a\n",)}


def _format_of(head: bytes) -> str | None:
    for name, magics in _FORMATS.items():
        if head.startswith(magics):
            return name
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WebP"
    return None


def check_decodable(data: np.ndarray, path, i: int) -> None:
    """A ValueError naming the file unless its bytes start as a JPEG, PNG or WebP file, which
    ``torchvision.io`` decodes (ImageFolder also lists BMP, TIFF, PPM and PGM), and run to
    that file's end: one cut short (a copy or download that stopped) was stored, and
    ``torchvision.io`` failed on it when training reached it ("Image is incomplete or
    truncated"), hours into a run."""
    head = data[:16].tobytes()
    kind = _format_of(head)
    if kind is None:
        raise ValueError(
            f"source file {path!r} (sample {i}) is not a JPEG, PNG or WebP file (it starts "
            f"with {head[:8]!r}); codec='original' stores files that torchvision.io decodes: "
            "convert such files (e.g. BMP or TIFF to PNG), or use codec='lossless', which reads "
            "them with Pillow as ImageFolder does")
    if not _COMPLETE[kind](data):
        raise ValueError(
            f"source file {path!r} (sample {i}) is a {kind} file cut short ({data.size:,} bytes; "
            f"{_END[kind]} is missing): torchvision.io cannot decode it, and training would fail "
            "when it reached this sample; repair or remove it (torchvision's ImageFolder leaves "
            "out files its is_valid_file= refuses)")


def _jpeg_complete(d: np.ndarray) -> bool:
    """Whether a JPEG's end-of-image marker follows its image data. Its segments are walked to
    the first scan (an EXIF thumbnail's own markers lie inside one and are skipped); where they
    are not as expected the file is not judged here."""
    n = d.size
    if n >= 4 and d[-2] == 0xFF and d[-1] == 0xD9:  # the common case: nothing after the end
        return True
    pos = 2
    while pos + 4 <= n:
        if d[pos] != 0xFF:
            return True  # not the layout walked here: left to the decoder
        marker = int(d[pos + 1])
        if marker == 0xFF:  # a fill byte
            pos += 1
        elif marker == 0xDA:  # the first scan: the end-of-image marker must follow it
            rest = d[pos + 2:]  # (data may follow that marker: a motion photo's video)
            ff = np.flatnonzero(rest[:-1] == 0xFF)
            return bool((rest[ff + 1] == 0xD9).any())
        elif marker == 0x01 or 0xD0 <= marker <= 0xD9:  # markers without a length
            pos += 2
        else:
            pos += 2 + ((int(d[pos + 2]) << 8) | int(d[pos + 3]))
    return False  # the segments run past the end of the file


_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"


def _png_complete(d: np.ndarray) -> bool:
    return d[-12:].tobytes() == _IEND or d.tobytes().find(_IEND) >= 0


def _webp_complete(d: np.ndarray) -> bool:
    return int.from_bytes(d[4:8].tobytes(), "little") + 8 <= d.size


_COMPLETE = {"JPEG": _jpeg_complete, "PNG": _png_complete, "WebP": _webp_complete}
_END = {"JPEG": "its end-of-image marker", "PNG": "its IEND chunk",
        "WebP": "part of the length its RIFF header gives"}


def usable_device(device) -> torch.device:
    """``device`` as a ``torch.device`` this process can decode on, or a ValueError naming it: a
    device torch cannot parse, or one this machine lacks (a decode there failed later, and was
    reported as a damaged file)."""
    try:
        d = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise ValueError(f"device should be a torch device such as 'cuda', 'cuda:1' or 'cpu', but "
                         f"got device={device!r} ({e})") from None
    if d.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0 or (d.index or 0) >= count:
            have = "no usable CUDA device" if count == 0 else f"{count} CUDA device(s)"
            raise ValueError(f"device={device!r}, but this machine has {have} "
                             "(torch.cuda.is_available(), device_count()); pass device=None to "
                             "decode on the CPU")
    elif d.type != "cpu":
        try:
            torch.empty(1, device=d)
        except RuntimeError as e:
            raise ValueError(f"device={device!r} cannot be used here ({e}); pass device=None to "
                             "decode on the CPU") from None
    return d


class FileImages:
    """Decodes stored image files to uint8 CHW tensors.

    With ``device`` a CUDA device, JPEGs go through ``torchvision.io.decode_jpeg`` in one batched
    call on that GPU (other files decode on the CPU and are moved); otherwise every file goes
    through ``torchvision.io.decode_image``. ``output`` follows ``tc.open``: "source" uint8,
    "float" float32 in [0, 1], "raw" float32 in 0..255.
    """

    def __init__(self, decoder, output: str, device=None):
        self.decoder, self.output = decoder, output
        self.device = None if device is None else usable_device(device)

    def _finish(self, x: torch.Tensor) -> torch.Tensor:
        if self.output == "float":
            return x.float().div_(255)
        if self.output == "raw":
            return x.float()
        return x

    def decode(self, idx: np.ndarray) -> list:
        """Samples ``idx`` as a list of (C, H, W) tensors, each checked against its stored shape."""
        from torchvision.io import ImageReadMode, decode_image, decode_jpeg

        recs = self.decoder.records(idx)
        shapes = self.decoder.sample_shapes(idx)
        data = [torch.from_numpy(np.array(r)) for r in recs]
        out = [None] * len(data)
        try:
            gpu = [j for j, r in enumerate(recs) if self.device is not None
                   and self.device.type == "cuda" and bytes(r[:2]) == _JPEG]
            for c in (1, 3):
                js = [j for j in gpu if shapes[j][0] == c]
                if js:
                    mode = ImageReadMode.GRAY if c == 1 else ImageReadMode.RGB
                    for j, t in zip(js, decode_jpeg([data[j] for j in js], mode=mode, device=self.device)):
                        out[j] = t
            for j, t in enumerate(data):
                if out[j] is None:
                    mode = ImageReadMode.GRAY if shapes[j][0] == 1 else ImageReadMode.RGB
                    x = decode_image(t, mode=mode)
                    out[j] = x if self.device is None else x.to(self.device)
        except torch.OutOfMemoryError:
            raise  # the device's memory, not the file
        except RuntimeError as e:
            raise FormatError(f"{self.decoder.where_of(int(idx[0]))}: a stored file does not decode "
                              f"({e}); run tc.verify: if it passes, the file was already damaged "
                              "in the source (codec='original' stores files as they are), so "
                              "repair or remove it there and compress again") from None
        for j, x in enumerate(out):
            if tuple(x.shape) != tuple(shapes[j]):
                raise FormatError(f"sample {int(idx[j])} decodes to shape {tuple(x.shape)}, but the "
                                  f"archive records {tuple(int(v) for v in shapes[j])}; run tc.verify")
        return [self._finish(x) for x in out]
