"""The lossless codec's encoder: fit the tables on a bounded sample, then code chunks.

Both ``LosslessCodec.encode_dataset`` (everything in memory) and the
bounded-memory ``tc.compress`` path run through :class:`LosslessStream`, so
the two write the same bytes.
"""

from __future__ import annotations

import numpy as np

from ..errors import CodecError
from ._kernels.lossless_encode import count_samples, count_tokens, encode_sample, encode_samples
from ._kernels.pixel_model import (COLOUR_NONE, COLOUR_SUBTRACT_GREEN, COLOUR_YCOCG,
                                   CTX_PER_CLASS, FINE_CONTEXTS, MAP_SIZE, NUM_CLASSES)
from ._kernels.rans import LOSSLESS_DIRECT, LOSSLESS_START, PROB_SCALE
from .context_map import cluster_contexts
from .lossless_counts import Scratch, coded_bits, ls_counts
from .lossless_tables import LosslessTables, map_home
from .ls_fit import LsScratch, fit_ls, ls_code, sample_codes
from .parallel import map_ranges
from .protocol import Chunk, WithoutBudget
from .record_lengths import pack_shard_lengths
from .sample_layout import FLOAT_IMAGES, dims_of, fit_rows

__all__ = ["COLOURS", "LS_GAIN", "PREDICTORS", "PREDICTOR_CHOICES", "LosslessStream", "Scratch",
           "code_layout", "model_stats"]

#: ``LosslessParams.colour`` -> the colour transforms the fit tries (it keeps the one whose
#: tables code the fit samples in fewer bits, tables included)
COLOURS = {"auto": (COLOUR_YCOCG, COLOUR_SUBTRACT_GREEN), "ycocg": (COLOUR_YCOCG,),
           "subtract_green": (COLOUR_SUBTRACT_GREEN,)}

#: the predictors an archive records: MED, or the slower least-squares model of 8-bit RGB(A)
#: archives (``_kernels.ls_model``)
PREDICTORS = ("med", "least_squares")
#: ``LosslessParams.predictor``: one of them, or ``"auto"``: least squares where it codes the fit
#: samples of an 8-bit colour source at least ``LS_GAIN`` smaller than MED (its weights
#: included), else MED
PREDICTOR_CHOICES = ("auto",) + PREDICTORS
#: least squares must save 1% of MED's bits to be chosen: it decodes one record at a time
#: slower (CIFAR ds[i] 0.66-0.78 -> 0.47-0.66x PNG) and encodes slower (about 4,500 -> 2,200 to
#: 3,300 images/s; 8,700 -> 5,150 since the model passes go a row at a time); on CIFAR's probe
#: it codes 2.5% smaller, on the photos of ``benchmarks/`` 0.4% bigger (README)
LS_GAIN = 0.99

_SOURCE_DTYPES = {np.dtype(np.uint8): (8, 0), np.dtype(np.int8): (8, -128),
                  np.dtype(np.uint16): (16, 0), np.dtype(np.int16): (16, -32768)}


def code_layout(samples, dtype: np.dtype) -> tuple[int, int]:
    """(bits, code_lo) for samples of ``dtype``; wide integers must fit 16 bits."""
    dtype = np.dtype(dtype)
    if dtype in _SOURCE_DTYPES:
        return _SOURCE_DTYPES[dtype]
    if dtype.kind not in "iu":
        raise CodecError(f"codec='lossless' stores integer samples (uint8, int8, uint16, int16), "
                         f"but got dtype {dtype}; {FLOAT_IMAGES}; for other floats use "
                         "codec='gede' with precision=")
    lo = min(int(s.min()) for s in samples)
    hi = max(int(s.max()) for s in samples)
    if 0 <= lo and hi <= 0xFFFF:
        return 16, 0
    if -(1 << 15) <= lo and hi < 1 << 15:
        return 16, -(1 << 15)
    raise CodecError(f"codec='lossless' stores integers up to 16 bits, but these {dtype} samples "
                     f"hold values in [{lo}, {hi}]; rescale them or use codec='gede'")


