import json
import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image

import torchcompress as tc
from torchcompress.cli import main


def test_all_is_sorted_and_exported():
    assert tc.__all__ == sorted(tc.__all__)
    for name in tc.__all__:
        assert hasattr(tc, name), name
    assert issubclass(tc.FormatError, ValueError) and issubclass(tc.CodecError, ValueError)


def test_codecs_and_format_do_not_import_torch():
    root = pathlib.Path(tc.__file__).parent
    for sub in ("codecs", "format"):
        files = list((root / sub).rglob("*.py"))
        assert files
        for f in files:
            text = f.read_text()
            assert "import torch" not in text and "from torch" not in text, f


def test_cli_compress_info_verify_demo(tmp_path, capsys):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "d.npz", x=rng.integers(0, 256, (20, 4, 4, 3), dtype=np.uint8),
             y=np.arange(20) % 2)
    out = tmp_path / "d.tcz"
    assert main(["compress", str(tmp_path / "d.npz"), str(out), "--codec", "adq", "--bits", "3",
                 "--layout", "HWC", "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "codec      adq (allocation='adaptive', bits=3.0)" in text
    assert "lossy: mean PSNR" in text and "3.000 bits per value" in text
    assert main(["info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["sample_shape"] == [3, 4, 4] and info["label_counts"] == {"0": 10, "1": 10}
    assert info["adq"]["bits_histogram"][2] == 20 and "bits_histogram" not in info
    assert main(["verify", str(out)]) == 0
    said = capsys.readouterr().out  # as info counts them, but for the manifest
    assert "OK: 20 samples in 1 shard, " in said
    manifest = (out / "manifest.json").stat().st_size
    assert f"{info['bytes'] - manifest:,} bytes of shards and tables" in said
    (out / "shard-00000.safetensors").write_bytes(b"\0" * 8)
    assert main(["verify", str(out)]) == 1
    assert "FAILED:" in capsys.readouterr().err
    assert main(["demo", "--npz", str(tmp_path / "d.npz"), "--layout", "HWC", "--bits", "2"]) == 0
    table = capsys.readouterr().out
    assert "| 2 | 2.000 |" in table and "batched/s" in table
    assert "GeDe lossless (mode='lossless', class-wise)" in table and "verified=True" in table
    assert "lossless (the default codec):" in table and "bit-exact: True" in table


def test_cli_info_is_readable(tmp_path, capsys):
    x = np.random.default_rng(0).integers(0, 256, (12, 3, 8, 8), dtype=np.uint8)
    tc.compress((x, np.arange(12) % 3), tmp_path / "n.tcz", codec="gede", classes=["a", "b", "c"],
                progress=False)
    assert main(["info", str(tmp_path / "n.tcz")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) <= 12 and all(len(line) <= 200 for line in lines)
    text = "\n".join(lines)
    assert "samples    12 of shape (3, 8, 8) uint8, in 1 shard(s)" in text
    assert "labels     3 classes (a: 4, b: 4, c: 4)" in text
    assert "exactness  exact: every sample was decoded and compared" in text
    assert re.search(r"written by torchcompress \S+ on \d{4}-\d\d-\d\d \d\d:\d\d UTC", text)
    assert "gede details (use --json for all): " in text and "eq1_bytes=" in text
    assert "WARNING: the archive is larger than its source" in text  # noise under GeDe 'none'


def test_cli_info_into_a_closed_pipe_exits_quietly(tmp_path):
    """`torchcompress info x | head -1` printed "error: [Errno 32] Broken pipe" and exited 2
    once head had what it wanted."""
    x = np.zeros((4, 1, 2, 2), np.uint8)
    tc.compress((x, np.zeros(4, dtype=int)), tmp_path / "p.tcz", progress=False)
    for extra in ([], ["--json"]):
        r, w = os.pipe()
        os.close(r)  # the reader is gone before the first line: every write fails
        try:
            done = subprocess.run([sys.executable, "-m", "torchcompress", "info",
                                   str(tmp_path / "p.tcz"), *extra], stdout=w,
                                  stderr=subprocess.PIPE, text=True, timeout=120)
        finally:
            os.close(w)
        assert done.returncode == 0 and done.stderr == "", done.stderr


def _run(argv, capsys):
    try:
        code = main(argv)
    except SystemExit as e:  # argparse's own usage errors
        code = e.code
    err = capsys.readouterr().err
    return code, err


@pytest.mark.parametrize("flags, match", [
    (["--bits", "3"], "--bits does not apply to --codec lossless; its flags are --fit-samples"),
    (["--codec", "adq", "--tau", "4"],
     "--tau does not apply to --codec adq; its flags are --bits, --allocation"),
    (["--codec", "gede", "--bits", "2", "--allocation", "uniform"],
     "--bits, --allocation do not apply to --codec gede; its flags are --fit-samples, --mode, "
     "--tau, --one-model"),
    (["--codec", "lossless", "--one-model"], "--one-model does not apply to --codec lossless"),
    (["--codec", "adq", "--mode", "dct"], "--mode does not apply to --codec adq"),
    (["--codec", "lossy", "--allocation", "uniform"],
     "--allocation does not apply to --codec lossy; its flags are --fit-samples, --bits"),
    (["--codec", "lossy", "--colour", "ycocg"],
     "--colour does not apply to --codec lossy; its flags are --fit-samples, --bits"),
], ids=["bits-lossless", "tau-adq", "two-gede", "one-model", "mode-adq", "allocation-lossy",
        "colour-lossy"])
def test_cli_flag_of_another_codec_exits_2(tmp_path, capsys, flags, match):
    np.savez(tmp_path / "d.npz", x=np.zeros((4, 3, 4, 4), np.uint8), y=np.zeros(4, dtype=int))
    code, err = _run(["compress", str(tmp_path / "d.npz"), str(tmp_path / "o.tcz"), *flags], capsys)
    assert code == 2 and match in err and "Traceback" not in err and err.count("\n") == 1
    assert not (tmp_path / "o.tcz").exists()


def test_cli_user_errors_are_one_line_naming_flags(tmp_path, capsys):
    np.savez(tmp_path / "hwc.npz", x=np.zeros((4, 8, 8, 3), np.uint8), y=np.zeros(4, dtype=int))
    (tmp_path / "photo.jpg").write_bytes(b"\xff\xd8\xff")
    (tmp_path / "empty").mkdir()
    (tmp_path / "sizes" / "a").mkdir(parents=True)
    for i, w in enumerate((5, 6)):
        Image.fromarray(np.zeros((4, w, 3), np.uint8)).save(tmp_path / "sizes" / "a" / f"{i}.png")
    out = str(tmp_path / "o.tcz")
    cases = [
        (["compress", str(tmp_path / "nope.npz"), out], "does not exist"),
        (["compress", str(tmp_path / "empty"), out], "is a directory but not an image folder"),
        (["compress", str(tmp_path / "photo.jpg"), out], "is not an .npz or an image folder"),
        (["compress", str(tmp_path / "hwc.npz"), out], "pass --layout HWC to convert them"),
        (["compress", str(tmp_path / "hwc.npz"), out, "--codec", "adq", "--bits", "9"],
         "bits should be in [1, 8], but got --bits 9"),
        (["info", str(tmp_path / "missing.tcz")], "missing.tcz' does not exist"),
        (["compress", "--codec", "zip", "a", "b"], "invalid choice: 'zip'"),
        (["compress", str(tmp_path / "sizes"), out, "--codec", "adq"],
         "use --codec lossless or lossy (any shape), or pass --resize H W to give them one"),
        (["compress", str(tmp_path / "sizes"), out, "--codec", "adq", "--resize", "0", "4"],
         "resize[0] should be a positive integer value, but got --resize 0"),
    ]
    for argv, match in cases:
        code, err = _run(argv, capsys)
        assert code == 2 and match in err and "Traceback" not in err, (argv, err)
        assert err.count("\n") == 1, err
    assert main(["compress", str(tmp_path / "hwc.npz"), out, "--layout", "HWC", "--quiet"]) == 0
    capsys.readouterr()
    code, err = _run(["compress", str(tmp_path / "hwc.npz"), out, "--layout", "HWC"], capsys)
    assert code == 2 and "already exists; pass --overwrite to replace it" in err
    with pytest.raises(FileExistsError):  # --debug shows the real exception
        main(["--debug", "compress", str(tmp_path / "hwc.npz"), out, "--layout", "HWC"])


def test_module_entry_point_runs():
    r = subprocess.run([sys.executable, "-m", "torchcompress", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "compress" in r.stdout and "demo" in r.stdout


def test_cli_compress_lossless_least_squares(tmp_path, capsys):
    x = np.clip(np.add.outer(np.arange(8), np.arange(8)) * 9
                + np.random.default_rng(0).integers(0, 20, (6, 3, 8, 8)), 0, 255).astype(np.uint8)
    np.savez(tmp_path / "c.npz", x=x, y=np.arange(6) % 2)
    out = tmp_path / "c.tcz"
    assert main(["compress", str(tmp_path / "c.npz"), str(out), "--predictor", "least_squares",
                 "--quiet"]) == 0
    assert "predictor=least_squares" in capsys.readouterr().out
    assert main(["info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["codec_params"]["predictor"] == "least_squares"
    assert info["lossless"]["predictor"] == "least_squares"
    ds = tc.open(out, output="uint8")
    np.testing.assert_array_equal(np.stack([ds[i][0].numpy() for i in range(6)]), x)
    code, err = _run(["compress", str(tmp_path / "c.npz"), str(tmp_path / "o.tcz"), "--codec",
                      "lossy", "--predictor", "med"], capsys)
    assert code == 2 and "--predictor does not apply to --codec lossy" in err


@pytest.mark.parametrize("colour", ["ycocg", "subtract_green"])
def test_cli_compress_lossless_colour(tmp_path, capsys, colour):
    x = np.clip(np.add.outer(np.arange(8), np.arange(8)) * 9
                + np.random.default_rng(0).integers(0, 20, (6, 3, 8, 8)), 0, 255).astype(np.uint8)
    np.savez(tmp_path / "c.npz", x=x, y=np.arange(6) % 2)
    out = tmp_path / "c.tcz"
    assert main(["compress", str(tmp_path / "c.npz"), str(out), "--colour", colour,
                 "--quiet"]) == 0
    assert f"colour={colour}" in capsys.readouterr().out
    assert main(["info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["codec_params"]["colour"] == colour and info["lossless"]["colour"] == colour
    ds = tc.open(out, output="uint8")
    np.testing.assert_array_equal(np.stack([ds[i][0].numpy() for i in range(6)]), x)


def test_cli_compress_gede_lossless(tmp_path, capsys):
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (12, 3, 8, 8), dtype=np.uint8)
    np.savez(tmp_path / "g.npz", x=x, y=np.arange(12) % 3)
    out = tmp_path / "g.tcz"
    assert main(["compress", str(tmp_path / "g.npz"), str(out), "--codec", "gede",
                 "--mode", "lossless"]) == 0
    assert "exactness  exact" in capsys.readouterr().out
    # above --fit-samples it streams (scan, fit on 4 samples, deduplicate): still exact
    assert main(["compress", str(tmp_path / "g.npz"), str(tmp_path / "s.tcz"), "--codec", "gede",
                 "--fit-samples", "4"]) == 0
    assert "fit_samples=4" in capsys.readouterr().out
    ds = tc.open(tmp_path / "s.tcz", output="uint8")
    np.testing.assert_array_equal(np.stack([ds[i][0].numpy() for i in range(12)]), x)
    ds = tc.open(out, output="uint8")
    np.testing.assert_array_equal(np.stack([ds[i][0].numpy() for i in range(12)]), x)


_FLAG_VALUES = {"--fit-samples": ["8"], "--bits": ["2"], "--allocation": ["uniform"],
                "--mode": ["dct"], "--tau": ["4"], "--one-model": []}
_OWNERS = {"--fit-samples": ("lossless", "lossy", "gede"), "--bits": ("adq", "lossy"), "--allocation": ("adq",),
           "--mode": ("gede",), "--tau": ("gede",), "--one-model": ("gede",)}
_MISMATCHES = [(codec, flag) for codec in ("lossless", "lossy", "original", "adq", "gede") for flag in _FLAG_VALUES
               if codec not in _OWNERS[flag]]


@pytest.mark.parametrize("codec, flag", _MISMATCHES, ids=[f"{c}{f}" for c, f in _MISMATCHES])
def test_cli_every_foreign_flag_exits_2(tmp_path, capsys, codec, flag):
    code, err = _run(["compress", "x.npz", str(tmp_path / "o.tcz"), "--codec", codec, flag,
                      *_FLAG_VALUES[flag]], capsys)
    rest = "it takes no codec flags" if codec == "original" else "its flags are --"
    assert code == 2 and f"{flag} does not apply to --codec {codec}; {rest}" in err
    assert "Traceback" not in err and err.count("\n") == 1


def test_cli_folder_and_torchvision_sources(tmp_path, capsys):
    from PIL import Image

    rng = np.random.default_rng(0)
    for c in ("ants", "bees"):
        (tmp_path / "photos" / c).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(rng.integers(0, 256, (5 + i, 7, 3), dtype=np.uint8)).save(
                tmp_path / "photos" / c / f"{i}.png")
    for k, source in enumerate([str(tmp_path / "photos"), f"torchvision:ImageFolder:{tmp_path / 'photos'}"]):
        out = tmp_path / f"p{k}.tcz"
        assert main(["compress", source, str(out), "--quiet"]) == 0
        text = capsys.readouterr().out
        assert "labels     2 classes (ants: 3, bees: 3)" in text and "of shape (3, any, 7)" in text
        ds = tc.open(out)
        assert ds.classes == ["ants", "bees"] and ds[4][0].shape == (3, 6, 7)
        assert ds.class_to_idx == {"ants": 0, "bees": 1}  # as torchvision's ImageFolder
    assert main(["compress", str(tmp_path / "photos"), str(tmp_path / "r.tcz"), "--codec", "adq",
                 "--resize", "4", "5", "--quiet"]) == 0
    assert "of shape (3, 4, 5)" in capsys.readouterr().out
    assert main(["compress", str(tmp_path / "photos"), str(tmp_path / "e.tcz"), "--resize", "3",
                 "--quiet", "--overwrite"]) == 0  # the shorter edge, as Resize(3)
    assert tc.open(tmp_path / "e.tcz")[4][0].shape == (3, 3, 3)
    code, err = _run(["compress", str(tmp_path / "photos"), str(tmp_path / "f.tcz"),
                      "--resize", "3", "4", "5"], capsys)
    assert code == 2 and "--resize takes H W or one N (the shorter edge), but got 3" in err
    code, err = _run(["compress", "torchvision:NoSuchSet:data", str(tmp_path / "x.tcz")], capsys)
    assert code == 2 and "'NoSuchSet' is not a torchvision dataset class" in err
    code, err = _run(["compress", "torchvision:MNIST:" + str(tmp_path / "none"),
                      str(tmp_path / "x.tcz")], capsys)
    assert code == 2 and "Dataset not found" in err and err.count("\n") == 1
    # the demo names its torchvision dataset the same way (it raised torch's RuntimeError with a
    # traceback), as NAME with --root or as NAME:ROOT
    for args in (["--torchvision", "MNIST", "--root", str(tmp_path / "none")],
                 ["--torchvision", f"MNIST:{tmp_path / 'none'}"]):
        code, err = _run(["demo", *args], capsys)
        assert code == 2 and "torchcompress demo: error: --torchvision 'MNIST" in err
        assert "Dataset not found" in err and f"(root '{tmp_path / 'none'}')" in err
    code, err = _run(["demo", "--torchvision", "NoSuchSet"], capsys)
    assert code == 2 and "'NoSuchSet' is not a torchvision dataset class" in err


def _idx_file(path, a):
    """An MNIST file as torchvision reads it: the idx header (ubyte, ndim), sizes, the bytes."""
    dims = b"".join(int(n).to_bytes(4, "big") for n in a.shape)
    path.write_bytes(bytes([0, 0, 8, a.ndim]) + dims + a.astype(np.uint8).tobytes())


def test_cli_torchvision_split(tmp_path, capsys):
    # --split test compresses the test split (the command line gave the training split only);
    # a dataset the command line cannot build is named with what it needs, not a bare TypeError
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    splits = {"train": (5, 3), "t10k": (4, 7)}  # sizes and a label each split alone has
    for prefix, (n, label) in splits.items():
        _idx_file(raw / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 6, 6)))
        _idx_file(raw / f"{prefix}-labels-idx1-ubyte", np.full(n, label))
    src = f"torchvision:MNIST:{tmp_path}"
    for split, (n, label) in [(None, splits["train"]), ("train", splits["train"]),
                              ("test", splits["t10k"])]:
        out = tmp_path / f"{split}.tcz"
        assert main(["compress", src, str(out), "--quiet"] + ["--split", split] * bool(split)) == 0
        ds = tc.open(out)
        assert len(ds) == n and ds.targets.tolist() == [label] * n
    capsys.readouterr()
    for argv, match in [
            ([src, "--split", "val"], "--split of MNIST is train or test (it takes train=True or "
                                      "False), but got 'val'"),
            ([f"torchvision:ImageFolder:{tmp_path}", "--split", "test"],
             "ImageFolder has no split to choose (it takes neither train= nor split=)"),
            ([str(tmp_path), "--split", "test"], "--split chooses a split of a "
                                                 "torchvision:NAME:ROOT source"),
            ([f"torchvision:EMNIST:{tmp_path}"], "EMNIST needs split, which the command line "
                                                 "does not pass; compress it from Python"),
            ([f"torchvision:FakeData:{tmp_path}"], "FakeData reads no folder (it takes no root=)"),
            ([f"torchvision:SVHN:{tmp_path}", "--split", "bogus"],
             "Unknown value 'bogus' for argument split"),
            ([f"torchvision:CIFAR10:{tmp_path}"], "the command line does not download: fetch it "
                                                  "first with torchvision.datasets.CIFAR10(root, "
                                                  "download=True)")]:
        code, err = _run(["compress", *argv[:1], str(tmp_path / "x.tcz"), *argv[1:]], capsys)
        assert code == 2 and match in err and err.count("\n") == 1, (argv, err)


def test_iterable_source_with_length(tmp_path):
    x = np.random.default_rng(0).integers(0, 256, (7, 1, 4, 5), dtype=np.uint8)
    info = tc.compress(((x[i], i % 2) for i in range(7)), tmp_path / "g.tcz", length=7,
                       progress=False)
    assert info["num_samples"] == 7
    np.testing.assert_array_equal(tc.open(tmp_path / "g.tcz")[6][0].numpy(), x[6])
    with pytest.raises(ValueError, match="source is empty"):
        tc.compress(iter([]), tmp_path / "e.tcz", progress=False)


def test_cli_lossy_compress_and_info(tmp_path, capsys):
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:16, 0:16]
    x = np.clip(rng.uniform(0, 200, (30, 1, 1, 3)) + 2 * (yy + xx)[None, :, :, None]
                + rng.normal(0, 4, (30, 16, 16, 3)), 0, 255).astype(np.uint8)
    np.savez(tmp_path / "d.npz", x=x, y=np.arange(30) % 3)
    out = tmp_path / "l.tcz"
    assert main(["compress", str(tmp_path / "d.npz"), str(out), "--codec", "lossy", "--bits", "1.5",
                 "--fit-samples", "10", "--layout", "HWC", "--quiet", "--num-workers", "2"]) == 0
    capsys.readouterr()
    assert main(["info", str(out)]) == 0
    text = capsys.readouterr().out
    assert "codec      lossy (bits=1.5, fit_samples=10)" in text
    assert re.search(r"lossy: mean PSNR \d+\.\d\d dB, worst sample \d+\.\d\d dB, 1\.[0-4]\d\d bits per value",
                     text)
    assert main(["info", str(out), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["lossy"]["payload_bytes"] <= info["lossy"]["budget_bytes"] == int(1.5 * x.size / 8)
    code, err = _run(["compress", str(tmp_path / "d.npz"), str(tmp_path / "w.tcz"), "--num-workers",
                      "-1", "--layout", "HWC"], capsys)
    assert code == 2 and "num_workers should be a non-negative integer value, but got --num-workers -1" in err



def test_urls_are_refused_not_written_under_the_working_directory(tmp_path, monkeypatch):
    """tc.compress(..., "s3://bucket/train.tcz") wrote ./s3:/bucket/train.tcz and reported
    success; every path argument now refuses a URL, naming it and the way out."""
    monkeypatch.chdir(tmp_path)
    x = np.zeros((4, 1, 4, 4), np.uint8)
    msg = r"'{}' is a URL, but torchcompress reads and writes local paths only .* mount it"
    for url in ("s3://bucket/train.tcz", "gs://b/t.tcz", "https://example.com/t.tcz"):
        with pytest.raises(ValueError, match=msg.format(url)):
            tc.compress((x, [0] * 4), url, progress=False)
        with pytest.raises(ValueError, match=msg.format(url)):
            tc.condense((x.reshape(4, -1).astype(np.float32), [0] * 4), url, progress=False)
        for read in (tc.open, tc.verify, lambda u: tc.compress(u, "a.tcz", progress=False)):
            with pytest.raises(ValueError, match=msg.format(url)):
                read(url)
    assert list(tmp_path.iterdir()) == []
    tc.compress((x, [0] * 4), "C://t.tcz", progress=False)  # not a URL: a folder named C:
    assert tc.open("C://t.tcz")[0][1] == 0 and (tmp_path / "C:" / "t.tcz").is_dir()

def test_paths_expand_the_home_directory(tmp_path, monkeypatch):
    """'~' in a source or archive path means the home directory, as in torchvision's roots;
    nothing named '~' is made in the working directory."""
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    (tmp_path / "home").mkdir()
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")
    x = np.random.default_rng(0).integers(0, 256, (6, 1, 4, 4), dtype=np.uint8)
    np.savez(tmp_path / "home" / "d.npz", x=x, y=np.arange(6) % 2)
    tc.compress("~/d.npz", "~/a.tcz", progress=False)
    assert (tmp_path / "home" / "a.tcz" / "manifest.json").exists()
    ds = tc.open("~/a.tcz")
    assert torch.equal(ds[5][0], torch.from_numpy(x[5])) and tc.verify("~/a.tcz")["num_samples"] == 6
    tc.condense((x.reshape(6, -1).astype(np.float32), np.arange(6) % 2), "~/c.tcz", progress=False)
    assert len(tc.open("~/c.tcz").full) == 6
    assert list((tmp_path / "cwd").iterdir()) == []


def test_flags_must_be_bools(tmp_path):
    """overwrite="no" is truthy: it replaced the archive it was meant to keep."""
    x, y = np.zeros((4, 1, 4, 4), np.uint8), np.arange(4) % 2
    path = tmp_path / "a.tcz"
    tc.compress((x, y), path, progress=False)
    for kw in ({"overwrite": "no"}, {"overwrite": 0}, {"verify": "yes"}, {"progress": None}):
        with pytest.raises(TypeError, match=rf"{next(iter(kw))} should be True or False, but "
                                            rf"got {next(iter(kw))}="):
            tc.compress((x + 1, y), path, **{"progress": False, **kw})
    assert tc.open(path)[0][0].sum() == 0  # the archive is the first one still
    with pytest.raises(TypeError, match=r"overwrite should be True or False, but got "
                                        r"overwrite='False' \(str\)"):
        tc.condense((x, y), path, overwrite="False", progress=False)
    ds = tc.open(path)
    for kw in ("shuffle", "drop_last", "with_indices"):
        with pytest.raises(TypeError, match=rf"{kw} should be True or False, but got {kw}='x'"):
            ds.loader(2, **{kw: "x"})
    tc.compress((x + 1, y), path, overwrite=np.bool_(True), progress=False)
    assert tc.open(path)[0][0].sum() == 16


def test_cli_classes_from_numbers_a_folder_as_the_training_archive(tmp_path, capsys):
    """A validation folder without one of the training classes: ImageFolder numbers its later
    classes differently, and the CLI had no way to pass the training archive's numbering."""
    for split, names in (("train", ["cat", "dog", "fox"]), ("val", ["cat", "fox"])):
        for k, name in enumerate(names):
            (tmp_path / split / name).mkdir(parents=True)
            Image.fromarray(np.full((4, 5, 3), 60 * k, np.uint8)).save(
                tmp_path / split / name / "0.png")
    train, val = str(tmp_path / "train.tcz"), str(tmp_path / "val.tcz")
    assert main(["compress", str(tmp_path / "train"), train, "--quiet"]) == 0
    assert main(["compress", str(tmp_path / "val"), val, "--quiet",
                 "--classes-from", train]) == 0
    ds = tc.open(val)
    assert ds.classes == ["cat", "dog", "fox"] and ds.targets.tolist() == [0, 2]
    # the other way round, dog has no number to take
    assert main(["compress", str(tmp_path / "val"), str(tmp_path / "v2.tcz"), "--quiet"]) == 0
    capsys.readouterr()
    assert main(["compress", str(tmp_path / "train"), str(tmp_path / "t2.tcz"), "--quiet",
                 "--classes-from", str(tmp_path / "v2.tcz")]) == 2
    err = capsys.readouterr().err
    assert "--classes-from" in err and "classes dog are not among that archive's 2" in err
    assert not (tmp_path / "t2.tcz").exists()
