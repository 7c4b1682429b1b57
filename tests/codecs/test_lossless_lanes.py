"""The 16-lane lossless decoder gives the one-at-a-time decoder's values and errors, bit for bit.

The lanes are forced on (``USE_LANES``), whatever this CPU gathers: without
hardware gathers LLVM lowers them to scalar loads, with the same results.
"""

import numpy as np
import pytest
import torch

import torchcompress as tc
from torchcompress import FormatError
from torchcompress.codecs import LosslessCodec, LosslessParams
from torchcompress.codecs import context_map, lossless_shard as lossless_mod

from .test_lossless import _structured


def _decoder(x, params=LosslessParams()):
    codec = LosslessCodec(params)
    labels = np.zeros(len(x), dtype=np.int64)
    enc = codec.encode_dataset(x, labels)
    shape = tuple(d[0] if len(set(d)) == 1 else None for d in zip(*[s.shape for s in x]))
    return tc.format.ArchiveDecoder.from_encoded(codec, enc, labels, [0, len(x)], shape,
                                                 x[0].dtype)


def _watch_lanes(monkeypatch) -> list:
    """The bad flags ((groups, 16) per call) the lane decoder returns (a sound record that the
    lanes got wrong would be flagged and quietly decoded again one at a time)."""
    flags = []
    real = lossless_mod.LosslessShard._decode_lanes

    def watched(self, *a):
        bad = real(self, *a)
        flags.append(bad.copy())
        return bad
    monkeypatch.setattr(lossless_mod.LosslessShard, "_decode_lanes", watched)
    return flags


def _both_ways(monkeypatch, dec, idx, dtype):
    """(lanes on, lanes off) decodes of ``idx``; asserts the lanes ran and flagged nothing."""
    flags = _watch_lanes(monkeypatch)
    monkeypatch.setattr(lossless_mod, "USE_LANES", True)
    on = dec.decode(idx, dtype)
    monkeypatch.setattr(lossless_mod, "USE_LANES", False)
    off = dec.decode(idx, dtype)
    groups = sum(len(f) for f in flags)
    assert groups >= 2 and not any(f.any() for f in flags)  # lanes ran, and decoded every record
    return on, off


def _kinds():
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (40, 3, 12, 11), dtype=np.uint8)  # stored raw
    rgb = _structured(rng, (40, 3, 12, 11), noise=9.0)
    rgb[::7] = noise[::7]
    return {
        "rgb-with-raw-rows": rgb,
        "grey-hw": _structured(rng, (40, 13, 5)),
        "rgba": _structured(rng, (40, 4, 6, 8)),
        "uint16-wide-residuals": (_structured(rng, (40, 3, 5, 21), np.float64, 1e9, 60.0) * 97).astype(np.uint16),
        "int8": (_structured(rng, (40, 3, 4, 18), np.int16, 255, 20.0) - 128).astype(np.int8),
        "rgb-rows-of-40": _structured(rng, (40, 3, 6, 40)),
        "grey-rows-of-16": _structured(rng, (40, 7, 16)),
        "1xN": _structured(rng, (40, 1, 1, 33)),
        "Nx1": _structured(rng, (40, 2, 19, 1)),
        "six-planes": _structured(rng, (40, 6, 3, 5)),
        # (1, 3, H, W) samples: three planes without colour, so plane 0 goes through the map
        # (the lanes' and the one-at-a-time decoder's loops for any plane count)
        "three-planes-without-colour": _structured(rng, (40, 3, 5, 9)).reshape(40, 1, 3, 5, 9),
        "grey-blank-background": _blank_background(rng),
    }


def _blank_background(rng):
    """Grey digits on zeros, as MNIST: all sixteen lanes often sit in one context and decode
    its token 0 (the one-plane short cut); a few bright pixels break the run."""
    x = np.zeros((40, 16, 20), dtype=np.uint8)
    for k in range(40):
        y0, x0 = rng.integers(2, 8), rng.integers(2, 12)
        x[k, y0:y0 + 6, x0:x0 + 5] = rng.integers(0, 256, (6, 5))
        x[k, rng.integers(0, 16), rng.integers(0, 20)] = 255
    return x


