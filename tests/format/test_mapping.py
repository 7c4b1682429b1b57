"""Archives of more shards than the open-files limit: each mapped shard held a descriptor."""

import subprocess
import sys

import numpy as np
import pytest

import torchcompress as tc
from torchcompress.format.mapping import HOLDS_FD

resource = pytest.importorskip("resource")

SHARDS = 150

_READ_ALL = """
import resource, sys, warnings
import torchcompress as tc
path, soft, hard = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    try:  # the lossless dataset checks (and maps) every shard as it opens
        ds = tc.open(path)
        for i in range(0, len(ds), 2):  # a sample of every shard, each map kept
            ds[i]
        result = "read every shard"
    except OSError as e:
        result = f"error {e}"
print("warnings", len(caught), *(str(w.message) for w in caught))
print(result)
"""


@pytest.fixture(scope="module")
def many_shards(tmp_path_factory):
    path = tmp_path_factory.mktemp("mapping") / "many.tcz"
    x = np.random.default_rng(0).integers(0, 256, (2 * SHARDS, 1, 3, 3), dtype=np.uint8)
    tc.compress((x, np.arange(2 * SHARDS) % 3), path, shard_size=2, progress=False)
    return path


def _read_all(path, soft: int, hard: int) -> str:
    r = subprocess.run([sys.executable, "-c", _READ_ALL, str(path), str(soft), str(hard)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return r.stdout


def test_an_archive_of_more_shards_than_the_soft_limit_reads(many_shards):
    """A soft limit of 64 (the hard one as it is): tc.open failed with 'Too many open files'
    while reading the labels (every shard's map was held until they were joined), and a pass
    once it had mapped 64 shards; opening raises the soft limit to fit them."""
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard < SHARDS + 300:
        pytest.skip(f"the hard open-files limit ({hard}) is below what the test needs")
    assert _read_all(many_shards, 64, hard) == "warnings 0\nread every shard\n"


def test_a_hard_limit_below_the_shards_is_named(many_shards):
    out = _read_all(many_shards, 64, 128)
    if not HOLDS_FD:  # Python 3.13+: maps hold no descriptor
        assert out == "warnings 0\nread every shard\n"
        return
    assert out.startswith(f"warnings 1 {many_shards}: its {SHARDS + 1} files each hold a file "
                          "descriptor once read")  # the shards and the tables
    assert "more than the open-files limit of 128 (hard limit 128) leaves" in out
    assert "no file descriptor left to map it: this process has 128 (ulimit -n; hard limit " \
           "128)" in out and "compress the archive again with larger shards" in out


def test_an_unlimited_limit_is_left_alone(monkeypatch):
    """RLIM_INFINITY is -1 on Linux: read as a number, an unlimited soft limit looked too low,
    and was lowered to the archive's files (and warned about)."""
    import warnings

    from torchcompress.format import mapping

    calls = []
    monkeypatch.setattr(resource, "getrlimit", lambda _: (resource.RLIM_INFINITY,) * 2)
    monkeypatch.setattr(resource, "setrlimit", lambda *a: calls.append(a))
    monkeypatch.setattr(mapping, "HOLDS_FD", True)
    monkeypatch.setattr(mapping, "_RESERVED", {})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        mapping.reserve_descriptors(type("Reader", (), {})(), "/no/such/archive.tcz", 5000)
    assert calls == []


def test_two_readers_of_one_archive_reserve_for_both(monkeypatch):
    """A dataset and tc.verify of one archive each map every shard: reserving once per path let
    tc.verify run out of descriptors while the dataset held its maps (300 shards, ulimit -n
    128). A reader's reservation ends with it."""
    from torchcompress.format import mapping

    limits = [(64, 10_000)]
    monkeypatch.setattr(resource, "getrlimit", lambda _: limits[0])
    monkeypatch.setattr(resource, "setrlimit", lambda _, v: limits.__setitem__(0, v))
    monkeypatch.setattr(mapping, "HOLDS_FD", True)
    monkeypatch.setattr(mapping, "_RESERVED", {})
    Reader = type("Reader", (), {})
    first, second = Reader(), Reader()
    mapping.reserve_descriptors(first, "/one/archive.tcz", 1000)
    mapping.reserve_descriptors(second, "/one/archive.tcz", 1000)
    assert limits[0] == (2000 + mapping.HEADROOM, 10_000)
    del second
    assert list(mapping._RESERVED.values()) == [1000]
