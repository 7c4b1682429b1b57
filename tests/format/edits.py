"""Hand edits of an archive on disk, shared by the corruption tests."""

import json


def edit_manifest(archive, fn):
    """Apply ``fn`` to the parsed ``manifest.json`` of ``archive`` and write it back."""
    p = archive / "manifest.json"
    m = json.loads(p.read_text())
    fn(m)
    p.write_text(json.dumps(m))


def flip_byte(path, pos, mask):
    """XOR byte ``pos`` (negative counts from the end) of the file at ``path`` with ``mask``."""
    data = bytearray(path.read_bytes())
    data[pos] ^= mask
    path.write_bytes(bytes(data))
