"""Corrupt lossless archives raise FormatError at open or at decode, never a crash or a hang."""

import json

import numpy as np
import pytest
import torch

import torchcompress as tc
from torchcompress import FormatError

from torchcompress.format.safetensors_io import read_header
from safetensors.numpy import load_file

from .edits import edit_manifest, flip_byte, rerecord_extra, rerecord_shard, rewrite_tensors

SHARD = "shard-00000.safetensors"
TABLES = "tables.safetensors"


def _images(n=24, seed=0):
    rng = np.random.default_rng(seed)
    ramp = np.add.outer(np.arange(10), np.arange(12)) * 4.0
    return np.clip(ramp + rng.normal(0, 3, (n, 3, 10, 12)), 0, 255).astype(np.uint8)


@pytest.fixture
def lossless_archive(tmp_path):
    path = tmp_path / "l.tcz"
    tc.compress((_images(), np.arange(24) % 3), path, progress=False)
    return path


@pytest.fixture
def mixed_archive(tmp_path):
    imgs = [_images(1, s)[0][:, : 4 + s, : 3 + 2 * s] for s in range(6)]

    class Mixed(torch.utils.data.Dataset):
        def __len__(self):
            return len(imgs)

        def __getitem__(self, i):
            return torch.from_numpy(np.ascontiguousarray(imgs[i])), 0

    path = tmp_path / "m.tcz"
    tc.compress(Mixed(), path, progress=False)
    return path



def _decode_all(path):
    ds = tc.open(path, output="uint8")
    ds.__getitems__(list(range(len(ds))))
    for i in range(len(ds)):
        ds[i]


def test_clean_archive_decodes(lossless_archive):
    ds = tc.open(lossless_archive, output="uint8")
    np.testing.assert_array_equal(ds[5][0].numpy(), _images()[5])
    assert tc.verify(lossless_archive)["num_samples"] == 24


@pytest.fixture
def ls_archive(tmp_path):
    """The same images under the least-squares predictor (format 10)."""
    path = tmp_path / "ls.tcz"
    tc.compress((_images(), np.arange(24) % 3), path, progress=False, predictor="least_squares")
    return path


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("predictor", ["med", "least_squares"])
def test_flipped_record_bytes_raise_at_decode(lossless_archive, ls_archive, seed, predictor):
    """Every flip inside the records either raises FormatError or leaves sample values that
    are still in range: no out-of-bounds read, no hang (the kernel checks every read)."""
    lossless_archive = ls_archive if predictor == "least_squares" else lossless_archive
    rng = np.random.default_rng(seed)
    specs, data_start, _ = read_header(str(lossless_archive / SHARD))
    begin, end = specs["records"][2:]
    raised = 0
    for _ in range(10):
        pos = data_start + int(rng.integers(begin, end))
        flip_byte(lossless_archive / SHARD, pos, int(rng.integers(1, 256)))
        try:
            _decode_all(lossless_archive)
        except FormatError as e:
            assert "is corrupt" in str(e) and SHARD in str(e)
            raised += 1
        flip_byte(lossless_archive / SHARD, pos, 0)  # no-op; keep the damage accumulating
    assert raised >= 5
    with pytest.raises(FormatError, match="xxh3-64 is .* the file is corrupt"):
        tc.verify(lossless_archive)


def _lengths(edit):
    """A shard edit of the records' whole lengths (stored back as U16, without a base)."""
    def apply(t):
        n = t["lengths"].astype(np.int64) + int(t.pop("length_base", [0])[0])
        edit(n)
        t["lengths"] = n.astype(np.uint16)
    return apply


def test_archive_stores_byte_lengths(lossless_archive):
    """Lengths spanning less than 256 are a byte each over ``length_base``; the same lengths
    stored as U16 without a base decode alike."""
    t = load_file(str(lossless_archive / SHARD))
    assert t["lengths"].dtype == np.uint8 and t["length_base"].dtype == np.uint32
    before = torch.stack([tc.open(lossless_archive)[i][0] for i in range(24)])
    rewrite_tensors(lossless_archive / SHARD, _lengths(lambda n: None))
    rerecord_shard(lossless_archive)
    assert torch.equal(torch.stack([tc.open(lossless_archive)[i][0] for i in range(24)]), before)


