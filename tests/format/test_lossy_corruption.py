"""Corrupt lossy archives raise FormatError at open or at decode, never a crash or a hang."""

import numpy as np
import pytest

import torchcompress as tc
from torchcompress import FormatError
from torchcompress.format.safetensors_io import read_header

from .edits import edit_manifest, flip_byte, rerecord_extra, rewrite_tensors

SHARD = "shard-00000.safetensors"
TABLES = "tables.safetensors"


def _images(n=24, seed=0):
    rng = np.random.default_rng(seed)
    ramp = np.add.outer(np.arange(19), np.arange(21)) * 5.0
    return np.clip(ramp + rng.normal(0, 12, (n, 3, 19, 21)), 0, 255).astype(np.uint8)


@pytest.fixture
def lossy_archive(tmp_path):
    path = tmp_path / "l.tcz"
    tc.compress((_images(), np.arange(24) % 3), path, codec="lossy", bits=1.0, progress=False)
    return path



def _decode_all(path):
    ds = tc.open(path)
    ds.__getitems__(list(range(len(ds))))
    for i in range(len(ds)):
        ds[i]


@pytest.mark.parametrize("seed", range(4))
def test_flipped_record_bytes_raise_at_decode(lossy_archive, seed):
    """Every flip inside the records raises FormatError or decodes to in-range pixels: the
    kernel checks every read against the record's end (fuzzed under NUMBA_BOUNDSCHECK too)."""
    rng = np.random.default_rng(seed)
    specs, data_start, _ = read_header(str(lossy_archive / SHARD))
    begin, end = specs["records"][2:]
    raised = 0
    for _ in range(10):
        pos = data_start + int(rng.integers(begin, end))
        flip_byte(lossy_archive / SHARD, pos, int(rng.integers(1, 256)))
        try:
            _decode_all(lossy_archive)
        except FormatError as e:
            assert "is corrupt" in str(e) and SHARD in str(e)
            raised += 1
    assert raised >= 5
    with pytest.raises(FormatError, match="xxh3-64 is .* the file is corrupt"):
        tc.verify(lossy_archive)


def test_truncated_stream_raises(lossy_archive):
    def shorten(t):
        t["lengths"][3] -= 2
        t["lengths"][4] += 2
    rewrite_tensors(lossy_archive / SHARD, shorten)
    with pytest.raises(FormatError, match=r"record 3 is corrupt \(its stream"):
        tc.open(lossy_archive)[3]


def test_scale_byte_out_of_range_raises(lossy_archive):
    specs, data_start, _ = read_header(str(lossy_archive / SHARD))
    flip_byte(lossy_archive / SHARD, data_start + specs["records"][2], 0x80)  # record 0's scale
    with pytest.raises(FormatError, match=r"record 0 is corrupt \(it holds a scale"):
        tc.open(lossy_archive)[0]


def test_lengths_that_do_not_add_up(lossy_archive):
    rewrite_tensors(lossy_archive / SHARD, lambda t: t["lengths"].__setitem__(0, t["lengths"][0] + 1))
    with pytest.raises(FormatError, match=r"records hold \d+ bytes, but the lengths add up to"):
        tc.open(lossy_archive)


@pytest.mark.parametrize("fn, match", [
    (lambda t: t["qmul"].__setitem__((0, 3), 0.0), r"step multiplier outside \[0.25, 16.0\]"),
    (lambda t: t["mat"].__setitem__((0, 0), np.nan), r"colour transform holds a value outside"),
    (lambda t: t.__setitem__("mean", t["mean"][:2].copy()), r"should be \(P, P\), \(P,\) and \(P, 64\)"),
    (lambda t: t["lens"].__setitem__(0, t["lens"][0] + 1), r"tensors 'lens' and 'logf' should be"),
    (lambda t: t["logf"].__setitem__(0, 250), r"holds a frequency above 4096"),
    (lambda t: t.__setitem__("qmul", t["qmul"].astype(np.float64)), r"'qmul' should be float32, found float64"),
], ids=["qmul", "mat-nan", "mean-shape", "lens", "logf", "qmul-dtype"])
def test_crafted_tables_raise_at_open(lossy_archive, fn, match):
    rewrite_tensors(lossy_archive / TABLES, fn)
    rerecord_extra(lossy_archive, "tables")
    with pytest.raises(FormatError, match=match):
        tc.open(lossy_archive)


def test_missing_tables_file_is_named(lossy_archive):
    edit_manifest(lossy_archive, lambda m: m["extras"].pop("tables"))
    with pytest.raises(FormatError, match=r"a lossy archive needs the extra file 'tables'"):
        tc.open(lossy_archive)
