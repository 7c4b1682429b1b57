"""GeDe in bounded memory: scan, fit on a sample, deduplicate by hash, then chunks.

For sources of more than ``fit_samples`` samples (see ``GeDeCodec.stream_encoder``):

1. **Scan** every sample: per model (class) and column, the smallest and
   largest value (and, for ``precision="auto"``, the digits each column
   holds). That fixes what Algorithm 1 takes from all the data: the fixed-point
   precision, the split of wide columns, each column's zigzag flag and width.
2. **Fit** Algorithm 1's base search per model on the ``fit_rows`` samples of
   that class (a model whose class has none there is fit on all of them):
   the base masks.
3. **Summarise** every sample: its model and a 128-bit xxh3 hash of its
   packed base row (the row itself goes to a spool file in the archive's
   temporary folder, ``stride`` bytes per sample).
4. **Allocate**: equal (model, hash) pairs share a base; ids are numbered in
   order of first appearance per model. The base table is gathered from the
   spool into a table file in one sequential read.
5. **Encode** chunks: each record is the sample's base id and deviation bits,
   as in memory.

Between passes the encoder keeps 40 bytes of summary and 8 of base id per
sample; the table lives in a file until the archive is written.
"""

from __future__ import annotations

import os
import uuid

import numpy as np
import xxhash

from ..errors import CodecError
from ._kernels.gede import (PAD_BYTES, checked_codes, class_ranges, clipped_codes, eq1_size,
                           pack_records, pack_table)
from .gede_model import MAX_WIDTH, fit_model, widths_of
from .gede_ranges import code_ranges, settle_params, zigzag_top
from .gede_tables import GeDeTables
from .sample_layout import fit_rows
from .parallel import map_ranges
from .precision import exact_digits
from .protocol import Chunk

__all__ = ["FIT_BYTES", "GeDeStream"]

#: the fit reads at most this many bytes of samples: Algorithm 1 holds about 16 bytes per
#: value of its sample (columns, codes, groups), so 16 MiB of uint8 samples stay near 300 MB
FIT_BYTES = 16 << 20
_BLOCK = 4 << 20  # bytes of spool read at a time when the table is gathered
_STEP = 2 << 20   # source bytes turned into integer columns at a time


def _rows(samples) -> np.ndarray:
    return samples if isinstance(samples, np.ndarray) else np.stack(samples)