@pytest.mark.parametrize("edit, match", [
    (lambda t: t.pop("length_base"), r"'length_base' \(U32, one entry\) goes with U8 'lengths' "
                                     r"and only with them, found lengths uint8 and no length_base"),
    (lambda t: t.__setitem__("length_base", t["length_base"].astype(np.uint16)),
     r"found lengths uint8 and length_base uint16 of shape \[1\]"),
    (lambda t: t.__setitem__("lengths", t["lengths"].astype(np.uint16)),
     r"found lengths uint16 and length_base uint32"),
    (lambda t: t["length_base"].__setitem__(0, 9), r"records hold \d+ bytes, but the lengths add "),
], ids=["missing", "dtype", "with-u16", "base"])
def test_crafted_length_base_raises_at_open(lossless_archive, edit, match):
    rewrite_tensors(lossless_archive / SHARD, edit)
    rerecord_shard(lossless_archive)
    with pytest.raises(FormatError, match=match):
        tc.open(lossless_archive)


@pytest.mark.parametrize("predictor", ["med", "least_squares"])
def test_truncated_stream_raises(lossless_archive, ls_archive, predictor):
    lossless_archive = ls_archive if predictor == "least_squares" else lossless_archive

    def shorten(n):
        n[3] -= 2
        n[4] += 2  # same total: record 3 ends early, record 4 starts early
    rewrite_tensors(lossless_archive / SHARD, _lengths(shorten))
    rerecord_shard(lossless_archive)
    with pytest.raises(FormatError, match=r"record 3 is corrupt \(its stream"):
        tc.open(lossless_archive)[3]


def test_record_too_short_for_a_stream_raises(lossless_archive):
    def shorten(n):
        n[4] += n[3] - 2
        n[3] = 2  # a coded record (not raw-sized) of 2 bytes
    rewrite_tensors(lossless_archive / SHARD, _lengths(shorten))
    rerecord_shard(lossless_archive)
    with pytest.raises(FormatError, match=r"record 3 is corrupt \(it is too short for a "
                                          r"stream's 3 bytes of state"):
        tc.open(lossless_archive)[3]


def test_lengths_that_do_not_add_up(lossless_archive):
    rewrite_tensors(lossless_archive / SHARD, lambda t: t["lengths"].__setitem__(0, t["lengths"][0] + 1))
    with pytest.raises(FormatError, match=r"records hold \d+ bytes, but the lengths add up to"):
        tc.open(lossless_archive)


def test_lengths_of_wrong_dtype(lossless_archive):
    def to_int16(t):
        t["lengths"] = t["lengths"].astype(np.int16)
    rewrite_tensors(lossless_archive / SHARD, to_int16)
    rerecord_shard(lossless_archive)
    with pytest.raises(FormatError, match=r"tensor 'lengths' should be 1-D U8, U16 or U32"):
        tc.open(lossless_archive)


def _lens_of(t, lens):
    t["lens"] = lens


@pytest.mark.parametrize("fn, match", [
    (lambda t: t["lens"].__setitem__(3, t["lens"][3] + 1), r"'lens' and 'logf' should be .* "
                                                           r"and their bytes, found 384 lengths"),
    (lambda t: t["lens"].__setitem__(0, 200), r"of at most 52 tokens and their bytes"),
    (lambda t: _lens_of(t, t["lens"][:100]), r"found 100 lengths"),
    (lambda t: t["logf"].__setitem__(0, 250), r"'logf' holds a frequency above 4096"),
    (lambda t: t["meta"].__setitem__(0, 12), r"bits should be 8 or 16, found 12"),
    (lambda t: t["meta"].__setitem__(2, 7), r"\[bits, code_lo, colour\] .* found \[8, 0, 7\]"),
    (lambda t: t["meta"].__setitem__(2, 3), r"colour 0, 1 or 2, found \[8, 0, 3\]"),
], ids=["lens-sum", "lens-past-tokens", "lens-count", "logf-range", "bits", "colour-flag",
        "colour-past-2"])
def test_crafted_tables_raise_at_open(lossless_archive, fn, match):
    rewrite_tensors(lossless_archive / TABLES, fn)
    rerecord_extra(lossless_archive, "tables")
    with pytest.raises(FormatError, match=match):
        tc.open(lossless_archive)


