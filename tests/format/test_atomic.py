"""Writes are atomic: a killed compress leaves nothing, a killed overwrite leaves the old archive."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import torchcompress as tc

KILLER = textwrap.dedent("""
    import os, signal, sys
    import numpy as np
    import torchcompress as tc
    from torchcompress.format import writer
    from torchcompress.datasets import pool
    pool._POOL_WORTH = 0.0  # worker processes even for this little work

    real, written = writer.write_tensors, []
    def dying(*a, **k):  # every shard and extra file goes through write_tensors
        if len(written) == 2:
            os.kill(os.getpid(), signal.SIGKILL)
        written.append(a[0])
        return real(*a, **k)
    writer.write_tensors = dying

    x = np.random.default_rng(1).integers(0, 256, (50, 3, 8, 8), dtype=np.uint8)
    tc.compress((x, np.zeros(50, dtype=np.int64)), sys.argv[1], codec="adq", bits=3.0, shard_size=10,
                overwrite=True, progress=False, num_workers=int(sys.argv[2]))
""")


def _run_killed(target, workers=1):
    # a timeout: orphaned worker processes holding the pipes would otherwise hang the test
    r = subprocess.run([sys.executable, "-c", KILLER, str(target), str(workers)], capture_output=True,
                       timeout=120)
    assert r.returncode == -9, r.stderr.decode()


@pytest.mark.parametrize("workers", [1, 2])  # 2: killed while its worker processes encode
def test_killed_compress_leaves_nothing_at_target(tmp_path, images, workers):
    target = tmp_path / "new.tcz"
    _run_killed(target, workers)
    assert not target.exists()
    leftovers = [p for p in os.listdir(tmp_path) if ".partial-" in p]
    assert len(leftovers) == 1  # the dead writer's hidden sibling...
    tc.compress(images, target, codec="adq", bits=2.0, progress=False)
    assert os.listdir(tmp_path) == ["new.tcz"]  # ...is removed by the next writer


def test_killed_overwrite_keeps_old_archive(archive):
    before = tc.open(archive)
    labels = before.targets.clone()
    first = before[0][0].clone()
    _run_killed(archive)
    tc.verify(archive)
    after = tc.open(archive)
    assert len(after) == 40 and (after.targets == labels).all()
    assert (after[0][0] == first).all()


def test_existing_path_needs_overwrite(archive, images):
    with pytest.raises(FileExistsError, match="already exists; pass overwrite=True"):
        tc.compress(images, archive, codec="adq", progress=False)
    x, y = images
    info = tc.compress((x[:5], y[:5]), archive, codec="adq", overwrite=True, progress=False)
    assert info["num_samples"] == 5 and len(tc.open(archive)) == 5
    assert [p for p in os.listdir(archive.parent) if p != archive.name] == []


def test_error_during_compress_cleans_up(tmp_path):
    x = np.ones((3, 4), dtype=np.float32)
    x[1, 1] = np.nan
    with pytest.raises(ValueError, match="sample 1 contains NaN"):
        tc.compress((x, np.zeros(3, dtype=np.int64)), tmp_path / "n.tcz", codec="adq", progress=False)
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="names fsync'd files via /proc")
@pytest.mark.parametrize("workers", [1, 2])
def test_every_shard_is_on_disk_before_the_manifest(tmp_path, monkeypatch, workers):
    from torchcompress.datasets import pool

    monkeypatch.setattr(pool, "_POOL_WORTH", 0.0)
    synced, real = [], os.fsync

    def recording(fd):  # the shards' syncs run on a thread while the next shard encodes
        synced.append(os.path.basename(os.readlink(f"/proc/self/fd/{fd}")))
        real(fd)
    monkeypatch.setattr(os, "fsync", recording)
    x = np.random.default_rng(2).integers(0, 256, (50, 3, 8, 8), dtype=np.uint8)
    tc.compress([(img, 0) for img in x], tmp_path / "a", codec="lossless", shard_size=10,
                progress=False, num_workers=workers)
    shards = sorted(f for f in os.listdir(tmp_path / "a") if f.startswith("shard-"))
    assert len(shards) == 5
    assert set(shards) <= set(synced[:synced.index("manifest.json")])


def test_commit_refuses_a_manifest_its_reader_would_refuse(tmp_path):
    from torchcompress.format import ArchiveWriter, Manifest
    target = tmp_path / "bad.tcz"
    with pytest.raises(ValueError, match=r"refusing to commit .*bad.tcz'.*sample_shape \[3, 0, 4\]"):
        with ArchiveWriter(target) as w:
            w.write_shard({"labels": np.zeros(2, dtype=np.int64)}, 0, 2)
            w.commit(Manifest(codec="adq", codec_params={}, sample_shape=(3, 0, 4),
                              sample_dtype="uint8", num_samples=2, shards=w.shards))
    assert os.listdir(tmp_path) == []  # nothing at the path, and the hidden folder removed


@pytest.mark.parametrize("renameat2", [True, False], ids=["renameat2", "os.rename"])
@pytest.mark.parametrize("overwrite", [False, True])
def test_an_archive_written_meanwhile_is_replaced_only_with_overwrite(tmp_path, images, overwrite,
                                                                      renameat2, monkeypatch):
    # two processes compressing to one path: both passed the check at the start, and the later
    # commit swapped the earlier archive out although overwrite=False
    from torchcompress.format import ArchiveWriter, Manifest, writer
    if not renameat2:  # a libc or filesystem without it
        monkeypatch.setattr(writer, "_renameat2", lambda a, b, flag: None)
    target = tmp_path / "a.tcz"
    w = ArchiveWriter(target, overwrite=overwrite)
    tc.compress(images, target, codec="adq", bits=2.0, progress=False)  # the other process
    theirs = tc.open(target).info["created"]
    w.write_shard({"labels": np.zeros(2, dtype=np.int64)}, 0, 2)
    manifest = Manifest(codec="adq", codec_params={}, sample_shape=(4,), sample_dtype="uint8",
                        num_samples=2, shards=w.shards)
    if overwrite:
        w.commit(manifest)
        assert len(tc.format.ArchiveReader(target).manifest.shards) == 1
        assert tc.format.ArchiveReader(target).manifest.num_samples == 2
    else:
        with pytest.raises(FileExistsError, match=r"a.tcz appeared while this archive was being "
                                                  r"written .* pass overwrite=True"):
            with w:
                w.commit(manifest)
        assert tc.open(target).info["created"] == theirs
        assert len(tc.open(target)) == len(images[0])
    assert sorted(os.listdir(tmp_path)) == ["a.tcz"]  # no hidden folder left


def test_a_full_disk_names_the_file_and_leaves_nothing(tmp_path, images, monkeypatch):
    import errno
    import io
    from torchcompress.format import safetensors_io

    class Full(io.BytesIO):
        def write(self, b):
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(safetensors_io, "open", lambda path, mode: Full(), raising=False)
    with pytest.raises(OSError, match=r"no space left on the device \([0-9,]+ bytes to write\); "
                                      r"free space there or write the archive to another disk: "
                                      r"'.*shard-00000.safetensors'"):
        tc.compress(images, tmp_path / "a.tcz", progress=False)
    assert os.listdir(tmp_path) == []


def test_a_killed_compress_of_an_iterable_leaves_its_spool_to_the_next_writer(tmp_path, images):
    code = textwrap.dedent("""
        import os, signal, sys
        import numpy as np
        import torchcompress as tc

        def stream():  # killed while the iterable is being spooled beside the archive
            for i in range(10):
                if i == 3:
                    os.kill(os.getpid(), signal.SIGKILL)
                yield np.zeros((3, 4, 4), np.uint8), 0
        tc.compress(stream(), sys.argv[1], progress=False)
    """)
    target = tmp_path / "s.tcz"
    r = subprocess.run([sys.executable, "-c", code, str(target)], capture_output=True, timeout=120)
    assert r.returncode == -9, r.stderr.decode()
    left = os.listdir(tmp_path)
    assert len(left) == 1 and left[0].startswith(".s.tcz.partial-") and "spool" in left[0]
    tc.compress(images, target, codec="adq", bits=2.0, progress=False)
    assert os.listdir(tmp_path) == ["s.tcz"]


@pytest.mark.parametrize("codec", ["lossless", "gede"])
def test_overwrite_replaces_archives_never_a_folder_of_other_files(tmp_path, images, codec,
                                                                   monkeypatch):
    """overwrite=True swapped out whatever directory the path named: path='' (the working
    directory), or a project folder, deleted with everything in it."""
    folder = tmp_path / "project"
    folder.mkdir()
    (folder / "keep.txt").write_text("important")
    x, y = images
    go = (lambda p: tc.compress(images, p, codec=codec, overwrite=True, progress=False)) \
        if codec == "lossless" else \
        (lambda p: tc.condense((x.reshape(len(x), -1).astype(float), y), p, overwrite=True,
                               progress=False))
    with pytest.raises(FileExistsError, match=r"project is a directory but not an archive \(it "
                                              r"holds 'keep.txt', among 1 entries\); overwrite=True "
                                              r"replaces archives only, so nothing was touched"):
        go(folder)
    monkeypatch.chdir(folder)
    with pytest.raises(ValueError, match=r"got path='' \(that is the working directory\)"):
        go("")
    assert os.listdir(folder) == ["keep.txt"]
    assert (folder / "keep.txt").read_text() == "important"
    (tmp_path / "empty").mkdir()
    go(tmp_path / "empty")  # an empty directory, and an archive, are replaced
    go(tmp_path / "empty")
    assert len(tc.open(tmp_path / "empty").full if codec == "gede" else
               tc.open(tmp_path / "empty")) == len(x)
    with pytest.raises(TypeError, match=r"path should be a str or os.PathLike naming the archive "
                                        r"directory, but got NoneType"):
        go(None)
