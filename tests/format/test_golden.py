"""A tiny archive with known bytes: any format change shows up here."""

import json
import re

import numpy as np
import pytest
from safetensors.numpy import load_file

import torchcompress as tc

SHARD0_HEX = (  # version 11: the labels in uint8 (int64 before), sorted after 'bits'
    "28010000000000007b2263656e746572223a7b226474797065223a22463332222c227368617065223a5b325d2c"
    "22646174615f6f666673657473223a5b302c385d7d2c227363616c65223a7b226474797065223a22463332222c"
    "227368617065223a5b325d2c22646174615f6f666673657473223a5b382c31365d7d2c2262697473223a7b2264"
    "74797065223a225538222c227368617065223a5b325d2c22646174615f6f666673657473223a5b31362c31385d"
    "7d2c226c6162656c73223a7b226474797065223a225538222c227368617065223a5b325d2c22646174615f6f66"
    "6673657473223a5b31382c32305d7d2c227061796c6f6164223a7b226474797065223a225538222c2273686170"
    "65223a5b345d2c22646174615f6f666673657473223a5b32302c32345d7d7d2020200000c4410000a142000044"
    "4100004441020200010f330f33"
)


def _golden(tmp_path):
    x = (np.arange(32).reshape(4, 1, 2, 4) * 7 % 256).astype(np.uint8)
    y = np.array([0, 1, 0, 1])
    path = tmp_path / "g.tcz"
    tc.compress((x, y), path, codec="adq", bits=2.0, shard_size=2, progress=False, classes=["even", "odd"])
    return path


def test_golden_shard_bytes(tmp_path):
    data = (_golden(tmp_path) / "shard-00000.safetensors").read_bytes()
    assert data.hex() == SHARD0_HEX
    header_len = int.from_bytes(data[:8], "little")
    assert (8 + header_len) % 8 == 0  # tensors start aligned


def test_golden_manifest(tmp_path):
    m = json.loads((_golden(tmp_path) / "manifest.json").read_text())
    assert m["provenance"].pop("writer").startswith("torchcompress ")
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC", m["provenance"].pop("created"))
    stats = m.pop("stats")
    assert stats["achieved_bits"] == 2.0 and stats["bits_histogram"] == [0, 4, 0, 0, 0, 0, 0, 0]
    assert abs(stats["mean_psnr_db"] - 36.06844960089364) < 1e-9
    assert stats["source_values"] == 32
    assert m == {
        "classes": ["even", "odd"], "codec": "adq",
        "codec_params": {"allocation": "adaptive", "bits": 2.0},
        "format": "torchcompress", "format_version": 11, "num_samples": 4,
        "provenance": {"source": "arrays"}, "sample_dtype": "uint8", "sample_shape": [1, 2, 4],
        "shards": [
            {"bytes": 328, "file": "shard-00000.safetensors", "start": 0, "stop": 2,
             "xxh3_64": "1f856606c1f3d385"},
            {"bytes": 328, "file": "shard-00001.safetensors", "start": 2, "stop": 4,
             "xxh3_64": "3a3ca173f1a7fc86"},
        ],
    }


def test_golden_decodes_to_known_values(tmp_path):
    ds = tc.open(_golden(tmp_path), output="uint8")
    # sample 0: values 0..49 step 7, centre 24.5, step 24.5/2 -> 4 levels
    x0, y0 = ds[0]
    assert y0 == 0 and ds.classes == ["even", "odd"]
    np.testing.assert_array_equal(x0.numpy().ravel(), [6, 6, 18, 18, 31, 31, 43, 43])


