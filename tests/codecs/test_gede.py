"""GeDe codec: round trips, the base search against brute force, Eq. 1 against bytes."""

import numpy as np
import pytest
import torchcompress as tc
from hypothesis import given, settings
from hypothesis import strategies as st

from torchcompress.codecs import GeDeParams, make_codec
from torchcompress.codecs._kernels.gede import (bit_counts, checked_codes, class_ranges,
                                                clipped_codes, eq1_size, refine_groups)
from torchcompress.codecs._kernels.idct import transpose_tiles
from torchcompress.codecs._kernels.gede_decode import decode_gede_rows
from torchcompress.codecs.gede_model import bit_entropy, column_codes, fit_model
from torchcompress.codecs.gede_tables import GeDeTables
from torchcompress.errors import CodecError


def roundtrip(x, y, **params):
    codec = make_codec("gede", params)
    enc = codec.encode(x, y)
    n = x.shape[0]
    arrays = dict(enc.shard(0, n), labels=np.asarray(y, dtype=np.int64))
    tables = GeDeTables.from_tensors(enc.tables, where="memory")
    dec = codec.decoder(arrays, num_samples=n, sample_shape=x.shape[1:], sample_dtype=x.dtype,
                        where="memory", tables=tables)
    out = np.empty((n, int(np.prod(x.shape[1:]))), dtype=np.float32)
    dec.decode(np.arange(n, dtype=np.int64), out)
    return enc, out.reshape(x.shape)


def _images(n=60, seed=0):
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0, 255, 64).reshape(1, 1, 8, 8)
    x = ramp * rng.uniform(0.2, 1, (n, 3, 1, 1)) + rng.normal(0, 10, (n, 3, 8, 8))
    return np.clip(x, 0, 255).astype(np.uint8), np.arange(n) % 3


EDGE = {
    "zeros": (np.zeros((10, 3, 4, 4), np.uint8), np.arange(10) % 2),
    "all-255": (np.full((10, 3, 4, 4), 255, np.uint8), np.arange(10) % 2),
    "one-class": (_images(20)[0], np.zeros(20, dtype=int)),
    "singleton-class": (_images(21)[0], np.r_[np.zeros(20, dtype=int), 7]),
    "random": _images(60),
}


@pytest.mark.parametrize("transform", ["none", "lossless"])
@pytest.mark.parametrize("case", list(EDGE), ids=list(EDGE))
def test_bit_exact_roundtrip(case, transform):
    x, y = EDGE[case]
    _, out = roundtrip(x, y, mode=transform)
    np.testing.assert_array_equal(out, x)


@pytest.mark.parametrize("classwise", [True, False], ids=["classwise", "one-model"])
def test_roundtrip_int16_signed_columns(classwise):
    rng = np.random.default_rng(1)
    x = rng.integers(-3000, 3000, (50, 12)).astype(np.int16)
    x[:, 0] = 32767  # widest non-negative column
    x[:, 1] = -32768  # widest negative column: zigzag 65535
    _, out = roundtrip(x, np.arange(50) % 4, classwise=classwise)
    np.testing.assert_array_equal(out, x)


def test_dct_is_near_lossless():
    x, y = _images(60)
    _, out = roundtrip(x, y, mode="dct")
    err = np.abs(out - x)
    assert err.max() <= 4 and (err == 0).mean() > 0.5


@pytest.mark.parametrize("shape", [(3, 8, 8), (3, 6, 10), (1, 7, 5), (12, 16), (1, 20, 28)],
                         ids=["rgb", "rgb-rect", "gray-odd", "hw", "gray-edge-tiles"])