@pytest.mark.parametrize("name", list(_kinds()))
def test_lanes_give_the_same_values(monkeypatch, name):
    x = _kinds()[name]
    # maps with every move that codes smaller, so the kinds without colour look their fine
    # contexts up (40 small images save too little for the 24 bits of an entry)
    monkeypatch.setattr(context_map, "ENTRY_BITS", 0)
    dec = _decoder(x)
    if name.startswith("grey") or name.endswith("without-colour"):
        t = dec.shard(0).tables
        assert (t.cmap != np.arange(t.cmap.size) % 128).sum() >= 10
    # 37 rows: two full groups of 16 and 5 left (one at a time); 40: the 8 left fill a group
    for idx in (np.arange(37), np.arange(40)[::-1].copy(), np.random.default_rng(1).integers(0, 40, 64)):
        on, off = _both_ways(monkeypatch, dec, idx.astype(np.int64), x.dtype)
        np.testing.assert_array_equal(on, off)
        np.testing.assert_array_equal(on, x[idx])


@pytest.mark.parametrize("colour", ["ycocg", "subtract_green"])
@pytest.mark.parametrize("name", ["rgb-with-raw-rows", "rgba", "uint16-wide-residuals", "int8",
                                  "rgb-rows-of-40"])
def test_lanes_undo_each_colour_transform(monkeypatch, name, colour):
    x = _kinds()[name]
    dec = _decoder(x, LosslessParams(colour=colour))
    assert dec.shard(0).tables.colour == {"ycocg": 1, "subtract_green": 2}[colour]
    idx = np.arange(40, dtype=np.int64)[::-1].copy()
    on, off = _both_ways(monkeypatch, dec, idx, x.dtype)
    np.testing.assert_array_equal(on, off)
    np.testing.assert_array_equal(on, x[idx])


@pytest.mark.parametrize("dtype", [np.float32, np.int32, np.int16])
def test_lanes_write_any_output_dtype(monkeypatch, dtype):
    """Rows of 16 values go out in one vector store, converted to the output's dtype."""
    x = _kinds()["rgb-rows-of-40"]
    dec = _decoder(x)
    idx = np.arange(40, dtype=np.int64)
    on, off = _both_ways(monkeypatch, dec, idx, dtype)
    assert on.dtype == dtype
    np.testing.assert_array_equal(on, off)
    np.testing.assert_array_equal(on, x.astype(dtype))


def test_lanes_group_records_of_one_plane_count(monkeypatch):
    rng = np.random.default_rng(2)
    sizes = [(3, 8, 8)] * 20 + [(3, 5, 13)] * 7 + [(1, 9, 9)] * 7 + [(3, 40, 40)] + [(3, 2, 2)] * 4
    imgs = [_structured(rng, s, noise=5.0) for s in sizes]
    dec = _decoder(imgs)
    idx = np.arange(len(imgs), dtype=np.int64)
    shard = dec.shard(0)
    groups, alone = shard._lane_groups(idx)
    # grey: 7, padded; RGB, widest then tallest: the 40x40 would leave the 15 other lanes of
    # its group mostly idle (30% of the steps used): alone; then 5x13 (7), 8x8 (9) | 8x8 (11),
    # 2x2 (4), one repeated
    assert [len(g) for g in groups] == [16, 16, 16]
    assert alone.tolist() == [34]
    for g in groups:
        assert len({int(shard.dims[i, 0]) for i in idx[g]}) == 1
    assert groups[1].tolist() == list(range(20, 27)) + list(range(9))
    flags = _watch_lanes(monkeypatch)
    monkeypatch.setattr(lossless_mod, "USE_LANES", True)
    out = dec.decode(idx, np.uint8)
    assert len(flags) == 1 and flags[0].shape == (3, 16) and not flags[0].any()
    for i, img in enumerate(imgs):
        np.testing.assert_array_equal(out[i].reshape(img.shape), img)


_MIXES = {  # (planes, height, width) of the 16 lanes of one group
    "heights": [(3, h, 20) for h in (1, 2, 3, 5, 8, 13, 21, 20, 20, 19, 4, 7, 11, 6, 9, 10)],
    "widths": [(3, 9, w) for w in (1, 2, 3, 15, 16, 17, 31, 33, 40, 5, 8, 39, 24, 16, 7, 12)],
    "both": [(3, 1 + k % 7, 40 - 3 * k) for k in range(13)] + [(3, 1, 1), (3, 12, 1), (3, 1, 40)],
    "grey-both": [(1, 3 + k, 18 - k) for k in range(16)],
    "one-big": [(3, 24, 40)] + [(3, 1 + k, 2 + k) for k in range(15)],
}


