"""The lossless codec's dataset-wide model: token counts -> 12-bit rANS tables, and their checks."""

from __future__ import annotations

from functools import cached_property

import numpy as np

from ..errors import FormatError
from ._kernels import readonly
from ._kernels.lane_steps import LUTS
from ._kernels.ls_lanes import lane_weights
from ._kernels.ls_model import BIAS_KEYS, FEATURES, LS_BINS, LS_PLANES
from ._kernels.pixel_model import (COLOUR_SUBTRACT_GREEN, CTX_PER_CLASS, FINE_CONTEXTS, MAP_SIZE,
                                   NUM_CLASSES, TEXTURES)
from ._kernels.rans import LOSSLESS_DIRECT, PROB_SCALE, num_tokens
from .rans_tables import (LOG_STEPS, LaneTables, normalize_counts, pack_freq, rans_lookup,
                          unpack_freq)

__all__ = ["LosslessTables", "ls_kernel_arrays", "map_home"]


def ls_kernel_arrays(ls: tuple) -> tuple[np.ndarray, np.ndarray]:
    """The kernels' forms of a least-squares model (weights, biases): flat (48, 11) int64
    weights and (3072,) int64 biases, or no biases when all are zero (as ``ls_fit`` leaves
    them: the kernels then skip the bias work)."""
    wts, bias = (np.asarray(a) for a in ls)
    return (wts.reshape(-1, FEATURES).astype(np.int64),
            bias.reshape(-1).astype(np.int64) if bias.any() else np.zeros(0, np.int64))


