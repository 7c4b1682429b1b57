"""Hand edits of an archive on disk, shared by the corruption tests."""

import json

import xxhash


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


def rerecord_extra(archive, name):
    """Record the current size and hash of extra file ``name``, as a crafted archive would."""
    data = (archive / f"{name}.safetensors").read_bytes()
    edit_manifest(archive, lambda m: m["extras"][name].update(
        bytes=len(data), xxh3_64=xxhash.xxh3_64_hexdigest(data)))


def rerecord_shard(archive, k=0):
    """Record the current size and hash of shard ``k``, as a crafted archive would."""
    m = json.loads((archive / "manifest.json").read_text())
    data = (archive / m["shards"][k]["file"]).read_bytes()
    edit_manifest(archive, lambda m: m["shards"][k].update(
        bytes=len(data), xxh3_64=xxhash.xxh3_64_hexdigest(data)))


def rewrite_tensors(path, fn):
    """Apply ``fn`` to the tensors of the safetensors file ``path`` and save them back (a crafted
    file: the archive's recorded hash is left as it was)."""
    import numpy as np
    from safetensors.numpy import load_file, save_file

    t = {k: np.array(v) for k, v in load_file(str(path)).items()}
    fn(t)
    save_file(t, str(path))
