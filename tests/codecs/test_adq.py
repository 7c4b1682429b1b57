import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from torchcompress import CodecError
from torchcompress.codecs import ADQParams, make_codec
from torchcompress.codecs.allocation import allocate_bits

from ..contracts import check_deterministic, check_error_bound, encode_decode


def _data(n=50, d=96, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, (n, d)) * rng.uniform(0.1, 20, (n, 1)) + rng.normal(0, 5, (n, 1))
    return x.astype(dtype)


@pytest.mark.parametrize("bits", [1.0, 1.5, 2.0, 2.5, 4.0, 8.0], ids=lambda b: f"bits{b}")
@pytest.mark.parametrize("allocation", ["adaptive", "uniform"])
def test_error_bound_and_exact_budget(bits, allocation):
    x = _data()
    codec = make_codec("adq", {"bits": bits, "allocation": allocation})
    enc, _ = check_error_bound(codec, x)
    assert enc.bits.min() >= 1 and enc.bits.max() <= 8
    assert int(enc.bits.astype(int).sum()) <= int(np.floor(bits * len(x)))
    if allocation == "uniform":
        assert int(enc.bits.astype(int).sum()) == int(np.floor(bits * len(x)))


@pytest.mark.parametrize("bits", [1.0, 2.0, 4.0], ids=lambda b: f"bits{b}")
def test_steps_are_the_smallest_that_cover_each_sample(bits):
    """Checked against the data, not the encoder's own stored step: ``(max - min) / 2**b``
    (mid-range centre), so a coder that wasted levels (e.g. doubled steps) fails here."""
    x = _data()
    enc, out = encode_decode(make_codec("adq", {"bits": bits}), x)
    lo, hi = x.min(axis=1).astype(np.float64), x.max(axis=1).astype(np.float64)
    want = (hi - lo) / 2.0 ** enc.bits
    np.testing.assert_allclose(enc.scale.astype(np.float64), want, rtol=2e-6, atol=1e-30)
    err = np.abs(out.astype(np.float64) - x).max(axis=1)
    assert (err <= want / 2 * (1 + 1e-5) + 1e-5).all()


def test_one_bit_has_two_levels():
    x = _data(n=5, d=64)
    codec = make_codec("adq", {"bits": 1.0})
    enc, out = check_error_bound(codec, x)
    assert (enc.bits == 1).all()
    for row in out:
        assert len(np.unique(row)) == 2


def test_uint8_input_and_constant_samples():
    x = np.zeros((4, 30), dtype=np.uint8)
    x[1] = 255
    x[2, ::2] = 9
    codec = make_codec("adq", {"bits": 3.0})
    enc, out = check_error_bound(codec, x)
    np.testing.assert_array_equal(out[:2], x[:2])  # constants come back exactly
    assert enc.bits[0] == 1 and enc.bits[1] == 1   # and spend no extra bits


def test_deterministic_bytes():
    check_deterministic(make_codec("adq", {"bits": 2.5}), _data(seed=3))


def test_planes_are_progressive():
    x = _data(n=20, d=256, seed=4)
    codec = make_codec("adq", {"bits": 6.0, "allocation": "uniform"})
    errs = [np.abs(encode_decode(codec, x, planes=k)[1] - x).mean() for k in range(1, 7)]
    assert all(a > b for a, b in zip(errs, errs[1:])), errs


def test_importance_buys_bits():
    x = _data(n=40, seed=5)
    codec = make_codec("adq", {"bits": 2.0})
    w = np.ones(40)
    w[:5] = 1e6
    enc = codec.encode(x, importance=w)
    plain = codec.encode(x)
    assert enc.bits[:5].mean() > plain.bits[:5].mean()
    assert enc.bits.astype(int).sum() <= 80


@given(
    x=arrays(np.float32, st.tuples(st.integers(2, 12), st.integers(16, 48)),
             elements=st.floats(-1000, 1000, width=32)),
    bits=st.sampled_from([1.5, 2.0, 3.0, 4.0]),
)
@settings(max_examples=60, deadline=None)
def test_adaptive_error_not_above_uniform(x, bits):
    a = make_codec("adq", {"bits": bits}).encode(x)
    u = make_codec("adq", {"bits": bits, "allocation": "uniform"}).encode(x)
    assert a.bits.astype(int).sum() <= np.floor(bits * len(x))
    assert a.sq_error.sum() <= u.sq_error.sum() * (1 + 1e-9) + 1e-9