def test_golden_gede_bytes_follow_format_md(tmp_path):
    """A 4-sample GeDe archive whose bytes are derived by hand in the comments."""
    from safetensors.numpy import load_file

    x = np.array([[0, 1, 2, 3], [0, 1, 2, 7], [8, 1, 2, 3], [0, 9, 250, 3]], np.uint8)
    path = tmp_path / "gd.tcz"
    tc.compress((x, np.array([0, 0, 1, 1])), path, codec="gede", progress=False)
    t = load_file(str(path / "tables.safetensors"))
    # class 0: widths 0,1,2,3; only column 3's bit 2 varies (3 vs 7), so everything else is base
    # class 1: widths 4,4,8,2; the varying bits (col0 bit3, col1 bit3, col2 bits 3-7) are deviations
    assert t["widths"].tolist() == [[0, 1, 2, 3], [4, 4, 8, 2]]
    assert t["base_mask"].tolist() == [[0, 1, 3, 3], [7, 7, 7, 3]]
    assert t["num_bases"].tolist() == [1, 1] and t["model_labels"].tolist() == [0, 1]
    # base rows, LSB-first fields: class 0 = 1 | 0b10 << 1 | 0b11 << 3 = 0x1d;
    # class 1 = 0 | 1 << 3 | 2 << 6 | 3 << 9 = 0x0688; then 3 padding bytes
    assert bytes(t["table"]).hex() == "1d8806000000"
    # records: class 0 -> 1 bit (col3 bit2): 0, 1; class 1 -> 7 bits in record order (every
    # column has base bits; deviation widths 1, 1, 5, 0 -> columns 2, 0, 1, 3):
    # sample 2 = (2 >> 3) | col0 bit3 (1) << 5 = 0x20; sample 3 = 250 >> 3 | col1 bit3 (1) << 6 = 0x5f
    rec = load_file(str(path / "shard-00000.safetensors"))["records"]
    assert bytes(rec).hex() == "0001205f000000"
    np.testing.assert_array_equal(torch_stack_uint8(tc.open(path, output="uint8")), x)


def torch_stack_uint8(ds):
    return np.stack([ds[i][0].numpy() for i in range(len(ds))])


# A two-sample lossless archive: (1, 2, 3) uint8 samples, one shard. Both streams are short
# enough that each record is only the final rANS state (3 bytes: format 6's streams start in
# state 1, no 16-bit words). The 250 after a prediction of 4 is coded as format 7's fold, 250
# (zigzag's 492 before).
LOSSLESS_SHARD_HEX = (
    "f0000000000000007b226c656e6774685f62617365223a7b226474797065223a22553332222c22736861706522"
    "3a5b315d2c22646174615f6f666673657473223a5b302c345d7d2c226c6162656c73223a7b226474797065223a"
    "225538222c227368617065223a5b325d2c22646174615f6f666673657473223a5b342c365d7d2c226c656e6774"
    "6873223a7b226474797065223a225538222c227368617065223a5b325d2c22646174615f6f666673657473223a"
    "5b362c385d7d2c227265636f726473223a7b226474797065223a225538222c227368617065223a5b365d2c2264"
    "6174615f6f666673657473223a5b382c31345d7d7d2020030000000001000082a003e70b00")
LOSSLESS_X = np.array([[[[0, 1, 2], [3, 4, 250]]], [[[7, 7, 7], [7, 7, 7]]]], dtype=np.uint8)


