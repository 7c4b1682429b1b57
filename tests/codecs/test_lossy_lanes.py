"""The 16-lane lossy decoder gives the one-at-a-time decoder's pixels and errors, bit for bit.

The lanes are forced on (``USE_LANES``), whatever this CPU gathers: without
hardware gathers LLVM lowers them to scalar loads, with the same results.
"""

import numpy as np
import pytest

import torchcompress as tc
from torchcompress import FormatError
from torchcompress.codecs import LossyCodec, LossyParams
from torchcompress.codecs import lossy_shard as shard_mod
from torchcompress.codecs.lanes import LANES_MIN, length_groups

from .test_lossy import _photos


def _decoder(x, bits=1.0):
    codec = LossyCodec(LossyParams(bits=bits))
    labels = np.zeros(len(x), dtype=np.int64)
    enc = codec.encode_dataset(x, labels)
    shapes = [np.asarray(s).shape for s in x]
    shape = tuple(d[0] if len(set(d)) == 1 else None for d in zip(*shapes))
    return tc.format.ArchiveDecoder.from_encoded(codec, enc, labels, [0, len(x)], shape,
                                                 np.dtype(np.uint8))


def _watch_lanes(monkeypatch) -> list:
    """What each lane call returned: the rows the lanes found not sound (a sound record the
    lanes got wrong would be flagged and quietly decoded again one at a time)."""
    calls = []
    real = shard_mod.LossyShard._decode_lanes

    def watched(self, rows, groups, *a):
        bad = real(self, rows, groups, *a)
        calls.append((groups.copy(), bad.copy()))
        return bad
    monkeypatch.setattr(shard_mod.LossyShard, "_decode_lanes", watched)
    return calls


def _both_ways(monkeypatch, dec, idx, dtype):
    """(lanes on, lanes off) decodes of ``idx``; asserts the lanes ran and flagged nothing."""
    calls = _watch_lanes(monkeypatch)
    monkeypatch.setattr(shard_mod, "USE_LANES", True)
    on = dec.decode(idx, dtype)
    monkeypatch.setattr(shard_mod, "USE_LANES", False)
    off = dec.decode(idx, dtype)
    assert sum(len(g) for g, _ in calls) >= 1  # the lanes ran
    assert not any(len(bad) for _, bad in calls)  # and decoded every record
    return on, off


def _mixed(rng):
    """Photos of different sizes (1x1 up to 40x33), one archive."""
    sizes = [(3, 1 + (7 * k) % 40, 1 + (5 * k) % 33) for k in range(40)]
    return [_photos(rng, 1, s, noise=10.0)[0] for s in sizes]


def _kinds():
    rng = np.random.default_rng(0)
    busy = _photos(rng, 40, (3, 24, 24), noise=30.0)
    busy[::5] = 90  # flat images: blocks of last 0 (no DC symbol) among busy ones
    return {
        "rgb": busy,
        "grey-odd": _photos(rng, 40, (1, 13, 11)),
        "hw-only": _photos(rng, 40, (1, 20, 9)).reshape(40, 20, 9),
        "mixed-sizes": _mixed(rng),
    }


@pytest.mark.parametrize("bits", [0.5, 3.0])
@pytest.mark.parametrize("name", list(_kinds()))
def test_lanes_give_the_same_pixels(monkeypatch, name, bits):
    x = _kinds()[name]
    dec = _decoder(x, bits)
    # 37 rows: two full groups and 5 left (one at a time); 28 reversed: the 12 left fill a
    # group with spare lanes; 64 drawn with repeats: the same record in two lanes
    for idx in (np.arange(37), np.arange(40)[::-1][:28].copy(),
                np.random.default_rng(1).integers(0, 40, 64)):
        idx = idx.astype(np.int64)
        for dtype in (np.uint8, np.float32):
            on, off = _both_ways(monkeypatch, dec, idx, dtype)
            if isinstance(on, list):
                for a, b in zip(on, off):
                    np.testing.assert_array_equal(a, b)
            else:
                np.testing.assert_array_equal(on, off)