@pytest.mark.parametrize("name", list(_MIXES))
def test_lanes_decode_records_of_different_sizes(name):
    """A lane whose record is smaller than its group's widest and tallest one stops its stream
    there, and the rows it goes on to read are the scalar decoder's."""
    rng = np.random.default_rng(7)
    imgs = [_structured(rng, s, noise=7.0) for s in _MIXES[name]]
    if imgs[0].shape[0] == 1:
        imgs = [a[0] for a in imgs]
    shard = _decoder(imgs).shard(0)
    rows = np.arange(16, dtype=np.int64)
    lengths = np.diff(shard.offsets)
    raw = lengths == shard.dims.prod(axis=1)
    sizes = shard.dims.prod(axis=1)
    out_off = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    for order in (rows, rows[::-1].copy(), rng.permutation(16)):
        use = order[~raw[order]]  # a raw record (e.g. 1x1) may not go to a lane: repeat one
        lanes = np.concatenate([use, np.full(16 - len(use), use[0])])
        flat = np.zeros(int(sizes.sum()), dtype=np.int16)
        bad = shard._decode_lanes(lanes[None], flat, out_off[lanes][None])
        assert not bad.any()
        for r in use:
            np.testing.assert_array_equal(flat[out_off[r]:out_off[r] + sizes[r]],
                                          imgs[r].reshape(-1))
    assert raw.sum() <= 2


def test_lanes_flag_values_out_of_range(monkeypatch):
    """A lane whose values leave its plane's range is flagged, and its record goes to the
    one-at-a-time decoder, whose verdict stands: cutting the lanes' range below what the data
    uses (that decoder takes its range from the codes' bits), the exact pixels come back."""
    rng = np.random.default_rng(4)
    x = _structured(rng, (16, 1, 8, 8), noise=6.0)
    x[3, :, 4, 4] = 255  # bright pixels where the range is cut
    shard = _decoder(x[:, 0]).shard(0)
    shard.hi = shard.hi.copy()
    shard.hi[0] = 200
    flags = _watch_lanes(monkeypatch)
    monkeypatch.setattr(lossless_mod, "USE_LANES", True)
    out = np.empty((16, x[0].size), np.uint8)
    shard.decode(np.arange(16, dtype=np.int64), out)
    np.testing.assert_array_equal(out, x.reshape(16, -1))
    assert len(flags) == 1 and np.flatnonzero(flags[0]).tolist() == [3]


@pytest.mark.parametrize("colour", ["ycocg", "subtract_green"])
def test_colour_pixels_are_checked_as_rgb(monkeypatch, colour):
    """The one-at-a-time decoder tests a colour pixel once, as RGB: a sound pixel's transform
    values lie inside their planes' ranges. Cutting the chroma planes' ranges below what the
    data uses makes the lanes flag those records (they test each plane), and the decoder then
    takes them one at a time, whose RGB test passes: the exact pixels come back."""
    rng = np.random.default_rng(4)
    x = _structured(rng, (16, 3, 8, 8), noise=6.0)
    x[3, 0, 4, 4], x[3, 2, 4, 4] = 255, 0  # Co = R - B = 255; R - G over 200
    shard = _decoder(x, LosslessParams(colour=colour)).shard(0)
    shard.hi = shard.hi.copy()
    shard.hi[1:3] = 20
    flags = _watch_lanes(monkeypatch)
    out = np.empty((16, x[0].size), np.uint8)
    shard.decode(np.arange(16, dtype=np.int64), out)
    np.testing.assert_array_equal(out, x.reshape(16, -1))
    assert len(flags) == 1 and flags[0].any()


def test_raw_rows_never_go_to_lanes():
    rng = np.random.default_rng(3)
    x = _structured(rng, (24, 3, 12, 12))
    x[5] = rng.integers(0, 256, (3, 12, 12))
    x[11] = rng.integers(0, 256, (3, 12, 12))
    # tables fit on every other row, not the noise's: tables fit on it too code it to about
    # its raw size, a few bytes either side
    shard = _decoder(x, LosslessParams(fit_samples=12)).shard(0)
    lengths = np.diff(shard.offsets)
    assert lengths[5] == lengths[11] == 3 * 12 * 12  # stored raw
    groups, alone = shard._lane_groups(np.arange(24, dtype=np.int64))
    assert 5 in alone and 11 in alone
    assert not any(np.isin([5, 11], g).any() for g in groups)