@pytest.mark.parametrize("fn, match", [
    (lambda t: t.__setitem__("lsw", t["lsw"].astype(np.int32)),
     r"tensors 'lsw' and 'lsb' should be int16 weights of shape \[3, 16, 11\] and int8 biases "
     r"of shape \[3, 1024\], found int32 of shape \[3, 16, 11\] and int8 of shape \[3, 1024\]"),
    (lambda t: t.__setitem__("lsb", t["lsb"][:2]), r"found int16 of shape \[3, 16, 11\] and "
                                                   r"int8 of shape \[2, 1024\]"),
    (lambda t: t.pop("lsb"), r"found int16 of shape \[3, 16, 11\] and None"),
    (lambda t: t.pop("lsw"), r"found None and int8 of shape \[3, 1024\]"),
    (lambda t: t["meta"].__setitem__(0, 16), r"the least-squares model \('lsw', 'lsb'\) codes "
                                             r"8-bit colour archives only, but meta says "
                                             r"bits=16, colour=\d"),
], ids=["lsw-dtype", "lsb-shape", "lsb-missing", "lsw-missing", "16-bit"])
def test_crafted_least_squares_tables_raise_at_open(ls_archive, fn, match):
    rewrite_tensors(ls_archive / TABLES, fn)
    rerecord_extra(ls_archive, "tables")
    with pytest.raises(FormatError, match=match):
        tc.open(ls_archive)


def test_least_squares_tensors_in_a_grey_archive_raise_at_open(tmp_path, ls_archive):
    path = tmp_path / "g.tcz"
    tc.compress((_images()[:, 0], np.arange(24) % 3), path, progress=False)
    ls = load_file(str(ls_archive / TABLES))
    rewrite_tensors(path / TABLES, lambda t: t.update(lsw=ls["lsw"], lsb=ls["lsb"]))
    rerecord_extra(path, "tables")
    with pytest.raises(FormatError, match=r"codes 8-bit colour archives only, but meta says "
                                          r"bits=8, colour=0"):
        tc.open(path)


@pytest.mark.parametrize("seed", range(3))
def test_any_least_squares_weights_decode_safely(ls_archive, seed):
    """Weights and biases are not range-checked at open: any values give predictions inside
    their planes' ranges (the decoders clip them). Wrong ones decode to other values or raise
    FormatError, never read outside the record or hang."""
    rng = np.random.default_rng(seed)

    def spoil(t):
        t["lsw"] = rng.integers(-32768, 32768, t["lsw"].shape).astype(np.int16)
        t["lsb"] = rng.integers(-128, 128, t["lsb"].shape).astype(np.int8)
    rewrite_tensors(ls_archive / TABLES, spoil)
    rerecord_extra(ls_archive, "tables")
    ds = tc.open(ls_archive, output="uint8")
    with pytest.raises(FormatError, match=r"record \d+ is corrupt"):
        ds.__getitems__(list(range(len(ds))))
    with pytest.raises(FormatError, match=r"record 0 is corrupt"):
        ds[0]


def _cmap_of(t, at, values):
    for key, v in (("cmap_at", at), ("cmap", values)):
        if v is None:
            del t[key]
        else:
            t[key] = v


@pytest.mark.parametrize("fn, match", [
    (lambda t: t["cmap"].__setitem__(0, 128), r"'cmap_at' should hold increasing fine contexts "
                                              r"below 43136 and 'cmap' contexts below 128, found "
                                              r"fine contexts up to \d+ and contexts up to 128"),
    (lambda t: t["cmap_at"].__setitem__(-1, 50000), r"found fine contexts up to 50000"),
    (lambda t: t["cmap_at"].__setitem__(1, t["cmap_at"][0]), r"should hold increasing fine "),
    (lambda t: _cmap_of(t, t["cmap_at"], t["cmap"][:1]), r"'cmap_at' \(U16\) and 'cmap' \(U8\) "
                                                         r"should be two 1-D arrays of one length"),
    (lambda t: _cmap_of(t, t["cmap_at"].astype(np.uint32), t["cmap"]), r"found uint32 of shape"),
    (lambda t: _cmap_of(t, None, None), r"'cmap' \(U8\) should be .* found none"),
    (lambda t: t["meta"].__setitem__(2, 1), r"'cmap_at' and 'cmap' are only for archives without "
                                            r"colour"),
], ids=["value", "past-fine", "not-increasing", "length", "dtype", "missing", "with-colour"])
def test_crafted_context_map_raises_at_open(tmp_path, fn, match):
    """A grey archive's map of plane 0's fine contexts is checked at open: a context past the
    class's 128 would index the tables out of bounds, and a fine context past the map the map
    itself."""
    path = tmp_path / "g.tcz"
    tc.compress((_images()[:, 0], np.arange(24) % 3), path, progress=False)
    # a sound map of two entries opens; each case then spoils it
    rewrite_tensors(path / TABLES, lambda t: _cmap_of(t, np.array([5, 9000], np.uint16),
                                                      np.array([3, 127], np.uint8)))
    rerecord_extra(path, "tables")
    tc.open(path)
    rewrite_tensors(path / TABLES, fn)
    rerecord_extra(path, "tables")
    with pytest.raises(FormatError, match=match):
        tc.open(path)