def test_length_groups():
    lengths = np.array([5, 90, 30, 70, 8, 60, 20, 50, 40, 80, 10, 100, 3, 7, 9, 11, 12, 13])
    ok = lengths >= 5
    groups, alone = length_groups(lengths, ok)
    # 17 allowed: one group of 16, longest first; the 17th (5 bytes) is decoded alone, with
    # the row that is not allowed
    assert groups.shape == (1, 16)
    assert lengths[groups[0]].tolist() == sorted(lengths[ok].tolist(), reverse=True)[:16]
    assert alone.tolist() == [0, 12]
    for fill in (LANES_MIN, 11):
        groups, alone = length_groups(lengths[:fill], np.ones(fill, bool), fill)
        assert groups.shape == (1, 16) and (groups[0, fill:] == -1).all()  # spare lanes
        assert len(alone) == 0
        groups, alone = length_groups(lengths[:fill - 1], np.ones(fill - 1, bool), fill)
        assert groups.shape == (0, 16) and alone.tolist() == list(range(fill - 1))


def test_records_too_big_for_the_lanes_are_decoded_alone(monkeypatch):
    rng = np.random.default_rng(5)
    big = (3, 8 * 18, 8 * 16)  # 864 blocks > LANE_BLOCKS
    assert 3 * 18 * 16 > shard_mod.LANE_BLOCKS
    x = [_photos(rng, 1, big)[0]] + [_photos(rng, 1, (3, 16, 16))[0] for _ in range(20)]
    dec = _decoder(x, 0.5)
    shard = dec.shard(0)
    monkeypatch.setattr(shard_mod, "USE_LANES", True)
    groups, alone = shard._lane_groups(np.arange(21, dtype=np.int64))
    assert 0 in alone and not (groups == 0).any()
    on, off = _both_ways(monkeypatch, dec, np.arange(21, dtype=np.int64), np.uint8)
    for a, b in zip(on, off):
        np.testing.assert_array_equal(a, b)


def _corrupt(shard, row, rng):
    """A copy of ``shard``'s records with bytes of record ``row``'s stream flipped."""
    rec = np.array(shard.records)
    s, e = int(shard.offsets[row]), int(shard.offsets[row + 1])
    for p in rng.integers(s + 5, e, 3):
        rec[p] ^= rng.integers(1, 256)
    return rec


def test_a_corrupt_record_is_named_and_the_lanes_decode_on(monkeypatch):
    """A lane whose stream is corrupt is flagged and decoded alone, which names it; what it
    wrote in its scratch is cleared, so the records decoded after it are still exact."""
    x = _kinds()["rgb"]
    dec = _decoder(x, 1.0)
    shard = dec.shard(0)
    idx = np.arange(40, dtype=np.int64)
    good = dec.decode(idx, np.uint8)
    clean = shard.records
    rng = np.random.default_rng(3)
    monkeypatch.setattr(shard_mod, "USE_LANES", True)
    named = flagged = 0
    for trial in range(12):
        row = int(rng.integers(0, 40))
        shard.records = _corrupt(shard, row, rng)
        calls = _watch_lanes(monkeypatch)
        try:
            out = dec.decode(idx, np.uint8)
        except FormatError as e:
            assert f"record {row} is corrupt" in str(e)
            groups, bad = calls[-1]
            if (groups == row).any():  # in a lane: flagged there, then named alone
                assert row in bad
                flagged += 1
            named += 1
        else:  # a flip that still decodes: every other record as before
            keep = idx != row
            np.testing.assert_array_equal(out[keep], good[keep])
        shard.records = clean
        calls.clear()
        np.testing.assert_array_equal(dec.decode(idx, np.uint8), good)
        assert calls and not any(len(bad) for _, bad in calls)  # nothing stale was read
    assert named >= 8 and flagged >= 4