class _Images(torch.utils.data.Dataset):
    def __init__(self, imgs):
        self.imgs = imgs

    def __len__(self):
        return len(self.imgs)

    def __getitem__(self, i):
        return torch.from_numpy(self.imgs[i]), 0


def _blank_patch(rng, h, w):
    """A grey (1, h, w) image of zeros with a 3x3 patch of random values: the lanes' flat steps
    (every neighbour 0) around it."""
    x = np.zeros((1, h, w), dtype=np.uint8)
    y0, x0 = rng.integers(0, h - 2), rng.integers(0, w - 2)
    x[0, y0:y0 + 3, x0:x0 + 3] = rng.integers(0, 256, (3, 3))
    return x


@pytest.mark.parametrize("kind", ["rgb", "grey-blank-background"])
@pytest.mark.parametrize("sizes", ["one", "mixed"])
@pytest.mark.parametrize("seed", range(3))
def test_a_corrupt_lane_names_the_same_record(tmp_path, monkeypatch, seed, sizes, kind):
    rng = np.random.default_rng(seed)
    hw = [(8, 8)] * 32 if sizes == "one" else [(5 + k % 4, 12 - k % 5) for k in range(32)]
    make = (lambda h, w: _structured(rng, (3, h, w), noise=8.0)) if kind == "rgb" else \
        (lambda h, w: _blank_patch(rng, h, w))
    path = tmp_path / "l.tcz"
    tc.compress(_Images([make(h, w) for h, w in hw]), path, progress=False)
    assert_corrupt_lanes_name_the_same_record(path, monkeypatch, rng, 32)


def assert_corrupt_lanes_name_the_same_record(path, monkeypatch, rng, n):
    """Twelve flips in the records of ``path``'s first shard, one after the other: after each,
    the lanes and the one-at-a-time decoder raise the same FormatError (or none) for a batch of
    all ``n`` samples, and at the end one that says a record is corrupt."""
    shard = path / "shard-00000.safetensors"
    from torchcompress.format.safetensors_io import read_header

    from ..format.edits import flip_byte
    specs, data_start, _ = read_header(str(shard))
    begin, end = specs["records"][2:]
    messages = {}
    for _ in range(12):
        flip_byte(shard, data_start + int(rng.integers(begin, end)), int(rng.integers(1, 256)))
        for lanes in (True, False):
            monkeypatch.setattr(lossless_mod, "USE_LANES", lanes)
            try:
                tc.open(path).__getitems__(list(range(n)))
                messages[lanes] = None
            except FormatError as e:
                messages[lanes] = str(e)
        assert messages[True] == messages[False]
    assert messages[True] is not None and "is corrupt" in messages[True]


@pytest.mark.parametrize("planes", [3, 4], ids=["rgb-row", "rgba-steps"])
@pytest.mark.parametrize("colour", ["ycocg", "subtract_green"])
def test_lanes_flag_pixels_outside_the_colour_range(colour, planes):
    """A colour transform's planes in range can still give R, G or B outside ``[0, maxv]``:
    the lane decoder flags such a pixel (here by calling the kernel with a lower ``maxv``, 127
    where the archive's is 255)."""
    rng = np.random.default_rng(5)
    x = _structured(rng, (16, planes, 6, 6), noise=4.0) // 2
    x[[2, 9], 1, 3, 3] = 250  # one green pixel over 127 in lanes 2 and 9
    x[[4, 12], 2, 1, 5] = 128  # and one blue pixel just over it in lanes 4 and 12
    over = (x.reshape(16, -1) > 127).any(axis=1)
    shard = _decoder(x, LosslessParams(colour=colour)).shard(0)
    assert (np.diff(shard.offsets) != x[0].size).all()  # every record coded
    for maxv, want in ((255, np.zeros(16, bool)), (127, over)):
        np.testing.assert_array_equal(_group_verdicts(shard, x, maxv, shard.hi), want)
    assert over.sum() == 4


def _group_verdicts(shard, x, maxv, hi):
    """The lanes' bad flags for the 16 (planes, 6, 6) records ``x`` of ``shard`` decoded as
    one group, with ``maxv`` and the planes' upper bounds ``hi`` given."""
    from torchcompress.codecs._kernels.lossless_lanes import STATE, decode_lanes

    t, planes = shard.tables, x.shape[1]
    rows = np.arange(16, dtype=np.int64)
    dims = np.tile(np.array([planes, 6, 6]), (1, 16, 1))
    bad = np.zeros((1, 16), dtype=np.int64)
    decode_lanes(shard.records, shard.offsets, rows[None], dims, t.colour, maxv, 0, 0,
                 t.lane_coarse, t.cum_bytes, t.cum.shape[1], t.lane_luts, shard.lo, hi,
                 np.zeros(planes * 2 * 8 * 16, np.int32), np.zeros(planes * 2 * 8 * 16, np.int32),
                 np.zeros(planes * 6 * 16, np.int32), np.zeros(STATE, np.int32),
                 np.zeros(16 * x[0].size, np.uint8), (rows * x[0].size)[None], bad)
    return bad[0].astype(bool)


