"""The lossless codec: bit-exact round trips for every shape and dtype, never expands, rANS
against an independent reference, coded size against the model's cross-entropy."""

import math

import numpy as np
import pytest
import torch

import torchcompress as tc
from torchcompress.codecs import LosslessCodec, LosslessParams, lossless_stream
from torchcompress.codecs._kernels.lossless_encode import count_samples, encode_sample
from torchcompress.codecs._kernels.pixel_model import CTX_PER_CLASS, FINE_CONTEXTS
from torchcompress.codecs.context_map import ENTRY_BITS, cluster_contexts
from torchcompress.codecs.lossless_tables import map_home
from torchcompress.codecs._kernels.pixel_model import fold, unfold
from torchcompress.codecs._kernels.rans import (LOSSLESS_DIRECT, LOSSLESS_START, LOSSY_DIRECT,
                                                PROB_BITS, RANS_L, floor_log2, num_tokens,
                                                token_base, token_of)
from torchcompress.codecs.lossless_stream import Scratch as _Scratch
from torchcompress.errors import CodecError


def _roundtrip(x, labels=None, **params):
    """Encode a list/array of samples in memory and decode every one back."""
    codec = LosslessCodec(LosslessParams(**params))
    n = len(x)
    labels = np.zeros(n, dtype=np.int64) if labels is None else labels
    enc = codec.encode_dataset(x, labels)
    shapes = [s.shape for s in x]
    shape = tuple(d[0] if len(set(d)) == 1 else None for d in zip(*shapes))
    dec = tc.format.ArchiveDecoder.from_encoded(codec, enc, labels, [0, n], shape, x[0].dtype)
    out = dec.decode(np.arange(n, dtype=np.int64), x[0].dtype)
    return enc, out


def _structured(rng, shape, dtype=np.uint8, hi=255, noise=6.0):
    ramp = np.add.outer(np.arange(shape[-2]), np.arange(shape[-1])) * 3.0
    v = ramp + rng.normal(0, noise, shape)
    return np.clip(v, 0, hi).astype(dtype)


CASES = {
    "zeros": np.zeros((4, 3, 8, 8), np.uint8),
    "all-255": np.full((4, 3, 8, 8), 255, np.uint8),
    "1x1": np.random.default_rng(1).integers(0, 256, (5, 3, 1, 1), dtype=np.uint8),
    "1xN": np.random.default_rng(2).integers(0, 256, (5, 1, 1, 37), dtype=np.uint8),
    "odd-5x7-grey": _structured(np.random.default_rng(3), (6, 1, 5, 7)),
    "rgba": _structured(np.random.default_rng(4), (6, 4, 9, 6)),
    "hw-only": _structured(np.random.default_rng(5), (6, 11, 13)),
    "flat-vector": np.random.default_rng(6).integers(0, 9, (6, 50), dtype=np.uint8),
    "uint16": _structured(np.random.default_rng(7), (5, 3, 6, 6), np.uint16, 65535) * 200,
    "int16": (_structured(np.random.default_rng(8), (5, 1, 6, 6), np.int16, 3000) - 1500),
    "int8": (_structured(np.random.default_rng(9), (5, 3, 6, 6), np.int16, 255) - 128).astype(np.int8),
    "int64-labelmap": np.random.default_rng(10).integers(0, 21, (4, 12, 12)).astype(np.int64),
    "two-planes": _structured(np.random.default_rng(11), (4, 2, 7, 7)),
    "six-planes": _structured(np.random.default_rng(12), (4, 6, 5, 5)),
}


@pytest.mark.parametrize("name", list(CASES), ids=list(CASES))
def test_roundtrip_is_bit_exact(name):
    x = CASES[name]
    enc, out = _roundtrip(x)
    np.testing.assert_array_equal(out, x)
    assert out.dtype == x.dtype


@pytest.mark.parametrize("colour", ["ycocg", "subtract_green"])
@pytest.mark.parametrize("name", ["zeros", "all-255", "1x1", "rgba", "uint16", "int8"])
def test_roundtrip_under_each_colour_transform(name, colour):
    x = CASES[name]
    enc, out = _roundtrip(x, colour=colour)
    assert enc.tables.colour == {"ycocg": 1, "subtract_green": 2}[colour]
    np.testing.assert_array_equal(out, x)