def _raw_record(sample: np.ndarray, code_lo: int, value_bytes: int) -> np.ndarray:
    codes = sample.astype(np.int64).reshape(-1) - code_lo
    return codes.astype("<u1" if value_bytes == 1 else "<u2").view(np.uint8)


def model_stats(tables: LosslessTables) -> dict:
    """The manifest's words for an archive's model: its colour transform (``"none"`` without 3-
    or 4-plane samples, else as ``colour=`` spells it) and its predictor."""
    return {"colour": ("none", "ycocg", "subtract_green")[tables.colour],
            "predictor": PREDICTORS[tables.ls is not None]}


#: with more than one colour transform to try, the fit tries them on every PROBE-th of its
#: samples (where that leaves at least PROBE_MIN) and counts only the winner on the rest
PROBE, PROBE_MIN = 4, 16


def _uniform(samples) -> bool:
    return isinstance(samples, np.ndarray) or len({s.shape for s in samples}) == 1


class LosslessStream(WithoutBudget):
    """Fit on ``fit_rows``, then code chunks (see ``protocol.StreamEncoder``).

    ``layout``: (bits, code_lo) when known for all samples (in memory); else the
    fit samples decide it, and a later sample outside it is refused.
    """

    shard_tensors = staticmethod(pack_shard_lengths)

    def __init__(self, fit_samples: int, n: int, *, workers: int = 1, layout=None,
                 colour: str = "auto", predictor: str = "auto"):
        self.n, self.workers, self.layout = n, workers, layout
        self.fit_samples, self.colours = fit_samples, COLOURS[colour]
        self.predictor = predictor
        self.tables: LosslessTables | None = None
        self._estimate = 0.0

    def fit_rows(self, sample_bytes: int = 0) -> np.ndarray:
        return fit_rows(self.n, self.fit_samples, sample_bytes)

    def fit(self, samples, labels=None) -> None:
        """Count tokens over ``samples`` (the fit rows) and build the tables."""
        bits, code_lo = self.layout or code_layout(samples, samples[0].dtype)
        dims = dims_of(samples)
        colour = samples[0].ndim == 3 and bool(np.isin(dims[:, 0], (3, 4)).any())
        colour = self.colours[0] if colour else COLOUR_NONE
        classes = min(int(dims[:, 0].max()), NUM_CLASSES)
        t = LosslessTables.tokens_for(bits, colour)
        uniform = _uniform(samples)
        rows = classes * CTX_PER_CLASS

        def count(cmap: np.ndarray, extra: int, colour: int = colour, which=None) -> np.ndarray:
            """Token counts of ``rows`` contexts and ``extra`` rows after them (``cmap``'s),
            over the fit samples ``which`` (default: all)."""
            smp, dms = (samples, dims) if which is None else (
                samples[which] if isinstance(samples, np.ndarray)
                else [samples[i] for i in which], dims[which])

            def count_range(a: int, b: int) -> np.ndarray:  # integer counts: exact sums
                scratch = Scratch(dms[a:b])
                counts = np.zeros((rows + extra, t), dtype=np.int64)
                if uniform:
                    p, h, w = (int(v) for v in dms[0])
                    codes = np.stack(smp[a:b]).reshape(b - a, p, h, w).astype(np.int32) \
                        - np.int32(code_lo)
                    count_samples(codes, colour if p in (3, 4) else COLOUR_NONE, bits - 8, cmap,
                                  scratch.pl, scratch.rs, scratch.ctx, scratch.val, counts)
                    return counts
                for i in range(a, b):
                    k = scratch.model(smp[i], dms[i], colour, bits, code_lo, cmap)
                    count_tokens(scratch.ctx, scratch.val, k, counts, LOSSLESS_DIRECT)
                return counts
            return sum(map_ranges(count_range, len(smp), self.workers))

        cmap = None
        if colour:
            # each transform's counts and tables on every PROBE-th fit sample; the fewest bits
            # wins (subtract green on CIFAR, 49.15% of raw against YCoCg-R's 49.36; YCoCg-R on
            # the photos), then its counts over the rest join (the tables of all the counts, as
            # for one transform; encode_dataset on CIFAR 5,300 -> 7,200 images/s)
            least_squares = self.predictor == "least_squares"
            if least_squares:
                self._check_ls(bits)
            auto = self.predictor == "auto" and bits == 8
            nofit = np.zeros(0, np.int32)
            n = len(samples)
            step = PROBE if n >= PROBE * PROBE_MIN and (len(self.colours) > 1 or auto) else 1
            probe = np.arange(0, n, step)
            if not least_squares or len(self.colours) > 1:  # least squares: MED only chooses
                fits = [(count(nofit, 0, c, probe), c) for c in self.colours]
                counts, colour = min(fits, key=lambda f: coded_bits(
                    LosslessTables.fit(bits, code_lo, f[1], f[0]), f[0]))
            if least_squares or auto:
                ls = fit_ls(samples, dims, colour, code_lo, self.workers)
                ls_args = (samples, dims, colour, bits, code_lo, rows, t, ls, self.workers)
            if auto:  # least squares and MED on the same probe samples, then the winner's
                # counts of the rest join (least squares: the counts, so the bytes, of
                # predictor="least_squares")
                probed = ls_counts(*ls_args, probe)
                scale = n / len(probe)
                least_squares = coded_bits(
                    LosslessTables.fit(bits, code_lo, colour, probed, ls=ls), probed, scale
                ) <= LS_GAIN * coded_bits(LosslessTables.fit(bits, code_lo, colour, counts),
                                          counts, scale)
                if least_squares:
                    counts = probed + (ls_counts(*ls_args, np.setdiff1d(np.arange(n), probe))
                                       if len(probe) < n else 0)
            elif least_squares:
                counts = ls_counts(*ls_args)
            if least_squares:
                self.tables = LosslessTables.fit(bits, code_lo, colour, counts, ls=ls)
            else:
                if len(probe) < n:
                    counts = counts + count(nofit, 0, colour, np.setdiff1d(np.arange(n), probe))
                self.tables = LosslessTables.fit(bits, code_lo, colour, counts)
        else:
            if self.predictor == "least_squares":
                self._check_ls(bits, grey=True)
            # plane 0's map, stage by stage: each fine context counted in a row of its own
            # after the contexts', then clustered into class 0's (``context_map``)
            home = map_home()
            first = count(np.arange(rows, rows + FINE_CONTEXTS, dtype=np.int32), FINE_CONTEXTS)
            stage1, _ = cluster_contexts(first[rows:], home[:FINE_CONTEXTS])
            second = MAP_SIZE - FINE_CONTEXTS
            counts = count(np.concatenate([stage1, np.arange(rows, rows + second)]).astype(
                np.int32), second)
            stage2, counts[:CTX_PER_CLASS] = cluster_contexts(counts[rows:], home[FINE_CONTEXTS:])
            counts = counts[:rows]
            cmap = np.concatenate([stage1, stage2])
            self.tables = LosslessTables.fit(bits, code_lo, colour, counts, cmap)
        f = self.tables.freq.astype(np.float64)
        self._estimate = float((counts * -np.log2(f / PROB_SCALE)).sum() / 8 / len(samples))

    def _check_ls(self, bits: int, grey: bool = False) -> None:
        if grey or bits != 8:
            what = "no 3- or 4-channel samples" if grey else f"{bits}-bit codes"
            raise CodecError(f"predictor='least_squares' codes 8-bit RGB or RGBA images, but the "
                             f"fit samples have {what}; use predictor='med'")

    def model(self) -> dict:
        return {**self.tables.to_tensors(), "estimate": np.array([self._estimate])}

    def load_model(self, model: dict) -> None:
        model = dict(model)
        self._estimate = float(model.pop("estimate")[0])
        self.tables = LosslessTables.from_tensors(model, "the broadcast model")

    def _check(self, samples, dims: np.ndarray, start: int) -> None:
        t = self.tables
        if t.classes < NUM_CLASSES and dims[:, 0].max() > t.classes:
            i = int(np.flatnonzero(dims[:, 0] > t.classes)[0])
            raise CodecError(f"source sample {start + i} has {int(dims[i, 0])} planes, but the "
                             f"samples the model was fit on have at most {t.classes}; give the "
                             "samples one channel count (e.g. convert images to RGB)")
        if np.dtype(samples[0].dtype) in _SOURCE_DTYPES:
            return
        hi = t.code_lo + (1 << t.bits) - 1
        for i, s in enumerate(samples):
            if s.size and (int(s.min()) < t.code_lo or int(s.max()) > hi):
                raise CodecError(f"source sample {start + i} holds values outside [{t.code_lo}, "
                                 f"{hi}], the 16-bit range the model chose from the samples it "
                                 f"was fit on; pass fit_samples >= {self.n} (every sample) or "
                                 f"rescale the {s.dtype} samples")

    def encode(self, samples, start: int = 0, labels=None) -> Chunk:
        """Code ``samples`` (an (B, ...) array or a list of arrays): one record each."""
        t = self.tables
        m = len(samples)
        dims = dims_of(samples)
        self._check(samples, dims, start)
        value_bytes = t.bits // 8
        uniform = _uniform(samples)

        def encode_range(a: int, b: int) -> list:
            scratch = Scratch(dims[a:b])
            ls_scratch = LsScratch(dims[a:b]) if t.ls is not None else None
            if uniform and t.ls is None:  # one shape: the whole range in one kernel call
                p, h, w = (int(v) for v in dims[0])
                block = samples[a:b] if isinstance(samples, np.ndarray) else np.stack(samples[a:b])
                codes = block.reshape(b - a, p, h, w).astype(np.int32) - np.int32(t.code_lo)
                out = np.empty((b - a, p * h * w * value_bytes), dtype=np.uint8)
                sizes = np.empty(b - a, dtype=np.int64)
                encode_samples(codes, t.colour if p in (3, 4) else COLOUR_NONE, t.bits - 8,
                               t.freq, t.cum, t.cmap32, scratch.pl, scratch.rs, scratch.ctx,
                               scratch.val, scratch.words, out, sizes)
                return [out[j, :s].copy() if s >= 0 else _raw_record(block[j], t.code_lo, value_bytes)
                        for j, s in enumerate(sizes.tolist())]
            buf = np.empty(0, dtype=np.uint8)
            out = []
            for i in range(a, b):
                raw = int(dims[i].prod()) * value_bytes
                if buf.size < raw:
                    buf = np.empty(raw, dtype=np.uint8)
                ctx, val = scratch.ctx, scratch.val
                if ls_scratch is not None and dims[i, 0] in (3, 4):
                    ctx, val = ls_scratch.ctx, ls_scratch.val
                    k = ls_code(sample_codes(samples[i], dims[i], t.code_lo), t.colour, t.wts,
                                t.bias, ls_scratch)
                else:
                    k = scratch.model(samples[i], dims[i], t.colour, t.bits, t.code_lo, t.cmap32)
                size = encode_sample(ctx, val, k, t.freq, t.cum, scratch.words, buf, 0, raw - 1,
                                     LOSSLESS_DIRECT, LOSSLESS_START)
                # never expand: store the raw codes
                out.append(_raw_record(samples[i], t.code_lo, value_bytes) if size < 0
                           else buf[:size].copy())
            return out

        records = [r for part in map_ranges(encode_range, m, self.workers) for r in part]
        lengths = np.array([r.size for r in records], dtype=np.int64)
        raw = int((lengths == dims.prod(axis=1) * value_bytes).sum())
        dtype = np.uint16 if not m or lengths.max() < 1 << 16 else np.uint32
        payload = np.concatenate(records) if records else np.zeros(0, dtype=np.uint8)
        shapes = np.array([s.shape for s in samples], dtype=np.int64).reshape(m, -1)
        return Chunk({"lengths": lengths.astype(dtype), "records": payload}, shapes,
                     {"raw_samples": raw, "payload_bytes": int(lengths.sum()), "samples": m})

    def extras(self) -> dict:
        return {"tables": self.tables.to_tensors()}

    def stats(self, parts: list) -> dict:
        payload = sum(p["payload_bytes"] for p in parts)
        n = max(sum(p["samples"] for p in parts), 1)
        return {"raw_samples": sum(p["raw_samples"] for p in parts), "payload_bytes": payload,
                "bits_per_sample": float(8 * payload / n), **model_stats(self.tables)}