@pytest.mark.parametrize("planes", [1, 3, 4], ids=["grey-row", "rgb-row", "rgba-steps"])
def test_lanes_flag_values_outside_their_planes_range(planes):
    """A value past its plane's range marks its lane bad (here the last plane's upper bound
    lowered to 127 and a value over it at the records' last pixel, which no later value depends
    on, so only the range check can see it)."""
    x = _structured(np.random.default_rng(6), (16, planes, 6, 6), noise=4.0) // 2
    # grey: the value; RGB: red, whose plane is R - G under subtract green; RGBA: alpha
    channel, q = {1: (0, 0), 3: (0, 2), 4: (3, 3)}[planes]
    x[[3, 11], channel, 5, 5] = 255
    shard = _decoder(x, LosslessParams(colour="subtract_green")).shard(0)
    assert (np.diff(shard.offsets) != x[0].size).all()  # every record coded
    want = np.zeros(16, bool)
    want[[3, 11]] = True
    for top, expect in ((shard.hi[q], np.zeros(16, bool)), (127, want)):
        hi = shard.hi.copy()
        hi[q] = top
        np.testing.assert_array_equal(_group_verdicts(shard, x, 255, hi), expect)


@pytest.mark.parametrize("planes, colour", [(3, "ycocg"), (3, "subtract_green"), (1, "auto")])
def test_one_at_a_time_flags_values_outside_the_output_range(planes, colour):
    """The one-at-a-time decoder's rows (grey, and RGB with its transform undone) refuse a value
    outside ``[0, maxv]`` in any channel (here by calling it with a lower ``maxv``, which is
    ``2**bits - 1``), and decode every other record."""
    from torchcompress.codecs._kernels import lossless_decode as ld

    rng = np.random.default_rng(6)
    x = _structured(rng, (12, planes, 5, 7), noise=4.0)
    x = np.minimum(x, 120).astype(np.uint8)
    for k in range(3 * planes):  # records 0-2: channel 0 over 127; 3-5: channel 1; 6-8: channel 2
        x[k, k // 3, 2 + k % 3, 4] = 230
    over = (x.reshape(12, -1) > 127).any(axis=1)
    shard = _decoder(x if planes == 3 else x[:, 0], LosslessParams(colour=colour)).shard(0)
    t = shard.tables
    assert (np.diff(shard.offsets) != x[0].size).all()  # every record coded
    out = np.zeros(x[0].size, dtype=np.uint8)
    pl, rs = np.zeros(planes * 2 * 9, np.int32), np.zeros(planes * 2 * 9, np.int32)
    for k in range(12):
        status = ld._decode_sample(shard.records, shard.offsets[k], shard.offsets[k + 1], planes, 5,
                                   7, t.colour, 127, 0, 0, t.cum, t.coarse, t.cmap32, pl, rs,
                                   out, 0, ld.row_kind(planes, len(t.cmap32) > 0))
        assert status == (ld.BAD_RANGE if over[k] else ld.OK), k
        if not over[k]:
            np.testing.assert_array_equal(out, x[k].reshape(-1))
    assert over.sum() == 3 * planes


def test_a_numba_that_cannot_build_the_lanes_falls_back(monkeypatch):
    from numba.core.errors import LoweringError

    def broken(*a):
        raise LoweringError("no vector GEP here")
    x = _structured(np.random.default_rng(6), (20, 3, 5, 5))
    dec = _decoder(x)
    monkeypatch.setattr(lossless_mod, "decode_lanes", broken)
    monkeypatch.setattr(lossless_mod, "USE_LANES", True)
    with pytest.warns(RuntimeWarning, match="16-lane lossless decoder does not compile here"):
        out = dec.decode(np.arange(20, dtype=np.int64), np.uint8)
    np.testing.assert_array_equal(out, x)
    assert lossless_mod.USE_LANES is False  # (monkeypatch restores it)


def test_the_bins_past_127_follow_the_tables():
    """With byte permutes the lanes look the activity and residual bins up in 128 entries:
    ACT_LUT keeps its bin at 127 until ``ACT_TOP``, and Q_LUT's rows hold every token a
    lossless table has (16-bit colour the most)."""
    from torchcompress.codecs._kernels.lane_steps import ACT_TOP
    from torchcompress.codecs._kernels.pixel_model import ACT_LUT, Q_LUT, RES_LUT
    from torchcompress.codecs.lossless_tables import LosslessTables

    v = np.arange(256)
    np.testing.assert_array_equal(ACT_LUT[np.minimum(v, 127)] + (v >= ACT_TOP), ACT_LUT)
    assert max(LosslessTables.tokens_for(b, c) for b in (8, 16) for c in (False, True)) <= 128
    # FORMAT.md's rule, written out: b the token's smallest value, q the bin of
    # ((b + 1) >> 1) >> s with edges 0, 1, 2, 4, 7, 12, 20, 32
    t = np.arange(128)
    e, m = 5 + (t - 32) // 4, (t - 32) % 4
    b = np.where(t < 32, t, (4 + m) << np.maximum(e - 2, 0))
    for row, s in ((0, 0), (1, 8)):
        want = np.searchsorted([0, 1, 2, 4, 7, 12, 20, 32], np.minimum(((b + 1) >> 1) >> s, 255),
                               side="right") - 1
        np.testing.assert_array_equal(Q_LUT[128 * row:128 * (row + 1)], want)
    np.testing.assert_array_equal(Q_LUT[:32], RES_LUT[(np.arange(32) + 1) >> 1])


@pytest.mark.parametrize("permutes", [False, True])
def test_lanes_with_and_without_byte_permutes(monkeypatch, permutes):
    """The lane kernel built with the bins gathered from ``LUTS`` (CPUs without AVX512-VBMI)
    or permuted in registers gives the scalar decoder's values, activity up to its top bin."""
    from numba import njit

    from torchcompress.codecs._kernels import lane_steps, lossless_lanes, simd

    if permutes and not simd.byte_permutes():
        pytest.skip("this CPU has no AVX512-VBMI byte permutes")
    monkeypatch.setattr(lane_steps, "PERMUTES", permutes)  # read when the kernel compiles
    fresh = njit(nogil=True)(lossless_lanes.decode_lanes.py_func)
    monkeypatch.setattr(lossless_mod, "decode_lanes", fresh)
    rng = np.random.default_rng(8)
    x = _structured(rng, (40, 3, 9, 20), noise=40.0)  # activity past ACT_TOP
    x[::5, :, 2:6, 3:9] = rng.integers(0, 256, (8, 3, 4, 6))
    grey = _structured(rng, (40, 11, 13), noise=12.0)
    wide = (_structured(rng, (40, 3, 6, 17), np.float64, 1e9, 60.0) * 97).astype(np.uint16)
    for imgs in (x, grey, wide):  # 8-bit and 16-bit rows of Q_LUT
        dec = _decoder(imgs)
        idx = np.arange(40, dtype=np.int64)
        on, off = _both_ways(monkeypatch, dec, idx, imgs.dtype)
        np.testing.assert_array_equal(on, off)
        np.testing.assert_array_equal(on, imgs)
    assert fresh.signatures  # the fresh kernel (built with this PERMUTES) did the decoding


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="mprotect")
@pytest.mark.parametrize("at_end", [False, True], ids=["page-before", "page-after"])
def test_lanes_read_nothing_outside_the_payload(monkeypatch, at_end):
    """The payload between unreadable pages: the lanes read only inside it, corrupt records
    too (a read outside would kill the test process)."""
    assert_lanes_read_inside(_decoder(_kinds()["rgb-rows-of-40"][:28]), 28, np.uint8,
                             monkeypatch, at_end)


