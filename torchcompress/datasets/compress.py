"""``tc.compress``: read a source, encode it, write an archive atomically."""

from __future__ import annotations

import contextlib
import time

import numpy as np
from tqdm.auto import tqdm

from .. import __version__
from .._validation import check_flag, check_positive_int, expand_path
from ..codecs import make_codec
from ..codecs.sample_layout import common_shape
from ..format import ArchiveReader, ArchiveWriter, Manifest
from ..format.writer import check_target
from .roundtrip import check_roundtrip
from .reading import ArrayReader, open_reader
from .renumber import Renumbered, renumbered, renumbering
from .source_files import names_for_labels, warn_if_larger
from .source_checks import (check_archive_outside, check_class_names, check_labels_name_classes,
                            warn_if_augmented)
from .sources import Source, load_source
from .spool import Spool
from .ranks import alone, compress_together
from .streaming import on_every_rank, shard_bounds, stream_archive, utc_now
from .summary import summarize

__all__ = ["compress", "refuse_existing", "sample_shape_of", "write_archive"]

def compress(source, path, *, codec: str = "lossless", overwrite: bool = False, progress: bool = True,
             layout: str | None = None, shard_size: int | None = None, importance=None,
             classes: list | None = None, verify: bool | None = None, length: int | None = None,
             num_workers: int = 1, resize=None, distributed: bool | None = None,
             **codec_params) -> dict:
    """Compress ``source`` into an archive directory at ``path``.

    Shards are written into a hidden sibling directory that is moved into
    place only when complete: an interrupted call leaves nothing at ``path``.

    Memory: every codec reads a map-style dataset or a folder in chunks of
    about 16 MiB (the lossless and lossy models are fit on ``fit_samples``; ADQ
    keeps 80 bytes and the lossy codec at most 144 bytes of summary per sample
    between their passes; GeDe, above its ``fit_samples``, runs Algorithm 1 on
    that many samples and keeps 48 bytes per sample, its base rows spooled to
    the archive's temporary folder), so memory stays bounded however many
    samples there are. An iterable is read once into a hidden file beside the
    archive (removed when the call returns or fails) and read in chunks from it.
    Arrays and ``.npz`` files are held in memory, and so is a GeDe source of at
    most ``fit_samples`` samples and 64 MiB (Algorithm 1 on every sample, as in
    the paper).

    Under ``torchrun`` (an initialised ``torch.distributed`` process group),
    call it with the same arguments on every rank: each rank encodes its
    shards (shard ``k`` on rank ``k % world_size``) into the hidden directory,
    which must be on a filesystem every rank sees, and rank 0 writes the
    manifest. The shards are the same as one process writes. Codecs that need
    every sample at once run on rank 0 alone. To compress on one rank only
    (``if rank == 0:`` before a ``barrier``), pass ``distributed=False``.

    Args:
        source: a map-style dataset of ``(image, label)`` (PIL images become
            CHW uint8; with ``codec="lossless"`` their shapes may differ), a
            pair ``(x, y)`` of arrays/tensors (``y`` (N,) or (N, 1); a
            ``TensorDataset`` of two tensors reads as that pair), an ``.npz``
            path holding ``x`` and ``y``, a folder in ImageFolder layout, or an
            iterable of ``(image, label)`` pairs.
        path: the archive directory to create.
        codec: codec name (see ``tc.codecs.CODECS``): ``"lossless"`` (default,
            bit-exact, any shape), ``"lossy"`` (DCT, ``bits=`` per value under an
            exact budget, any image size), ``"adq"`` (the ADQ paper's
            quantiser, bits=) or ``"gede"``.
        overwrite: replace an existing archive (or empty directory) at ``path``;
            a directory of other files is never replaced (FileExistsError).
        progress: show tqdm bars.
        layout: ``"HWC"`` converts (N, H, W, C) samples to (N, C, H, W).
        shard_size: samples per shard; default aims at about 64 MiB shards.
        importance: optional (N,) per-sample weights on the codec's error.
        classes: class names (a list in label order, or a ``class_to_idx``);
            default ``source.classes`` when it has them. Where the source names its
            classes and ``classes`` holds every one of those names, its labels are
            renumbered by name (a validation folder by the training archive's
            ``classes``); where it holds none of them, they rename the labels.
        length: how many pairs an iterable source yields (for the progress bar).
        resize: ``(height, width)``: resize the images of a dataset or folder
            source as they are read (antialiased), e.g. photos for ADQ or GeDe; one
            int resizes the shorter edge to it and keeps the aspect ratio, as
            torchvision's ``Resize(int)`` (photos then keep their own shapes).
        distributed: under a process group, None (default) shares the work when
            every rank calls compress within 5 minutes (``ranks.JOIN_TIMEOUT_S``;
            a rank that waits says so after 10 s) and otherwise raises on every
            rank that came, writing nothing; True waits as long as the group's
            timeout; False compresses in this process alone, without waiting.
            Without a group every value compresses in this process.
        num_workers: processes that read and encode chunks: the calling one and
            ``num_workers - 1`` forked workers (Linux; elsewhere threads); 0 and 1
            both mean the calling process alone, as ``DataLoader``'s 0 (GeDe: when
            it streams; in memory it encodes on one). The archive's bytes are the
            same for any number.
        verify: decode every sample before committing and fail unless it is
            identical (within half a fixed-point step for floats). Default:
            on for lossless codecs and GeDe modes; lossy codecs reject ``True``.
            The GeDe ``"dct"`` mode always measures its exact-pixel fraction
            and maximum error, which ``info`` reports.
        **codec_params: codec parameters, e.g. ``bits=2.0, allocation="adaptive"``
            for ``"adq"``; ``mode="dct", tau=16, classwise=True`` for ``"gede"``;
            ``fit_samples=4096`` for ``"lossless"``; ``bits=0.5`` for ``"lossy"``;
            ``fit_samples=16384`` for ``"gede"`` (streams above it).

    Returns:
        A dict summary: sizes, ratios, achieved bits, mean PSNR, seconds.
    """
    t0 = time.perf_counter()
    source, path = expand_path(source), expand_path(path)
    enc = make_codec(codec, codec_params)
    if shard_size is not None:
        shard_size = check_positive_int("shard_size", shard_size)
    overwrite, progress = check_flag("overwrite", overwrite), check_flag("progress", progress)
    verify = _verify_default(enc, None if verify is None else check_flag("verify", verify))
    refuse_existing(path, overwrite)
    # 0, as a DataLoader's num_workers=0 reads in the calling process: the same as 1 here
    num_workers = max(1, check_positive_int("num_workers", num_workers, allow_zero=True))
    classes = check_class_names(classes)
    warn_if_augmented(source)
    check_archive_outside(source, path)
    files = getattr(enc, "stores_files", False)
    if files and (resize is not None or layout is not None):
        raise ValueError("codec='original' keeps the files as they are; resize= and layout= "
                         "do not apply")
    together = compress_together(path, None if distributed is None
                                 else check_flag("distributed", distributed))
    with (contextlib.nullcontext() if together else alone()), \
            Spool(path) as spool:  # an iterable source is read once into it (if at all)
        info, read = _compress(source, path, enc, files=files, layout=layout, resize=resize,
                               progress=progress, length=length, num_workers=num_workers,
                               classes=classes, importance=importance, overwrite=overwrite,
                               shard_size=shard_size, verify=verify, t0=t0, spool=spool)
    warn_if_larger(read, info, enc.name, enc.lossless)
    return info


