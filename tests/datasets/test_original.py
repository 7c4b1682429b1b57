"""``codec="original"``: the source's image files byte for byte, decoded by torchvision.io."""

import warnings

import numpy as np
import pytest
import torch
from PIL import Image
from torchvision.datasets import ImageFolder
from torchvision.io import ImageReadMode, decode_image

import torchcompress as tc
from torchcompress import FormatError


@pytest.fixture
def folder(tmp_path):
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:20, 0:24]
    for c in ("ants", "bees"):
        (tmp_path / "f" / c).mkdir(parents=True)
        for i in range(4):
            a = np.clip(rng.uniform(0, 200, 3) + 2 * (yy + xx)[..., None] + rng.normal(0, 5, (20, 24, 3)),
                        0, 255).astype(np.uint8)[: 16 + i]
            if i == 3:
                Image.fromarray(a[..., 0]).save(tmp_path / "f" / c / f"{i}.png")  # greyscale PNG
            else:
                Image.fromarray(a).save(tmp_path / "f" / c / f"{i}.jpg", quality=85)
    return tmp_path / "f"


def test_files_are_stored_byte_for_byte_and_decode_as_torchvision(tmp_path, folder):
    info = tc.compress(folder, tmp_path / "o.tcz", codec="original", progress=False)
    ref = ImageFolder(folder)
    assert info["classes"] == ref.classes and info["sample_shape"] == [None, None, 24]
    ds = tc.open(tmp_path / "o.tcz")
    assert ds.targets.tolist() == ref.targets
    stored = ds.decoder.records(np.arange(len(ds), dtype=np.int64))
    for i, (path, label) in enumerate(ref.samples):
        raw = open(path, "rb").read()
        assert bytes(stored[i]) == raw
        x, y = ds[i]
        # greyscale PNGs among colour JPEGs: every file decodes as RGB, as ImageFolder gives it
        want = decode_image(torch.frombuffer(bytearray(raw), dtype=torch.uint8),
                            mode=ImageReadMode.RGB)
        assert y == label and x.dtype == torch.uint8 and torch.equal(x, want)
        if path.endswith(".png"):
            assert torch.equal(x, torch.from_numpy(np.asarray(ref[i][0])).permute(2, 0, 1))
    batch = ds.__getitems__([3, 0])
    assert torch.equal(batch[0][0], ds[3][0]) and torch.equal(batch[1][0], ds[0][0])
    f = tc.open(tmp_path / "o.tcz", output="float")[1][0]
    torch.testing.assert_close(f, ds[1][0].float() / 255)
    assert "byte for byte" in tc.datasets.describe(info)


def test_greyscale_files_alone_decode_as_one_plane(tmp_path, folder):
    ref = ImageFolder(folder, is_valid_file=lambda p: p.endswith(".png"))
    info = tc.compress(ref, tmp_path / "g.tcz", codec="original", progress=False)
    assert info["sample_shape"] == [1, 19, 24]
    ds = tc.open(tmp_path / "g.tcz")
    xs, _ = ds.batch([0, 1])
    assert xs.shape == (2, 1, 19, 24)
    assert torch.equal(xs[1, 0], torch.from_numpy(np.asarray(ref[1][0].convert("L"))))


def test_imagefolder_dataset_source_and_same_shapes(tmp_path, folder):
    ref = ImageFolder(folder, is_valid_file=lambda p: p.endswith("0.jpg"))
    info = tc.compress(ref, tmp_path / "o.tcz", codec="original", progress=False)
    assert info["sample_shape"] == [3, 16, 24] and info["num_samples"] == 2
    xs, ys = tc.open(tmp_path / "o.tcz").batch([0, 1])
    assert xs.shape == (2, 3, 16, 24) and ys.tolist() == [0, 1]


def test_a_random_split_part_of_an_image_folder(tmp_path, folder):
    # random_split gives a Subset, which has no .samples: codec='original' refused it
    ref = ImageFolder(str(folder))
    part, _ = torch.utils.data.random_split(ref, [0.5, 0.5],
                                            generator=torch.Generator().manual_seed(0))
    tc.compress(part, tmp_path / "p.tcz", codec="original", progress=False)
    ds = tc.open(tmp_path / "p.tcz")
    assert len(ds) == len(part) and ds.classes == ["ants", "bees"]
    for i, k in enumerate(part.indices):
        path, label = ref.samples[k]
        assert ds[i][1] == label
        # grey and colour files in one archive: all decode as RGB, as ImageFolder gives them
        assert torch.equal(ds[i][0], decode_image(path, mode=ImageReadMode.RGB))



