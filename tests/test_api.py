import pathlib
import subprocess
import sys

import numpy as np

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
    assert main(["compress", str(tmp_path / "d.npz"), str(out), "--bits", "3"]) == 2
    assert "--bits applies to --codec adq, not --codec lossless" in capsys.readouterr().err
    assert main(["compress", str(tmp_path / "d.npz"), str(out), "--codec", "adq", "--bits", "3",
                 "--layout", "HWC"]) == 0
    assert '"achieved_bits": 3.0' in capsys.readouterr().out
    assert main(["info", str(out)]) == 0
    assert '"sample_shape": [\n    3,\n    4,\n    4\n  ]' in capsys.readouterr().out
    assert main(["verify", str(out)]) == 0
    assert "OK: 20 samples in 1 shards" in capsys.readouterr().out
    (out / "shard-00000.safetensors").write_bytes(b"\0" * 8)
    assert main(["verify", str(out)]) == 1
    assert "FAILED:" in capsys.readouterr().err
    assert main(["demo", "--npz", str(tmp_path / "d.npz"), "--layout", "HWC", "--bits", "2"]) == 0
    table = capsys.readouterr().out
    assert "| 2 | 2.000 |" in table and "batched/s" in table
    assert "GeDe lossless (mode='lossless', class-wise)" in table and "verified=True" in table
    assert "lossless (the default codec):" in table and "bit-exact: True" in table


def test_module_entry_point_runs():
    r = subprocess.run([sys.executable, "-m", "torchcompress", "--help"], capture_output=True, text=True)
    assert r.returncode == 0 and "compress" in r.stdout and "demo" in r.stdout


def test_cli_compress_gede_lossless(tmp_path, capsys):
    rng = np.random.default_rng(1)
    x = rng.integers(0, 256, (12, 3, 8, 8), dtype=np.uint8)
    np.savez(tmp_path / "g.npz", x=x, y=np.arange(12) % 3)
    out = tmp_path / "g.tcz"
    assert main(["compress", str(tmp_path / "g.npz"), str(out), "--codec", "gede"]) == 0
    assert '"verified": true' in capsys.readouterr().out
    ds = tc.open(out, output="uint8")
    np.testing.assert_array_equal(np.stack([ds[i][0].numpy() for i in range(12)]), x)