def test_golden_lossless_archive(tmp_path):
    path = tmp_path / "l.tcz"
    tc.compress((LOSSLESS_X, np.array([0, 1])), path, shard_size=2, progress=False)
    data = (path / "shard-00000.safetensors").read_bytes()
    assert data.hex() == LOSSLESS_SHARD_HEX
    # data section: length_base U32 [3], labels U8 [0, 1] (format 11: the narrowest integer
    # type that holds them; I64 before) and lengths U8 [0, 0] (format 8: a byte a record over
    # the base where they span less than 256; odd: 3 bytes of state), records: two 3-byte LE
    # states (under 2**24)
    body = data[8 + int.from_bytes(data[:8], "little"):]
    assert body[0:8] == bytes([3, 0, 0, 0, 0, 1, 0, 0])
    assert [int.from_bytes(body[a:a + 3], "little") for a in (8, 11)] == [0x03A082, 0x000BE7]
    m = json.loads((path / "manifest.json").read_text())
    assert m["format_version"] == 11 and m["codec"] == "lossless" and m["sample_shape"] == [1, 2, 3]
    assert m["extras"]["tables"]["xxh3_64"] == "8865011f26ed002e"
    # tables (format 5, packed since 4): per context, its stored token count, then those
    # tokens' log-weights; without colour (format 7) plane 0's map of fine contexts, stored as
    # its entries (format 8): none for two images
    t = load_file(str(path / "tables.safetensors"))
    assert sorted(t) == ["cmap", "cmap_at", "lens", "logf", "meta"]
    assert t["meta"].tolist() == [8, 0, 0]
    assert t["cmap_at"].dtype == np.uint16 and t["cmap_at"].shape == t["cmap"].shape == (0,)
    assert t["lens"].shape == (128,) and int(t["lens"].sum()) == t["logf"].size
    ds = tc.open(path, output="uint8")
    np.testing.assert_array_equal(ds[0][0].numpy(), LOSSLESS_X[0])
    np.testing.assert_array_equal(ds[1][0].numpy(), LOSSLESS_X[1])


# Two 3x6x8 RGB patterns: YCoCg-R, format 5's plane contexts (the previous plane binned by its
# token) and its 32 direct tokens, and format 6's start state (1) and 3-byte states all shape
# these records (a Q_LUT one residual off changed both records and the tables). Format 7 left
# them as they were: the colour transform's planes stay zigzag-coded. Format 9 added subtract
# green (G, B - G, R - G), which codes these two smaller, so the fit's default picks it.
_Y, _X = np.mgrid[0:6, 0:8]
_RGB = np.stack([(_Y * 20 + _X * 9) % 256, (_Y * 13 + _X * 15 + 40) % 256, (_X * _Y * 7 + 3) % 256])
LOSSLESS_RGB_X = np.stack([_RGB, (_RGB * 3 + 17) % 256]).astype(np.uint8)
LOSSLESS_RGB_RECORDS = {
    # colour -> (length_base, lengths, records, the tables file's xxh3_64, meta's colour)
    "ycocg": (31, [0, 64], (
        "f1f3399fa8061459384462f15350fb5270ed2e3416a5163c01a258b6e55b1b81dc1c3a8f0affaa01b603998fe5"
        "74a9ecb012c18c3ed438dbf5e21bf588dbdf72bb0ddd65c75d599f82459c74d03441b3963337fb222c81ea6a67"
        "6b7de6a3c78eeb565c5e9e55da8f30165a55c102b1a2eb289203069a1d138624efc20beb"),
        "85c525e162796884", 1),
    "auto": (18, [0, 79], (
        "cc86d0010ea308dc8f240927c694e0f82a2afcb8028579573ecff7cbff06abe8592036ab7ae8878f74ed2e09"
        "501c5d0837bf184a56d9ec03002338c2244ee74c048dce158eae05d2c11f344175f048bd6f829e3a266d6955"
        "4ecce4f103181aa84e1b13dc534f8e011733635b6e046054f35707"),
        "64a28d86cc36cd00", 2),
    # format 10: the least-squares model. Its weights stay on MED alone here (each bin saw
    # fewer than 64 values) and the fit leaves the biases at zero, so the records are MED's,
    # byte for byte ("auto" above); the tables add lsw and lsb. (With fitted biases, before
    # b8f2bea, they were 12 + [0, 54] bytes: the test_ls tests keep such archives decoding.)
    "least_squares": (18, [0, 79], (
        "cc86d0010ea308dc8f240927c694e0f82a2afcb8028579573ecff7cbff06abe8592036ab7ae8878f74ed2e09"
        "501c5d0837bf184a56d9ec03002338c2244ee74c048dce158eae05d2c11f344175f048bd6f829e3a266d6955"
        "4ecce4f103181aa84e1b13dc534f8e011733635b6e046054f35707"),
        "b32d23c82e8b9257", 2),
}


