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
    ``torchvision.io`` decodes (ImageFolder also lists BMP, TIFF, PPM and PGM)."""
    head = data[:16].tobytes()
    if _format_of(head) is None:
        raise ValueError(
            f"source file {path!r} (sample {i}) is not a JPEG, PNG or WebP file (it starts "
            f"with {head[:8]!r}); codec='original' stores files that torchvision.io decodes: "
            "convert such files (e.g. BMP or TIFF to PNG), or use codec='lossless', which reads "
            "them with Pillow as ImageFolder does")


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
