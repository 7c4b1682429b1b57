"""A folder of compressed image files can be smaller than an archive of its pixels: compress
says so, with the files' bytes in its info and the codec that keeps them."""

import warnings

import numpy as np
import pytest
from PIL import Image

import torchcompress as tc
from torchcompress.cli import main
from torchcompress.datasets import source_files


def _folder(root, fmt, n=6, **save):
    rng = np.random.default_rng(0)
    for k in range(n):
        d = root / ("a" if k % 2 else "b")
        d.mkdir(parents=True, exist_ok=True)
        if fmt == "JPEG":  # noise: JPEG drops most of it, an exact copy keeps all of it
            a = rng.integers(0, 256, (24 + k, 20, 3), dtype=np.uint8)
        else:  # flat: any lossless archive is far below uncompressed PNG files
            a = np.full((24 + k, 20, 3), 40 * k, dtype=np.uint8)
        Image.fromarray(a).save(d / f"{k}.{fmt.lower()}", fmt, **save)
    return root, sum(p.stat().st_size for p in root.rglob("*.*"))


def test_archive_larger_than_jpeg_files_warns(tmp_path):
    root, files = _folder(tmp_path / "jpegs", "JPEG", quality=30)
    with pytest.warns(tc.LargerThanFilesWarning) as caught:
        info = tc.compress(root, tmp_path / "j.tcz", progress=False)
    assert info["source_file_bytes"] == files and info["bytes"] > files
    (w,) = caught
    assert w.filename == __file__  # points at the caller's line
    ratio = info["bytes"] / files
    assert str(w.message).startswith(f"the archive ({info['bytes']:,} bytes) is {ratio:.2f}x the "
                                     f"source's image files ({files:,} bytes): ")
    assert "codec='lossless' stores. To keep them smaller, codec='original'" in str(w.message)


def test_smaller_archive_and_original_files_do_not_warn(tmp_path):
    root, files = _folder(tmp_path / "pngs", "PNG", compress_level=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        info = tc.compress(root, tmp_path / "p.tcz", progress=False)
        assert info["source_file_bytes"] == files and info["bytes"] < files
        jroot, _ = _folder(tmp_path / "jpegs", "JPEG", quality=30)
        info = tc.compress(jroot, tmp_path / "o.tcz", codec="original", progress=False)
    assert "source_file_bytes" not in info
    arrays = (np.zeros((2, 1, 4, 4), np.uint8), np.zeros(2, np.int64))  # no files to compare
    assert "source_file_bytes" not in tc.compress(arrays, tmp_path / "a.tcz", progress=False)


def test_many_files_are_measured_on_an_even_sample(tmp_path, monkeypatch):
    class Listed:
        samples = []

    for k in range(10):
        (tmp_path / f"{k}.bin").write_bytes(b"x" * (k + 1))
        Listed.samples.append((str(tmp_path / f"{k}.bin"), 0))
    assert source_files.file_bytes(Listed) == (55, True)
    monkeypatch.setattr(source_files, "MEASURED", 4)  # rows 0, 3, 6, 9: 1 + 4 + 7 + 10 bytes
    assert source_files.file_bytes(Listed) == (round(22 * 10 / 4), False)
    Listed.samples[3] = (str(tmp_path / "gone.bin"), 0)
    assert source_files.file_bytes(Listed) is None  # a file gone: no note, not a wrong one


def test_cli_prints_the_note_in_flags(tmp_path, capsys):
    root, _ = _folder(tmp_path / "jpegs", "JPEG", quality=30)
    assert main(["compress", str(root), str(tmp_path / "c.tcz"), "--quiet"]) == 0
    err = capsys.readouterr().err
    assert err.startswith("note: the archive (") and err.count("\n") == 1
    assert "which --codec lossless stores. To keep them smaller, --codec original" in err
    assert "or --codec lossy with --bits stores" in err


def test_a_lossy_archive_larger_than_the_files_points_to_fewer_bits(tmp_path):
    root, files = _folder(tmp_path / "jpegs", "JPEG", quality=30)
    with pytest.warns(tc.LargerThanFilesWarning) as caught:
        info = tc.compress(root, tmp_path / "l.tcz", codec="lossy", bits=8.0, progress=False)
    assert info["bytes"] > files
    message = str(caught[0].message)
    assert "codec='lossy' at these settings keeps more than the files do" in message
    assert "exact copy" not in message and message.endswith("a smaller bits= (or another mode) "
                                                            "shrinks this archive")


@pytest.mark.parametrize("codec", ["lossless", "original"])
def test_a_target_transform_gives_the_labels_and_drops_names_it_moves(tmp_path, codec):
    """ImageFolder(root, target_transform=superclass): codec='original' took the labels from
    .samples, not the ones the dataset gives (silently other labels), and both codecs kept the
    folder's class names for the superclass labels."""
    import torch
    import torchvision

    rng = np.random.default_rng(0)
    for c in "abcd":
        (tmp_path / "f" / c).mkdir(parents=True)
        for k in range(2):
            Image.fromarray(rng.integers(0, 256, (6, 5, 3), dtype=np.uint8)).save(
                tmp_path / "f" / c / f"{k}.png")
    superclass = torchvision.datasets.ImageFolder(tmp_path / "f", target_transform=lambda y: y // 2)
    with pytest.warns(UserWarning, match=r"target_transform maps its class indices to other "
                                         r"labels, so its classes \(a, b, c, d\) do not name them"):
        tc.compress(superclass, tmp_path / "s.tcz", codec=codec, progress=False)
    ds = tc.open(tmp_path / "s.tcz")
    assert ds.targets.tolist() == [superclass[i][1] for i in range(8)] == [0] * 4 + [1] * 4
    assert ds.classes is None
    as_tensor = torchvision.datasets.ImageFolder(tmp_path / "f",
                                                 target_transform=lambda y: torch.tensor(y))
    with warnings.catch_warnings():
        warnings.filterwarnings("error", message=".*target_transform")
        tc.compress(as_tensor, tmp_path / "t.tcz", codec=codec, progress=False)
    ds = tc.open(tmp_path / "t.tcz")
    assert ds.classes == list("abcd") and ds.targets.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
