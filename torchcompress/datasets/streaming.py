"""``tc.compress`` in bounded memory, on one process or on every rank of a process group.

The archive's hidden folder is made first (the encoder may keep scratch
files there). The codec's :class:`~torchcompress.codecs.protocol.StreamEncoder`
scans every sample when its fit needs that (GeDe's column ranges: each rank
a slice, the scans joined on every rank), fits its model on a bounded sample
(rank 0 reads it and broadcasts the model), summarises every sample when it
shares a global budget or a dictionary (each rank a slice; the summaries are
gathered and every rank allocates the same way), then
encodes chunks of at most ``CHUNK_BYTES`` of samples straight into shard
files. Shard ``k`` is encoded by rank ``k % world_size``; shard boundaries
come from the model, never from the number of ranks or threads, so the bytes
are the same for any of them. Rank 0 writes the manifest and moves the
archive into place; a failure anywhere leaves nothing at the path.
"""

from __future__ import annotations

import datetime
import os
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch.distributed as dist
from tqdm.auto import tqdm

from .. import __version__
from ..codecs.sample_layout import common_shape
from ..codecs.protocol import merge_scans
from ..errors import CodecError
from ..format import ArchiveReader, ArchiveWriter, Manifest
from ..format.safetensors_io import open_tensors
from ..format.writer import fsync_path, write_shard_file
from . import pool
from .roundtrip import check_roundtrip
from .ranks import check_same_source
from .ranks import world as ranks_now
from .source_checks import check_labels_name_classes
from .summary import summarize

__all__ = ["CHUNK_BYTES", "on_every_rank", "shard_bounds", "stream_archive", "utc_now"]

CHUNK_BYTES = 16 << 20   # source bytes read and encoded at a time
#: fewer rows per chunk cost more than they balance: the round-trip check decodes a chunk as
#: a batch, and the lossless codec's lanes take 16 records at a time (244 photos at 2 workers
#: in chunks of 8: 22-30% more CPU time in the chunks than at 1 worker, its chunks of 29)
MIN_CHUNK_ROWS = 16
_SHARD_TARGET_BYTES = 64 << 20


def on_every_rank(fn, *, src: int | None = None):
    """Run ``fn`` on every rank (or only on ``src``, whose result the others get) and
    share the outcome: a list of every rank's result, or ``src``'s. An exception on
    any rank raises on all of them (the failing rank re-raises its own)."""
    world, rank = ranks_now()
    value, err = None, None
    if src is None or rank == src:
        try:
            value = fn()
        except BaseException as e:  # noqa: BLE001 - re-raised below, on every rank
            err = e
    if world == 1:
        if err is not None:
            raise err
        return value if src is not None else [value]
    msg = None if err is None else f"{type(err).__name__}: {err}"
    if src is not None:
        box = [(msg, value)]
        dist.broadcast_object_list(box, src=src)
        got = [box[0]]
    else:
        got = [None] * world
        dist.all_gather_object(got, (msg, value))
    if err is not None:
        raise err
    failed = [(r, m) for r, (m, _) in enumerate(got) if m is not None]
    if failed:
        r, m = failed[0]
        raise RuntimeError(f"compress failed on rank {src if src is not None else r}: {m}; "
                           "nothing was written")
    return got[0][1] if src is not None else [v for _, v in got]


class _ChunkEncoded:
    """One encoded chunk seen as the protocol's ``Encoded`` (for the round-trip check)."""

    def __init__(self, arrays: dict, shapes: np.ndarray, extras: dict, pad: dict):
        self.arrays, self.shapes, self._extras, self.pad = arrays, shapes, extras, pad

    def shard(self, start: int, stop: int) -> dict:
        out = dict(self.arrays)
        for key, nbytes in self.pad.items():  # the codec's trailing padding, as the shard has it
            out[key] = np.concatenate([out[key], np.zeros(nbytes, dtype=out[key].dtype)])
        if not (self.shapes == self.shapes[0]).all():
            out["shapes"] = self.shapes.astype(np.uint32)
        return out

    def extras(self) -> dict:
        return self._extras