def _compress(source, path, enc, *, files, layout, resize, progress, length, num_workers,
              classes, importance, overwrite, shard_size, verify, t0, spool) -> tuple:
    """``compress`` once its arguments are checked: (the info, the source as read)."""
    reader = None
    if hasattr(enc, "stream_encoder"):
        reader = open_reader(source, files=files, layout=layout, resize=resize,
                             mixed_ok=enc.variable_shapes, progress=progress, length=length,
                             workers=num_workers, spool=spool)
        table = renumbering(reader.classes, classes)  # classes= numbers the source's names
        first, y0 = reader.read(np.zeros(1, dtype=np.int64))  # sizes chunks, GeDe's choice
        reader.classes = classes if classes is not None else \
            check_class_names(names_for_labels(reader.classes, y0))
        targets = getattr(getattr(reader, "ds", None), "targets", None)
        if reader.classes is not None and targets is not None:  # before the encode, not after
            check_labels_name_classes(reader.classes, np.asarray(targets), "the source's targets")
        st = enc.stream_encoder(reader.n, importance=importance, workers=num_workers,
                                sample_bytes=first[0].nbytes)
        if st is not None:
            info = stream_archive(reader if table is None else Renumbered(reader, table), path,
                                  enc, st, overwrite=overwrite, progress=progress,
                                  shard_size=shard_size, verify=verify, t0=t0, workers=num_workers,
                                  first=first)
            return info, getattr(reader, "ds", source)

    def whole() -> dict:  # codecs that need every sample at once (one process writes)
        if isinstance(reader, ArrayReader):  # already read (an iterable once, into the spool)
            src = reader.src
        else:
            src = load_source(source, layout=layout, progress=progress,
                              mixed_ok=enc.variable_shapes, length=length, resize=resize)
        return write_archive(src, path, enc, overwrite=overwrite, progress=progress,
                             shard_size=shard_size, importance=importance, classes=classes,
                             verify=verify, t0=t0, workers=num_workers)
    return on_every_rank(whole, src=0), getattr(reader, "ds", source)


