"""EntroGeDe: lossless generalized deduplication with O(1) random access.

Each model (one per class by default) splits every column's bits into base
bits, stored once per distinct base in a table, and deviation bits, stored
per sample. A sample's record is its base id and its deviation bits, a fixed
size per model, so any sample decodes on its own.

Archive layout: the models live in an extra file ``tables`` (see FORMAT.md),
each shard holds ``labels`` and ``records`` (the records in sample order).
"""

from __future__ import annotations

import numbers
from dataclasses import asdict, dataclass, replace

import numpy as np

from .._validation import check_choice, check_positive_int
from ..errors import CodecError
from ._kernels.gede import PAD_BYTES, pack_records, pack_table
from ._kernels.gede_decode import decode_gede_rows
from ._kernels.idct import decode_gede_dct
from .gede_model import MAX_WIDTH, column_codes, fit_model
from .gede_ranges import zigzag_top
from .gede_stream import GeDeStream
from .gede_tables import GeDeShard, GeDeTables
from .precision import WIDE_BITS, auto_precision
from .protocol import RowsDecoder
from .transforms import TRANSFORMS, make_transform

__all__ = ["GeDeCodec", "GeDeEncoded", "GeDeParams", "IN_MEMORY_BYTES", "check_code_widths"]

#: GeDe holds a source of at most this many bytes in memory (Algorithm 1 on every sample works
#: on about 9 times the source's bytes); larger sources stream, as do more than ``fit_samples``
IN_MEMORY_BYTES = 64 << 20


def _check_precision(p):
    if p is None or p == "auto":
        return p
    items = [p] if isinstance(p, numbers.Number) else list(p)
    for v in items:
        if isinstance(v, bool) or not isinstance(v, numbers.Integral) or not 0 <= v <= 9:
            raise ValueError(f"precision should be decimal digits in 0..9 (one int, or one per "
                             f"column) or 'auto', but got precision={p!r}")
    return int(p) if isinstance(p, numbers.Number) else [int(v) for v in items]


@dataclass(frozen=True)
class GeDeParams:
    """GeDe settings stored in the manifest.

    Attributes:
        mode: the integer transform in front of deduplication: ``"none"``,
            ``"dct"`` (near-lossless) or ``"lossless"`` (called ``transform``
            before 0.2; that keyword still works, with a DeprecationWarning).
        tau: plateau threshold of the base search (Algorithm 1), >= 1.
        classwise: one model per class (the paper) or one for all samples.
        precision: decimal digits kept for float samples (fixed point): one
            int, one per column, or ``"auto"`` (per column, the digits the data
            holds, at most what fits 32-bit codes; resolved and stored at
            encode time).
        wide: ``[column, signed]`` pairs of columns whose codes need 17 to 32
            bits, each stored as two 16-bit columns. Found at encode time and
            stored; leave it None.
        fit_samples: ``tc.compress`` of a source with more samples than this
            (or of more than ``IN_MEMORY_BYTES``, 64 MiB) streams in bounded
            memory: it scans every sample for the column ranges, runs
            Algorithm 1's base search on this many samples spread over the
            source (and at most 16 MiB of them), then deduplicates every
            sample's base by hash. Otherwise Algorithm 1 runs on every sample
            at once, as in the paper.
    """

    mode: str = "none"
    tau: int = 16
    classwise: bool = True
    precision: int | list | None = None
    wide: list | None = None
    fit_samples: int = 16384

    def __post_init__(self) -> None:
        check_choice("mode", self.mode, TRANSFORMS)
        check_positive_int("tau", self.tau)
        check_positive_int("fit_samples", self.fit_samples)
        if not isinstance(self.classwise, bool):
            raise TypeError(f"classwise should be a bool, but got classwise={self.classwise!r}")
        object.__setattr__(self, "precision", _check_precision(self.precision))
        if self.wide is not None:
            object.__setattr__(self, "wide", [[int(j), int(sg)] for j, sg in self.wide] or None)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "GeDeParams":
        d = dict(d)
        if "transform" in d and "mode" not in d:  # archives written before the rename
            d["mode"] = d.pop("transform")
        return cls(**d)


