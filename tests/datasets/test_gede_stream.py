"""GeDe above ``fit_samples``: scan, bounded fit, hash deduplication, chunks (bounded memory)."""

import json
import os

import numpy as np
import pytest

import torchcompress as tc
from torchcompress.codecs import make_codec
from torchcompress.codecs.gede_stream import GeDeStream
from torchcompress.codecs.protocol import merge_scans
from torchcompress.datasets import pool, streaming
from torchcompress.format.safetensors_io import open_tensors

from .test_streaming import Generated, _image


def _files(path):
    return {f: open(os.path.join(path, f), "rb").read() for f in sorted(os.listdir(path))
            if f.endswith(".safetensors")}


def _decoded(path, dtype="uint8"):
    ds = tc.open(path, output=dtype)
    return np.stack([ds[i][0].numpy() for i in range(len(ds))])


def _data(n=90, shape=(3, 8, 8)):
    x = np.stack([_image(i, shape) for i in range(n)])
    x[::7] = x[3]  # repeated samples: shared bases
    return x, np.arange(n) % 4


@pytest.mark.parametrize("mode", ["none", "lossless", "dct"])
def test_streamed_gede_round_trips_and_leaves_only_the_archive(tmp_path, mode):
    x, y = _data()
    info = tc.compress((x, y), tmp_path / "s", codec="gede", mode=mode, fit_samples=20,
                       shard_size=40, progress=False)
    assert sorted(os.listdir(tmp_path / "s")) == ["manifest.json", "shard-00000.safetensors",
                                                 "shard-00001.safetensors",
                                                 "shard-00002.safetensors", "tables.safetensors"]
    assert os.listdir(tmp_path) == ["s"]  # no spool or table file left beside it
    got = _decoded(tmp_path / "s")
    if mode == "dct":  # near-lossless, and the error is measured as in memory
        assert info["max_abs_error"] == np.abs(got.astype(int) - x).max() <= 2
    else:
        assert np.array_equal(got, x) and info["verified"]
    stats = json.loads((tmp_path / "s" / "manifest.json").read_text())["stats"]
    assert 4 <= sum(stats["num_bases"]) < len(x)  # one model per class; repeats share a base
    if mode == "none":  # uint8 codes are the values: equal base bits <=> one shared base
        t = open_tensors(str(tmp_path / "s" / "tables.safetensors"))
        bases = x.reshape(len(x), -1) & t["base_mask"][y]
        distinct = [len(np.unique(bases[y == k], axis=0)) for k in range(4)]
        assert stats["num_bases"] == t["num_bases"].tolist() == distinct
    tc.verify(tmp_path / "s")


def test_chunks_workers_and_sources_write_the_same_bytes(tmp_path, monkeypatch):
    n = 70
    x, y = np.stack([_image(i) for i in range(n)]), np.arange(n) % 4
    kw = dict(codec="gede", mode="lossless", fit_samples=15, shard_size=25, progress=False)
    tc.compress((x, y), tmp_path / "a", **kw)
    monkeypatch.setattr(streaming, "CHUNK_BYTES", 4 * x[0].nbytes)
    monkeypatch.setattr(pool, "_POOL_WORTH", 0.0)
    tc.compress(Generated(n), tmp_path / "b", num_workers=2, **kw)
    ds = Generated(n)
    tc.compress(ds, tmp_path / "c", **kw)
    assert _files(tmp_path / "a") == _files(tmp_path / "b") == _files(tmp_path / "c")
    # sample 0 (chunk size), the scan, the fit rows, the summaries, the records
    assert len(ds.reads) == 1 + n + 15 + n + n
    assert np.array_equal(_decoded(tmp_path / "b"), x)


def test_a_fit_on_every_sample_is_algorithm_1_on_every_sample(tmp_path):
    x, y = _data(60)
    codec = make_codec("gede", {"mode": "none"})
    want = codec.encode(x, y).tables
    st = GeDeStream(make_codec("gede", {"mode": "none"}), len(x), fit_samples=len(x))
    st.use_folder(str(tmp_path))
    st.load_scan(merge_scans([st.scan(x[:25], 0, y[:25]), st.scan(x[25:], 25, y[25:])]), x.dtype)
    assert np.array_equal(st.fit_rows(x[0].nbytes), np.arange(len(x)))
    st.fit(x, y)
    st.allocate(np.concatenate([st.summarize(x[:25], 0, y[:25]), st.summarize(x[25:], 25, y[25:])]))
    have = st.extras()["tables"]
    for key in ("model_labels", "widths", "signed", "base_mask", "num_bases"):
        assert np.array_equal(have[key], want[key]), key
    st.close()
    assert os.listdir(tmp_path) == []


def test_precision_auto_and_wide_columns_are_settled_from_the_scan(tmp_path):
    rng = np.random.default_rng(0)
    xf = np.round(rng.normal(size=(80, 5)) * 300, 2).astype(np.float32)  # wide at 2 digits
    xf[:, 4] = np.round(xf[:, 4], 0)
    y = np.arange(80) % 2
    tc.compress((xf, y), tmp_path / "mem", codec="gede", precision="auto", progress=False)
    tc.compress((xf, y), tmp_path / "st", codec="gede", precision="auto", fit_samples=10,
                progress=False)
    params = [json.loads((tmp_path / p / "manifest.json").read_text())["codec_params"]
              for p in ("mem", "st")]
    assert params[0]["wide"] and params[0]["precision"] == [2, 2, 2, 2, 0]
    assert {**params[0], "fit_samples": 10} == params[1]
    assert np.abs(_decoded(tmp_path / "st", "float32") - xf).max() <= 0.005
    xi = rng.integers(-(1 << 20), 1 << 20, (80, 3)).astype(np.int64)
    tc.compress((xi, y), tmp_path / "i", codec="gede", fit_samples=10, progress=False)
    assert np.array_equal(_decoded(tmp_path / "i", "source"), xi)