def test_fused_dct_decode_matches_integer_path_and_gemm_inverse(shape):
    """The fused kernel (chunks of images, a short last chunk) agrees with GeDe integers + the
    batched-GEMM inverse."""
    rng = np.random.default_rng(3)
    x = rng.integers(0, 256, (40, *shape)).astype(np.uint8)
    y = np.arange(40) % 3
    codec = make_codec("gede", {"mode": "dct"})
    enc = codec.encode(x, y)
    arrays = dict(enc.shard(0, 40), labels=y.astype(np.int64))
    tables = GeDeTables.from_tensors(enc.tables, where="memory")
    dec = codec.decoder(arrays, num_samples=40, sample_shape=shape, sample_dtype=np.uint8,
                        where="memory", tables=tables)
    rows = rng.permutation(40)[:25].astype(np.int64)
    fused = np.empty((25, x[0].size), dtype=np.uint8)
    dec.decode(rows, fused)
    ints = np.empty((25, x[0].size), dtype=np.int32)
    s = dec.shard
    decode_gede_rows(s.records, s.offsets, s.model, rows, *tables.decode_args(), ints)
    np.testing.assert_array_equal(ints, codec.transform(shape, np.uint8).forward(x[rows]))
    ref = np.empty_like(fused)
    dec.transform.inverse(ints, ref)
    diff = np.abs(fused.astype(int) - ref)
    assert diff.max() <= 1 and (diff > 0).mean() < 1e-3  # float32 summation order only


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 40), st.integers(1, 6), st.integers(0, 2**32 - 1), st.integers(1, 8))
def test_fixed_point_roundtrip_property(n, d, seed, p):
    rng = np.random.default_rng(seed)
    x = (rng.normal(0, 3, (n, d)) * rng.choice([0.01, 1, 20], d)).astype(np.float64)
    x = np.round(x, 2)
    _, out = roundtrip(x, np.zeros(n, dtype=int), precision=2, classwise=False)
    np.testing.assert_allclose(out, x, atol=0.005 + 1e-5 * np.abs(x).max())


@pytest.mark.parametrize("n, d", [(1, 1), (3, 5), (37, 300), (200, 17)])
def test_bit_counts_count_every_bit_of_every_column(n, d):
    rng = np.random.default_rng(n * d)
    u = rng.integers(0, 1 << 16, (n, d)).astype(np.uint16)
    u[:, ::2] >>= np.uint16(rng.integers(1, 16))  # narrow columns too
    out = np.zeros((d, 16), dtype=np.int64)
    bit_counts(u, out)
    expect = np.stack([((u.astype(np.int64) >> k) & 1).sum(axis=0) for k in range(16)], axis=1)
    np.testing.assert_array_equal(out, expect)
    bit_counts(u, out)  # it adds to ``out``
    np.testing.assert_array_equal(out, 2 * expect)


def _stream_columns(seed, n=40, d=23, groups=3):
    """Integer columns of both signs, each row in one of ``groups`` models, with per-model
    ranges and zigzag flags that hold them."""
    rng = np.random.default_rng(seed)
    v = rng.integers(-300, 300, (n, d)).astype(np.int32)
    v[:, ::3] = np.abs(v[:, ::3])  # columns without negative values
    model = rng.integers(0, groups, n).astype(np.int64)
    lo = np.stack([v[model == g].min(axis=0) for g in range(groups)]).astype(np.int64)
    hi = np.stack([v[model == g].max(axis=0) for g in range(groups)]).astype(np.int64)
    return v, model, lo, hi, (lo < 0).astype(np.uint8)


def test_class_ranges_fold_each_models_rows():
    v, model, lo, hi, _ = _stream_columns(1)
    top = np.iinfo(np.int64).max
    got_hi, got_lo = np.full(hi.shape, -top), np.full(lo.shape, top)
    class_ranges(v[:25], model[:25], got_hi, got_lo)
    class_ranges(v[25:], model[25:], got_hi, got_lo)  # folds into what is there
    np.testing.assert_array_equal(got_hi, hi)
    np.testing.assert_array_equal(got_lo, lo)


def test_checked_codes_are_column_codes_and_name_the_first_row_out_of_range():
    v, model, lo, hi, signed = _stream_columns(2)
    u = np.zeros((5 + len(v), v.shape[1]), dtype=np.uint16)
    assert checked_codes(v, model, lo, hi, signed, u, 5) == -1
    for g in range(lo.shape[0]):
        rows = np.flatnonzero(model == g)
        np.testing.assert_array_equal(u[5 + rows], column_codes(v[rows], signed[g])[0])
    v[17, 4] = hi[model[17], 4] + 1
    v[30, 0] = lo[model[30], 0] - 1
    assert checked_codes(v, model, lo, hi, signed, u, 5) == 17
    assert checked_codes(v[18:], model[18:], lo, hi, signed, u, 0) == 30 - 18