class LosslessTables(LaneTables):
    """Validated model of a lossless archive, with the decoder's derived arrays.

    Args:
        bits: bits per code (8 or 16). ``code_lo``: what a code adds back to
            become the source value (e.g. -128 for int8). ``colour``: the transform of 3- and
            4-plane samples' planes 0..2 (``pixel_model.COLOUR_*``: 0 none, 1 YCoCg-R,
            2 subtract green). ``freq``: (classes * 128, T) uint16.
        packed: ``freq``'s stored form, (lens, logf) of :func:`pack_freq`.
        ls: the least-squares model of an 8-bit colour archive (``ls_model``): (3, 16, 11)
            int16 weights and (3, 1024) int8 biases, or None (MED).
    """

    def __init__(self, bits: int, code_lo: int, colour: int, freq: np.ndarray, packed: tuple,
                 cmap: np.ndarray | None = None, ls: tuple | None = None):
        self.bits, self.code_lo, self.colour = int(bits), int(code_lo), int(colour)
        if ls is not None and (not colour or bits != 8):
            raise ValueError("the least-squares model codes 8-bit colour archives only")
        self.ls = None if ls is None else (np.asarray(ls[0], np.int16).reshape(LS_SHAPES[0]),
                                           np.asarray(ls[1], np.int8).reshape(LS_SHAPES[1]))
        # the decoders' flat int64 weights (empty: MED) and biases (empty: none, or all zero)
        self.wts, self.bias = (readonly(a) for a in (
            (np.zeros((0, FEATURES), np.int64), np.zeros(0, np.int64)) if ls is None
            else ls_kernel_arrays(self.ls)))
        # and the lanes' (int32, the weights by plane, feature and bin: ``ls_lanes``)
        self.lane_wts = readonly(np.zeros(0, np.int32) if ls is None else lane_weights(self.ls[0]))
        self.lane_bias = readonly(self.bias.astype(np.int32))
        # plane 0's map of fine contexts (``pixel_model``), both stages: (MAP_SIZE,) uint8
        # without colour (by default each to its coarse context), else none; the one-at-a-time
        # decoders take it as int32 (empty: no map), the lanes fused (``lane_luts``)
        if not colour and cmap is None:
            cmap = map_home()
        if not colour and np.shape(cmap) != (MAP_SIZE,):
            raise ValueError(f"the map should have {MAP_SIZE} entries, found {np.shape(cmap)}")
        self.cmap = None if colour else np.ascontiguousarray(cmap, dtype=np.uint8)
        self.cmap32 = readonly(np.zeros(0, np.int32) if colour else self.cmap.astype(np.int32))
        # sums to 4096 per row; read-only, as an archive's tensors are (one kernel compile)
        self.freq = readonly(np.ascontiguousarray(freq, dtype=np.uint16))
        self.packed = packed
        self.classes = self.freq.shape[0] // CTX_PER_CLASS
        self.cum, self.coarse = (readonly(a) for a in rans_lookup(self.freq))  # one compile

    @cached_property
    def lane_luts(self) -> np.ndarray:
        """The lanes' ``LUTS`` words, then, with a map, its two stages as one table (a byte for
        each fine context and texture: the first stage's context through the second, 2.6 MB,
        ``lane_steps._mapped``) and 4 bytes spare for the gathers; built when a lane decoder
        first asks. int32, read-only."""
        if self.cmap is None:
            return readonly(LUTS)
        head = 4 * len(LUTS)
        out = np.zeros(head + FINE_CONTEXTS * TEXTURES + 4, dtype=np.uint8)
        out[:head] = LUTS.view(np.uint8)
        second = self.cmap[FINE_CONTEXTS:].reshape(CTX_PER_CLASS, TEXTURES)
        np.take(second, self.cmap[:FINE_CONTEXTS].astype(np.intp), axis=0,
                out=out[head:-4].reshape(FINE_CONTEXTS, TEXTURES))
        return readonly(out.view(np.int32))

    @classmethod
    def fit(cls, bits: int, code_lo: int, colour: int, counts: np.ndarray,
            cmap: np.ndarray | None = None, ls: tuple | None = None) -> "LosslessTables":
        """Tables from (classes * 128, T) token counts (and, without colour, plane 0's map of
        fine contexts), as they will be stored (packed), so the encoder codes with the
        frequencies the reader rebuilds."""
        return cls.from_packed(bits, code_lo, colour,
                               *pack_freq(normalize_counts(counts), counts.sum(axis=1) > 0),
                               cmap=cmap, ls=ls)

    @classmethod
    def from_packed(cls, bits: int, code_lo: int, colour: int, lens: np.ndarray,
                    logf: np.ndarray, where: str = "", cmap=None, ls=None) -> "LosslessTables":
        lens = np.ascontiguousarray(lens, dtype=np.uint8)
        logf = np.ascontiguousarray(logf, dtype=np.uint8)
        tokens = cls.tokens_for(bits, colour) if bits in (8, 16) else 0
        if where:  # checked before unpacking: the rows' shape comes from here
            k = len(lens) // CTX_PER_CLASS
            if lens.ndim != 1 or len(lens) % CTX_PER_CLASS or not 1 <= k <= NUM_CLASSES \
                    or logf.ndim != 1 or int(lens.astype(np.int64).sum()) != len(logf) \
                    or (lens > tokens).any():
                raise FormatError(f"{where}: tensors 'lens' and 'logf' should be k * "
                                  f"{CTX_PER_CLASS} lengths (k in 1..{NUM_CLASSES}) of at most "
                                  f"{tokens} tokens and their bytes, found {lens.shape[0]} "
                                  f"lengths summing to {int(lens.astype(np.int64).sum())} and "
                                  f"{logf.shape[0]} bytes; the tables are corrupt")
            if (logf > LOG_STEPS * 12).any():
                raise FormatError(f"{where}: tensor 'logf' holds a frequency above {PROB_SCALE}; "
                                  "the tables are corrupt")
        freq = unpack_freq(lens, logf, tokens, group=CTX_PER_CLASS)
        return cls(bits, code_lo, colour, freq, (lens, logf), cmap, ls)

    @staticmethod
    def tokens_for(bits: int, colour: int) -> int:
        """Tokens covering every code: zigzag residuals of signed chroma (|r| <= 2 * maxv) with
        colour, else folded residuals (``pixel_model.fold``: at most maxv)."""
        maxv = (1 << bits) - 1
        return num_tokens(4 * maxv if colour else maxv, LOSSLESS_DIRECT)

    def to_tensors(self) -> dict[str, np.ndarray]:
        meta = np.array([self.bits, self.code_lo, self.colour], dtype=np.int64)
        t = {"meta": meta, "lens": self.packed[0], "logf": self.packed[1]}
        if self.colour:
            return t if self.ls is None else {**t, "lsw": self.ls[0], "lsb": self.ls[1]}
        # the map's entries that leave their coarse context, by fine context
        at = np.flatnonzero(self.cmap != map_home())
        return {**t, "cmap_at": at.astype(np.uint16), "cmap": self.cmap[at]}

    @classmethod
    def from_tensors(cls, t: dict, where: str) -> "LosslessTables":
        """Tables from an archive's tensors: ``meta``, ``lens``, ``logf`` and, without colour,
        the map's entries ``cmap_at`` and ``cmap``; with the least-squares model (format 10),
        its weights ``lsw`` and biases ``lsb``."""
        for name, dtype, ndim in [("meta", np.int64, 1), ("lens", np.uint8, 1),
                                  ("logf", np.uint8, 1)]:
            a = t.get(name)
            if a is None or a.dtype != dtype or a.ndim != ndim:
                raise FormatError(f"{where}: tensor {name!r} should be {ndim}-D {np.dtype(dtype)}"
                                  + ("" if a is None else f", found {a.ndim}-D {a.dtype}"))
        meta = np.asarray(t["meta"])
        if meta.shape != (3,) or not 0 <= meta[2] <= COLOUR_SUBTRACT_GREEN \
                or not -(1 << 15) <= meta[1] <= 0:
            raise FormatError(f"{where}: tensor 'meta' should be [bits, code_lo, colour] with "
                              f"code_lo in [-32768, 0] and colour 0, 1 or 2, found "
                              f"{meta.tolist()}")
        bits, code_lo, colour = int(meta[0]), int(meta[1]), int(meta[2])
        if bits not in (8, 16):
            raise FormatError(f"{where}: bits should be 8 or 16, found {bits}")
        cmap = _map_of(t.get("cmap_at"), t.get("cmap"), colour, where)
        return cls.from_packed(bits, code_lo, colour, np.asarray(t["lens"]),
                               np.asarray(t["logf"]), where, cmap=cmap,
                               ls=_ls_of(t.get("lsw"), t.get("lsb"), bits, colour, where))