def code_needs(v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(largest code, lo, hi) of each column of ``v`` (N, D) int: zigzag where negative."""
    lo, hi = v.min(axis=0).astype(np.int64), v.max(axis=0).astype(np.int64)
    return zigzag_top(lo, hi), lo, hi


def check_code_widths(v: np.ndarray, limit_bits: int = MAX_WIDTH) -> None:
    """Raise CodecError unless every column of ``v`` (N, D) int32/int64 fits ``limit_bits``."""
    need, lo, hi = code_needs(v)
    if (need >= 1 << limit_bits).any():
        j = int(np.argmax(need))
        raise CodecError(f"column {j} holds values in [{int(lo[j])}, {int(hi[j])}], wider than "
                         f"{limit_bits} bits; GeDe stores integers up to {WIDE_BITS} bits (signed "
                         "ones zigzag-coded; wider than 16 split into two columns): lower "
                         "precision= or rescale the data")


@dataclass
class GeDeEncoded:
    """A whole encoded dataset: model tables plus per-sample records."""

    tables: dict          # tensors of the ``tables`` extra file
    payload: np.ndarray   # (P,) uint8 records in sample order
    offsets: np.ndarray   # (N + 1,) int64
    stats_: dict

    def shard(self, start: int, stop: int) -> dict[str, np.ndarray]:
        rec = self.payload[self.offsets[start]:self.offsets[stop]]
        return {"records": np.concatenate([rec, np.zeros(PAD_BYTES, dtype=np.uint8)])}

    def extras(self) -> dict[str, dict]:
        return {"tables": self.tables}

    def stats(self) -> dict:
        return dict(self.stats_)


class GeDeCodec:
    """The ``"gede"`` codec. Works on (N, *shape) arrays; knows nothing of torch."""

    name = "gede"
    params_type = GeDeParams
    renamed_params = {"transform": "mode"}  # old keyword -> new, accepted with a warning
    progressive = False
    max_planes = None
    variable_shapes = False
    min_format_version = 2  # version 2 put record fields in record order (runs of one width)

    def __init__(self, params: GeDeParams):
        self.params = params

    @property
    def output_dtypes(self) -> tuple | None:
        """Mode "none" decodes integers and converts in numpy (any dtype, exact for wide
        integers); the image modes' kernels write float32 or uint8."""
        return None if self.params.mode == "none" else (np.dtype(np.float32), np.dtype(np.uint8))

    @property
    def lossless(self) -> bool:
        return self.params.mode != "dct"

    @property
    def measures_error(self) -> bool:
        """The near-lossless mode always decodes everything once to report its error."""
        return self.params.mode == "dct"

    def describe(self) -> str:
        return f"codec='gede' with mode={self.params.mode!r}"

    def check_targets(self, labels: np.ndarray) -> None:
        if self.params.classwise and labels.dtype.kind == "f":
            raise ValueError("classwise=True needs integer class labels, but the targets are real "
                             "numbers; pass classwise=False for regression data")

    def tolerance(self, flat: np.ndarray) -> float:
        """Allowed reconstruction error: half a fixed-point step for floats, else 0."""
        if self.params.precision is None:
            return 0.0
        step = 10.0 ** -float(np.min(self.params.precision))
        return 0.5 * step * (1 + 1e-6) + 1e-6 * float(np.abs(flat).max())

    def transform(self, shape: tuple, dtype):
        return make_transform(self.params.mode, shape, dtype, self.params.precision,
                              self.params.wide)

    def model_keys(self, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(model labels, model of each sample)."""
        if not self.params.classwise:
            return np.array([0], dtype=np.int64), np.zeros(len(labels), dtype=np.int64)
        keys, model = np.unique(labels, return_inverse=True)
        return keys.astype(np.int64), model.astype(np.int64)

    def columns(self, x: np.ndarray):
        """``(transform, (N, D') integer columns)`` of ``x``, in one pass over the data.

        Resolves ``precision="auto"`` to the digits each column needs and, in mode
        "none", finds the columns wider than 16 bits (``wide``, stored split in
        two); both are kept in ``params`` and so in the manifest.
        """
        if self.params.precision == "auto":
            p = auto_precision(x.reshape(x.shape[0], -1)) if x.dtype.kind == "f" else None
            self.params = replace(self.params, precision=p)
        if self.params.mode == "none":
            v = make_transform("none", x.shape[1:], x.dtype, self.params.precision).integers(x)
            if self.params.wide is None:
                check_code_widths(v, WIDE_BITS)
                need, lo, _ = code_needs(v)
                cols = np.flatnonzero(need >= 1 << MAX_WIDTH)
                if cols.size:
                    self.params = replace(self.params,
                                          wide=[[int(j), int(lo[j] < 0)] for j in cols])
            t = self.transform(x.shape[1:], x.dtype)
            v = t.split(v)
        else:
            t = self.transform(x.shape[1:], x.dtype)
            v = t.forward(x)
        check_code_widths(v)  # 16-bit columns, checked before any kernel sees them
        return t, v

    def stream_encoder(self, n: int, *, importance=None, workers: int = 1,
                       sample_bytes: int = 0):
        """The bounded-memory encoder of ``n`` samples of about ``sample_bytes`` each, or None
        for at most ``fit_samples`` samples and ``IN_MEMORY_BYTES`` of them (then Algorithm 1
        sees every sample at once: ``encode_dataset``)."""
        if importance is not None:
            raise ValueError("importance= applies to the lossy 'adq' codec; gede is lossless")
        if n <= self.params.fit_samples and n * sample_bytes <= IN_MEMORY_BYTES:
            return None
        return GeDeStream(self, n, self.params.fit_samples, workers)

    def encode(self, x: np.ndarray, labels: np.ndarray, *, m: int = 0) -> GeDeEncoded:
        """Fit the models and pack every sample of ``x`` (N, *shape)."""
        n = x.shape[0]
        _, v = self.columns(x)
        keys, model = self.model_keys(np.asarray(labels))
        g_count, d = len(keys), v.shape[1]
        u = np.empty((n, d), dtype=np.uint16)
        widths = np.zeros((g_count, d), dtype=np.uint8)
        signed = np.zeros((g_count, d), dtype=np.uint8)
        bmask = np.zeros((g_count, d), dtype=np.uint16)
        base_id = np.zeros(n, dtype=np.int64)
        fits = []
        for g in range(g_count):
            rows = np.flatnonzero(model == g)
            ug, sg = column_codes(v[rows])
            fit = fit_model(ug, sg, tau=self.params.tau, m=m)
            u[rows] = ug
            widths[g], signed[g], bmask[g] = fit.widths, fit.signed, fit.base_mask
            base_id[rows] = fit.base_id
            fits.append((rows, fit))
        tab = GeDeTables(keys, widths, signed, bmask,
                         np.array([f.num_bases for _, f in fits], dtype=np.int64))
        table = np.zeros(int(tab.tab_off[-1]) + PAD_BYTES, dtype=np.uint8)
        for g, (rows, fit) in enumerate(fits):
            pack_table(np.ascontiguousarray(u[rows]), fit.first_row, bmask[g], tab.bshift[g],
                       tab.bcount[g], int(tab.row_bytes[g]), table, int(tab.tab_off[g]))
        offsets = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(tab.rec_bytes[model], out=offsets[1:])
        payload = np.zeros(int(offsets[-1]), dtype=np.uint8)
        pack_records(u, model, base_id, tab.id_bits, tab.dmask, tab.dshift, tab.dcount, tab.rec_order,
                     offsets, payload)
        eq1 = sum(f.eq1_bits for _, f in fits)
        stats = {
            "eq1_bytes": eq1 / 8, "num_bases": [f.num_bases for _, f in fits],
            "bits_per_sample": float(8 * (payload.nbytes + table.nbytes) / n),
            "base_bits": [f.l_base for _, f in fits], "total_bits": [f.l_total for _, f in fits],
        }
        tables = tab.to_tensors(table)
        return GeDeEncoded(tables, payload, offsets, stats)

    def open_tables(self, extras: dict, where: str) -> GeDeTables:
        if "tables" not in extras:
            raise CodecError(f"{where}: a gede archive needs the extra file 'tables'")
        return GeDeTables.from_tensors(extras["tables"], where=where)

    def encode_dataset(self, x: np.ndarray, labels: np.ndarray, *,
                       importance: np.ndarray | None = None, workers: int = 1) -> GeDeEncoded:
        """Encode ``x`` on one thread (the per-class model fit is sequential)."""
        if importance is not None:
            raise ValueError("importance= applies to the lossy 'adq' codec; gede is lossless")
        return self.encode(x, labels)

    def decoder(self, arrays: dict, *, num_samples: int, sample_shape: tuple, sample_dtype,
                where: str, tables: GeDeTables) -> "GeDeShardDecoder":
        shard = GeDeShard(arrays, tables, num_samples=num_samples, classwise=self.params.classwise,
                          where=where)
        return GeDeShardDecoder(shard, self.transform(tuple(sample_shape), sample_dtype))


class GeDeShardDecoder(RowsDecoder):
    """Decodes rows of one shard: GeDe kernel, then the inverse transform (fused for DCT)."""

    def __init__(self, shard: GeDeShard, transform):
        self.shard, self.transform = shard, transform
        self._tables = shard.tables.decode_args(transform.fused_order)

    def decode(self, rows: np.ndarray, out: np.ndarray, *, planes: int | None = None) -> None:
        s = self.shard
        if self.transform.fused_args is not None:  # GeDe -> inverse DCT -> colour, fused
            decode_gede_dct(s.records, s.offsets, s.model, rows, *self._tables,
                            *self.transform.fused_args, out)
            return
        v = np.empty((len(rows), self.transform.columns), dtype=np.int32)
        decode_gede_rows(s.records, s.offsets, s.model, rows, *self._tables, v)
        self.transform.inverse(v, out)

    def sample_shapes(self, rows: np.ndarray) -> None:
        return None  # one shape per archive
