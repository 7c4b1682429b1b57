"""The ``info`` of an archive: sizes against the source, exactness, labels; and its text form."""

from __future__ import annotations

import os

import numpy as np

from ..format import ArchiveReader
from ..format.manifest import MANIFEST_FILE

__all__ = ["describe", "summarize"]

#: stats every codec may report, kept at the top level; the rest (the papers' own terms, e.g.
#: GeDe's ``eq1_bytes`` and ``num_bases``) go under the codec's name
_COMMON = ("achieved_bits", "mean_psnr_db", "worst_psnr_db", "exact_fraction", "max_abs_error",
           "verified", "source_values", "num_condensed", "beta", "condensed_bytes")


def summarize(reader: ArchiveReader) -> dict:
    """Sizes (every file, as on disk) against the source, exactness, label counts, provenance."""
    m = reader.manifest
    size = (sum(s.bytes for s in m.shards) + sum(e.bytes for e in m.extras.values())
            + os.path.getsize(reader.shard_path(MANIFEST_FILE)))
    raw = m.stats.get("source_values") or m.num_samples * (m.sample_size or 1)
    itemsize = np.dtype(m.sample_dtype).itemsize
    info = {
        "path": reader.path,
        "codec": m.codec,
        "codec_params": dict(m.codec_params),
        "num_samples": m.num_samples,
        "sample_shape": list(m.sample_shape),
        "sample_dtype": m.sample_dtype,
        "num_shards": len(m.shards),
        "bytes": size,
        "source_bytes": itemsize * raw,
        "pct_of_uint8": 100.0 * size / raw,
        "pct_of_float32": 100.0 * size / (4 * raw),
        "pct_of_source": 100.0 * size / (itemsize * raw),
        "classes": m.classes,
        "writer": m.provenance.get("writer"),
        "created": m.provenance.get("created"),
        "source": m.provenance.get("source"),
    }
    labels = reader.labels
    if labels.dtype.kind in "iu":
        values, counts = np.unique(labels, return_counts=True)
        info["label_counts"] = {int(v): int(c) for v, c in zip(values, counts)}
    else:
        info["target_range"] = [float(labels.min()), float(labels.max())]
        info["target_shape"] = list(m.target_shape)
    codec_stats = {}
    for k, v in m.stats.items():
        (info if k in _COMMON else codec_stats)[k] = v
    info[m.codec] = codec_stats
    return info


def _exactness(info: dict) -> str:
    if info.get("verified"):
        return "exact: every sample was decoded and compared before the archive was written"
    if info.get("codec") == "original":
        return "the source's files, byte for byte (decoded by torchvision.io)"
    if "mean_psnr_db" in info:
        worst = info.get("worst_psnr_db")
        w = "" if worst is None else f", worst sample {worst:.2f} dB"
        bits = info.get("achieved_bits")
        b = "" if bits is None else f", {bits:.3f} bits per value"
        return f"lossy: mean PSNR {info['mean_psnr_db']:.2f} dB{w}{b}"
    if "exact_fraction" in info:
        return (f"near-lossless by design: {100 * info['exact_fraction']:.1f}% of values exact, "
                f"largest error {info['max_abs_error']:g}")
    return "not measured"


def _labels(info: dict) -> str:
    counts = info.get("label_counts")
    if counts is None:
        lo, hi = info["target_range"]
        column = " of shape (1,)" if info.get("target_shape") else ""
        return f"regression targets{column} in [{lo:g}, {hi:g}]"
    names = info.get("classes") or []
    parts = [f"{names[k] if 0 <= k < len(names) else k}: {c:,}" for k, c in counts.items()]
    shown = ", ".join(parts[:12]) + (f", ... ({len(parts) - 12} more)" if len(parts) > 12 else "")
    return f"{len(counts)} classes ({shown})"


def describe(info: dict) -> str:
    """A one-screen, human-readable summary of :func:`summarize`'s dict."""
    params = ", ".join(f"{k}={v!r}" for k, v in sorted(info["codec_params"].items()))
    dims = ["any" if d is None else str(d) for d in info["sample_shape"]]
    shape = "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"
    lines = [
        f"archive    {info['path']}",
        f"codec      {info['codec']} ({params})",
        f"samples    {info['num_samples']:,} of shape {shape} {info['sample_dtype']}, "
        f"in {info['num_shards']} shard(s)",
        f"labels     {_labels(info)}",
        f"size       {info['bytes']:,} bytes: {info['pct_of_source']:.1f}% of the source "
        f"({info['source_bytes']:,} bytes of {info['sample_dtype']}), "
        f"{info['pct_of_float32']:.1f}% of float32",
        f"exactness  {_exactness(info)}",
        f"written by {info.get('writer') or 'unknown'}"
        + (f" on {info['created']}" if info.get("created") else "")
        + (f" from {info['source']}" if info.get("source") else ""),
    ]
    if "num_condensed" in info:
        lines.append(f"condensed  {info['num_condensed']:,} weighted samples (beta="
                     f"{info.get('beta')}, {info.get('condensed_bytes', 0):,} bytes): tc.open "
                     "gives (x, y, w), its .full the exact samples")
    extra = info.get(info["codec"]) or {}
    if extra:
        lines.append(f"{info['codec']} details (use --json for all): "
                     + ", ".join(f"{k}={_short(v)}" for k, v in sorted(extra.items())))
    if info["pct_of_source"] > 100.0 and "num_condensed" not in info:  # condensed: by design
        lines.append(f"WARNING: the archive is larger than its source ({info['pct_of_source']:.1f}%); "
                     "another codec or mode would store it smaller")
    return "\n".join(lines)


def _short(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, list) and len(v) > 4:
        return f"[{len(v)} values]"
    return str(v)