def test_clipped_codes_wrap_to_16_bits_then_clip_to_the_models_top():
    rng = np.random.default_rng(3)
    v = rng.integers(-(1 << 17), 1 << 17, (30, 9)).astype(np.int64)
    signed = (np.arange(9) % 2).astype(np.uint8)
    top = rng.integers(0, 1 << 16, 9).astype(np.int64)
    rows = np.array([4, 0, 29, 4, 11], dtype=np.int64)
    u = np.empty((len(rows), 9), dtype=np.uint16)
    clipped_codes(v, rows, signed, top, u)
    expect = np.minimum(column_codes(v[rows], signed)[0], top)  # uint16 first, then the clip
    np.testing.assert_array_equal(u, expect)


@pytest.mark.parametrize("shape", [(1, 1), (17, 65), (40, 3)])
def test_fit_transposes_codes_like_numpy(shape):
    u = np.random.default_rng(4).integers(0, 1 << 16, shape).astype(np.uint16)
    out = np.zeros(shape[::-1], dtype=np.uint16)
    transpose_tiles(u.reshape(-1), out.reshape(-1), 1, shape[1], shape[0])  # as fit_model does
    np.testing.assert_array_equal(out, u.T)


def test_incremental_base_count_equals_np_unique():
    rng = np.random.default_rng(2)
    u = rng.integers(0, 16, (200, 5)).astype(np.uint16)
    u[:, 2] &= 0b0101  # correlated, repeated bits
    order = [(j, k) for k in range(4) for j in range(5)]
    rng.shuffle(order)
    group = np.zeros(200, dtype=np.int64)
    child = np.full(400, -1, dtype=np.int64)
    nb = 1
    for t, (j, k) in enumerate(order):
        nb = refine_groups(u[:, j], k, group, nb, child)
        bits = np.stack([(u[:, jj] >> kk) & 1 for jj, kk in order[:t + 1]], axis=1)
        uniq, inverse = np.unique(bits, axis=0, return_inverse=True)
        assert nb == len(uniq)
        # same partition: group ids and unique-row ids determine each other
        assert len(set(zip(group.tolist(), inverse.ravel().tolist()))) == nb
    assert (child == -1).all()


def test_base_search_matches_brute_force_eq1():
    rng = np.random.default_rng(3)
    v = np.clip(rng.normal(8, 3, (120, 6)), 0, 15).astype(np.int64)
    u, signed = column_codes(v)
    model = fit_model(u, signed, tau=1000)
    # brute force: add positions in increasing-entropy order and evaluate Eq. 1 with np.unique
    widths = model.widths.astype(int)
    pos = [(j, k) for j in range(6) for k in range(widths[j])]
    ones = np.array([((u[:, j] >> k) & 1).sum() for j, k in pos])
    const = [p for p, o in zip(pos, ones) if o in (0, 120)]
    free = [p for p, o in zip(pos, ones) if o not in (0, 120)]
    h = bit_entropy(np.array([((u[:, j] >> k) & 1).sum() for j, k in free]), 120)
    free = [free[i] for i in np.argsort(h, kind="stable")]
    lt = int(widths.sum())
    best = eq1_size(1, len(const), lt - len(const), 120, 0)
    best_len = 0
    for t in range(1, len(free) + 1):
        sel = const + free[:t]
        bits = np.stack([(u[:, j] >> k) & 1 for j, k in sel], axis=1)
        nb = len(np.unique(bits, axis=0))
        s = eq1_size(nb, len(sel), lt - len(sel), 120, 0)
        if s < best:
            best, best_len = s, t
    assert model.eq1_bits == best
    assert model.l_base == len(const) + best_len


def test_eq1_matches_bytes_written():
    x, y = _images(90)
    enc, _ = roundtrip(x, y, mode="lossless")
    tables = GeDeTables.from_tensors(enc.tables, where="memory")
    written = 8 * (enc.payload.nbytes + int(tables.tab_off[-1]))
    eq1 = 8 * enc.stats_["eq1_bytes"]
    # packing overhead: < 8 bits per record and per base row
    assert eq1 <= written < eq1 + 8 * (len(x) + int(tables.num_bases.sum()))