def _blocks(x: np.ndarray):
    """``[a, b)`` ranges of ``x``'s rows of about ``_STEP`` source bytes: the integer columns
    of one block (4 to 8 bytes a value) stay small however large the chunk."""
    step = max(1, _STEP // max(x[0].nbytes, 1)) if len(x) else 1
    return [(a, min(a + step, len(x))) for a in range(0, len(x), step)]


class GeDeStream:
    """GeDe's ``protocol.StreamEncoder`` (see the module docstring)."""

    summary_width = 5  # model, then the base hash as four 32-bit integers
    shard_pad = {"records": PAD_BYTES}

    def __init__(self, codec, n: int, fit_samples: int, workers: int = 1):
        self.codec, self.n, self.fit_samples, self.workers = codec, n, fit_samples, workers
        self.keys = self.top = self.signed = self.tab = None
        self.folder = None
        self.table = None       # (T,) uint8 memmap of the gathered base table
        self.base_id = None     # (n,) int64 after ``allocate``
        self.stride = 0
        self._files: list[str] = []

    # -- 1. scan ---------------------------------------------------------------------------
    def _model_of(self, labels: np.ndarray) -> np.ndarray:
        labels = np.asarray(labels, dtype=np.int64)
        return labels if self.codec.params.classwise else np.zeros(len(labels), dtype=np.int64)

    def scan(self, samples, start: int, labels) -> dict:
        """Per model and column ``[max, -min]`` of the values (``mode="none"``: before fixed
        point; else of the transform's integer columns); ``digits`` for ``precision="auto"``."""
        self.codec.check_targets(np.asarray(labels))  # before class labels are taken as models
        x = _rows(samples)
        p = self.codec.params
        flat = x.reshape(len(x), -1)
        wide = np.float64 if flat.dtype.kind == "f" else np.int64
        keys, group = np.unique(self._model_of(labels), return_inverse=True)
        t = None if p.mode == "none" else self.codec.transform(x.shape[1:], x.dtype)
        top = np.finfo(wide).max if wide is np.float64 else np.iinfo(wide).max
        hi = np.full((len(keys), flat.shape[1] if t is None else t.columns), -top, dtype=wide)
        lo = np.full_like(hi, top)
        for a, b in _blocks(x):
            if t is None:
                v = flat[a:b]
                if v.dtype.kind == "f" and not np.isfinite(v).all():
                    bad = start + a + int(np.flatnonzero(~np.isfinite(v).all(axis=1))[0])
                    raise CodecError(f"sample {bad} contains NaN or inf; GeDe stores finite "
                                     "values only")
            else:
                v = t.forward(x[a:b])
            class_ranges(np.ascontiguousarray(v), group[a:b].astype(np.int64), hi, lo)
        out = {f"model:{int(g)}": np.stack([hi[j], -lo[j]]) for j, g in enumerate(keys)}
        if p.precision == "auto" and flat.dtype.kind == "f":
            out["digits"] = exact_digits(flat)
        return out

    def load_scan(self, total: dict, dtype: np.dtype) -> None:
        """From the joined scan of every sample: precision, wide columns, zigzag flags, widths."""
        names = sorted((k for k in total if k.startswith("model:")), key=lambda k: int(k[6:]))
        self.keys = np.array([int(k[6:]) for k in names], dtype=np.int64)
        hi = np.stack([total[k][0] for k in names])
        lo = np.stack([-total[k][1] for k in names])
        self.codec.params = settle_params(self.codec.params, lo, hi, total.get("digits"), dtype)
        self.lo, self.hi = code_ranges(self.codec.params, lo, hi)
        self.signed = (self.lo < 0).astype(np.uint8)
        self.top = zigzag_top(self.lo, self.hi)
        if (self.top >= 1 << MAX_WIDTH).any():
            raise CodecError("a GeDe column needs more than 16 bits after the wide split; "
                             "lower precision= or rescale the data")

    # -- 2. fit ------------------------------------------------------------------------------
    def fit_rows(self, sample_bytes: int = 0) -> np.ndarray:
        return fit_rows(self.n, self.fit_samples, sample_bytes, FIT_BYTES)

    def fit(self, samples, labels=None) -> None:
        """Algorithm 1's base search per model on the fit samples, with the scanned widths."""
        n, d = len(samples), self.top.shape[1]
        t = self.codec.transform(np.shape(samples[0]), np.asarray(samples[0]).dtype)
        model = np.searchsorted(self.keys, self._model_of(labels))
        rows = [np.flatnonzero(model == g) for g in range(len(self.keys))]
        u = [np.empty((len(r), d), dtype=np.uint16) for r in rows]  # codes, a block per model

        def code_range(a: int, b: int, models=range(len(rows))) -> None:
            # rows [a, b) straight into their models' blocks: no joined copy of the
            # coefficients (4 bytes a value; the 67 MB join of 5,461 CIFAR images took 13 ms,
            # and 140-160 ms when the kernel compacted huge pages for it)
            v = t.forward(_rows(samples[a:b]))
            for g in models:
                lo, hi = np.searchsorted(rows[g], [a, b])
                if hi > lo:
                    clipped_codes(v, rows[g][lo:hi] - a, self.signed[g], self.top[g], u[g][lo:hi])

        # the transform and the per-model searches run on ``workers`` threads (their kernels
        # release the GIL); each model's search is independent, so the masks do not change
        map_ranges(code_range, n, self.workers)

        def mask_of(g: int, _: int) -> np.ndarray:
            if not len(rows[g]):  # no fit sample of this class: every one, through its widths
                rows[g], u[g] = np.arange(n), np.empty((n, d), dtype=np.uint16)
                for a in range(0, n, 256):
                    code_range(a, min(a + 256, n), (g,))
            return fit_model(u[g], self.signed[g], tau=self.codec.params.tau,
                             top=self.top[g]).base_mask
        self.bmask = np.stack(map_ranges(mask_of, len(self.top), self.workers, 1))
        self._layout()

    def _layout(self) -> None:
        self.widths = widths_of(self.top).astype(np.uint8)
        ones = np.ones(len(self.keys), dtype=np.int64)
        self.tab = GeDeTables(self.keys, self.widths, self.signed, self.bmask, ones)
        self.stride = max(int(self.tab.row_bytes.max()), 1)

    def model(self) -> dict:
        return {"base_mask": self.bmask}  # every rank has the scan; the fit adds the masks

    def load_model(self, m: dict) -> None:
        self.bmask = m["base_mask"]
        self._layout()

    # -- 3. summarise ----------------------------------------------------------------------
    def use_folder(self, folder: str) -> None:
        """Keep the spool and table files in ``folder`` (the archive's temporary folder)."""
        self.folder = folder
        self.spool = os.path.join(folder, "gede-spool.tmp")

    def _codes(self, samples, start: int, labels) -> tuple[np.ndarray, np.ndarray]:
        """(B, D) uint16 codes and (B,) model index of a chunk, checked against the scan."""
        x = _rows(samples)
        model = np.searchsorted(self.keys, self._model_of(labels))
        model = np.minimum(model, len(self.keys) - 1)
        if (self.keys[model] != self._model_of(labels)).any():
            raise CodecError("a label appeared that the scan of the source did not see; the "
                             "source must yield the same samples on every pass")
        u = np.empty((len(x), self.top.shape[1]), dtype=np.uint16)
        t = self.codec.transform(x.shape[1:], x.dtype)  # precision and wide columns settled
        for a, b in _blocks(x):
            bad = checked_codes(np.ascontiguousarray(t.forward(x[a:b])), model[a:b], self.lo,
                                self.hi, self.signed, u, a)
            if bad >= 0:
                raise CodecError(f"sample {start + a + bad} holds values outside the ranges "
                                 "the scan of the source found; the source must yield the "
                                 "same samples on every pass")
        return u, model

    def summarize(self, samples, start: int, labels=None) -> np.ndarray:
        u, model = self._codes(samples, start, labels)
        b = len(u)
        t = self.tab
        flat = np.zeros((b, self.stride), dtype=np.uint8)  # each sample's packed base row
        for g in np.unique(model):
            idx = np.flatnonzero(model == g)
            rb = int(t.row_bytes[g])
            sub = np.zeros(len(idx) * rb + PAD_BYTES, dtype=np.uint8)
            pack_table(np.ascontiguousarray(u[idx]), np.arange(len(idx), dtype=np.int64),
                       t.bmask[g], t.bshift[g], t.bcount[g], rb, sub, 0)
            flat[idx, :rb] = sub[:len(idx) * rb].reshape(len(idx), rb)
        out = np.empty((b, self.summary_width), dtype=np.float64)
        out[:, 0] = model
        for i in range(b):
            h = xxhash.xxh3_128_intdigest(flat[i, :int(t.row_bytes[model[i]])].tobytes())
            for k in range(4):
                out[i, 1 + k] = (h >> (32 * k)) & 0xFFFFFFFF
        fd = os.open(self.spool, os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            os.pwrite(fd, flat.tobytes(), start * self.stride)
        finally:
            os.close(fd)
        return out

    # -- 4. allocate -------------------------------------------------------------------------
    def allocate(self, summaries: np.ndarray) -> None:
        """Number the distinct bases per model in order of first appearance; gather the table.

        One stable sort by (model, hash): equal keys keep sample order, so each run's first
        entry is its base's first sample (about 50 bytes per sample at the peak)."""
        n, g_count = len(summaries), len(self.keys)
        model = summaries[:, 0].astype(np.int64)
        self.counts = np.bincount(model, minlength=g_count)
        h = summaries[:, 1:].astype(np.uint32).view(np.uint64)  # (n, 2): the 128-bit hash
        perm = np.lexsort((h[:, 0], h[:, 1], model))
        new = np.zeros(n, dtype=bool)  # sorted position starts a new (model, hash)
        new[:1] = True
        for col in (model, h[:, 0], h[:, 1]):
            s = col[perm]
            new[1:] |= s[1:] != s[:-1]
        del h, s
        first = perm[new]                                  # each base's first sample
        bmodel = model[first]
        order = np.lexsort((first, bmodel))                # by model, then first appearance
        self.num_bases = np.bincount(bmodel, minlength=g_count)  # >= 1: the scan saw the label
        starts = np.cumsum(self.num_bases) - self.num_bases
        rank = np.empty(len(first), dtype=np.int64)
        rank[order] = np.arange(len(first)) - np.repeat(starts, self.num_bases)
        self.base_id = np.empty(n, dtype=np.int64)
        self.base_id[perm] = rank[np.cumsum(new) - 1]
        self.tab = GeDeTables(self.keys, self.widths, self.signed, self.bmask, self.num_bases)
        self.first_rows = first[order]                     # model by model, in id order
        self.first_starts = starts
        self._gather()

    def _gather(self) -> None:
        """Copy each base's row from the spool into this process's table file, in order."""
        t = self.tab
        path = os.path.join(self.folder, f"gede-table-{uuid.uuid4().hex}.tmp")
        self._files.append(path)
        size = int(t.tab_off[-1]) + PAD_BYTES
        with open(path, "wb") as f:
            f.truncate(size)
        rows_per_block = max(1, _BLOCK // self.stride)
        fd_in, fd_out = os.open(self.spool, os.O_RDONLY), os.open(path, os.O_WRONLY)
        try:
            pos = np.zeros(len(self.keys), dtype=np.int64)  # bases written per model
            for a in range(0, self.n, rows_per_block):
                b = min(a + rows_per_block, self.n)
                block = None
                for g in range(len(self.keys)):
                    fr = self.first_rows[self.first_starts[g]:self.first_starts[g]
                                         + self.num_bases[g]]
                    lo, hi = np.searchsorted(fr, [a, b])
                    if hi <= lo:
                        continue
                    if block is None:
                        raw = os.pread(fd_in, (b - a) * self.stride, a * self.stride)
                        block = np.frombuffer(raw, dtype=np.uint8).reshape(b - a, self.stride)
                    rb = int(t.row_bytes[g])
                    part = block[fr[lo:hi] - a, :rb]
                    os.pwrite(fd_out, part.tobytes(), int(t.tab_off[g]) + int(pos[g]) * rb)
                    pos[g] += hi - lo
        finally:
            os.close(fd_in)
            os.close(fd_out)
        self.table = np.memmap(path, dtype=np.uint8, mode="r", shape=(size,))

    def bytes_per_sample(self, values: int) -> float:
        return float((self.tab.rec_bytes * self.counts).sum() / max(self.n, 1)) or 1.0

    # -- 5. encode ---------------------------------------------------------------------------
    def encode(self, samples, start: int = 0, labels=None) -> Chunk:
        u, model = self._codes(samples, start, labels)
        t = self.tab
        b = len(u)
        offsets = np.zeros(b + 1, dtype=np.int64)
        np.cumsum(t.rec_bytes[model], out=offsets[1:])
        payload = np.zeros(int(offsets[-1]), dtype=np.uint8)
        pack_records(u, model, self.base_id[start:start + b], t.id_bits, t.dmask, t.dshift,
                     t.dcount, t.rec_order, offsets, payload)
        shapes = np.array([np.shape(s) for s in samples], dtype=np.int64).reshape(b, -1)
        return Chunk({"records": payload}, shapes, {"payload_bytes": int(offsets[-1])})

    def extras(self) -> dict:
        return {"tables": self.tab.to_tensors(self.table)}

    def stats(self, parts: list) -> dict:
        t = self.tab
        payload = sum(p["payload_bytes"] for p in parts)
        l_base = t.bcount.sum(axis=1)
        l_total = t.widths.astype(np.int64).sum(axis=1)
        eq1 = sum(eq1_size(int(nb), int(lb), int(lt - lb), int(c), 0)
                  for nb, lb, lt, c in zip(t.num_bases, l_base, l_total, self.counts))
        return {"eq1_bytes": eq1 / 8, "num_bases": t.num_bases.tolist(),
                "bits_per_sample": float(8 * (payload + int(t.tab_off[-1]) + PAD_BYTES)
                                         / max(self.n, 1)),
                "base_bits": l_base.tolist(), "total_bits": l_total.tolist()}

    def close(self) -> None:
        """Remove this process's table file and the spool (the archive keeps neither); called
        once every rank has encoded its shards."""
        self.table = None
        for path in self._files + ([self.spool] if self.folder else []):
            try:
                os.remove(path)
            except FileNotFoundError:  # another rank removed the shared spool first
                pass
        self._files = []