def test_a_class_without_fit_samples_is_still_exact(tmp_path):
    x, y = _data(60)
    y[[5, 31]] = 9  # rows 0 and 59 are the fit rows: class 9 is not among them
    tc.compress((x, y), tmp_path / "r", codec="gede", fit_samples=2, progress=False)
    assert np.array_equal(_decoded(tmp_path / "r"), x)
    t = open_tensors(str(tmp_path / "r" / "tables.safetensors"))
    assert t["model_labels"].tolist() == [0, 1, 2, 3, 9]


@pytest.mark.parametrize("workers", [1, 2])
def test_each_model_is_fit_on_its_own_codes(tmp_path, workers):
    """Every model's mask is Algorithm 1 on its class's fit rows; a model whose class has no
    fit row is fit on all of them, clipped into its own (here narrower) widths."""
    from torchcompress.codecs.gede_model import fit_model

    x, y = _data(60)
    y[[5, 32]] = 9
    x[[5, 32]] //= 4  # class 9's widths are narrower than the other classes' values
    st = GeDeStream(make_codec("gede", {"mode": "none"}), len(x), fit_samples=20, workers=workers)
    st.use_folder(str(tmp_path))
    st.load_scan(st.scan(x, 0, y), x.dtype)
    rows = st.fit_rows(x[0].nbytes)
    assert not np.isin([5, 32], rows).any()
    st.fit(x[rows], y[rows])
    flat, tau = x[rows].reshape(len(rows), -1).astype(np.uint16), st.codec.params.tau
    for g, label in enumerate(st.keys):
        mine = flat[y[rows] == label] if label != 9 else np.minimum(flat, st.top[g])
        want = fit_model(mine.astype(np.uint16), st.signed[g], tau=tau, top=st.top[g])
        assert np.array_equal(st.bmask[g], want.base_mask), label
    assert not np.array_equal(st.bmask[-1], fit_model(flat, st.signed[-1], tau=tau,
                                                       top=st.top[-1]).base_mask)


class Drifting(Generated):
    """Returns brighter images once read more than once: not the same source on every pass."""

    def __getitem__(self, i):
        img, label = super().__getitem__(i)
        return (img + 1 if self.reads.count(i) > 2 else img), label


def test_a_source_that_changes_between_passes_is_refused(tmp_path):
    with pytest.raises(tc.CodecError, match="holds values outside the ranges the scan of the "
                       "source found; the source must yield the same samples on every pass"):
        tc.compress(Drifting(40), tmp_path / "d", codec="gede", fit_samples=5, progress=False)
    assert os.listdir(tmp_path) == []


class Regression(Generated):
    """Real-valued targets."""

    def __getitem__(self, i):
        return super().__getitem__(i)[0], i / 30


def test_regression_targets_are_refused_before_the_fit(tmp_path, monkeypatch):
    x, y = np.stack([_image(i) for i in range(30)]), np.linspace(0, 1, 30).astype(np.float32)

    def no_fit(*a, **k):
        raise AssertionError("the scan should have refused the targets")
    monkeypatch.setattr(GeDeStream, "fit", no_fit)
    with pytest.raises(ValueError, match="classwise=True needs integer class labels"):
        tc.compress((x, y), tmp_path / "r", codec="gede", fit_samples=5, progress=False)
    assert os.listdir(tmp_path) == []
    monkeypatch.undo()
    tc.compress((x, y), tmp_path / "ok", codec="gede", classwise=False, fit_samples=5,
                progress=False)
    assert np.array_equal(_decoded(tmp_path / "ok"), x)
    # a dataset's float labels are targets too (not truncated to classes): refused alike
    with pytest.raises(ValueError, match="classwise=True needs integer class labels"):
        tc.compress(Regression(30), tmp_path / "d", codec="gede", progress=False)
    tc.compress(Regression(30), tmp_path / "d", codec="gede", classwise=False, progress=False)
    assert np.allclose(tc.open(tmp_path / "d").targets.numpy(), np.arange(30) / 30)


def test_a_large_source_streams_even_below_fit_samples(tmp_path, monkeypatch):
    from torchcompress.codecs import gede

    ds = Generated(40)
    tc.compress(ds, tmp_path / "m", codec="gede", progress=False)
    assert len(ds.reads) == 1 + 40  # in memory: sample 0, then every sample once
    monkeypatch.setattr(gede, "IN_MEMORY_BYTES", 39 * ds[0][0].numel())  # 40 samples are more
    ds = Generated(40)
    tc.compress(ds, tmp_path / "s", codec="gede", progress=False)
    assert len(ds.reads) == 1 + 40 + 40 + 40 + 40  # scan, fit (every sample), summaries, records
    assert np.array_equal(_decoded(tmp_path / "s"), _decoded(tmp_path / "m"))