def test_tau_plateau_stops_early():
    """On these images the first added bits do not improve Eq. 1 and later ones do: tau = 1 stops
    at one base bit, a long plateau search finds the better split (fails if tau is ignored)."""
    x, y = _images(60)
    small = make_codec("gede", {"tau": 1}).encode(x, y).stats_
    large = make_codec("gede", {"tau": 64}).encode(x, y).stats_
    assert large["eq1_bytes"] < small["eq1_bytes"]
    assert sum(small["base_bits"]) < sum(large["base_bits"])


def test_deterministic_bytes():
    x, y = _images(40)
    a = make_codec("gede", {"mode": "lossless"}).encode(x, y)
    b = make_codec("gede", {"mode": "lossless"}).encode(x.copy(), y.copy())
    np.testing.assert_array_equal(a.payload, b.payload)
    for k in a.tables:
        np.testing.assert_array_equal(a.tables[k], b.tables[k], err_msg=k)


@pytest.mark.parametrize("params, err, match", [
    ({"tau": 0}, ValueError, r"tau should be a positive integer value, but got tau=0"),
    ({"mode": "jpeg"}, ValueError, r"mode should be one of 'none', 'dct', 'lossless', "
                                        r"but got mode='jpeg'"),
    ({"precision": 12}, ValueError, r"precision should be decimal digits in 0..9"),
    ({"classwise": 1}, TypeError, r"classwise should be a bool, but got classwise=1"),
], ids=["tau", "transform", "precision", "classwise"])
def test_bad_params(params, err, match):
    with pytest.raises(err, match=match):
        GeDeParams(**params)


@pytest.mark.parametrize("x, params, match", [
    (np.zeros((4, 3), np.float32), {}, r"float samples need precision="),
    (np.zeros((4, 3, 8, 8), np.float32), {"mode": "lossless"}, r"mode='lossless' needs uint8 images"),
    (np.full((4, 3), 1 << 33, np.int64), {}, r"column 0 holds values in \[8589934592, 8589934592\], "
     r"wider than 32 bits; GeDe stores integers up to 32 bits"),
    (np.full((4, 2), 5.0), {"precision": 9}, r"precision too high for 32-bit codes in 2 column\(s\): "
     r"column 0 \(values in \[5, 5\]\): precision 9, largest usable 8; column 1 "),
    (np.zeros((4, 5, 8, 8), np.uint8), {"mode": "dct"}, r"needs samples shaped \(H, W\), \(1, H, W\) or \(3, H, W\)"),
    (np.zeros((4, 3), np.uint8), {"precision": 2}, r"precision applies to float samples, but the source is uint8"),
], ids=["float-no-precision", "float-lossless", "int32-wide", "precision-overflow", "channels",
        "precision-int"])
def test_bad_input(x, params, match):
    with pytest.raises(CodecError, match=match):
        make_codec("gede", params).encode(x, np.zeros(len(x), dtype=int))


def test_precision_per_column_and_its_length_is_checked():
    x = np.array([[1.25, 100.0], [2.5, 300.0]])
    _, out = roundtrip(x, np.zeros(2, dtype=int), precision=[2, 0], classwise=False)
    np.testing.assert_allclose(out, x)
    with pytest.raises(CodecError, match=r"precision should be one int or 2 ints \(one per column\), "
                                         r"but got 3 values"):
        make_codec("gede", {"precision": [1, 2, 3]}).encode(x, np.zeros(2, dtype=int))


def test_base_ids_wider_than_a_byte_with_no_deviation_bits():
    # 300 distinct rows, each twice: everything goes to the base, records hold only a 9-bit id
    rng = np.random.default_rng(5)
    rows = np.unique(rng.integers(0, 256, (400, 3)), axis=0)[:300].astype(np.uint8)
    x = np.concatenate([rows, rows])
    enc, out = roundtrip(x, np.zeros(len(x), dtype=int), tau=64)
    assert enc.stats_["num_bases"] == [300]
    np.testing.assert_array_equal(out, x)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 40), st.integers(1, 30), st.integers(1, 3), st.integers(0, 2**32 - 1))
