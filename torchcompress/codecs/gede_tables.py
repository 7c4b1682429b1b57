"""GeDe model tables and shard records: layout, and validation at open.

Everything a decode kernel will index is checked here first: masks inside
the column widths, table and record sizes, labels with a model, base ids
below the model's base count. A corrupt file raises FormatError at open.
"""

from __future__ import annotations

import numpy as np

from ..errors import FormatError
from ._kernels import readonly
from ._kernels.gede import PAD_BYTES, clog2
from ._kernels.gede_decode import LAYOUT_ROWS, read_base_ids
from .gede_model import MAX_WIDTH, mask_layout

__all__ = ["GeDeShard", "GeDeTables", "record_order"]

_TABLE_SPECS = {"model_labels": (np.int64, 1), "widths": (np.uint8, 2), "signed": (np.uint8, 2),
                "base_mask": (np.uint16, 2), "num_bases": (np.int64, 1), "table": (np.uint8, 1)}


def _bytes(bits: np.ndarray) -> np.ndarray:
    return (bits + 7) // 8


def record_order(bcount: np.ndarray, dcount: np.ndarray, signed: np.ndarray) -> np.ndarray:
    """(G, D) int64 columns in record order: those without base bits first, then those with;
    within each part unsigned before zigzag-coded columns, then by decreasing deviation
    width, ties by column index."""
    orders = [np.lexsort((np.arange(len(d)), -d, s, b > 0)) for b, d, s in zip(bcount, dcount, signed)]
    return np.stack(orders).reshape(dcount.shape).astype(np.int64)


class GeDeTables:
    """All models of an archive, with the derived per-column layout the kernels use."""

    def __init__(self, keys, widths, signed, bmask, num_bases, table=None):
        self.keys, self.widths, self.signed = keys, widths, signed
        self.num_bases = num_bases
        self.table = None if table is None else readonly(table)  # one decoder compile
        self._dest: dict = {}  # decode_args' destination tables, by order
        full = (np.int64(1) << widths.astype(np.int64)) - 1
        self.bmask = bmask
        self.dmask = (full & ~bmask.astype(np.int64)).astype(np.uint16)
        self.bcount, self.bshift = mask_layout(self.bmask)
        self.dcount, self.dshift = mask_layout(self.dmask)
        self.id_bits = np.array([clog2(int(nb)) for nb in num_bases], dtype=np.int64)
        self.row_bytes = _bytes(self.bcount.sum(axis=1))
        # fixed field offsets: base fields from bit 0 of a row in column order, deviation
        # fields after the id in record order
        self.boff = np.cumsum(self.bcount, axis=1) - self.bcount
        self.rec_order = record_order(self.bcount, self.dcount, signed)
        dsorted = np.take_along_axis(self.dcount, self.rec_order, axis=1)
        self.doff = np.empty_like(self.dcount)
        np.put_along_axis(self.doff, self.rec_order,
                          np.cumsum(dsorted, axis=1) - dsorted + self.id_bits[:, None], axis=1)
        rows = {"boff": self.boff, "bfull": (np.int64(1) << self.bcount) - 1,
                "bshift": self.bshift, "bmask": bmask, "doff": self.doff,
                "dfull": (np.int64(1) << self.dcount) - 1, "dshift": self.dshift,
                "dmask": self.dmask, "signed": signed}
        self.layout = np.stack([np.asarray(rows[k], dtype=np.int32) for k in LAYOUT_ROWS], axis=-1)
        self.rec_bytes = _bytes(self.id_bits + self.dcount.sum(axis=1))
        self.tab_off = np.zeros(len(keys) + 1, dtype=np.int64)
        np.cumsum(self.num_bases * self.row_bytes, out=self.tab_off[1:])
        self._runs()

    def _runs(self) -> None:
        """The run decoder's arrays: ``models`` (G, 8), ``groups``, ``bdesc``, ``slow``.

        A run is a stretch of record order with one deviation width, has-base
        flag and zigzag flag. Columns whose masks are not "deviation bits low,
        base bits right above" go to ``slow`` (the general path); so does every
        column when base offsets outgrow the 26 bits of ``bdesc``.
        """
        g_count, d = self.dcount.shape
        common = (((self.dshift == 0) | (self.dcount == 0))
                  & ((self.bcount == 0) | (self.bshift == self.dcount)))
        if int(self.boff.max(initial=0)) >= 1 << 26:
            common[:] = False
        self.bdesc = np.take_along_axis((self.boff << 5) | self.bcount, self.rec_order,
                                        axis=1).astype(np.uint32)
        groups, slow, spans = [], [], []
        for g in range(g_count):
            order = self.rec_order[g]
            key = np.stack([self.dcount[g, order], self.bcount[g, order] > 0,
                            self.signed[g, order]])
            change = (np.diff(key, axis=1) != 0).any(axis=0)
            starts = np.flatnonzero(np.r_[True, change]) if d else np.zeros(0, dtype=np.int64)
            counts = np.diff(np.append(starts, d))
            g0, s0 = len(groups), len(slow)
            if common[g].any():
                groups.extend(zip(key[0, starts], counts, self.doff[g, order[starts]], starts,
                                  key[1, starts], key[2, starts]))
            pos = np.argsort(order)  # record position of each column
            slow.extend((j, pos[j]) for j in np.flatnonzero(~common[g]))
            spans.append((g0, len(groups), s0, len(slow)))
        self.groups = np.array(groups, dtype=np.int64).reshape(-1, 6)
        self.slow = np.array(slow, dtype=np.int64).reshape(-1, 2)
        self.models = np.concatenate([np.stack([self.tab_off[:-1], self.row_bytes, self.id_bits,
                                                self.rec_bytes], axis=1),
                                      np.array(spans, dtype=np.int64).reshape(-1, 4)], axis=1)

    def decode_args(self, order: np.ndarray | None = None) -> tuple:
        """(table, models, groups, bdesc, dest, slow, layout) for the decode kernels.

        ``dest`` (G, D) uint32 is where each record position's value goes: its
        column, or ``order[column]`` for a kernel that wants its own layout. It is
        built once per distinct ``order`` and shared by every shard's decoder.
        """
        key = None if order is None else np.asarray(order).tobytes()
        dest = self._dest.get(key)
        if dest is None:
            dest = self.rec_order if order is None else np.asarray(order)[self.rec_order]
            dest = self._dest[key] = dest.astype(np.uint32)
        return self.table, self.models, self.groups, self.bdesc, dest, self.slow, self.layout

    def to_tensors(self, table: np.ndarray) -> dict[str, np.ndarray]:
        """The ``tables`` file; ``table`` already ends with PAD_BYTES zeros."""
        return {"model_labels": self.keys, "widths": self.widths, "signed": self.signed,
                "base_mask": self.bmask, "num_bases": self.num_bases, "table": table}

    @classmethod
    def from_tensors(cls, t: dict, *, where: str) -> "GeDeTables":
        for name, (dtype, ndim) in _TABLE_SPECS.items():
            a = t.get(name)
            if a is None:
                raise FormatError(f"{where}: missing tensor {name!r} in the GeDe tables")
            if a.dtype != dtype or a.ndim != ndim:
                raise FormatError(f"{where}: tensor {name!r} should be {ndim}-D "
                                  f"{np.dtype(dtype)}, found {a.ndim}-D {a.dtype}")
        keys, num_bases = np.asarray(t["model_labels"]), np.asarray(t["num_bases"])
        widths, signed, bmask = (np.asarray(t[k]) for k in ("widths", "signed", "base_mask"))
        g = len(keys)
        if g < 1 or len(num_bases) != g or widths.shape[0] != g or widths.shape != signed.shape \
                or widths.shape != bmask.shape:
            raise FormatError(f"{where}: GeDe tables disagree on the model count: model_labels "
                              f"{keys.shape}, num_bases {num_bases.shape}, widths {widths.shape}, "
                              f"signed {signed.shape}, base_mask {bmask.shape}")
        if (np.diff(keys) <= 0).any():
            raise FormatError(f"{where}: model_labels should be strictly increasing")
        if (widths > MAX_WIDTH).any() or (signed > 1).any():
            raise FormatError(f"{where}: widths should be <= {MAX_WIDTH} and signed 0 or 1")
        outside = bmask.astype(np.int64) >> widths.astype(np.int64)
        if outside.any():
            gi, j = (int(a[0]) for a in np.nonzero(outside))
            raise FormatError(f"{where}: base_mask[{gi}, {j}]={int(bmask[gi, j])} names bit "
                              f"positions outside the column width {int(widths[gi, j])}")
        if (num_bases < 1).any() or (num_bases > np.iinfo(np.int32).max).any():
            raise FormatError(f"{where}: num_bases should be in 1..2**31-1, found "
                              f"{num_bases.tolist()}")
        tab = cls(keys, widths, signed, bmask, num_bases, np.asarray(t["table"]))
        if tab.table.shape[0] != tab.tab_off[-1] + PAD_BYTES:
            raise FormatError(f"{where}: base table has {tab.table.shape[0]} bytes, the models "
                              f"need {int(tab.tab_off[-1])} + {PAD_BYTES} padding")
        return tab


