"""Our streaming safetensors writer writes the bytes the safetensors package writes."""

import numpy as np
import xxhash
from hypothesis import given, settings
from hypothesis import strategies as st
from safetensors.numpy import save

from torchcompress.format.safetensors_io import DTYPES, open_tensors, write_tensors

_DT = sorted(DTYPES)


@settings(max_examples=60, deadline=None)
@given(st.dictionaries(st.from_regex(r"[a-zé_][a-z0-9_]{0,6}", fullmatch=True),
                       st.tuples(st.sampled_from(_DT), st.lists(st.integers(0, 4), max_size=3)),
                       max_size=6),
       st.booleans())
def test_bytes_equal_the_safetensors_package(tmp_path_factory, spec, with_metadata):
    rng = np.random.default_rng(len(spec))
    tensors = {k: (rng.integers(0, 2, size=shape) if dt == "BOOL" else
                   rng.integers(0, 100, size=shape)).astype(DTYPES[dt])
               for k, (dt, shape) in spec.items()}
    meta = {"k": "välue"} if with_metadata else None
    path = str(tmp_path_factory.mktemp("st") / "t.safetensors")
    size, digest = write_tensors(path, tensors, meta)
    want = save(tensors, metadata=meta)
    got = open(path, "rb").read()
    assert got == want
    assert (size, digest) == (len(want), xxhash.xxh3_64_hexdigest(want))


def test_pieces_are_written_as_one_tensor(tmp_path):
    parts = [np.arange(5, dtype=np.uint16), np.arange(3, dtype=np.uint16)]
    path = str(tmp_path / "p.safetensors")
    write_tensors(path, {"lengths": parts, "labels": np.zeros(8, np.int64)})
    assert open(path, "rb").read() == save({"lengths": np.concatenate(parts),
                                            "labels": np.zeros(8, np.int64)})
    assert np.array_equal(open_tensors(path)["lengths"], np.concatenate(parts))
