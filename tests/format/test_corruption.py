"""Every corrupt archive raises FormatError naming the file; never a crash or a bad read."""

import json
import os

import numpy as np
import pytest

import torchcompress as tc
from torchcompress import FormatError
from torchcompress.format import FORMAT_VERSION

from .edits import edit_manifest, flip_byte

SHARD = "shard-00001.safetensors"


def _header_len(path):
    return 8 + int.from_bytes(path.read_bytes()[:8], "little")


def test_truncated_shard(archive):
    p = archive / SHARD
    p.write_bytes(p.read_bytes()[:-10])
    with pytest.raises(FormatError, match=f"{SHARD}: size is .* the shard is truncated"):
        tc.open(archive)


def test_truncated_inside_header(archive):
    p = archive / SHARD
    p.write_bytes(p.read_bytes()[:40])
    edit_manifest(archive, lambda m: m["shards"][1].update(bytes=40))
    with pytest.raises(FormatError, match=f"{SHARD}: header length \\d+ does not fit"):
        tc.open(archive)


@pytest.mark.parametrize("mask", [0xFF, 0x01, 0x20], ids=["xorFF", "xor01", "xor20"])
def test_every_flipped_header_byte(archive, mask):
    p = archive / SHARD
    clean = p.read_bytes()
    survived = []
    for pos in range(_header_len(p)):
        data = bytearray(clean)
        data[pos] ^= mask
        p.write_bytes(bytes(data))
        try:
            tc.open(archive)
            survived.append(pos)
        except FormatError as e:
            assert SHARD in str(e)
    p.write_bytes(clean)
    # Only flips that leave an equivalent header may open (JSON whitespace, key order).
    for pos in survived:
        data = bytearray(clean)
        data[pos] ^= mask
        head = data[8:_header_len(p)].decode()
        assert json.loads(head) == json.loads(clean[8:_header_len(p)].decode()), pos


def test_missing_shard(archive):
    os.remove(archive / SHARD)
    with pytest.raises(FormatError, match=f"{SHARD}: shard file is missing"):
        tc.open(archive)


def test_archive_replaced_after_open_raises_at_first_use(tmp_path):
    """Shards are mapped on first use: an archive compressed again at the same path after
    ``tc.open`` (before its first ``ds[i]``) raises a FormatError that says so, instead of
    decoding the new shards under the old manifest and tables."""
    rng = np.random.default_rng(0)
    path = tmp_path / "r.tcz"
    x = rng.integers(0, 256, (40, 3, 8, 8)).astype(np.uint8)
    tc.compress((x, np.arange(40) % 2), path, progress=False)
    ds = tc.open(path, output="uint8")
    smooth = np.clip(np.add.outer(np.arange(8), np.arange(8)) * 9
                     + rng.integers(0, 5, (40, 3, 8, 8)), 0, 255).astype(np.uint8)
    tc.compress((smooth, np.arange(40) % 2), path, progress=False, overwrite=True)
    with pytest.raises(FormatError, match=r"shard-00000.safetensors: size is \d+ bytes, the "
                                          r"manifest records \d+; the shard is truncated or was "
                                          r"replaced after the archive was opened .* open it again"):
        ds[0]
    np.testing.assert_array_equal(tc.open(path, output="uint8")[3][0].numpy(), smooth[3])


@pytest.mark.parametrize("codec", ["lossless", "adq"])
def test_an_archive_replaced_by_one_of_the_same_size_is_named(tmp_path, codec):
    """Noise stored raw (lossless) or ADQ's fixed bits give shards of one size for any data of
    one shape: the size check passed, and ds[i] (or a DataLoader worker, forked or spawned)
    decoded the new samples under the old labels, silently."""
    import torch

    rng = np.random.default_rng(0)
    path = tmp_path / "r.tcz"
    x, y = rng.integers(0, 256, (40, 3, 8, 8)).astype(np.uint8), np.arange(40) % 2
    tc.compress((x, y), path, codec=codec, progress=False)
    ds, seen = tc.open(path), tc.open(path)
    seen[0]  # shard mapped before: it keeps the old files' bytes, as any open file does
    sizes = (path / "shard-00000.safetensors").stat().st_size
    tc.compress((255 - x, y), path, codec=codec, progress=False, overwrite=True)
    assert (path / "shard-00000.safetensors").stat().st_size == sizes
    match = (r"shard-00000.safetensors: the shard was replaced after the archive was opened "
             r"\(e.g. compressed again with overwrite=True\), so it would decode under the old "
             r"manifest and labels: open the archive again")
    with pytest.raises(FormatError, match=match):
        ds[0]
    for ctx in ("fork", "spawn"):
        loader = torch.utils.data.DataLoader(ds, batch_size=4, num_workers=1,
                                             multiprocessing_context=ctx)
        with pytest.raises(FormatError, match=match):
            next(iter(loader))
    if codec == "lossless":
        np.testing.assert_array_equal(seen[1][0].numpy(), x[1])
        np.testing.assert_array_equal(tc.open(path)[1][0].numpy(), 255 - x[1])


def test_newer_format_version(archive):
    edit_manifest(archive, lambda m: m.update(format_version=FORMAT_VERSION + 1))
    with pytest.raises(FormatError, match=f"format_version {FORMAT_VERSION + 1} is newer .* "
                                          "upgrade torchcompress"):
        tc.open(archive)


def test_offsets_outside_file(archive):
    p = archive / SHARD
    data = p.read_bytes()
    n = _header_len(p)
    head = json.loads(data[8:n])
    b, e = head["payload"]["data_offsets"]
    old = f'"data_offsets":[{b},{e}]'.encode()
    new = f'"data_offsets":[{b},{"9" * len(str(e))}]'.encode()  # same length, past the end
    assert old in data and int("9" * len(str(e))) > len(data) - n
    p.write_bytes(data.replace(old, new))
    with pytest.raises(FormatError, match=f"{SHARD}: tensor 'payload' offsets .* point outside"):
        tc.open(archive)


