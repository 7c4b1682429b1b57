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