def assert_lanes_read_inside(dec, n, dtype, monkeypatch, at_end):
    """``dec``'s ``n`` records between unreadable pages, clean and then with flips in a random
    record and in the first and last ones' ends (5 times): the lanes decode the clean ones as
    before and read nothing outside (a read outside would kill the test process)."""
    from .test_lossy_lanes import decode_guarded

    shard = dec.shard(0)
    idx = np.arange(n, dtype=np.int64)
    good = dec.decode(idx, dtype)
    monkeypatch.setattr(lossless_mod, "USE_LANES", True)
    rng = np.random.default_rng(9)
    clean = shard.records
    for trial in range(6):
        data = np.array(clean)
        if trial:
            for row in (int(rng.integers(n)), 0, n - 1):
                s, e = int(shard.offsets[row]), int(shard.offsets[row + 1])
                data[rng.integers(s + 4, e, 3)] ^= rng.integers(1, 256, 3).astype(np.uint8)
                data[e - 2:e] ^= 0x5A
        out = decode_guarded(dec, shard, idx, dtype, data, at_end)
        assert trial > 0 or (out is not None and (out == good).all())


@pytest.mark.parametrize("shift", [2, 3])
def test_packed_buckets_hold_each_buckets_largest_token_and_its_bounds(shift):
    """Each packed entry unpacks to the token covering the most slots of its bucket (the
    earliest of a tie) and that token's cumulative frequencies, the shift follows the entries;
    tables of more tokens than the entry holds, or a shift the lanes do not take, are refused."""
    from torchcompress.codecs._kernels.lane_coder import PACKED_LO_BITS, PACKED_TOKEN_BITS
    from torchcompress.codecs.rans_tables import packed_buckets, rans_lookup

    rng = np.random.default_rng(0)
    freq = rng.integers(1, 200, (5, 84)).astype(np.float64)
    freq[:, 0] += 3000  # one token most of the slots, as on a background
    freq = np.maximum(1, np.round(freq / freq.sum(axis=1, keepdims=True) * 4096)).astype(np.int64)
    freq[:, 40:48] = 0  # a run of tokens that never occur: the majority may lie past them
    freq[:, 0] += 4096 - freq.sum(axis=1)
    cum = rans_lookup(freq.astype(np.uint16))[0].astype(np.int64)
    flat = packed_buckets(cum, shift).view(np.uint32).astype(np.int64)
    assert flat.shape == (5 * (4096 >> shift) + 1,) and flat[-1] == shift
    e = flat[:-1].reshape(5, -1)
    token = e & ((1 << PACKED_TOKEN_BITS) - 1)
    lo = (e >> PACKED_TOKEN_BITS) & ((1 << PACKED_LO_BITS) - 1)
    hi = e >> (PACKED_TOKEN_BITS + PACKED_LO_BITS)
    rows = np.arange(5)[:, None]
    assert np.array_equal(lo, cum[rows, token]) and np.array_equal(hi, cum[rows, token + 1])
    # every slot's token, counted per bucket: the entry's token has the most slots, and a
    # token before it in the bucket fewer
    of_slot = np.stack([np.searchsorted(c, np.arange(4096), side="right") - 1 for c in cum])
    in_bucket = of_slot.reshape(5, 4096 >> shift, 1 << shift)
    count = (in_bucket[..., :, None] == in_bucket[..., None, :]).sum(axis=-1)
    mine = (in_bucket == token[..., None]).sum(axis=-1)
    assert (mine >= 1).all() and (mine == count.max(axis=-1)).all()
    earlier = (in_bucket < token[..., None]) & (count == mine[..., None])
    assert not earlier.any()
    assert (token != in_bucket[..., 0]).any()  # some buckets hold a later token than their first
    assert hi.max() == 4096  # the last token's upper bound needs the entry's top bit
    with pytest.raises(ValueError, match="a shift in"):
        packed_buckets(cum, 4)
    with pytest.raises(ValueError, match="packed buckets hold tokens below 128"):
        packed_buckets(np.zeros((1, 130), np.int64), shift)