def refuse_existing(path, overwrite: bool) -> None:
    """Before any work: FileExistsError when ``path`` exists and ``overwrite`` is False, or is
    not an archive that ``overwrite`` may replace (``format.writer.check_target``)."""
    check_target(path, overwrite)


def sample_shape_of(x) -> tuple:
    """The manifest's sample shape: ``None`` in each dimension where samples differ."""
    if isinstance(x, np.ndarray):
        return tuple(int(s) for s in x.shape[1:])
    return common_shape(np.array([a.shape for a in x], dtype=np.int64))


def _verify_default(enc, verify: bool | None) -> bool:
    if verify is None:
        return enc.lossless
    if verify and getattr(enc, "stores_files", False):
        raise ValueError("verify=True decodes each sample and compares its pixels, which "
                         "codec='original' does not store: it keeps each file's bytes as they "
                         "are (checked by their hashes; compress refuses a file cut short), and "
                         "torchvision.io decodes them as they are read; leave verify= out")
    if verify and not enc.lossless:
        raise ValueError(f"verify=True checks a lossless round trip, but {enc.describe()} is lossy; "
                         "use codec='lossless', or codec='gede' with mode='none' or 'lossless'")
    return bool(verify)


def write_archive(src, path, enc, *, overwrite: bool, progress: bool, shard_size: int | None,
                  importance, classes, verify: bool, t0: float, extras: dict | None = None,
                  extra_stats: dict | None = None, workers: int = 1) -> dict:
    """Encode a loaded :class:`Source` with codec ``enc`` and commit the archive atomically.

    ``extras`` are more archive-wide tensor files (name -> tensors), e.g. the
    condensed samples of ``tc.condense``.
    """
    enc.check_targets(src.y)
    table = renumbering(src.classes, classes)
    if table is not None:  # classes= numbers the source's own names otherwise
        src = Source(src.x, renumbered(src.y, table, np.arange(len(src.y))), classes, src.name,
                     src.target_shape)
    classes = check_class_names(classes if classes is not None else
                                names_for_labels(src.classes, src.y))
    check_labels_name_classes(classes, src.y)
    n = len(src.x)
    flat = src.x.reshape(n, -1) if isinstance(src.x, np.ndarray) else None
    encoded = enc.encode_dataset(src.x, src.y, importance=importance, workers=workers)
    # a codec that stores files knows the decoded shapes; otherwise they are the samples'
    shape = getattr(encoded, "sample_shape", None) or sample_shape_of(src.x)
    stats = encoded.stats()
    stats["source_values"] = getattr(encoded, "source_values", None) or (
        int(flat.size) if flat is not None else int(sum(a.size for a in src.x)))
    stats.update(extra_stats or {})
    encode_seconds = time.perf_counter() - t0
    bounds = shard_bounds(n, max(encoded.payload.nbytes / n, 1.0), shard_size)
    if verify or enc.measures_error:
        tol = enc.tolerance(flat) if flat is not None else 0.0
        stats.update(check_roundtrip(enc, encoded, src.x, src.y, bounds, sample_shape=shape,
                                     exact=verify, tolerance=tol, workers=workers))
        stats["verified"] = bool(verify)
    with ArchiveWriter(path, overwrite=overwrite) as w:
        for a, b in tqdm(list(zip(bounds, bounds[1:])), desc="writing shards",
                         disable=not progress, leave=False):
            tensors = dict(encoded.shard(a, b))
            tensors["labels"] = src.y[a:b]
            w.write_shard(tensors, a, b)
        for name, tensors in {**encoded.extras(), **(extras or {})}.items():
            w.write_extra(name, tensors)
        manifest = Manifest(
            codec=enc.name, codec_params=enc.params.to_dict(), sample_shape=shape,
            sample_dtype=str(src.x[0].dtype), num_samples=n, shards=w.shards,
            classes=classes, target_shape=src.target_shape,
            provenance={"source": src.name, "writer": f"torchcompress {__version__}",
                        "created": utc_now()},
            stats=stats, extras=dict(w.extras),
        )
        out = w.commit(manifest)
    info = summarize(ArchiveReader(out))
    info["encode_seconds"] = encode_seconds
    info["seconds"] = time.perf_counter() - t0
    return info