@pytest.mark.parametrize("codec", ["original", "lossless"])
def test_class_names_and_files_through_subset_and_concat(tmp_path, folder, codec):
    """A random_split part kept its class names with codec='original' but lost them with the
    pixel codecs; a ConcatDataset of image folders lost them with every codec, and 'original'
    refused it (no .samples). Both now give the class names (a concat's when its parts share
    them) and list the parts' files."""
    ref = ImageFolder(str(folder))
    part, _ = torch.utils.data.random_split(ref, [0.5, 0.5],
                                            generator=torch.Generator().manual_seed(0))
    for src, want in ((part, [ref.samples[k] for k in part.indices]),
                      (torch.utils.data.ConcatDataset([ref, part]),
                       ref.samples + [ref.samples[k] for k in part.indices]),
                      (tc.ConcatDataset([part, ref]), [ref.samples[k] for k in part.indices]
                       + ref.samples)):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", tc.LargerThanFilesWarning)
            tc.compress(src, tmp_path / "p.tcz", codec=codec, progress=False, overwrite=True)
        ds = tc.open(tmp_path / "p.tcz")
        assert ds.classes == ["ants", "bees"] and ds.targets.tolist() == [y for _, y in want]
        assert torch.equal(ds[len(ds) - 1][0], decode_image(want[-1][0], mode=ImageReadMode.RGB))
    other = ImageFolder(str(folder))
    other.classes = ["x", "y"]
    with pytest.warns(UserWarning, match="label 0 is 'ants' in part 0 but 'x' in part 1"):
        tc.compress(torch.utils.data.ConcatDataset([ref, other]), tmp_path / "q.tcz",
                    codec=codec, progress=False)
    assert tc.open(tmp_path / "q.tcz").classes is None  # parts that disagree name nothing

def test_sources_without_files_are_refused(tmp_path, folder):
    x = np.zeros((2, 3, 4, 4), np.uint8)
    with pytest.raises(TypeError, match=r"codec='original' stores image files, so the source must say "
                                        r"where they are: .* but got tuple"):
        tc.compress((x, np.zeros(2, int)), tmp_path / "a.tcz", codec="original", progress=False)
    with pytest.raises(ValueError, match=r"source .* is not a directory"):
        tc.compress(str(tmp_path / "missing"), tmp_path / "a.tcz", codec="original", progress=False)
    (folder / "ants" / "9.jpg").write_bytes(b"not an image")
    with pytest.raises(ValueError, match=r"source file '.*ants/9.jpg' \(sample 4\) is not a JPEG, "
                                         r"PNG or WebP file \(it starts with b'not an i'\)"):
        tc.compress(folder, tmp_path / "a.tcz", codec="original", progress=False)
    assert not (tmp_path / "a.tcz").exists()


@pytest.mark.parametrize("ext", ["bmp", "tiff", "ppm"])
def test_files_torchvision_cannot_decode_are_refused(tmp_path, folder, ext):
    # ImageFolder lists BMP, TIFF, PPM and PGM files, which torchvision.io does not decode: the
    # archive was written, and every such sample failed to decode in training
    Image.fromarray(np.zeros((5, 6, 3), np.uint8)).save(folder / "bees" / f"x.{ext}")
    with pytest.raises(ValueError, match=rf"x.{ext}' \(sample \d+\) is not a JPEG, PNG or WebP "
                                         r"file .* or use codec='lossless'"):
        tc.compress(folder, tmp_path / "a.tcz", codec="original", progress=False)
    assert not (tmp_path / "a.tcz").exists()
    tc.compress(folder, tmp_path / "b.tcz", progress=False)  # the way the message points to
    ref = ImageFolder(str(folder))
    k = [p for p, _ in ref.samples].index(str(folder / "bees" / f"x.{ext}"))
    assert torch.equal(tc.open(tmp_path / "b.tcz")[k][0], torch.zeros(3, 5, 6, dtype=torch.uint8))


@pytest.mark.parametrize("workers", [1, 2])
def test_a_damaged_file_is_named(tmp_path, folder, workers):
    """A file that starts and ends as a JPEG but Pillow cannot read: the error said "file 5"."""
    path = folder / "bees" / "1.jpg"
    path.write_bytes(b"\xff\xd8\xff" + bytes(range(256)) + b"\xff\xd9")
    with pytest.raises(tc.CodecError, match=r"source file '.*bees/1.jpg' \(sample 5\) is not an "
                                            r"image file Pillow can read .* repair or remove it"):
        tc.compress(folder, tmp_path / "a.tcz", codec="original", progress=False,
                    num_workers=workers)
    assert not (tmp_path / "a.tcz").exists()