def _skewed_cum(rng, contexts, tokens):
    """(contexts, tokens + 1) cumulative 12-bit frequencies: one token takes most of the slots
    (as on a background), some others a single slot, some none."""
    from torchcompress.codecs.rans_tables import rans_lookup

    freq = rng.integers(1, 200, (contexts, tokens)).astype(np.float64)
    freq[:, 0] += 3000
    freq[:, 5:9] = 0  # tokens that never occur
    freq[:, -12:] = 1e-9  # rare tokens that keep one slot each
    freq = np.maximum(freq > 0, np.round(freq / freq.sum(axis=1, keepdims=True) * 4096))
    freq = freq.astype(np.int64)
    freq[:, 0] += 4096 - freq.sum(axis=1)
    return rans_lookup(freq.astype(np.uint16))[0].astype(np.int64)


@pytest.mark.parametrize("shift", [4, 5])
def test_wide_buckets_hold_the_window_of_three_tokens_that_covers_most_of_each_bucket(shift):
    """Each wide bucket's first word is a narrow entry for the first token of the three
    consecutive ones covering the most of its slots (the earliest of a tie), its second the
    cumulative frequencies above the next two (4096 past the last token); wrong shifts or too
    many tokens are refused."""
    from torchcompress.codecs._kernels.lane_coder import (PACKED_LO_BITS, PACKED_TOKEN_BITS,
                                                          WIDE_BITS)
    from torchcompress.codecs.rans_tables import lane_buckets, wide_buckets

    rng = np.random.default_rng(1)
    tokens = 84
    cum = _skewed_cum(rng, 5, tokens)
    flat = wide_buckets(cum, shift).view(np.uint32).astype(np.int64)
    assert flat.shape == (5 * (4096 >> shift) * 2 + 1,) and flat[-1] == shift
    assert np.array_equal(lane_buckets(cum, shift).view(np.uint32), flat)
    e = flat[:-1].reshape(5, -1, 2)
    w = e[..., 0] & ((1 << PACKED_TOKEN_BITS) - 1)
    bounds = [(e[..., 0] >> PACKED_TOKEN_BITS) & ((1 << PACKED_LO_BITS) - 1),
              e[..., 0] >> (PACKED_TOKEN_BITS + PACKED_LO_BITS),
              e[..., 1] & ((1 << WIDE_BITS) - 1), e[..., 1] >> WIDE_BITS]
    rows = np.arange(5)[:, None]
    for k, got in enumerate(bounds):
        assert np.array_equal(got, cum[rows, np.minimum(w + k, tokens)]), k
    of_slot = np.stack([np.searchsorted(c, np.arange(4096), side="right") - 1 for c in cum])
    in_bucket = of_slot.reshape(5, 4096 >> shift, 1 << shift)
    # brute force: how many of each bucket's slots every window start covers
    starts = np.arange(tokens)
    cover = ((in_bucket[..., None, :] >= starts[:, None])
             & (in_bucket[..., None, :] < starts[:, None] + 3)).sum(axis=-1)
    mine = np.take_along_axis(cover, w[..., None], axis=-1)[..., 0]
    assert (mine == cover.max(axis=-1)).all()
    # of the windows that start at one of the bucket's tokens, the earliest that covers as much
    ties = (cover == mine[..., None]) & (starts >= in_bucket[..., :1])
    assert (np.argmax(ties, axis=-1) == w).all()
    assert (mine < 1 << shift).any() and (w != in_bucket[..., 0]).any()
    # three tokens: the windows run past the last one, whose bounds read 4096
    last = wide_buckets(np.array([[0, 1000, 4000, 4096]]), shift).view(np.uint32)[:-1]
    last = last.reshape(-1, 2)[-1].astype(np.int64)
    assert last[0] & 127 == 2 and (last[1] & 8191, last[1] >> WIDE_BITS) == (4096, 4096)
    with pytest.raises(ValueError, match="a shift in"):
        wide_buckets(cum, 3)
    with pytest.raises(ValueError, match="wide buckets hold tokens below 128"):
        wide_buckets(np.zeros((1, 130), np.int64), shift)


