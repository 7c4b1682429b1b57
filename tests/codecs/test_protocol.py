"""Every registered codec satisfies the written seam: Codec, and StreamEncoder where it streams."""

import numpy as np
import pytest

from torchcompress.codecs import CODECS, make_codec
from torchcompress.codecs.protocol import Chunk, Codec, Encoded, StreamEncoder

_PARAMS = {"adq": {"bits": 3.0}, "lossy": {"bits": 2.0}, "gede": {}, "lossless": {}, "original": {}}


@pytest.mark.parametrize("name", sorted(CODECS))
def test_codec_satisfies_the_protocol(name):
    codec = make_codec(name, _PARAMS[name])
    assert isinstance(codec, Codec)
    if name != "original":  # it encodes files, not pixels
        x = (np.arange(6 * 3 * 8 * 8) % 251).astype(np.uint8).reshape(6, 3, 8, 8)
        assert isinstance(codec.encode_dataset(x, np.zeros(6, dtype=np.int64)), Encoded)


@pytest.mark.parametrize("name", ["adq", "lossless", "original"])
def test_streaming_codecs_give_a_stream_encoder(name):
    st = make_codec(name, _PARAMS[name]).stream_encoder(6)
    assert isinstance(st, StreamEncoder)
    assert st.fit_rows().dtype == np.int64 and (np.diff(st.fit_rows()) > 0).all()
    if name == "adq":
        x = (np.arange(6 * 48) % 200).astype(np.uint8).reshape(6, 3, 4, 4)
        st.allocate(st.summarize(list(x), 0))
        chunk = st.encode(list(x[2:5]), 2)
        assert isinstance(chunk, Chunk) and chunk.shapes.tolist() == [[3, 4, 4]] * 3
        assert chunk.arrays["bits"].shape == (3,)


@pytest.mark.parametrize("name", ["adq", "lossy", "gede", "lossless"])
def test_decode_one_is_decode_of_one_row(name, tmp_path):
    """``ds[i]`` goes through ``ShardDecoder.decode_one`` (the lossless codec's one-row call with
    its thread's scratch, the others' ``RowsDecoder``): the same values as the batch path."""
    import torchcompress as tc
    from torchcompress.codecs.protocol import ShardDecoder
    from torchcompress.format import ArchiveDecoder, ArchiveReader

    rng = np.random.default_rng(3)
    x = (rng.integers(0, 40, (7, 3, 8, 8)) + np.arange(8) * 20).astype(np.uint8)
    x[2] = rng.integers(0, 256, (3, 8, 8))  # noise: stored raw by the lossless codec
    tc.compress((x, np.arange(7) % 2), tmp_path / "a", codec=name, progress=False,
                **_PARAMS[name])
    dec = ArchiveDecoder.from_reader(ArchiveReader(tmp_path / "a"))
    shard = dec.shard(0)
    assert isinstance(shard, ShardDecoder)
    dtype = np.uint8 if name != "adq" else np.float32
    whole = np.zeros((7, 3 * 8 * 8), dtype)
    shard.decode(np.arange(7, dtype=np.int64), whole)
    for row in (6, 0, 2, 3):  # out of order: nothing carries over from the call before
        one = np.full((3, 8, 8), 7, dtype)
        shard.decode_one(row, one)
        np.testing.assert_array_equal(one.reshape(-1), whole[row])
        assert not np.array_equal(whole[row], whole[(row + 1) % 7])
