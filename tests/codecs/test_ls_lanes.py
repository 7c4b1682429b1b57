"""The least-squares model's 16-lane decoder gives the one-at-a-time decoder's values and
errors, bit for bit (the lanes forced on, as in ``test_lossless_lanes``)."""

import numpy as np
import pytest

import torchcompress as tc
from torchcompress.codecs import LosslessParams
from torchcompress.codecs import lossless_shard as lossless_mod

from .test_lossless import _structured
from .test_lossless_lanes import (_both_ways, _decoder, _Images,
                                  assert_corrupt_lanes_name_the_same_record,
                                  assert_lanes_read_inside)
from .test_lossless_ls import _textured, with_biases

LS = LosslessParams(predictor="least_squares")


def _rgb(rng, n, h, w, raw_every=7):
    x = _textured(rng, n, h, w)
    x[::raw_every] = rng.integers(0, 256, x[::raw_every].shape)  # noise: stored raw
    return x


@pytest.mark.parametrize("colour", ["ycocg", "subtract_green"])
@pytest.mark.parametrize("h, w", [(8, 8), (9, 20), (1, 37), (5, 16)],
                         ids=["narrow", "wide", "one-row", "sixteen"])
def test_least_squares_lanes_give_the_same_values(monkeypatch, colour, h, w):
    """Rows narrower than 16 (written lane by lane), wider ones (16 at a time, the last block
    overlapping) and records stored raw (never in a lane) among the coded ones."""
    x = _rgb(np.random.default_rng(h * w), 40, h, w)
    dec = _decoder(x, LosslessParams(colour=colour, predictor="least_squares"))
    idx = np.random.default_rng(1).permutation(40).astype(np.int64)
    on, off = _both_ways(monkeypatch, dec, idx, np.uint8)
    np.testing.assert_array_equal(on, off)
    np.testing.assert_array_equal(on, x[idx])


@pytest.mark.parametrize("colour", ["ycocg", "subtract_green"])
def test_least_squares_lanes_add_the_biases_of_archives_that_have_them(monkeypatch, colour):
    """Archives written before the fit left the biases at zero: the lanes' biased row."""
    with_biases(monkeypatch, seed=len(colour))
    x = _rgb(np.random.default_rng(8), 40, 7, 19)
    dec = _decoder(x, LosslessParams(colour=colour, predictor="least_squares"))
    assert dec.shard(0).tables.bias.shape == (3 * 1024,)
    on, off = _both_ways(monkeypatch, dec, np.arange(40, dtype=np.int64), np.uint8)
    np.testing.assert_array_equal(on, x)
    np.testing.assert_array_equal(off, x)


def test_least_squares_lanes_write_int8(monkeypatch):
    x = (_textured(np.random.default_rng(3), 40, 7, 18).astype(np.int16) - 128).astype(np.int8)
    dec = _decoder(x, LS)
    on, off = _both_ways(monkeypatch, dec, np.arange(40, dtype=np.int64), np.int8)
    np.testing.assert_array_equal(on, x)
    np.testing.assert_array_equal(off, x)


def test_least_squares_lanes_take_rgb_groups_of_any_shapes(monkeypatch):
    """RGBA decodes one record at a time; RGB of several shapes shares lane groups, as MED's
    lanes do (each lane steps along outside its own record), the values those of the
    one-at-a-time decoder."""
    groups = []
    real = lossless_mod.LosslessShard._decode_lanes

    def watched(self, rows, *a):
        bad = real(self, rows, *a)
        groups.append((self.dims[rows], bad.copy()))
        return bad
    monkeypatch.setattr(lossless_mod.LosslessShard, "_decode_lanes", watched)
    monkeypatch.setattr(lossless_mod, "USE_LANES", True)
    rng = np.random.default_rng(4)
    rgba = _structured(rng, (40, 4, 9, 6))
    dec = _decoder(rgba, LS)
    np.testing.assert_array_equal(dec.decode(np.arange(40, dtype=np.int64), np.uint8), rgba)
    assert not groups
    # heights 4 to 9 and widths 1 (narrower than the two padding columns) to 21 (a block of 16
    # and a rest) in three groups: a lane leaves its record at the end of every row and of its
    # rows
    shapes = [(5 + k % 5, 8 + (5 * k) % 14) for k in range(44)] + [(6, 1), (7, 2), (9, 3), (4, 21)]
    mixed = [np.ascontiguousarray(_textured(rng, 1, h, w)[0]) for h, w in shapes]
    dec = _decoder(mixed, LS)
    idx = rng.permutation(len(mixed)).astype(np.int64)
    out = dec.decode(idx, np.uint8)
    for o, i in zip(out, idx):
        np.testing.assert_array_equal(o, mixed[i])
    dims = np.concatenate([d for d, bad in groups])
    assert not any(bad.any() for _, bad in groups)
    assert len(dims) == 3 and (dims[..., 0] == 3).all()
    assert all(len(np.unique(d[:, 1:], axis=0)) > 4 for d in dims)  # groups of mixed shapes
    assert dims[..., 2].min() == 1 and dims[..., 2].max() == 21
    on, off = _both_ways(monkeypatch, dec, idx, np.uint8)
    for a, b in zip(on, off):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("permutes, pairs", [(False, False), (True, False), (True, True)])