def test_label_count_differs_from_num_samples(archive):
    def grow(m):
        m["num_samples"] += 1
        m["shards"][-1]["stop"] += 1
    edit_manifest(archive, grow)
    with pytest.raises(FormatError, match="label count != num_samples"):
        tc.open(archive)


def test_manifest_shards_do_not_cover(archive):
    edit_manifest(archive, lambda m: m.update(num_samples=m["num_samples"] + 5))
    with pytest.raises(FormatError, match=r"shards cover 40 samples but num_samples=45"):
        tc.open(archive)


def test_bad_manifest(archive):
    (archive / "manifest.json").write_text("{not json")
    with pytest.raises(FormatError, match="manifest.json: not valid JSON"):
        tc.open(archive)
    (archive / "manifest.json").write_text(json.dumps({"format": "zip"}))
    with pytest.raises(FormatError, match="'format' should be 'torchcompress', found 'zip'"):
        tc.open(archive)


@pytest.mark.parametrize("edit, match", [
    (lambda m: m["codec_params"].update(bit5=2.0), r"got unknown parameter\(s\) \['bit5'\]"),
    (lambda m: m.update(codec="adq9"), r"codec should be one of 'adq', 'gede', 'lossless', 'lossy', 'original', but got codec='adq9'"),
    (lambda m: m["codec_params"].update(bits=-1), r"bits should be in \[1, 8\], but got bits=-1"),
], ids=["unknown-param", "unknown-codec", "bad-value"])
def test_manifest_codec_params_unreadable(archive, edit, match):
    """A corrupt codec entry is a FormatError naming manifest.json, not a bare TypeError."""
    edit_manifest(archive, edit)
    with pytest.raises(FormatError, match=r"manifest.json: codec .* cannot be read \(.*" + match):
        tc.open(archive)


def test_shard_name_escaping_archive(archive):
    edit_manifest(archive, lambda m: m["shards"][0].update(file="../x.safetensors"))
    with pytest.raises(FormatError, match="must be a plain file name"):
        tc.open(archive)


def test_codec_array_out_of_range(archive):
    """A bits value of 9 is caught at open, before the kernel could over-read."""
    p = archive / SHARD
    data = bytearray(p.read_bytes())
    n = _header_len(p)
    b, _ = json.loads(data[8:n])["bits"]["data_offsets"]
    data[n + b] = 9
    p.write_bytes(bytes(data))
    with pytest.raises(FormatError, match=rf"{SHARD}: bits\[0\]=9 is outside 1..8"):
        tc.open(archive)


def test_verify_detects_flipped_payload(archive):
    assert tc.verify(archive)["num_samples"] == 40
    flip_byte(archive / SHARD, -1, 0x10)
    with pytest.raises(FormatError, match=f"{SHARD}: xxh3-64 is .* the file is corrupt"):
        tc.verify(archive)


def test_not_an_archive(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        tc.open(tmp_path / "nope.tcz")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FormatError, match="manifest.json: missing"):
        tc.open(tmp_path / "empty")
    (tmp_path / "x.npz").write_bytes(b"not an archive")
    with pytest.raises(NotADirectoryError, match=r"x.npz' is a file, but an archive is a "
                                                 r"directory.*; to compress this file, pass it "
                                                 r"to tc.compress"):
        tc.open(tmp_path / "x.npz")


def test_a_file_inside_an_archive_names_the_archive(archive):
    for name in ("manifest.json", SHARD):
        with pytest.raises(NotADirectoryError, match=rf"{name}' is a file, .*; open its folder, "
                                                     rf"tc.open\('{archive}'\)"):
            tc.open(archive / name)


def test_a_path_without_its_ending_or_an_image_folder_says_what_to_do(tmp_path, archive):
    stem = str(archive)[:-len(".tcz")] if str(archive).endswith(".tcz") else None
    assert stem is not None
    with pytest.raises(FileNotFoundError, match=rf"did you mean '{archive}'\?"):
        tc.open(stem)
    (tmp_path / "imgs" / "cat").mkdir(parents=True)
    (tmp_path / "imgs" / "cat" / "0.JPG").write_bytes(b"")
    with pytest.raises(FormatError, match=r"is not a torchcompress archive; it holds folders of "
                                          r"images \(cat\), as an image folder does: compress "
                                          r"it first, tc.compress\("):
        tc.open(tmp_path / "imgs")
    (tmp_path / "other" / "logs").mkdir(parents=True)  # folders, but no images: no such hint
    with pytest.raises(FormatError, match=r"'[^']*other' is not a torchcompress archive$"):
        tc.open(tmp_path / "other")


def test_a_path_of_bytes_opens_and_none_is_named(archive):
    for opener in (tc.open, tc.verify, tc.CompressedDataset):
        with pytest.raises(TypeError, match=r"path should be a str or os.PathLike naming an archive "
                                            r"directory, but got NoneType"):
            opener(None)
    assert len(tc.open(os.fsencode(archive))) == 40
    assert tc.verify(os.fsencode(archive))["num_samples"] == 40


@pytest.mark.parametrize("shape, match", [
    ([2], r"target_shape \[2\] should be \[\] or \[1\]"),
    ([1], r"target_shape \[1\] is for real-valued targets, but the labels are int64"),
    ("x", "missing or malformed field")])
def test_a_bad_target_shape(archive, shape, match):
    edit_manifest(archive, lambda m: m.update(target_shape=shape))
    with pytest.raises(FormatError, match=match):
        tc.open(archive)
