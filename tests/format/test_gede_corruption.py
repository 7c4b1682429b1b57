"""Corrupt GeDe arrays raise FormatError at open, before any kernel indexes them."""

import numpy as np
import pytest
from safetensors.numpy import load_file

import torchcompress as tc
from torchcompress import FormatError

from .edits import edit_manifest, flip_byte, rerecord_extra, rewrite_tensors

TABLES = "tables.safetensors"
SHARD = "shard-00000.safetensors"


@pytest.fixture
def gede_archive(tmp_path, images):
    x, y = images
    path = tmp_path / "g.tcz"
    tc.compress((x, y), path, codec="gede", mode="lossless", progress=False)
    return path



def _craft_tables(archive, fn):
    """Edit the tables and record their new hash: only the structural checks can catch this."""
    rewrite_tensors(archive / TABLES, fn)
    rerecord_extra(archive, "tables")


def test_clean_archive_opens_and_decodes(gede_archive, images):
    ds = tc.open(gede_archive, output="uint8")
    np.testing.assert_array_equal(ds[3][0].numpy(), images[0][3])


def test_base_mask_outside_column_width(gede_archive):
    def widen(t):
        j = int(np.argmin(t["widths"][0]))
        t["base_mask"][0, j] |= np.uint16(1 << int(t["widths"][0, j]))
    _craft_tables(gede_archive, widen)
    with pytest.raises(FormatError, match=r"base_mask\[0, \d+\]=\d+ names bit positions outside "
                                          r"the column width"):
        tc.open(gede_archive)


def test_base_id_past_the_table(tmp_path):
    rng = np.random.default_rng(0)
    patterns = rng.integers(0, 256, (3, 4)).astype(np.uint8)
    x = patterns[np.arange(30) % 3]  # three distinct rows: 3 bases, 2-bit ids, 1-byte records
    path = tmp_path / "ids.tcz"
    tc.compress((x, np.zeros(30, dtype=int)), path, codec="gede", tau=64, progress=False)
    assert load_file(str(path / TABLES))["num_bases"].tolist() == [3]

    def corrupt(t):
        t["records"][5] |= np.uint8(0b11)  # id 3 of 3 bases
    rewrite_tensors(path / SHARD, corrupt)
    with pytest.raises(FormatError, match=rf"{SHARD}: sample 5 names base 3, but its model has 3 bases"):
        tc.open(path)


@pytest.mark.parametrize("name, edit, match", [
    ("num_bases", lambda t: t["num_bases"].__setitem__(0, t["num_bases"][0] + 1),
     r"base table has \d+ bytes, the models need \d+ \+ 3 padding"),
    ("widths", lambda t: t["widths"].__setitem__((0, 0), 17),
     r"widths should be <= 16 and signed 0 or 1"),
    ("model_labels", lambda t: t["model_labels"].__setitem__(0, 99),
     r"should be strictly increasing|has label \d+, which has no GeDe model"),
], ids=["num-bases", "width-17", "labels"])
def test_table_edits(gede_archive, name, edit, match):
    _craft_tables(gede_archive, edit)
    with pytest.raises(FormatError, match=match):
        tc.open(gede_archive)


def test_truncated_records(gede_archive):
    def cut(t):
        t["records"] = t["records"][:-5]
    rewrite_tensors(gede_archive / SHARD, cut)
    size = (gede_archive / SHARD).stat().st_size
    edit_manifest(gede_archive, lambda m: m["shards"][0].update(bytes=size))
    with pytest.raises(FormatError, match=rf"{SHARD}: records hold \d+ bytes, the labels and models need"):
        tc.open(gede_archive)


def test_missing_tables_file(gede_archive):
    (gede_archive / TABLES).unlink()
    with pytest.raises(FormatError, match=rf"{TABLES}: extra file 'tables' is missing"):
        tc.open(gede_archive)


@pytest.mark.parametrize("check", [tc.open, tc.verify], ids=["open", "verify"])
def test_tables_are_hashed(gede_archive, check):
    """One flipped bit in the tables would change every sample of a model: open hashes them."""
    flip_byte(gede_archive / TABLES, -4, 0x01)
    with pytest.raises(FormatError, match=rf"{TABLES}: xxh3-64 is [0-9a-f]+, the manifest records "
                                          r"[0-9a-f]+; the file is corrupt"):
        check(gede_archive)


def test_gede_archive_older_than_its_record_layout(gede_archive):
    """Version 1 packed deviation fields in column order; reading one now would scramble it."""
    edit_manifest(gede_archive, lambda m: m.update(format_version=1))
    with pytest.raises(FormatError, match="format_version 1 is older .* compress the source again"):
        tc.open(gede_archive)