def test_least_squares_lanes_with_and_without_word_permutes(monkeypatch, permutes, pairs):
    """The weights gathered per lane (CPUs without AVX-512) or permuted in registers, and each
    pair of features weighted by two multiplies or one ``vpmaddwd``, give the scalar decoder's
    values."""
    from numba import njit

    from torchcompress.codecs._kernels import ls_lanes, simd

    if permutes and not simd.dword_permutes():
        pytest.skip("this CPU has no AVX-512 word permutes")
    if pairs and not simd.word_products():
        pytest.skip("this CPU has no AVX512-BW word products")
    monkeypatch.setattr(ls_lanes, "PERMUTES", permutes)  # read when the kernel compiles
    monkeypatch.setattr(ls_lanes, "PAIRS", pairs)
    fresh = njit(nogil=True)(ls_lanes.decode_ls_lanes.py_func)
    monkeypatch.setattr(lossless_mod, "decode_ls_lanes", fresh)
    x = _rgb(np.random.default_rng(5), 40, 6, 17)
    dec = _decoder(x, LS)
    on, off = _both_ways(monkeypatch, dec, np.arange(40, dtype=np.int64), np.uint8)
    np.testing.assert_array_equal(on, x)
    np.testing.assert_array_equal(off, x)
    assert fresh.signatures  # the fresh kernel (built with this PERMUTES) did the decoding


@pytest.mark.parametrize("sizes", ["one", "mixed"])
@pytest.mark.parametrize("seed, biased", [(0, False), (1, False), (2, False), (3, True)])
def test_a_corrupt_least_squares_lane_names_the_same_record(tmp_path, monkeypatch, seed, biased,
                                                            sizes):
    """Both rows of the lanes (with biases: archives written before the fit left them at
    zero), on one size and on mixed sizes in one group."""
    if biased:
        with_biases(monkeypatch, seed)
    rng = np.random.default_rng(seed)
    hw = [(8, 8)] * 32 if sizes == "one" else [(5 + k % 4, 12 - k % 5) for k in range(32)]
    path = tmp_path / "l.tcz"
    tc.compress(_Images([_textured(rng, 1, h, w)[0] for h, w in hw]), path, progress=False,
                predictor="least_squares")
    assert_corrupt_lanes_name_the_same_record(path, monkeypatch, rng, 32)


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="mprotect")
@pytest.mark.parametrize("at_end", [False, True], ids=["page-before", "page-after"])
def test_least_squares_lanes_read_nothing_outside_the_payload(monkeypatch, at_end):
    x = _textured(np.random.default_rng(6), 28, 7, 18)
    assert_lanes_read_inside(_decoder(x, LS), 28, np.uint8, monkeypatch, at_end)


def test_plane_groups_take_each_row_once_and_only_coded_rgb():
    from torchcompress.codecs.lanes import plane_groups

    rng = np.random.default_rng(9)
    dims = np.array([(3, 8, 8)] * 23 + [(3, 8, 9)] * 7 + [(4, 8, 8)] * 16 + [(1, 8, 8)] * 16)
    perm = rng.permutation(len(dims))
    dims = dims[perm]
    coded = np.ones(len(dims), dtype=bool)
    coded[rng.choice(len(dims), 5, replace=False)] = False  # stored raw: never in a lane
    groups, alone = plane_groups(dims, coded, 3)
    taken = np.unique(groups)
    assert np.array_equal(np.sort(np.concatenate([taken, alone])), np.arange(len(dims)))
    assert not np.isin(alone, taken).any()
    assert coded[groups].all() and (dims[groups][..., 0] == 3).all()
    rgb = int((coded & (dims[:, 0] == 3)).sum())
    # the coded RGB rows, 8x8 and 8x9 together: full groups of 16, then the rest as one more
    # group where it fills 6 lanes
    assert len(groups) == rgb // 16 + (rgb % 16 >= 6) >= 2
    assert len(taken) == rgb - (rgb % 16 if rgb % 16 < 6 else 0)
    assert plane_groups(dims, np.zeros(len(dims), dtype=bool), 3)[0].shape == (0, 16)