def shard_bounds(n: int, per_sample: float, shard_size: int | None) -> list[int]:
    """``[0, ..., n]``: ``shard_size`` samples per shard, or about 64 MiB of shard for samples
    of ``per_sample`` coded bytes (plus 8 for the label)."""
    size = shard_size or max(1, int(_SHARD_TARGET_BYTES // max(per_sample + 8, 1.0)))
    return list(range(0, n, size)) + [n]


def stream_archive(reader, path, enc, st, *, overwrite: bool, progress: bool,
                   shard_size: int | None, verify: bool, t0: float, workers: int = 1,
                   first=None) -> dict:
    """Encode ``reader``'s samples with stream encoder ``st`` of codec ``enc`` into ``path``
    (``first``: sample 0 as ``reader.read`` gives it, when the caller has read it)."""
    world, rank = ranks_now()
    n = reader.n
    check_same_source(reader)
    if first is None:
        first, _ = reader.read(np.zeros(1, dtype=np.int64))
    values = int(np.size(first[0]))
    chunk_rows = max(1, CHUNK_BYTES // max(first[0].nbytes, 1))
    if workers > 1:  # enough chunks for every worker, but MIN_CHUNK_ROWS where the bytes allow
        chunk_rows = max(1, min(chunk_rows, max(-(-n // (16 * workers * world)), MIN_CHUNK_ROWS)))
    show = progress and rank == 0
    check = verify or enc.measures_error
    writer = None

    def open_writer():
        nonlocal writer
        writer = ArchiveWriter(path, overwrite=overwrite)
        return writer.folder
    try:
        folder = on_every_rank(open_writer, src=0)
        if world > 1:
            on_every_rank(lambda: _check_shared(folder))
        if hasattr(st, "use_folder"):
            st.use_folder(folder)
        return _encode_all(reader, enc, st, writer, folder, n=n, values=values,
                           chunk_rows=chunk_rows, show=show, shard_size=shard_size, check=check,
                           verify=verify, first_dtype=first[0].dtype,
                           first_nbytes=first[0].nbytes, t0=t0, workers=workers)
    except BaseException:
        if writer is not None:
            writer.abort()
        raise


def _check_shared(folder: str) -> None:
    """The folder rank 0 made for the shards, as this rank sees it (the path must be on a
    filesystem every rank sees: a path on each node's own disk left each rank's shards apart)."""
    if not os.path.isdir(folder):
        raise FileNotFoundError(f"{folder}: rank 0 made this folder for the archive's shards, "
                                "but this rank does not see it; under a process group the "
                                "archive's path must be on a filesystem every rank sees (shared "
                                "or network storage): pass a path there, or compress on one "
                                "rank with distributed=False")


def _slice_ranges(n: int, chunk_rows: int, passes: pool.Passes) -> list[tuple[int, int]]:
    """This rank's share of ``[0, n)`` in chunks of ``chunk_rows`` (the first split off as
    the pool's probe, see :meth:`pool.Passes.probe_first`)."""
    world, rank = ranks_now()
    lo, hi = rank * n // world, (rank + 1) * n // world
    return passes.probe_first([(a, min(a + chunk_rows, hi)) for a in range(lo, hi, chunk_rows)])


def _encode_all(reader, enc, st, writer, folder, *, n, values, chunk_rows, show, shard_size,
                check, verify, first_dtype, first_nbytes, t0, workers) -> dict:
    """The passes of :func:`stream_archive` once the archive's folder exists: scan, fit,
    summaries and allocation, shards, commit."""
    world, rank = ranks_now()
    passes = pool.Passes(workers)
    if hasattr(st, "scan"):  # a first pass for what the fit must know of every sample
        def scan_slice():
            with passes.runner((reader, enc, st, None, False)) as run:
                ranges = _slice_ranges(n, chunk_rows, passes)
                return merge_scans(tqdm(run.map(_scan_chunk, ranges), total=len(ranges),
                                        desc="scanning", disable=not show, leave=False))
        st.load_scan(merge_scans(on_every_rank(scan_slice)), np.dtype(first_dtype))
    rows = st.fit_rows(first_nbytes)
    if rows.size:
        def fit():
            st.fit(*reader.read(rows))
            return st.model()
        model = on_every_rank(fit, src=0)
        if rank:
            st.load_model(model)
    if st.summary_width:
        lo, hi = rank * n // world, (rank + 1) * n // world

        def summarize_slice():
            out = None  # filled in place (in the encoder's dtype): one copy
            ranges = _slice_ranges(n, chunk_rows, passes)
            with passes.runner((reader, enc, st, None, False)) as run:
                for (a, b), part in tqdm(zip(ranges, run.map(_summarize_chunk, ranges)),
                                         total=len(ranges), desc="summarising", disable=not show,
                                         leave=False):
                    if out is None:
                        out = np.empty((hi - lo, st.summary_width), dtype=part.dtype)
                    out[a - lo:b - lo] = part
            return np.empty((0, st.summary_width)) if out is None else out
        parts = on_every_rank(summarize_slice)
        st.allocate(parts[0] if len(parts) == 1 else np.concatenate(parts))
        del parts
    bounds = shard_bounds(n, st.bytes_per_sample(values), shard_size)
    mine = list(range(rank, len(bounds) - 1, world))
    pad = getattr(st, "shard_pad", {})
    finish = getattr(st, "shard_tensors", None)
    close = getattr(st, "close", lambda: None)
    extras = st.extras()

    def encode_shards():
        jobs = passes.probe_first([(c, min(c + chunk_rows, bounds[k + 1]), k) for k in mine
                                   for c in range(bounds[k], bounds[k + 1], chunk_rows)])
        per_shard = Counter(j[2] for j in jobs)  # chunks per shard
        out = []
        # the tables every chunk's check decodes with, opened once for the pass (8 ms a chunk
        # for lossless), and let go with it
        flags = (check, verify, folder, enc.open_tables(extras, "memory") if check else None)
        # each shard's fsync (disk time, 0.06-0.1 s for a 67 MB shard) runs on a thread while
        # the next shard encodes; every one is done before this rank reports its shards
        with passes.runner((reader, enc, st, extras, flags)) as run, \
                ThreadPoolExecutor(1) as syncs:
            results = iter(run.map(_encode_chunk, jobs))
            synced = []
            for k in tqdm(mine, desc="encoding shards", disable=not show, leave=False):
                out.append(_write_shard(folder, k, bounds[k], bounds[k + 1],
                                        [next(results) for _ in range(per_shard[k])], pad,
                                        finish))
                synced.append(syncs.submit(fsync_path, os.path.join(folder, out[-1]["info"].file)))
            for f in synced:
                f.result()
        return out
    done = [s for part in on_every_rank(encode_shards) for s in part]
    if rank:  # every rank is done with the encoder's files; rank 0 still writes the extras
        close()
    done.sort(key=lambda s: s["index"])
    sample_shape = common_shape(np.array([s["lo"] for s in done] + [s["hi"] for s in done]))

    def add_shapes():  # an archive of mixed shapes: every shard carries them
        return {s["index"]: _with_shapes(folder, s) for s in done
                if s["index"] in mine and not s["has_shapes"]}
    if None in sample_shape:
        for part in on_every_rank(add_shapes):
            for k, info in part.items():
                done[k]["info"] = info
    stats = st.stats([p for s in done for p in s["stats"]])
    stats["source_values"] = sum(s["values"] for s in done)
    if check:
        total = max(stats["source_values"], 1)
        stats["exact_fraction"] = sum(s["exact"] for s in done) / total
        stats["max_abs_error"] = max(s["worst"] for s in done)
        stats["verified"] = bool(verify)

    check_labels_name_classes(reader.classes, np.concatenate([s["labels"] for s in done]))

    def commit():
        writer.shards = [s["info"] for s in done]
        for name, tensors in extras.items():
            writer.write_extra(name, tensors)
        close()
        manifest = Manifest(
            codec=enc.name, codec_params=enc.params.to_dict(), sample_shape=sample_shape,
            sample_dtype=done[0]["dtype"], num_samples=n, shards=writer.shards,
            classes=reader.classes, target_shape=reader.target_shape,
            provenance={"source": reader.name, "writer": f"torchcompress {__version__}",
                        "created": utc_now()},
            stats=stats, extras=dict(writer.extras))
        return writer.commit(manifest)
    out = on_every_rank(commit, src=0)
    info = summarize(ArchiveReader(out))
    info["encode_seconds"] = info["seconds"] = time.perf_counter() - t0
    return info


def utc_now() -> str:
    """Now, as the manifest's ``created``."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _scan_chunk(ab: tuple) -> dict:
    reader, _, st, _, _ = pool.job()
    a, b = ab
    x, y = reader.read(np.arange(a, b))
    return st.scan(x, a, y)


def _summarize_chunk(ab: tuple) -> np.ndarray:
    reader, _, st, _, _ = pool.job()
    a, b = ab
    x, y = reader.read(np.arange(a, b))
    return st.summarize(x, a, labels=y)


def _named(e: CodecError, reader) -> CodecError:
    """``e`` naming the source file of the sample it is about, where the reader reads files
    (a damaged JPEG in a folder was "file 1" until 2026-12-05)."""
    k = getattr(e, "sample", None)
    samples = getattr(reader, "samples", None)
    if k is None or samples is None:
        return e
    head, text = f"file {k}", str(e)
    rest = text[len(head):] if text.startswith(head) else f": {text}"
    return CodecError(f"source file {samples[k][0]!r} (sample {k}){rest}; repair or remove it "
                      "(torchvision's ImageFolder leaves out files its is_valid_file= refuses)")


def _encode_chunk(job: tuple) -> dict:
    """Read, encode and (when verifying) decode-and-compare samples ``[c, d)``."""
    reader, enc, st, extras, (check, verify, folder, tables) = pool.job()
    c, d, _ = job  # rows [c, d) of shard job[2]
    x, y = reader.read(np.arange(c, d))
    enc.check_targets(y)
    # where the source has no .targets to check first: at its first chunk, not after them all
    check_labels_name_classes(reader.classes, y, f"the labels of samples {c} to {d - 1}")
    try:
        chunk = st.encode(x, c, labels=y)
    except CodecError as e:
        raise _named(e, reader) from None
    exact, worst = 0, 0.0
    if check:
        ce = _ChunkEncoded(chunk.arrays, chunk.shapes, extras, getattr(st, "shard_pad", {}))
        same = isinstance(x, list) and bool((chunk.shapes == chunk.shapes[0]).all())
        xs = np.stack(x) if same else x
        tol = enc.tolerance(xs.reshape(len(xs), -1)) if isinstance(xs, np.ndarray) else 0.0
        r = check_roundtrip(enc, ce, xs, y, [0, d - c], sample_shape=common_shape(chunk.shapes),
                            exact=verify, tolerance=tol, workers=getattr(st, "workers", 1),
                            tables=tables)
        exact = round(r["exact_fraction"] * int(chunk.shapes.prod(axis=1).sum()))
        worst = r["max_abs_error"]
    return {"arrays": pool.ship(chunk.arrays, folder), "shapes": chunk.shapes,
            "stats": chunk.stats, "labels": y,
            "exact": exact, "worst": worst, "dtype": str(x[0].dtype)}


def _write_shard(folder: str, k: int, a: int, b: int, chunks: list, pad: dict,
                 finish=None) -> dict:
    """Join the encoded chunks of samples ``[a, b)`` into shard file ``k`` (then ``pad``:
    trailing zero bytes per tensor, and ``finish``: the stream encoder's ``shard_tensors``)."""
    # 1-D pieces, written one after the other: no joined copy of the shard
    arrays = [pool.landed(c["arrays"]) for c in chunks]
    tensors = {key: [a[key] for a in arrays] for key in arrays[0]}
    for key, parts in tensors.items():
        wide = np.result_type(*parts)
        tensors[key] = [p.astype(wide, copy=False) for p in parts]
        if pad.get(key):
            tensors[key].append(np.zeros(pad[key], dtype=wide))
    if finish is not None:  # the codec's own packing (e.g. record lengths)
        tensors = finish(tensors)
    shapes = np.concatenate([c["shapes"] for c in chunks])
    uniform = bool((shapes == shapes[0]).all())
    if not uniform:
        tensors["shapes"] = shapes.astype(np.uint32)
    tensors["labels"] = [c["labels"] for c in chunks]
    labels = np.concatenate(tensors["labels"])
    info = write_shard_file(folder, k, tensors, a, b, fsync=False)  # the caller syncs it
    return {"index": k, "info": info, "has_shapes": not uniform, "lo": shapes.min(axis=0),
            "hi": shapes.max(axis=0), "shape": shapes[0], "rows": b - a,
            "stats": [c["stats"] for c in chunks], "values": int(shapes.prod(axis=1).sum()),
            "exact": sum(c["exact"] for c in chunks), "worst": max(c["worst"] for c in chunks),
            "dtype": chunks[0]["dtype"], "labels": labels[[labels.argmin(), labels.argmax()]]}


def _with_shapes(folder: str, s: dict):
    """Rewrite a uniform shard of a mixed-shape archive with its ``shapes`` tensor."""
    info = s["info"]
    tensors = {k: np.array(v) for k, v in open_tensors(os.path.join(folder, info.file)).items()}
    tensors["shapes"] = np.tile(s["shape"].astype(np.uint32), (s["rows"], 1))
    return write_shard_file(folder, s["index"], tensors, info.start, info.stop)