@pytest.mark.parametrize("as_list", [False, True])
@pytest.mark.parametrize("kind, best", [("green-like", "subtract_green"), ("noisy", "ycocg")])
def test_auto_tries_the_transforms_on_every_fourth_sample(monkeypatch, kind, best, as_list):
    """Past PROBE * PROBE_MIN fit samples the transforms are tried on every PROBE-th; the
    winner's counts over the rest join, so the archive is the forced transform's, byte for
    byte (samples in one array, or a list as a folder of photos gives)."""
    monkeypatch.setattr(lossless_stream, "PROBE_MIN", 2)  # 24 samples: every 4th tried
    x = _colour_images(kind)
    forced, _ = _roundtrip(x, colour=best)
    enc, out = _roundtrip(list(x) if as_list else x)
    np.testing.assert_array_equal(out, x)
    assert enc.tables.colour == forced.tables.colour
    np.testing.assert_array_equal(enc.tables.freq, forced.tables.freq)
    assert bytes(enc.payload) == bytes(forced.payload)


@pytest.mark.parametrize("colour", ["ycocg", "subtract_green"])
def test_extreme_values_of_16_bit_codes(colour):
    x = np.array([[[0, 65535, 0], [65535, 0, 65535]]] * 3, dtype=np.uint16)[:, None]
    x = np.concatenate([x, x, x], axis=1)  # RGB: chroma spans the full signed range
    _, out = _roundtrip(x, colour=colour)
    np.testing.assert_array_equal(out, x)
    y = x.copy()
    y[:, 1] = 65535 - y[:, 1]  # green against red and blue: B - G and R - G at both ends
    _, out = _roundtrip(y, colour=colour)
    np.testing.assert_array_equal(out, y)