@pytest.mark.parametrize("version", [3, 4, 5, 6, 7])
def test_lossless_archive_before_format8_is_refused(lossless_archive, version):
    """Versions 3 and 4 coded 16 direct tokens and binned the previous plane by its residual,
    up to 5 streams started in state 2**16 with 4 bytes of state, up to 6 every residual was
    zigzag-coded and 7 mapped plane 0's contexts by W, N and NE in three levels: their records
    would decode to other values, so the reader refuses them by name."""
    edit_manifest(lossless_archive, lambda m: m.update(format_version=version))
    with pytest.raises(FormatError, match=rf"format_version {version} is older than the "
                                          r"'lossless' record layout .* \(version 8\); compress "
                                          r"the source again"):
        tc.open(lossless_archive)


@pytest.mark.parametrize("version", [8, 9])
def test_format8_and_9_archives_still_decode(tmp_path, version):
    """Format 9 added subtract green (``colour`` 2), format 10 the least-squares model; a
    version 8 archive (YCoCg-R, its manifest without ``colour=`` or ``predictor=``) and a
    version 9 one (without ``predictor=``) decode as they did."""
    path, x = tmp_path / "v8.tcz", _images()
    tc.compress((x, np.arange(24) % 3), path, progress=False, colour="ycocg")

    def as_older(m):
        m.update(format_version=version)
        del m["codec_params"]["predictor"]
        if version == 8:
            del m["codec_params"]["colour"]
    edit_manifest(path, as_older)
    ds = tc.open(path, output="uint8")
    assert ds.decoder.shard(0).tables.colour == 1
    np.testing.assert_array_equal(np.stack([b[0].numpy() for b in ds.__getitems__(range(24))]), x)


def test_flipped_table_byte_fails_the_hash(lossless_archive):
    flip_byte(lossless_archive / TABLES, -3, 0x10)
    with pytest.raises(FormatError, match=r"tables.safetensors: xxh3-64 is"):
        tc.open(lossless_archive)


@pytest.mark.parametrize("fn, match", [
    (lambda t: t["shapes"].__setitem__((2, 1), 0), r"holds a zero dimension"),
    (lambda t: t["shapes"].__setitem__((2, 0), 4), r"differs from the manifest's sample_shape"),
], ids=["zero-dim", "planes-differ"])
def test_crafted_shapes_raise_at_open(mixed_archive, fn, match):
    rewrite_tensors(mixed_archive / SHARD, fn)
    with pytest.raises(FormatError, match=match):
        tc.open(mixed_archive)


def test_shape_grown_past_its_record_raises_at_decode(mixed_archive):
    rewrite_tensors(mixed_archive / SHARD, lambda t: t["shapes"].__setitem__((1, 1), 40))
    ds = tc.open(mixed_archive)
    with pytest.raises(FormatError, match=r"record 1 is corrupt"):
        ds[1]


def test_older_format_version_is_refused(lossless_archive):
    edit_manifest(lossless_archive, lambda m: m.update(format_version=2))
    with pytest.raises(FormatError, match=r"format_version 2 is older than the 'lossless' record "
                                          r"layout .* \(version 8\); compress the source again"):
        tc.open(lossless_archive)


def test_duplicate_manifest_key_is_refused(lossless_archive):
    p = lossless_archive / "manifest.json"
    text = p.read_text()
    p.write_text(text.replace('"codec": "lossless",', '"codec": "adq",\n  "codec": "lossless",', 1))
    assert json.loads(p.read_text())["codec"] == "lossless"  # json alone keeps the last one
    with pytest.raises(FormatError, match=r"manifest.json: key 'codec' appears twice"):
        tc.open(lossless_archive)