@pytest.mark.parametrize("colour", sorted(LOSSLESS_RGB_RECORDS))
def test_golden_lossless_rgb_records(tmp_path, colour):
    base, lengths, records, tables_hash, meta_colour = LOSSLESS_RGB_RECORDS[colour]
    path = tmp_path / "c.tcz"
    params = {"predictor": colour} if colour == "least_squares" else {"colour": colour}
    tc.compress((LOSSLESS_RGB_X, np.array([0, 1])), path, shard_size=2, progress=False,
                **params)
    t = load_file(str(path / "shard-00000.safetensors"))
    # coded: under the 144 raw bytes; 3 bytes of state; U8 over a base
    assert t["length_base"].tolist() == [base] and t["lengths"].tolist() == lengths
    assert bytes(t["records"]).hex() == records
    m = json.loads((path / "manifest.json").read_text())
    assert m["extras"]["tables"]["xxh3_64"] == tables_hash
    tables = load_file(str(path / "tables.safetensors"))
    assert tables["meta"].tolist() == [8, 0, meta_colour]
    assert ("lsw" in tables) == ("lsb" in tables) == (colour == "least_squares")
    ds = tc.open(path, output="uint8")
    np.testing.assert_array_equal(np.stack([ds[i][0].numpy() for i in range(2)]), LOSSLESS_RGB_X)


# A two-sample lossy archive at bits=2: an 8x8 flat grey image and an 8x8 ramp, one shard.
LOSSY_SHARD_HEX = (
    "f0000000000000007b226c656e6774685f62617365223a7b226474797065223a22553332222c22736861706522"
    "3a5b315d2c22646174615f6f666673657473223a5b302c345d7d2c226c6162656c73223a7b226474797065223a"
    "225538222c227368617065223a5b325d2c22646174615f6f666673657473223a5b342c365d7d2c226c656e6774"
    "6873223a7b226474797065223a225538222c227368617065223a5b325d2c22646174615f6f666673657473223a"
    "5b362c385d7d2c227265636f726473223a7b226474797065223a225538222c227368617065223a5b31365d2c22"
    "646174615f6f666673657473223a5b382c32345d7d7d20050000000001000600d5a784000075385700ff6c0691"
    "f282")
LOSSY_X = np.stack([np.full((8, 8), 100, np.uint8),
                    np.add.outer(np.arange(8), np.arange(8)).astype(np.uint8) * 16])


def test_golden_lossy_archive(tmp_path):
    path = tmp_path / "y.tcz"
    tc.compress((LOSSY_X, np.array([0, 1])), path, codec="lossy", bits=2.0, shard_size=2,
                progress=False)
    data = (path / "shard-00000.safetensors").read_bytes()
    assert data.hex() == LOSSY_SHARD_HEX
    # data section: length_base U32 [5], labels U8 [0, 1] (format 11) and lengths U8 [0, 6]
    # (format 8's byte lengths), then the records: a scale byte (< 128) and an rANS stream
    # that opens with its 4-byte LE state (>= 2**16)
    body = data[8 + int.from_bytes(data[:8], "little"):]
    assert body[0:8] == bytes([5, 0, 0, 0, 0, 1, 0, 6])
    assert body[8] == 0 and int.from_bytes(body[9:13], "little") == 0x0084A7D5
    assert body[13] == 0 and int.from_bytes(body[14:18], "little") >= 1 << 16
    m = json.loads((path / "manifest.json").read_text())
    assert m["codec"] == "lossy" and m["sample_shape"] == [8, 8]
    assert m["extras"]["tables"]["xxh3_64"] == "e6adad6d30250d88"
    tables = load_file(str(path / "tables.safetensors"))
    assert tables["mat"].tolist() == [[1.0]] and tables["mean"].tolist() == [106.0]
    assert tables["lens"].shape == (238,) and int(tables["lens"].sum()) == tables["logf"].size
    ds = tc.open(path)
    np.testing.assert_array_equal(ds[0][0].numpy(), LOSSY_X[0])
    np.testing.assert_array_equal(ds[1][0].numpy(), LOSSY_X[1])