#: the least-squares model's stored weights and biases: (planes, bins, features) int16 and
#: (planes, bias keys) int8
LS_SHAPES = ((LS_PLANES, LS_BINS, FEATURES), (LS_PLANES, BIAS_KEYS))


def _ls_of(wts, bias, bits: int, colour: int, where: str) -> tuple | None:
    """The least-squares model's (weights, biases) as stored, checked, or None (MED). Any
    values are sound: the decoders clip every prediction to its plane's range."""
    if wts is None and bias is None:
        return None
    found = [None if a is None else f"{a.dtype} of shape {list(a.shape)}" for a in (wts, bias)]
    if wts is None or bias is None or wts.dtype != np.int16 or bias.dtype != np.int8 \
            or wts.shape != LS_SHAPES[0] or bias.shape != LS_SHAPES[1]:
        raise FormatError(f"{where}: tensors 'lsw' and 'lsb' should be int16 weights of shape "
                          f"{list(LS_SHAPES[0])} and int8 biases of shape {list(LS_SHAPES[1])}, "
                          f"found {found[0]} and {found[1]}; the tables are corrupt")
    if not colour or bits != 8:
        raise FormatError(f"{where}: the least-squares model ('lsw', 'lsb') codes 8-bit colour "
                          f"archives only, but meta says bits={bits}, colour={colour}; the tables "
                          "are corrupt")
    return np.asarray(wts), np.asarray(bias)


def _map_of(at, values, colour: int, where: str) -> np.ndarray | None:
    """The dense (MAP_SIZE,) map from its stored entries (fine contexts ``at``, strictly
    increasing, and their ``values``; every other fine context keeps its coarse context), or
    None for a colour archive."""
    if colour:
        if at is not None or values is not None:
            raise FormatError(f"{where}: tensors 'cmap_at' and 'cmap' are only for archives "
                              "without colour (meta's colour is not 0); the tables are corrupt")
        return None
    found = "none" if at is None or values is None else (
        f"{at.dtype} of shape {list(at.shape)} and {values.dtype} of shape {list(values.shape)}")
    if found == "none" or at.dtype != np.uint16 or values.dtype != np.uint8 or at.ndim != 1 \
            or values.shape != at.shape:
        raise FormatError(f"{where}: tensors 'cmap_at' (U16) and 'cmap' (U8) should be two 1-D "
                          f"arrays of one length in an archive without colour, found {found}; "
                          "the tables are corrupt")
    at, values = np.asarray(at).astype(np.int64), np.asarray(values)
    if at.size and (at[-1] >= MAP_SIZE or (np.diff(at) <= 0).any()
                    or int(values.max()) >= CTX_PER_CLASS):
        raise FormatError(f"{where}: tensor 'cmap_at' should hold increasing fine contexts below "
                          f"{MAP_SIZE} and 'cmap' contexts below {CTX_PER_CLASS}, found "
                          f"fine contexts up to {int(at.max())} and contexts up to "
                          f"{int(values.max())}; the tables are corrupt")
    cmap = map_home()
    cmap[at] = values
    return cmap


def map_home() -> np.ndarray:
    """(MAP_SIZE,) int64: each entry's coarse context, where it stays unless the map moves it
    (first stage ``pattern * 128 + c``: c; second stage ``c * TEXTURES + texture``: c)."""
    k = np.arange(MAP_SIZE)
    return np.where(k < FINE_CONTEXTS, k % CTX_PER_CLASS, (k - FINE_CONTEXTS) // TEXTURES)