@pytest.mark.parametrize("kind", ["jpg", "png"])
def test_a_file_cut_short_is_refused(tmp_path, folder, kind):
    """A JPEG or PNG cut short (a copy that stopped) whose header still reads was stored, and
    torchvision.io failed on it when training reached it."""
    path = folder / "ants" / ("1.jpg" if kind == "jpg" else "3.png")
    whole = path.read_bytes()
    path.write_bytes(whole[:len(whole) * 3 // 4])
    with pytest.raises(ValueError, match=rf"source file '.*ants/{path.name}' \(sample \d\) is a "
                                         r"(JPEG|PNG) file cut short .* repair or remove it"):
        tc.compress(folder, tmp_path / "a.tcz", codec="original", progress=False)
    assert not (tmp_path / "a.tcz").exists()
    path.write_bytes(whole + b"more after the end: a motion photo's video, say")
    tc.compress(folder, tmp_path / "b.tcz", codec="original", progress=False)  # whole: kept
    k = [p for p, _ in ImageFolder(folder).samples].index(str(path))
    rgb = decode_image(str(path), mode=ImageReadMode.RGB)  # the folder mixes grey and colour
    assert torch.equal(tc.open(tmp_path / "b.tcz")[k][0], rgb)
    with pytest.raises(ValueError, match=r"codec='original' does not store: it keeps each file"):
        tc.compress(folder, tmp_path / "c.tcz", codec="original", verify=True, progress=False)


def test_corrupt_file_raises_format_error(tmp_path, folder):
    tc.compress(folder, tmp_path / "o.tcz", codec="original", progress=False)
    from tests.format.edits import rewrite_tensors

    rewrite_tensors(tmp_path / "o.tcz" / "shard-00000.safetensors",
                    lambda t: t["records"].__setitem__(slice(2, 40), 0))  # the first file's header
    with pytest.raises(FormatError, match=r"a stored file does not decode"):
        tc.open(tmp_path / "o.tcz")[0]


def test_device_only_for_file_archives(tmp_path):
    x = np.zeros((2, 3, 4, 4), np.uint8)
    tc.compress((x, np.zeros(2, int)), tmp_path / "l.tcz", progress=False)
    with pytest.raises(ValueError, match=r"device= applies to archives of image files"):
        tc.open(tmp_path / "l.tcz", device="cpu")


def test_a_device_this_machine_lacks_is_named_at_open(tmp_path, folder):
    """device='cuda' without a usable GPU opened, then every decode raised 'a stored file does
    not decode ... run tc.verify', blaming the file."""
    tc.compress(folder, tmp_path / "o.tcz", codec="original", progress=False)
    missing = f"cuda:{torch.cuda.device_count() if torch.cuda.is_available() else 0}"
    with pytest.raises(ValueError, match=rf"device='{missing}', but this machine has .*; pass "
                                         r"device=None to decode on the CPU"):
        tc.open(tmp_path / "o.tcz", device=missing)
    with pytest.raises(ValueError, match=r"device should be a torch device such as 'cuda', "
                                         r"'cuda:1' or 'cpu', but got device='tpu'"):
        tc.open(tmp_path / "o.tcz", device="tpu")
    assert tc.open(tmp_path / "o.tcz", device="cpu")[0][0].device.type == "cpu"


def test_numpy_decoder_of_the_codec_seam(tmp_path, folder):
    """The codec's own (Pillow) decoder: the same pixels as torchvision for PNG files, within
    JPEG decoders' rounding for JPEGs."""
    tc.compress(folder, tmp_path / "o.tcz", codec="original", progress=False)
    dec = tc.format.ArchiveDecoder.from_reader(tc.format.ArchiveReader(tmp_path / "o.tcz"))
    ds = tc.open(tmp_path / "o.tcz")
    got = dec.decode(np.arange(len(ds), dtype=np.int64), np.uint8)
    for i, (path, _) in enumerate(ImageFolder(folder).samples):
        want = ds[i][0].numpy()
        assert got[i].shape == want.shape
        diff = np.abs(got[i].astype(int) - want).max()
        assert diff == 0 if path.endswith(".png") else diff <= 8


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (the device machine)")
def test_device_cuda_decodes_the_jpegs_on_the_gpu(tmp_path, folder):
    tc.compress(folder, tmp_path / "o.tcz", codec="original", progress=False)
    cpu = tc.open(tmp_path / "o.tcz")
    gpu = tc.open(tmp_path / "o.tcz", device="cuda")
    singles = [gpu[i] for i in range(len(gpu))]
    batch = gpu.__getitems__(list(range(len(gpu))))  # the JPEGs in one decode_jpeg call
    for i, ((x, y), (xb, yb)) in enumerate(zip(singles, batch)):
        want, label = cpu[i]
        for got in (x, xb):
            assert got.device.type == "cuda" and got.dtype == torch.uint8
            assert got.shape == want.shape
            # nvJPEG and libjpeg-turbo may round the IDCT and chroma upsampling differently
            assert (got.cpu().int() - want.int()).abs().float().mean() <= 2.0
        assert y == yb == label
