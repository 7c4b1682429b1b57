"""``torchcompress`` command line: compress | info | verify | demo."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import sys
import tempfile
import warnings

import numpy as np

from ._validation import listing

__all__ = ["main"]


def _demo_source(args):
    if args.npz:
        return args.npz, "npz:" + args.npz
    if args.torchvision:
        name, _, root = args.torchvision.partition(":")  # NAME, or NAME:ROOT as compress takes it
        what = f"--torchvision {args.torchvision!r}"
        return _torchvision_dataset(name, root or args.root, what, args.download), name
    from sklearn.datasets import load_digits

    d = load_digits()
    x = d.images.astype(np.float32)[:, None]  # (1797, 1, 8, 8), values 0..16
    return (x, d.target.astype(np.int64)), "sklearn digits (1797 x 1x8x8, values 0-16)"


def _demo(args) -> int:
    if not (args.npz or args.torchvision):
        from .story import run_story

        run_story()
        return 0
    import torch

    import torchcompress as tc

    from ._timing import median_rate

    from .datasets.sources import load_source

    torch.set_num_threads(1)
    source, name = _demo_source(args)
    src = load_source(source, layout=args.layout, progress=True)  # read once for every bit rate
    print(f"torchcompress demo: ADQ on {name}; decode timed on 1 core, median of 5")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for bits in args.bits:
            path = f"{tmp}/adq{bits}.tcz"
            info = tc.compress((src.x, src.y), path, codec="adq", bits=bits, classes=src.classes,
                               progress=False)
            ds = tc.open(path)
            n = len(ds)
            rng = np.random.default_rng(0)
            batch = rng.integers(0, n, min(256, n)).tolist()
            singles = rng.integers(0, n, 512).tolist()
            batched = median_rate(lambda: ds.__getitems__(batch), len(batch))
            single = median_rate(lambda: [ds[i] for i in singles], len(singles))
            rows.append((bits, info, batched, single))
    print(f"samples: {info['num_samples']}, shape {tuple(info['sample_shape'])}, "
          f"dtype {info['sample_dtype']}")
    head = ("bits", "achieved", "size % uint8", "size % f32", "PSNR dB", "batched/s", "ds[i]/s")
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---" for _ in head) + "|")
    for bits, info, batched, single in rows:
        print(f"| {bits:g} | {info['achieved_bits']:.3f} | {info['pct_of_uint8']:.1f} | "
              f"{info['pct_of_float32']:.2f} | {info['mean_psnr_db']:.2f} | {batched:,.0f} | "
              f"{single:,.0f} |")
    _demo_lossless(src)
    _demo_gede(src)
    return 0


def _demo_lossless(src) -> None:
    """The default codec on the same source: size against per-sample zlib-9 (PNG's coder)."""
    import zlib

    import torchcompress as tc

    x = src.x
    if x.dtype.kind == "f":
        if not (np.array_equal(x, np.round(x)) and x.min() >= 0 and x.max() <= 255):
            print("lossless: skipped (float samples; it stores integers up to 16 bits)")
            return
        x = x.astype(np.uint8)  # digits: whole numbers 0..16
    with tempfile.TemporaryDirectory() as tmp:
        few = slice(0, min(64, len(src.y)))  # compile the numba kernels before timing
        tc.compress((x[few], src.y[few]), f"{tmp}/warm.tcz", progress=False)
        info = tc.compress((x, src.y), f"{tmp}/lossless.tcz", progress=False)
        ds = tc.open(f"{tmp}/lossless.tcz", output="uint8")
        same = all(np.array_equal(ds[i][0].numpy(), x[i]) for i in range(len(ds)))
    zlib_pct = 100.0 * sum(len(zlib.compress(a.tobytes(), 9)) for a in x) / x.size
    print(f"lossless (the default codec): {info['pct_of_uint8']:.1f}% of uint8 (whole archive), "
          f"per-sample zlib-9 {zlib_pct:.1f}%; bit-exact: {same}; "
          f"{info['num_samples'] / info['seconds']:,.0f} samples/s compress")


def _demo_gede(src) -> None:
    """Lossless GeDe on the same source: size, and that every sample came back."""
    import torchcompress as tc

    params = {"mode": "none"}
    if src.x.dtype.kind == "f":
        if not np.array_equal(src.x, np.round(src.x)):
            print("GeDe lossless: skipped (float samples that are not whole numbers need precision=)")
            return
        params["precision"] = 0
    elif src.x.dtype == np.uint8 and src.x.ndim == 4 and src.x.shape[1] in (1, 3):
        params["mode"] = "lossless"
    with tempfile.TemporaryDirectory() as tmp:
        # The first call compiles the numba kernels (seconds on a fresh clone); time the second.
        few = slice(0, min(64, len(src.y)))
        tc.compress((src.x[few], src.y[few]), f"{tmp}/warm.tcz", codec="gede", progress=False,
                    **params)
        info = tc.compress((src.x, src.y), f"{tmp}/gede.tcz", codec="gede", progress=False, **params)
    print(f"GeDe lossless (mode={params['mode']!r}, class-wise): "
          f"{info['pct_of_uint8']:.1f}% of uint8, {info['pct_of_float32']:.2f}% of float32, every "
          f"sample decoded and checked (verified={info['verified']}), "
          f"{info['num_samples'] / info['encode_seconds']:,.0f} samples/s fit+encode")


#: flags that belong to some codecs: flag -> (argparse dest, codecs)
_CODEC_FLAGS = {
    "--fit-samples": ("fit_samples", ("lossless", "lossy", "gede")),
    "--colour": ("colour", ("lossless",)), "--predictor": ("predictor", ("lossless",)),
    "--bits": ("bits", ("adq", "lossy")), "--allocation": ("allocation", ("adq",)),
    "--mode": ("mode", ("gede",)), "--tau": ("tau", ("gede",)), "--one-model": ("one_model", ("gede",)),
}
#: Python argument names in library messages -> the flags a CLI user typed
_FLAG_NAMES = [(re.compile(r"\boverwrite=True\b"), "--overwrite"),
               (re.compile(r"\b(layout|codec|mode|allocation)=['\"]([^'\"]*)['\"]"), r"--\1 \2"),
               (re.compile(r"\bfit_samples=(-?[0-9.e+]+)"), r"--fit-samples \1"),
               (re.compile(r"\bnum_workers=(-?[0-9.e+]+)"), r"--num-workers \1"),
               (re.compile(r"\b(bits|tau)=(-?[0-9.e+]+)"), r"--\1 \2"),
               (re.compile(r"\b(layout|codec|mode|allocation|bits|tau|overwrite)=(?=[ ;,)])"), r"--\1"),
               (re.compile(r"\bfit_samples=(?=[ ;,)])"), "--fit-samples"),
               (re.compile(r"\bresize=\(height, width\)"), "--resize H W"),
               (re.compile(r"\bresize=(-?[0-9]+)"), r"--resize \1"),
               (re.compile(r"\bresize\[[01]\]=(-?[0-9]+)"), r"--resize \1"),
               (re.compile(r"--codec (\w+) or '(\w+)'"), r"--codec \1 or \2")]


def _as_flags(message: str) -> str:
    for pattern, repl in _FLAG_NAMES:
        message = pattern.sub(repl, message)
    return message


def _codec_params(args) -> dict:
    """The chosen codec's options from its flags; a flag of another codec is a usage error."""
    given = [f for f, (dest, _) in _CODEC_FLAGS.items() if getattr(args, dest) not in (None, False)]
    wrong = [f for f in given if args.codec not in _CODEC_FLAGS[f][1]]
    if wrong:
        valid = [f for f, (_, c) in _CODEC_FLAGS.items() if args.codec in c]
        flags = f"its flags are {', '.join(valid)}" if valid else "it takes no codec flags"
        raise _UsageError(f"{', '.join(wrong)} do{'es' if len(wrong) == 1 else ''} not apply to "
                          f"--codec {args.codec}; {flags}")
    params = {dest: getattr(args, dest) for f, (dest, c) in _CODEC_FLAGS.items()
              if args.codec in c and getattr(args, dest) is not None and dest != "one_model"}
    if args.codec == "gede" and args.one_model:
        params["classwise"] = False
    return params


def _resize_arg(values):
    """``--resize H W`` as (H, W), ``--resize N`` as N (the shorter edge)."""
    if values is None:
        return None
    if len(values) not in (1, 2):
        raise _UsageError(f"--resize takes H W or one N (the shorter edge), but got "
                          f"{len(values)} numbers")
    return values[0] if len(values) == 1 else tuple(values)


def _classes_from(archive: str, source) -> list:
    """``--classes-from ARCHIVE``: that archive's class names, which must hold every class of
    the folder ``source`` (its labels are then renumbered by name)."""
    import torchcompress as tc

    classes = tc.format.ArchiveReader(archive).manifest.classes
    if classes is None:
        raise _UsageError(f"--classes-from {archive}: that archive names no classes, so it "
                          "gives no numbering to follow")
    if not (isinstance(source, str) and os.path.isdir(source)):
        raise _UsageError("--classes-from numbers a folder's classes (its subfolders) by name; "
                          f"{source} is not a folder")
    from torchvision.datasets.folder import find_classes

    own = [c for c in find_classes(source)[0] if not c.startswith(".")]  # compress refuses those
    missing = [c for c in own if c not in classes]
    if missing:
        raise _UsageError(f"--classes-from {archive}: the source's classes {listing(missing)} "
                          f"are not among that archive's {len(classes)}, so its labels cannot "
                          "be numbered as the archive's")
    return classes


def _compress(args) -> int:
    import torchcompress as tc
    from torchcompress.errors import LargerThanFilesWarning

    params = _codec_params(args)
    if args.split is not None and not args.source.startswith("torchvision:"):
        raise _UsageError(f"--split chooses a split of a torchvision:NAME:ROOT source, but "
                          f"SOURCE is {args.source!r}; leave --split out")
    source = _torchvision_source(args.source, args.split) \
        if args.source.startswith("torchvision:") else args.source
    classes = None if args.classes_from is None else _classes_from(args.classes_from, source)
    with _torchrun_group() as rank, warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", LargerThanFilesWarning)
        info = tc.compress(source, args.out, codec=args.codec, layout=args.layout,
                           overwrite=args.overwrite, progress=not args.quiet,
                           num_workers=args.num_workers, resize=_resize_arg(args.resize),
                           classes=classes, distributed=rank is not None or None,
                           **params)  # under torchrun every rank shares the work
        if rank is None or rank == 0:
            print(tc.datasets.describe(info))
    for w in caught:  # ours as a note in the flags typed; any other warning as Python shows it
        if issubclass(w.category, LargerThanFilesWarning):
            if rank is None or rank == 0:
                print(f"note: {_as_flags(str(w.message))}", file=sys.stderr)
        else:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    return 0


@contextlib.contextmanager
def _torchrun_group():
    """Under ``torchrun`` (WORLD_SIZE > 1 and MASTER_ADDR set), join its gloo process group, so
    that every rank encodes its shards; yields this rank, or None when run alone. A group this
    made is destroyed on the way out: left to interpreter exit, gloo's threads are torn down
    unjoined and the process aborts ("terminate called without an active exception")."""
    import os

    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or "MASTER_ADDR" not in os.environ:
        yield None
        return
    import torch.distributed as dist

    if dist.is_initialized():
        yield dist.get_rank()
        return
    dist.init_process_group("gloo")
    try:
        yield dist.get_rank()
    finally:
        dist.destroy_process_group()


def _torchvision_source(spec: str, split: str | None = None):
    """``torchvision:NAME:ROOT``: ``torchvision.datasets.NAME`` at ROOT, its training split or
    ``split`` (never downloaded)."""
    parts = spec.split(":", 2)
    if len(parts) != 3 or not parts[1] or not parts[2]:
        raise _UsageError(f"SOURCE {spec!r} should be torchvision:NAME:ROOT, e.g. "
                          "torchvision:CIFAR10:data")
    return _torchvision_dataset(parts[1], parts[2], f"SOURCE {spec!r}", split=split)


def _split_kwargs(name: str, params, split: str | None, what: str) -> dict:
    """The keyword that picks ``split`` of ``torchvision.datasets.NAME``: ``train=`` (train or
    test) where the class takes it, else ``split=``; its training split where ``split`` is
    None."""
    if "train" in params:
        if split not in (None, "train", "test"):
            raise _UsageError(f"{what}: --split of {name} is train or test (it takes train=True "
                              f"or False), but got {split!r}")
        return {"train": split != "test"}
    if "split" in params:  # one without a default (EMNIST's subsets) is named as needed
        required = params["split"].default is params["split"].empty
        return {} if split is None or required else {"split": split}
    if split is not None:
        raise _UsageError(f"{what}: {name} has no split to choose (it takes neither train= nor "
                          f"split=), but got --split {split!r}; leave --split out")
    return {}


def _torchvision_dataset(name: str, root: str, what: str, download: bool = False,
                         split: str | None = None):
    """``torchvision.datasets.NAME`` at ``root``, its training split or ``split``; a usage
    error naming ``what`` when there is no such class, it needs arguments the command line does
    not pass, or the data is not there."""
    import inspect

    import torchvision

    cls = getattr(torchvision.datasets, name, None)
    if not name or not inspect.isclass(cls):
        raise _UsageError(f"{what}: {name!r} is not a torchvision dataset class (e.g. CIFAR10, "
                          "MNIST)")
    params = inspect.signature(cls).parameters
    if "root" not in params:
        raise _UsageError(f"{what}: {name} reads no folder (it takes no root=), so there is "
                          "nothing on disk to compress; compress it from Python: "
                          f"tc.compress(torchvision.datasets.{name}(...), OUT)")
    kwargs = _split_kwargs(name, params, split, what)
    if download and "download" in params:
        kwargs["download"] = True
    needed = [k for k, v in params.items() if k != "root" and k not in kwargs
              and v.default is v.empty and v.kind not in (v.VAR_POSITIONAL, v.VAR_KEYWORD)]
    if needed:
        raise _UsageError(f"{what}: {name} needs {listing(needed)}, which the command line "
                          f"does not pass; compress it from Python: tc.compress(torchvision."
                          f"datasets.{name}({root!r}, {needed[0]}=...), OUT)")
    try:
        return cls(root, **kwargs)
    except (RuntimeError, OSError, ValueError, TypeError, ImportError) as e:
        # e.g. "Dataset not found or corrupted", an unknown split, a missing package
        kind = "" if type(e) in (RuntimeError, ValueError) else f"{type(e).__name__}: "
        missing = "download=True" in str(e) or isinstance(e, FileNotFoundError)
        hint = "" if download or not missing else (
            "; the command line does not download: fetch it first with "
            f"torchvision.datasets.{name}(root, download=True)")
        raise _UsageError(f"{what}: {kind}{e} (root {root!r}){hint}") from None


def _info(args) -> int:
    import torchcompress as tc

    info = tc.open(args.path).info
    print(json.dumps(info, indent=2, default=str) if args.json else tc.datasets.describe(info))
    return 0


def _verify(args) -> int:
    import torchcompress as tc

    try:
        report = tc.verify(args.path)
    except tc.FormatError as e:
        print(f"FAILED: {e}", file=sys.stderr)
        return 1
    k = report["shards"]
    print(f"OK: {report['num_samples']:,} samples in {k:,} shard{'' if k == 1 else 's'}, "
          f"{report['bytes']:,} bytes of shards and tables (info's size adds the manifest), "
          "all hashes match")
    return 0


class _UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    """Usage errors are one line on stderr and exit status 2."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="torchcompress", description=__doc__)
    p.add_argument("--debug", action="store_true", help="show the traceback of an error")
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=_Parser)
    d = sub.add_parser("demo", help="the story on bundled data (lossless and lossy against PNG and "
                                    "zstd, training from the archives); with --npz or --torchvision, "
                                    "an ADQ size/quality/speed table of that dataset")
    d.add_argument("--npz", help=".npz with x and y (default: scikit-learn digits)")
    d.add_argument("--torchvision", help="torchvision dataset class name, e.g. CIFAR10 (with "
                                         "--root), or NAME:ROOT as compress takes it")
    d.add_argument("--root", default="data", help="root directory for --torchvision")
    d.add_argument("--download", action="store_true", help="let torchvision download")
    d.add_argument("--layout", choices=["CHW", "HWC"], help="HWC converts (N,H,W,C) arrays")
    d.add_argument("--bits", type=float, nargs="+", default=[2.0, 4.0])
    d.set_defaults(fn=_demo)
    c = sub.add_parser("compress", help="compress an .npz (x, y) or an image folder into an archive",
                       description="Compress a source into an archive. Under torchrun (e.g. "
                                   "torchrun --nproc_per_node=8 -m torchcompress compress ...) "
                                   "every rank encodes its shards and rank 0 commits.")
    c.add_argument("source", help="an .npz with x and y, a folder of class subfolders of images, "
                                  "or torchvision:NAME:ROOT (the training split, or --split; not "
                                  "downloaded)")
    c.add_argument("out")
    c.add_argument("--split", help="the split of a torchvision:NAME:ROOT source: train or test "
                                   "where NAME takes train= (as CIFAR10, MNIST), else its own "
                                   "split= names (e.g. SVHN's extra); default: the training split")
    c.add_argument("--codec", default="lossless", choices=["lossless", "lossy", "original", "adq", "gede"])
    c.add_argument("--fit-samples", type=int,
                   help="lossless, lossy: samples that fit the model (4096); gede: streams above it (16384)")
    c.add_argument("--colour", choices=["auto", "ycocg", "subtract_green"],
                   help="lossless: colour transform of RGB(A) images (auto: the smaller)")
    c.add_argument("--predictor", choices=["auto", "med", "least_squares"],
                   help="lossless: least_squares fits linear predictors for 8-bit RGB(A) images: "
                        "smaller, slower to decode one at a time; auto: least squares where it "
                        "codes 1%% smaller, else med (auto)")
    c.add_argument("--bits", type=float, help="lossy: average bits per value (0.5); adq: (2)")
    c.add_argument("--allocation", choices=["adaptive", "uniform"], help="adq: (adaptive)")
    c.add_argument("--mode", choices=["none", "dct", "lossless"],
                   help="gede: integer transform in front of deduplication (none)")
    c.add_argument("--tau", type=int, help="gede: plateau threshold (16)")
    c.add_argument("--one-model", action="store_true", default=None,
                   help="gede: one model, not one per class")
    c.add_argument("--layout", choices=["CHW", "HWC"], help="HWC converts (N,H,W,C) arrays")
    c.add_argument("--resize", type=int, nargs="+", metavar="N",
                   help="resize folder images as they are read: H W to H x W (e.g. for adq, "
                        "gede), one N to a shorter edge of N keeping the aspect ratio")
    c.add_argument("--num-workers", type=int, default=1,
                   help="processes that read and encode chunks: this one and N-1 forked "
                        "workers (0 or 1: this one alone); the bytes do not depend on it")
    c.add_argument("--classes-from", metavar="ARCHIVE",
                   help="number the source's classes as this archive does (a validation folder "
                        "as its training archive; renumbered by name)")
    c.add_argument("--overwrite", action="store_true")
    c.add_argument("--quiet", action="store_true", help="no progress bars")
    c.set_defaults(fn=_compress)
    i = sub.add_parser("info", help="print an archive's summary")
    i.add_argument("path")
    i.add_argument("--json", action="store_true", help="everything, as JSON, for scripts")
    i.set_defaults(fn=_info)
    v = sub.add_parser("verify", help="recompute hashes and check structure")
    v.add_argument("path")
    v.set_defaults(fn=_verify)
    return p


def main(argv=None) -> int:
    from .errors import CodecError, FormatError

    args = _parser().parse_args(argv)
    try:
        return args.fn(args)
    except BrokenPipeError:  # `torchcompress info x | head`: the reader has what it wanted
        # Python flushes stdout again at exit: point it at /dev/null so that raises nothing
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (_UsageError, ValueError, TypeError, OSError, CodecError, FormatError) as e:
        if args.debug:
            raise
        print(f"torchcompress {args.cmd}: error: {_as_flags(str(e))}", file=sys.stderr)
        return 2
