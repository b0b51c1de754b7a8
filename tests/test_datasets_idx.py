"""IDX sets (Fashion-MNIST, MNIST): read, checked, and loaded as grayscale sources."""

import gzip
import struct

import numpy as np
import pytest

from tfnas.datasets import idx, sources
from tfnas.datasets.pipeline import Pipeline
from tfnas.errors import DataError


def write_idx(path, array, type_code=0x08, compress=False, cut=0, extra=b""):
    """An IDX file of `array` (big-endian), optionally gzipped, truncated or padded."""
    dtype = idx.IDX_TYPES[type_code]
    header = bytes([0, 0, type_code, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    raw = header + np.ascontiguousarray(array, dtype).tobytes() + extra
    raw = raw[: len(raw) - cut]
    path.write_bytes(gzip.compress(raw) if compress else raw)
    return path


def write_set(directory, train=40, test=20, classes=4, size=6, compress=True, seed=0):
    """A small MNIST-style set: labels cycle through the classes, images encode their label."""
    rng = np.random.default_rng(seed)
    directory.mkdir(parents=True, exist_ok=True)
    suffix = ".gz" if compress else ""
    for split, count in (("train", train), ("test", test)):
        labels = np.arange(count) % classes
        images = rng.integers(0, 40, (count, size, size)).astype(np.uint8)
        images[:, : size // 2] += (labels * 50).astype(np.uint8)[:, None, None]
        image_name, label_name = idx.SPLIT_FILES[split]
        write_idx(directory / f"{image_name}{suffix}", images, compress=compress)
        write_idx(directory / f"{label_name}{suffix}", labels.astype(np.uint8), compress=compress)
    return directory


@pytest.mark.parametrize("type_code", sorted(idx.IDX_TYPES))
@pytest.mark.parametrize("compress", [False, True])
def test_read_idx_round_trips_every_type(tmp_path, type_code, compress):
    array = (np.arange(24).reshape(2, 3, 4) % 100).astype(idx.IDX_TYPES[type_code])
    path = write_idx(tmp_path / "a.idx", array, type_code, compress)
    got = idx.read_idx(path)
    assert got.dtype.isnative and got.shape == (2, 3, 4)
    np.testing.assert_array_equal(got, array)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"cut": 5}, r"is truncated: shape \(3, 4, 4\) needs 48 bytes of values, it holds 43"),
        ({"extra": b"xx"}, "is longer than its header says"),
        ({"type_code": 0x08, "cut": 50}, "truncated inside its header|is truncated"),
    ],
)
def test_truncated_or_padded_files_are_refused(tmp_path, kwargs, message):
    path = write_idx(tmp_path / "a.idx", np.zeros((3, 4, 4), np.uint8), **kwargs)
    with pytest.raises(DataError, match=message):
        idx.read_idx(path)


def test_a_file_that_is_not_idx_names_its_first_bytes(tmp_path):
    (tmp_path / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    with pytest.raises(DataError, match="is not an IDX file: its first bytes are 89504e47"):
        idx.read_idx(tmp_path / "a.png")
    (tmp_path / "b.idx").write_bytes(b"\x00\x00\x07\x01\x00\x00\x00\x01\x00")
    with pytest.raises(DataError, match="type code 0x07; expected one of 0x08"):
        idx.read_idx(tmp_path / "b.idx")
    with pytest.raises(DataError, match="does not exist"):
        idx.read_idx(tmp_path / "missing.idx")


def test_an_idx_set_loads_as_a_grayscale_source_and_batches(tmp_path):
    root = write_set(tmp_path / "set")
    source = sources.load_source(f"idx:{root}")
    assert (source.num_classes, source.channels, source.fixed_resolution) == (4, 1, 6)
    assert (source.train_size, source.test_size) == (40, 20)
    pipeline = Pipeline(
        source, 6, batch_size=8, valid_batch_size=4, valid_size=8, augment="pad_crop", seed=0
    )
    images, labels = next(iter(pipeline.train_epoch(0)))
    assert images.shape == (8, 6, 6, 1) and labels.shape == (8,)
    test_images, _ = next(iter(pipeline.test_batches()))
    assert test_images.shape == (4, 6, 6, 1)


def test_fashion_mnist_reads_the_idx_files_of_manual_dir(tmp_path):
    root = write_set(tmp_path / "fm", classes=10, train=50, compress=False)
    source = sources.load_source("fashion_mnist", manual_dir=str(root))
    assert source.name == "fashion_mnist" and source.num_classes == 10 and source.channels == 1


def test_inconsistent_sets_say_what_is_wrong(tmp_path):
    root = write_set(tmp_path / "a")
    (root / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match=r"has no t10k-labels-idx1-ubyte\[.gz\]; expected the four"):
        sources.load_source(f"idx:{root}")
    root = write_set(tmp_path / "b")
    write_idx(root / "train-labels-idx1-ubyte.gz", np.zeros(39, np.uint8), compress=True)
    with pytest.raises(DataError, match="40 images but 39 labels"):
        sources.load_source(f"idx:{root}")
    root = write_set(tmp_path / "c")
    write_idx(root / "t10k-images-idx3-ubyte.gz", np.zeros((20, 5, 5), np.uint8), compress=True)
    with pytest.raises(DataError, match=r"train images are \(6, 6, 1\), test images \(5, 5, 1\)"):
        sources.load_source(f"idx:{root}")
    root = write_set(tmp_path / "d")
    labels = (np.arange(40) % 4).astype(np.uint8)
    labels[labels == 2] = 3  # class 2 has no example
    write_idx(root / "train-labels-idx1-ubyte.gz", labels, compress=True)
    with pytest.raises(DataError, match=r"classes \[2\] have no example"):
        sources.load_source(f"idx:{root}")
    with pytest.raises(DataError, match="does not exist or is empty"):
        sources.load_source(f"idx:{tmp_path / 'nowhere'}")