def test_allocation_greedy_on_convex_curves():
    # Sample 0 halves its error per bit, sample 1 quarters it: greedy gives
    # sample 0's gains 8, 4, 2 ... and sample 1's 75, 18.75 ... over budget 4 extra bits.
    d0 = 16.0 / 2.0 ** np.arange(8)
    d1 = 100.0 / 4.0 ** np.arange(8)
    bits = allocate_bits(np.stack([d0, d1]), 3.0)
    # extra = 4: gains 75 (s1), 18.75 (s1), 8 (s0), 4.69 (s1) -> s0: 2 bits, s1: 4 bits
    np.testing.assert_array_equal(bits, [2, 4])


@pytest.mark.parametrize("bad, match", [
    ({"bits": 0.5}, r"bits should be in \[1, 8\], but got bits=0.5"),
    ({"bits": 9}, r"bits should be in \[1, 8\], but got bits=9"),
    ({"bits": float("nan")}, r"bits should be in \[1, 8\], but got bits=nan"),
    ({"allocation": "greedy"}, r"allocation should be one of 'adaptive', 'uniform', but got allocation='greedy'"),
], ids=["bits-low", "bits-high", "bits-nan", "allocation"])
def test_bad_params(bad, match):
    with pytest.raises(ValueError, match=match):
        make_codec("adq", bad)


def test_bad_params_types_and_names():
    with pytest.raises(TypeError, match=r"bits should be a number, but got bits='2'"):
        ADQParams(bits="2")
    with pytest.raises(TypeError, match=r"unknown parameter\(s\) \['bitz'\]"):
        make_codec("adq", {"bitz": 2})
    with pytest.raises(ValueError, match=r"codec should be one of 'adq', 'gede', 'lossless', 'lossy', 'original', but got codec='zip'"):
        make_codec("zip", {})


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
def test_non_finite_rejected(value):
    x = _data(n=4)
    x[2, 7] = value
    with pytest.raises(CodecError, match="sample 2 contains NaN or inf"):
        make_codec("adq", {}).encode(x)


def test_values_past_float32_are_refused_before_an_archive_none_can_open(tmp_path):
    """A float64 value past float32's range made an inf centre and step: compress wrote an
    archive that tc.open refused ("tensor 'scale' holds a negative or non-finite value")."""
    import torchcompress as tc

    x = _data(n=4).astype(np.float64)
    x[1, 3] = -1e39
    with pytest.raises(CodecError, match=r"sample 1 holds a value past float32's range"):
        tc.compress((x, np.zeros(4, dtype=int)), tmp_path / "a.tcz", codec="adq",
                    progress=False)
    assert not (tmp_path / "a.tcz").exists()
    x[1, 3] = -3e38  # within float32
    tc.compress((x, np.zeros(4, dtype=int)), tmp_path / "a.tcz", codec="adq", progress=False)
    assert np.isfinite(tc.open(tmp_path / "a.tcz")[1][0].numpy()).all()


def test_bad_importance():
    with pytest.raises(ValueError, match=r"importance should be 50 finite non-negative weights"):
        make_codec("adq", {}).encode(_data(), importance=np.ones(3))
    w = np.ones(50)
    w[7] = -2.0
    with pytest.raises(ValueError, match=r"weights \(one per sample\), but "
                                         r"importance\[7\] is -2.0"):
        make_codec("adq", {}).encode(_data(), importance=w)


def test_allocation_looks_past_a_flat_step():
    # Sample 0 gains nothing from bit 2 but a lot from bit 3; sample 1 gains a little per bit.
    d0 = np.array([8.0, 8.0, 0.0, 0, 0, 0, 0, 0])
    d1 = np.array([5.0, 4.0, 3.0, 2.0, 1.0, 0.5, 0.25, 0.1])
    bits = allocate_bits(np.stack([d0, d1]), 2.0)  # 2 extra bits
    np.testing.assert_array_equal(bits, [3, 1])


def test_largest_gains_equal_a_stable_sort_with_ties():
    from torchcompress.codecs.allocation import _largest

    rng = np.random.default_rng(5)
    for trial in range(200):
        flat = rng.integers(-2, 6, rng.integers(1, 60)).astype(np.float64)  # many ties and <= 0
        k = int(rng.integers(0, flat.size + 2))
        order = np.argsort(-flat, kind="stable")[:k]
        want = np.zeros(flat.size, dtype=bool)
        want[order[flat[order] > 0]] = True
        assert np.array_equal(_largest(flat, k), want), (trial, flat, k)