class GeDeShard:
    """Validated records of one shard, with each row's model and record offset."""

    def __init__(self, arrays: dict, tables: GeDeTables, *, num_samples: int, classwise: bool,
                 where: str):
        rec = arrays.get("records")
        if rec is None or rec.dtype != np.uint8 or rec.ndim != 1:
            raise FormatError(f"{where}: tensor 'records' should be 1-D uint8")
        labels = np.asarray(arrays["labels"])
        if classwise:
            model = np.searchsorted(tables.keys, labels)
            model = np.minimum(model, len(tables.keys) - 1)
            bad = tables.keys[model] != labels
            if bad.any():
                i = int(np.flatnonzero(bad)[0])
                raise FormatError(f"{where}: sample {i} has label {int(labels[i])}, which has no "
                                  "GeDe model in the tables")
        else:
            if len(tables.keys) != 1:
                raise FormatError(f"{where}: a non-classwise archive should have 1 model, "
                                  f"found {len(tables.keys)}")
            model = np.zeros(num_samples, dtype=np.int64)
        rec = readonly(rec)  # as an archive's: one decoder compile for fresh and stored records
        self.offsets = np.zeros(num_samples + 1, dtype=np.int64)
        np.cumsum(tables.rec_bytes[model], out=self.offsets[1:])
        if self.offsets[-1] + PAD_BYTES != rec.shape[0]:
            raise FormatError(f"{where}: records hold {rec.shape[0]} bytes, the labels and models "
                              f"need {int(self.offsets[-1])} + {PAD_BYTES} padding")
        ids = np.empty(num_samples, dtype=np.int64)
        read_base_ids(rec, self.offsets, model, tables.id_bits, ids)
        over = ids >= tables.num_bases[model]
        if over.any():
            i = int(np.flatnonzero(over)[0])
            raise FormatError(f"{where}: sample {i} names base {int(ids[i])}, but its model has "
                              f"{int(tables.num_bases[model[i]])} bases")
        self.records, self.model, self.tables = rec, model.astype(np.int64), tables