def test_tables_take_narrow_buckets_up_to_512_kb_and_wide_ones_past_it():
    from torchcompress.codecs.rans_tables import bucket_shift

    assert [bucket_shift(c) for c in (1, 128, 129, 384, 4096)] == [2, 2, 5, 5, 5]


@pytest.mark.parametrize("shift", [2, 3, 4, 5])
@pytest.mark.parametrize("name,params", [
    ("rgb-with-raw-rows", LosslessParams()), ("grey-blank-background", LosslessParams()),
    ("uint16-wide-residuals", LosslessParams()),
    ("rgb-rows-of-40", LosslessParams(predictor="least_squares"))])
def test_lanes_decode_through_narrow_and_wide_buckets(monkeypatch, shift, name, params):
    """Whichever form and size of buckets the tables take, the lanes give the values."""
    from torchcompress.codecs import rans_tables

    x = _kinds()[name]
    monkeypatch.setattr(rans_tables, "bucket_shift", lambda contexts: shift)
    dec = _decoder(x, params)
    idx = np.random.default_rng(2).integers(0, len(x), 48).astype(np.int64)
    on, off = _both_ways(monkeypatch, dec, idx, x.dtype)
    assert dec.shard(0).tables.lane_coarse[-1] == shift
    np.testing.assert_array_equal(on, x[idx])
    np.testing.assert_array_equal(off, x[idx])