def _colour_images(kind):
    """RGB images that code smaller under one colour transform: red equal to green and blue
    a step from it (subtract green leaves one plane of texture), or a grey pattern with its
    own noise in each channel (YCoCg-R's Y averages the noise)."""
    rng = np.random.default_rng(0)
    if kind == "green-like":
        g = _structured(rng, (24, 1, 12, 12), np.int16, 200, noise=10.0)
        x = np.concatenate([g, g, g + rng.integers(-2, 3, g.shape)], axis=1)
        return np.clip(x, 0, 255).astype(np.uint8)
    base = _structured(rng, (24, 1, 12, 12), np.float64, 200, noise=0.0)
    return np.clip(base + rng.normal(0, 3, (24, 3, 12, 12)), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("kind, best", [("green-like", "subtract_green"), ("noisy", "ycocg")])
def test_auto_keeps_the_smaller_colour_transform(kind, best):
    x = _colour_images(kind)
    size = {c: int(_roundtrip(x, colour=c)[0].offsets[-1]) for c in ("ycocg", "subtract_green")}
    enc, out = _roundtrip(x)  # colour="auto"
    np.testing.assert_array_equal(out, x)
    assert min(size, key=size.get) == best and size[best] < 0.97 * max(size.values())
    assert enc.tables.colour == {"ycocg": 1, "subtract_green": 2}[best]
    assert enc.offsets[-1] == size[best]


def test_noise_is_stored_raw_and_never_expands():
    x = np.random.default_rng(0).integers(0, 256, (8, 3, 16, 16), dtype=np.uint8)
    enc, out = _roundtrip(x)
    np.testing.assert_array_equal(out, x)
    assert enc.raw_count == 8
    assert enc.offsets[-1] <= x.size  # raw plus nothing in the records themselves


def test_structured_images_compress():
    x = _structured(np.random.default_rng(0), (16, 3, 24, 24), noise=2.0)
    enc, out = _roundtrip(x)
    np.testing.assert_array_equal(out, x)
    assert enc.raw_count == 0 and enc.offsets[-1] < 0.6 * x.size


def test_mixed_shapes_in_one_archive(tmp_path):
    rng = np.random.default_rng(0)
    imgs = [_structured(rng, (3, h, w)) for h, w in [(8, 8), (5, 13), (1, 1), (17, 3), (8, 8)]]

    class Folder(torch.utils.data.Dataset):
        classes = ["a", "b"]

        def __len__(self):
            return len(imgs)

        def __getitem__(self, i):
            return torch.from_numpy(imgs[i]), i % 2

    info = tc.compress(Folder(), tmp_path / "m.tcz", progress=False)
    assert info["sample_shape"] == [3, None, None] and info["verified"]
    ds = tc.open(tmp_path / "m.tcz", output="uint8")
    for i, img in enumerate(imgs):
        x, y = ds[i]
        assert y == i % 2 and tuple(x.shape) == img.shape
        np.testing.assert_array_equal(x.numpy(), img)
    batch = ds.__getitems__([4, 1, 3])
    assert [tuple(b[0].shape) for b in batch] == [(3, 8, 8), (3, 5, 13), (3, 17, 3)]
    np.testing.assert_array_equal(batch[1][0].numpy(), imgs[1])


def test_one_class_and_every_output(tmp_path):
    x = _structured(np.random.default_rng(0), (12, 3, 8, 8))
    tc.compress((x, np.zeros(12, dtype=np.int64)), tmp_path / "o.tcz", progress=False)
    for output, want in [("source", x), ("raw", x.astype(np.float32)),
                         ("float", x.astype(np.float32) / np.float32(255))]:
        ds = tc.open(tmp_path / "o.tcz", output=output)
        xs = torch.stack([b[0] for b in ds.__getitems__(list(range(12)))])
        assert xs.dtype == torch.from_numpy(want).dtype
        np.testing.assert_allclose(xs.numpy(), want, rtol=0, atol=1e-7)


def test_deterministic_bytes(tmp_path):
    x = _structured(np.random.default_rng(0), (20, 3, 8, 8))
    y = np.arange(20) % 3
    tc.compress((x, y), tmp_path / "a.tcz", progress=False)
    tc.compress((x.copy(), y.copy()), tmp_path / "b.tcz", progress=False)
    for f in ("shard-00000.safetensors", "tables.safetensors"):
        assert (tmp_path / "a.tcz" / f).read_bytes() == (tmp_path / "b.tcz" / f).read_bytes()


@pytest.mark.parametrize("shapes", ["one", "mixed"])
def test_verify_refuses_a_sample_that_decodes_wrong(tmp_path, monkeypatch, shapes):
    """``verify=True`` (the default) compares every decoded sample with its source in the
    source's dtype: one value off by one in the 14th sample stops the compress, and nothing is
    written (one shape and mixed shapes take different comparison paths)."""
    from torchcompress.codecs import lossless_shard

    rng = np.random.default_rng(0)
    x = _structured(rng, (20, 3, 8, 8))
    src = (x, np.arange(20) % 3) if shapes == "one" else \
        [(np.ascontiguousarray(s[:, : 5 + i % 3]), i % 3) for i, s in enumerate(x)]
    real = lossless_shard.LosslessShard.decode

    def off_by_one(self, rows, out, **kw):
        real(self, rows, out, **kw)
        k = np.flatnonzero(rows == 13)
        if len(k):
            if out.ndim == 2:
                out[k[0], 7] += 1
            else:
                out[kw["out_off"][k[0]] + 7] += 1
    monkeypatch.setattr(lossless_shard.LosslessShard, "decode", off_by_one)
    path = tmp_path / "v.tcz"
    with pytest.raises(CodecError, match=r"verify failed: sample 13 decodes with error 1 "
                                         r"\(allowed 0\); nothing was written"):
        tc.compress(src, path, progress=False)
    assert not path.exists() and list(tmp_path.iterdir()) == []


def test_fit_samples_bounds_the_fit_and_stays_exact():
    x = _structured(np.random.default_rng(0), (30, 3, 8, 8))
    enc_all, _ = _roundtrip(x)
    enc_few, out = _roundtrip(x, fit_samples=2)
    np.testing.assert_array_equal(out, x)
    assert not np.array_equal(enc_all.tables.freq, enc_few.tables.freq)


@pytest.mark.parametrize("x, err, match", [
    (np.zeros((2, 4, 4), np.float32), CodecError,
     r"stores integer samples .* got dtype float32; float images usually come from a ToTensor\(\)"
     r".* pass that transform to tc.open\(transform=...\); for other floats use codec='gede'"),
    (np.full((2, 4, 4), 70000, np.int64), CodecError,
     r"integers up to 16 bits, but these int64 samples hold values in \[70000, 70000\]"),
], ids=["float", "too-wide"])
def test_bad_input(x, err, match):
    with pytest.raises(err, match=match):
        LosslessCodec(LosslessParams()).encode_dataset(x, np.zeros(len(x), dtype=np.int64))


def test_bad_params(tmp_path):
    with pytest.raises(ValueError, match="fit_samples should be a positive integer value, but got fit_samples=0"):
        LosslessParams(fit_samples=0)
    with pytest.raises(ValueError, match="colour='rgb' is not a colour transform; pass one of "
                                         "'auto', 'ycocg', 'subtract_green'"):
        LosslessParams(colour="rgb")
    with pytest.raises(ValueError, match="importance= applies to the lossy 'adq' codec"):
        tc.compress((np.zeros((2, 4, 4), np.uint8), np.zeros(2, dtype=int)), tmp_path / "x.tcz",
                    importance=np.ones(2), progress=False)
    assert not (tmp_path / "x.tcz").exists()


# -- rANS against an independent reference --

def _reference_rans(symbols, freq, cum, start=RANS_L):
    """Plain-Python rANS with the same conventions (32-bit state, 16-bit words, 12-bit
    frequencies; from ``start``, and from ``LOSSLESS_START`` a 3-byte state where it fits):
    the bytes the kernel must produce."""
    x, words = start, []
    for s in reversed(symbols):
        f, c = int(freq[s]), int(cum[s])
        if x >= f << (32 - PROB_BITS):
            words.append(x & 0xFFFF)
            x >>= 16
        x = (x // f << PROB_BITS) + x % f + c
    out = x.to_bytes(4 if start == RANS_L or x >= 1 << 24 else 3, "little")
    for w in reversed(words):
        out += w.to_bytes(2, "little")
    return out


def _reference_decode(data, n, freq, cum, start=RANS_L):
    nbytes = 4 if start == RANS_L else 4 - len(data) % 2
    x = int.from_bytes(data[:nbytes], "little")
    pos, out = nbytes, []
    for _ in range(n):
        slot = x & ((1 << PROB_BITS) - 1)
        s = max(i for i in range(len(freq)) if cum[i] <= slot)
        x = int(freq[s]) * (x >> PROB_BITS) + slot - int(cum[s])
        while x < RANS_L and pos < len(data):
            x = (x << 16) | int.from_bytes(data[pos:pos + 2], "little")
            pos += 2
        out.append(s)
    assert x == start and pos == len(data)
    return out


@pytest.mark.parametrize("seed, direct, start", [
    (0, LOSSY_DIRECT, RANS_L), (1, LOSSY_DIRECT, RANS_L), (2, LOSSLESS_DIRECT, LOSSLESS_START)])
def test_rans_kernel_matches_reference_and_entropy(seed, direct, start):
    rng = np.random.default_rng(seed)
    t = 1 << direct  # direct tokens only: no extra bits
    freq = np.zeros((1, t), dtype=np.uint16)
    raw = rng.dirichlet(np.full(t, 0.3)) * (4096 - t)
    freq[0] = 1 + np.floor(raw).astype(np.uint16)
    freq[0, 0] += 4096 - int(freq.sum())
    cum = np.zeros((1, t + 1), dtype=np.uint16)
    cum[0, 1:] = np.cumsum(freq[0])
    p = freq[0] / 4096
    sym = rng.choice(t, size=20000, p=p).astype(np.int32)
    ctx = np.zeros_like(sym)
    words = np.empty(3 * len(sym) + 2, dtype=np.int64)
    out = np.empty(4 * len(sym) + 8, dtype=np.uint8)
    size = encode_sample(ctx, sym, len(sym), freq, cum, words, out, 0, out.size, direct, start)
    ref = _reference_rans(sym.tolist(), freq[0], cum[0], start)
    assert out[:size].tobytes() == ref
    assert _reference_decode(ref, len(sym), freq[0], cum[0], start) == sym.tolist()
    ideal = -sum(math.log2(freq[0, s] / 4096) for s in sym) / 8
    assert ideal <= size <= 1.01 * ideal + 8
    # short streams from LOSSLESS_START: 3 bytes of state where they hold it (odd lengths), the
    # kernel's bytes the reference's
    lengths = set()
    for n in range(1, 40):
        size = encode_sample(ctx, sym, n, freq, cum, words, out, 0, out.size, direct, start)
        ref = _reference_rans(sym[:n].tolist(), freq[0], cum[0], start)
        assert out[:size].tobytes() == ref
        assert _reference_decode(ref, n, freq[0], cum[0], start) == sym[:n].tolist()
        lengths.add(size % 2)
    assert lengths == ({0} if start == RANS_L else {0, 1})


@pytest.mark.parametrize("direct", [LOSSY_DIRECT, LOSSLESS_DIRECT])
def test_hybrid_tokens_cover_every_value(direct):
    d = 1 << direct
    last = -1
    for v in list(range(600)) + [1023, 1024, 65535, 262140]:
        tok, extra = token_of(v, direct)
        assert tok < num_tokens(max(v, 1), direct)
        base = (4 | ((tok - d) & 3)) << (direct + ((tok - d) >> 2) - 2) if tok >= d else tok
        assert base <= v < base + (1 << extra)
        assert token_base(tok, direct) == (base, extra)
        assert tok >= last and (tok == v if v < d else extra == v.bit_length() - 3)
        last = tok


def test_floor_log2_matches_bit_length():
    """The encoders' branch-free ``floor_log2`` (their tokens) at every power of two's edges
    below 2**32, and on random values."""
    vals = [v for j in range(32) for v in ((1 << j) - 1, 1 << j, (1 << j) + 1) if v < 1 << 32]
    vals += np.random.default_rng(0).integers(1, 1 << 32, 2000).tolist()
    for v in vals:
        assert floor_log2(v) == max(v.bit_length() - 1, 0), v
        tok, extra = token_of(v, LOSSLESS_DIRECT)
        assert extra == (v.bit_length() - 3 if v >= 32 else 0), v


@pytest.mark.parametrize("maxv", [255, 65535])
def test_fold_maps_each_prediction_onto_the_range(maxv):
    """Format 7 codes a residual of a plane in [0, maxv] by its fold: for every prediction the
    codes of the values in range are 0..maxv, each once (zigzag's up to 2 * maxv would
    overflow the tables' tokens), zigzag's while both signs are possible, and unfold inverts
    them."""
    preds = range(256) if maxv == 255 else [0, 1, 2, 300, 32767, 32768, 65000, 65534, 65535]
    for pred in preds:
        vals = np.arange(maxv + 1)
        r = vals - pred
        codes = np.array([fold(int(v), pred, maxv) for v in r])
        assert np.array_equal(np.sort(codes), vals)
        k = min(pred, maxv - pred)
        near = np.abs(r) <= k
        assert np.array_equal(codes[near], (2 * np.abs(r) - (r < 0))[near])
        assert all(unfold(int(c), pred, maxv) == v for c, v in zip(codes, r))


def _blank_digits(rng, n=60):
    """Grey strokes on zeros, as MNIST: the neighbours' levels tell much about the value."""
    x = np.zeros((n, 16, 16), dtype=np.uint8)
    for k in range(n):
        y0, x0 = rng.integers(1, 9, 2)
        x[k, y0:y0 + 6, x0:x0 + 2] = 255
        x[k, y0:y0 + 6, x0 - 1] = rng.integers(20, 200, 6)  # anti-aliased edges
        x[k, y0:y0 + 6, x0 + 2] = rng.integers(20, 200, 6)
    return x


def _soft_digits(rng, n=200):
    """Blurred strokes on zeros, as MNIST's pen: values rise and fall across each stroke."""
    x = np.zeros((n, 20, 20))
    for k in range(n):
        for _ in range(2):
            (y0, x0), (y1, x1) = rng.integers(3, 17, (2, 2))
            t = np.linspace(0, 1, 40)
            ys, xs = np.rint(y0 + t * (y1 - y0)), np.rint(x0 + t * (x1 - x0))
            x[k, ys.astype(int), xs.astype(int)] = 1
    for axis in (1, 2):  # a [1, 2, 1] blur along each axis, twice
        for _ in range(2):
            x = (np.roll(x, 1, axis) + 2 * x + np.roll(x, -1, axis)) / 4
    return np.clip(np.rint(x * 600), 0, 255).astype(np.uint8)


def test_context_map_codes_smaller_and_settles():
    """The fit's map of plane 0's fine contexts (``context_map``, its first stage): every fine
    context ends in the context that codes it cheapest, its map entry counted, the pooled
    counts are the fine ones summed, and the tables' cross-entropy plus the map's entries is
    below that of the contexts without the patterns."""
    x = _blank_digits(np.random.default_rng(3)).astype(np.int32)[:, None]
    fine = np.zeros((CTX_PER_CLASS + FINE_CONTEXTS, 44), dtype=np.int64)
    rows = np.arange(CTX_PER_CLASS, CTX_PER_CLASS + FINE_CONTEXTS, dtype=np.int32)
    s = _Scratch(np.tile([1, 16, 16], (1, 1)))
    count_samples(x, False, 0, rows, s.pl, s.rs, s.ctx, s.val, fine)
    fine = fine[CTX_PER_CLASS:]
    home = map_home()[:FINE_CONTEXTS]
    cmap, pooled = cluster_contexts(fine, home)
    assert np.array_equal(cmap, cluster_contexts(fine, home)[0])  # deterministic
    summed = np.zeros_like(pooled)
    np.add.at(summed, cmap.astype(np.int64), fine)
    assert np.array_equal(pooled, summed)

    def bits(counts):
        p = counts / np.maximum(counts.sum(axis=1, keepdims=True), 1)
        return -(counts[counts > 0] * np.log2(p[counts > 0])).sum()
    coarse = np.zeros_like(pooled)
    np.add.at(coarse, home, fine)
    entries = int((cmap != home).sum())
    assert entries and bits(pooled) + ENTRY_BITS * entries < 0.99 * bits(coarse)
    seen = np.flatnonzero(fine.sum(axis=1))
    logp = np.log2((pooled + 0.05) / (pooled + 0.05).sum(axis=1, keepdims=True))
    cost = -(fine[seen] @ logp.T) + ENTRY_BITS
    cost[np.arange(len(seen)), home[seen]] -= ENTRY_BITS
    here = cost[np.arange(len(seen)), cmap[seen]]
    assert (here <= cost.min(axis=1) + 1e-6 * np.maximum(here, 1)).all()


def test_context_map_second_stage_codes_smaller(monkeypatch):
    """Both stages of the map (``pixel_model``: the pattern of W, N, NE and NW, then W, N, NW
    and NE against the prediction) each make digits on a blank background smaller, their
    entries counted, and decode back exactly."""
    x = _soft_digits(np.random.default_rng(4))
    real = lossless_stream.cluster_contexts

    def stages(*fit):
        def cluster(fine, home):
            if (1 if len(home) == FINE_CONTEXTS else 2) in fit:
                return real(fine, home)
            pooled = np.zeros((CTX_PER_CLASS, fine.shape[1]), dtype=np.int64)
            np.add.at(pooled, home, fine)
            return home.astype(np.uint8), pooled
        return cluster
    sizes = []
    for fit in ((), (1,), (1, 2)):
        monkeypatch.setattr(lossless_stream, "cluster_contexts", stages(*fit))
        for lanes in (True, False):  # the 16-lane decoder and the one-record loops
            monkeypatch.setattr(tc.codecs.lossless_shard, "USE_LANES", lanes)
            enc, out = _roundtrip(x)
            np.testing.assert_array_equal(out, x)
        t = enc.tables
        sizes.append(int(enc.offsets[-1]) + 3 * len(t.to_tensors()["cmap_at"]))
        assert (len(t.to_tensors()["cmap_at"]) > 0) == bool(fit)
    assert sizes[2] < sizes[1] < sizes[0]


def test_coded_size_within_one_percent_of_cross_entropy():
    x = _structured(np.random.default_rng(0), (24, 3, 16, 16))
    enc, _ = _roundtrip(x)
    t = enc.tables
    dims = np.tile([3, 16, 16], (24, 1))
    s = _Scratch(dims)
    bits = 0.0
    for i in range(24):
        k = s.model(x[i], dims[i], t.colour, 8, 0, t.cmap32)
        for c, v in zip(s.ctx[:k], s.val[:k]):
            tok, extra = token_of(int(v), LOSSLESS_DIRECT)
            bits += extra - math.log2(t.freq[c, tok] / 4096)
    # the records, final states included: a stream that starts in state 1 stores only what it
    # codes, and its 3- or 4-byte state wastes at most a byte (from 2**16 it was 2 more)
    coded = int(enc.offsets[-1])
    assert bits / 8 - 24 <= coded <= bits / 8 + 24 * 2 and coded <= 1.01 * bits / 8


def _settle_one_at_a_time(freq):
    """The rounding fix-up as first written: one unit per entry in turn, largest first."""
    freq = freq.copy()
    for k in range(freq.shape[0]):
        diff = (1 << PROB_BITS) - int(freq[k].sum())
        order = np.argsort(-freq[k], kind="stable")
        j = 0
        while diff != 0:
            i = order[j % freq.shape[1]]
            step = 1 if diff > 0 else -1
            if freq[k, i] + step >= 1:
                freq[k, i] += step
                diff -= step
            j += 1
    return freq


@pytest.mark.parametrize("seed", range(4))
def test_normalized_counts_settle_as_one_unit_at_a_time(seed):
    """The vectorised fix-up gives the loop's tables exactly (archives keep their bytes), on
    rows with a rounding surplus, a deficit, and a deficit larger than the entries above 1."""
    from torchcompress.codecs.rans_tables import normalize_counts

    rng = np.random.default_rng(seed)
    t = 40
    counts = rng.integers(0, 300, (64, t)) * (rng.random((64, t)) < 0.5)
    counts[:8] = 0
    counts[:8, 0] = 10**6  # one token holds nearly all: 39 entries at the floor of 1
    counts[8:16, :3] = rng.integers(1, 4, (8, 3))  # tiny counts: large rounding errors
    counts[16] = 0  # empty: takes its group's pooled counts
    counts[24:28] = 1  # 4096 / 40 = 102.4 each: a surplus of 16
    freq = normalize_counts(counts, group=16)
    want = np.maximum(1, np.rint(counts * (4096 / np.maximum(1, counts.sum(axis=1, keepdims=True)))))
    want[16] = np.maximum(1, np.rint(counts[16:32].sum(axis=0) * 4096 / counts[16:32].sum()))
    np.testing.assert_array_equal(freq, _settle_one_at_a_time(want.astype(np.int64)))
    assert (freq.sum(axis=1) == 4096).all() and (freq >= 1).all()


def test_packed_tables_round_trip_and_pool_unseen_contexts_by_class():
    """The stored form (lens, logf) rebuilds the very frequencies the encoder coded with; a
    context the fit never saw takes the pooled rows of its plane class's seen contexts, or of
    all seen contexts when its class saw none."""
    from torchcompress.codecs.lossless_tables import LosslessTables
    from torchcompress.codecs.rans_tables import normalize_counts

    rng = np.random.default_rng(0)
    t = LosslessTables.tokens_for(8, True)
    counts = rng.integers(0, 500, (3 * 128, t)) * (rng.random((3 * 128, t)) < 0.3)
    counts[:, 0] += 1  # every context seen ...
    counts[5] = 0  # ... but one of class 0
    counts[128:256] = 0  # and all of class 1
    tables = LosslessTables.fit(8, 0, True, counts)
    again = LosslessTables.from_tensors(tables.to_tensors(), "test")
    np.testing.assert_array_equal(again.freq, tables.freq)
    assert (tables.freq.sum(axis=1) == 4096).all() and (tables.freq >= 1).all()
    seen = np.ones(3 * 128, bool)
    seen[5] = False
    seen[128:256] = False
    rows = tables.freq.astype(np.float64)
    class0 = normalize_counts(rows[:128][seen[:128]].sum(axis=0, keepdims=True), group=1)[0]
    everyone = normalize_counts(rows[seen].sum(axis=0, keepdims=True), group=1)[0]
    np.testing.assert_array_equal(tables.freq[5], class0)
    np.testing.assert_array_equal(tables.freq[128:256], np.tile(everyone, (128, 1)))
    packed = tables.to_tensors()
    assert packed["lens"][5] == 0 and (packed["lens"][128:256] == 0).all()
    assert packed["lens"].nbytes + packed["logf"].nbytes < tables.freq.nbytes / 2
