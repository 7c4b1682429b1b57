"""Decoding from several threads at once: the kernels release the GIL, so each thread must
decode with its own scratch (``codecs/scratch.py``), or pixels come back wrong and sound
records are named corrupt."""

import threading

import numpy as np
import pytest

import torchcompress as tc


def _images(n, rng):
    ramp = np.add.outer(np.arange(20), np.arange(20)) * 4.0
    x = ramp[None, None] + rng.normal(0, 12.0, (n, 3, 20, 20)) + rng.integers(0, 60, (n, 3, 1, 1))
    return np.clip(x, 0, 255).astype(np.uint8)


@pytest.mark.parametrize("codec, params", [("lossless", {}), ("lossy", {"bits": 2.0}),
                                          ("adq", {"bits": 2.0}), ("gede", {"mode": "lossless"})])
def test_threads_decode_what_one_thread_decodes(tmp_path, codec, params):
    rng = np.random.default_rng(0)
    x = _images(64, rng)
    path = tmp_path / f"{codec}.tcz"
    tc.compress((x, np.zeros(len(x), np.int64)), path, codec=codec, progress=False, **params)
    ds = tc.open(path, output="uint8")
    want = np.stack([ds[i][0].numpy() for i in range(len(ds))])  # one thread
    if codec in ("lossless", "gede"):
        np.testing.assert_array_equal(want, x)
    errors, wrong = [], []

    def work(seed):
        r = np.random.default_rng(seed)
        try:
            for _ in range(150):
                if r.random() < 0.8:  # one sample: the one-record decoders
                    i = int(r.integers(0, len(ds)))
                    if not np.array_equal(ds[i][0].numpy(), want[i]):
                        wrong.append(i)
                else:  # a batch: the 16-lane decoders
                    idx = r.integers(0, len(ds), 24).tolist()
                    got = np.stack([s for s, _ in ds.__getitems__(idx)])
                    if not np.array_equal(got, want[idx]):
                        wrong.append(idx)
        except Exception as e:  # a sound record named corrupt
            errors.append(e)

    threads = [threading.Thread(target=work, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:1]
    assert not wrong, f"{len(wrong)} decodes differ from one thread's"