def test_run_decoder_matches_any_masks(n, d, g_count, seed):
    """Hand-built tables with arbitrary widths, signs and base masks (often not one bit run,
    which the general path decodes) pack and decode back to the codes, in any record order."""
    from torchcompress.codecs._kernels.gede import PAD_BYTES, pack_records, pack_table
    rng = np.random.default_rng(seed)
    widths = rng.integers(0, 17, (g_count, d)).astype(np.uint8)
    full = (1 << widths.astype(np.int64)) - 1
    bmask = (rng.integers(0, 1 << 16, (g_count, d)) & full & rng.choice([0, full.max()], (g_count, d)))
    bmask = bmask.astype(np.uint16)
    signed = rng.integers(0, 2, (g_count, d)).astype(np.uint8)
    model = rng.integers(0, g_count, n)
    u = (rng.integers(0, 1 << 16, (n, d)) & full[model]).astype(np.uint16)
    base_id, num_bases, first = np.zeros(n, np.int64), np.ones(g_count, np.int64), []
    for g in range(g_count):
        rows = np.flatnonzero(model == g)
        parts = u[rows] & bmask[g]
        uniq, inv = np.unique(parts, axis=0, return_inverse=True) if len(rows) else (parts[:1], rows)
        base_id[rows] = inv.ravel()
        num_bases[g] = max(1, len(uniq))
        first.append(rows[[np.flatnonzero(inv.ravel() == b)[0] for b in range(len(uniq))]])
    tab = GeDeTables(np.arange(g_count), widths, signed, bmask, num_bases)
    table = np.zeros(int(tab.tab_off[-1]) + PAD_BYTES, dtype=np.uint8)
    for g in range(g_count):
        rows = np.flatnonzero(model == g)
        if len(rows):
            pack_table(np.ascontiguousarray(u[rows]), np.searchsorted(rows, first[g]), bmask[g],
                       tab.bshift[g], tab.bcount[g], int(tab.row_bytes[g]), table, int(tab.tab_off[g]))
    tab = GeDeTables.from_tensors(tab.to_tensors(table), where="memory")
    offsets = np.zeros(n + 1, np.int64)
    np.cumsum(tab.rec_bytes[model], out=offsets[1:])
    records = np.zeros(int(offsets[-1]) + PAD_BYTES, np.uint8)
    pack_records(u, model, base_id, tab.id_bits, tab.dmask, tab.dshift, tab.dcount, tab.rec_order,
                 offsets, records)
    out = np.empty((n, d), np.int32)
    rows = rng.permutation(n).astype(np.int64)
    decode_gede_rows(records, offsets, model, rows, *tab.decode_args(), out)
    v = u[rows].astype(np.int64)
    s = signed[model[rows]].astype(np.int64)
    np.testing.assert_array_equal(out, np.where(s == 1, (v >> 1) ^ -(v & 1), v))


def test_old_transform_keyword_still_works_with_a_warning(tmp_path):
    x, y = _images(20)
    with pytest.warns(DeprecationWarning, match=r"transform= as a 'gede' codec option is deprecated"
                                                r".*use mode="):
        tc.compress((x, y), tmp_path / "t.tcz", codec="gede", transform="lossless", progress=False)
    ds = tc.open(tmp_path / "t.tcz")
    assert ds.info["codec_params"]["mode"] == "lossless"
    np.testing.assert_array_equal(ds[3][0].numpy(), x[3])
    with pytest.raises(TypeError, match=r"got both transform= and mode=; pass only mode="):
        make_codec("gede", {"transform": "none", "mode": "dct"})


def test_archives_written_with_the_old_key_open_silently(tmp_path, recwarn):
    import json

    x, y = _images(20)
    tc.compress((x, y), tmp_path / "o.tcz", codec="gede", mode="lossless", progress=False)
    p = tmp_path / "o.tcz" / "manifest.json"
    m = json.loads(p.read_text())
    m["codec_params"]["transform"] = m["codec_params"].pop("mode")
    p.write_text(json.dumps(m))
    np.testing.assert_array_equal(tc.open(tmp_path / "o.tcz")[0][0].numpy(), x[0])
    assert not [w for w in recwarn if issubclass(w.category, DeprecationWarning)]