def test_short_and_bad_scale_records_are_named(monkeypatch):
    x = _kinds()["grey-odd"]
    dec = _decoder(x, 1.0)
    shard = dec.shard(0)
    monkeypatch.setattr(shard_mod, "USE_LANES", True)
    rec = np.array(shard.records)
    rec[int(shard.offsets[7])] = 200  # record 7's scale: past the ladder
    shard.records = rec
    with pytest.raises(FormatError, match=r"record 7 is corrupt \(it holds a scale"):
        dec.decode(np.arange(40, dtype=np.int64), np.uint8)


def _guarded_copy(data: np.ndarray, at_end: bool):
    """A read-only copy of ``data`` next to an unreadable page: starting right after one, or
    ending right before one (Linux: an anonymous map with pages protected by ``mprotect``).
    Returns (array, map), the map kept alive by the caller."""
    import ctypes
    import mmap

    page = mmap.PAGESIZE
    n = len(data)
    pages = -(-n // page) + 2
    mm = mmap.mmap(-1, pages * page)
    start = (pages - 1) * page - n if at_end else page
    mm[start:start + n] = data.tobytes()
    base = ctypes.addressof(ctypes.c_char.from_buffer(mm))
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    for p in (0, pages - 1):
        assert libc.mprotect(base + p * page, page, 0) == 0  # PROT_NONE
    a = np.frombuffer(mm, dtype=np.uint8, count=n, offset=start)
    a.flags.writeable = False
    return a, mm


def decode_guarded(dec, shard, idx, dtype, data, at_end):
    """``dec.decode(idx, dtype)`` with ``shard``'s records replaced by ``data`` between
    unreadable pages (see :func:`_guarded_copy`): the output, or None for a FormatError."""
    arr, mm = _guarded_copy(data, at_end)
    clean, shard.records = shard.records, arr
    try:
        return dec.decode(idx, dtype)
    except FormatError:
        return None
    finally:
        shard.records = clean
        del arr
        mm.close()


@pytest.mark.skipif(not __import__("sys").platform.startswith("linux"), reason="mprotect")
@pytest.mark.parametrize("at_end", [False, True], ids=["page-before", "page-after"])
def test_lanes_read_nothing_outside_the_payload(monkeypatch, at_end):
    """The payload between unreadable pages: the lanes (spare lanes included) and corrupt
    records read only inside it (a read outside would kill the test process)."""
    x = _kinds()["grey-odd"][:28]  # one full group and one of 12 with 4 spare lanes
    dec = _decoder(x, 1.0)
    shard = dec.shard(0)
    idx = np.arange(28, dtype=np.int64)
    good = dec.decode(idx, np.uint8)
    monkeypatch.setattr(shard_mod, "USE_LANES", True)
    rng = np.random.default_rng(9)
    for trial in range(6):
        data = np.array(shard.records) if trial == 0 else _corrupt(shard, int(rng.integers(28)), rng)
        if trial:  # the first and last records' ends too
            for row in (0, 27):
                data[int(shard.offsets[row]) + 5:int(shard.offsets[row + 1])] ^= 0x5A
        out = decode_guarded(dec, shard, idx, np.uint8, data, at_end)
        assert trial > 0 or (out is not None and (out == good).all())


def test_a_numba_that_cannot_build_the_lanes_falls_back(monkeypatch):
    from numba.core.errors import LoweringError

    def broken(*a):
        raise LoweringError("no vector GEP here")
    x = _kinds()["rgb"]
    dec = _decoder(x, 1.0)
    idx = np.arange(40, dtype=np.int64)
    monkeypatch.setattr(shard_mod, "USE_LANES", False)
    want = dec.decode(idx, np.uint8)
    monkeypatch.setattr(shard_mod, "decode_lossy_lanes", broken)
    monkeypatch.setattr(shard_mod, "USE_LANES", True)
    with pytest.warns(RuntimeWarning, match="16-lane lossy decoder does not compile here"):
        out = dec.decode(idx, np.uint8)
    np.testing.assert_array_equal(out, want)
    assert shard_mod.USE_LANES is False  # (monkeypatch restores it)
