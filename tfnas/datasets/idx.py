"""IDX files (the MNIST format): Fashion-MNIST, MNIST, and any set stored the same way.

An IDX file is a 4-byte magic number (two zero bytes, a type code, the number
of dimensions), one big-endian uint32 per dimension, then the values in C
order, big-endian. Sets ship four of them, gzipped or not:
`train-images-idx3-ubyte`, `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte`,
`t10k-labels-idx1-ubyte`.

Everything that can be checked is: the magic number, the type, that the file
holds exactly the values its header announces (a truncated or padded file is
an error, never a shorter dataset), that images and labels agree in count,
that train and test images share a shape, and that labels are 0..K-1.
"""

from __future__ import annotations

import gzip
import os
import struct
from pathlib import Path

import numpy as np

from tfnas.errors import DataError

# IDX type codes -> numpy dtypes (big-endian, as the format stores them).
IDX_TYPES = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
SPLIT_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
# Where Debian's `dataset-fashion-mnist` package installs the original files.
FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST_CLASSES = (
    "t-shirt/top",
    "trouser",
    "pullover",
    "dress",
    "coat",
    "sandal",
    "shirt",
    "sneaker",
    "bag",
    "ankle boot",
)


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """The array an IDX file holds (gzipped or not), in native byte order.

    Raises:
        DataError: The file is missing, not IDX, of an unknown type, or holds
            fewer or more values than its header says.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
    except FileNotFoundError:
        raise DataError(f"IDX file {str(path)!r} does not exist") from None
    except (OSError, EOFError) as error:
        raise DataError(f"IDX file {str(path)!r} cannot be read: {error}") from None
    if len(raw) < 4 or raw[:2] != b"\x00\x00":
        raise DataError(
            f"{str(path)!r} is not an IDX file: its first bytes are {raw[:4].hex() or 'none'}, "
            "expected 0000 then a type code and the number of dimensions (e.g. 00000803)"
        )
    type_code, ndim = raw[2], raw[3]
    if type_code not in IDX_TYPES:
        raise DataError(
            f"IDX file {str(path)!r} has type code 0x{type_code:02x}; expected one of "
            f"{', '.join(f'0x{c:02x}' for c in IDX_TYPES)}"
        )
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"IDX file {str(path)!r} is truncated inside its header")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = IDX_TYPES[type_code]
    expected = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(raw) - header != expected:
        what = "truncated" if len(raw) - header < expected else "longer than its header says"
        raise DataError(
            f"IDX file {str(path)!r} is {what}: shape {shape} needs {expected} bytes of "
            f"values, it holds {len(raw) - header}"
        )
    values = np.frombuffer(raw, dtype, offset=header).reshape(shape)
    return values.astype(dtype.newbyteorder("="))


def find_split_file(directory: Path, name: str) -> Path:
    """`directory/name` or `directory/name.gz`; raises `DataError` listing what is there."""
    for candidate in (directory / name, directory / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    present = sorted(p.name for p in directory.iterdir()) if directory.is_dir() else []
    raise DataError(
        f"IDX directory {str(directory)!r} has no {name}[.gz]; expected the four files "
        f"{', '.join(n for pair in SPLIT_FILES.values() for n in pair)} (gzipped or not)"
        + (f"; it holds {present}" if present else "; it does not exist or is empty")
    )


def read_split(directory: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(images [N, H, W, C] uint8, labels [N] int64) of `split` (`train` or `test`)."""
    image_name, label_name = SPLIT_FILES[split]
    images = read_idx(find_split_file(directory, image_name))
    labels = read_idx(find_split_file(directory, label_name))
    if images.ndim == 3:  # MNIST-style grayscale: one channel
        images = images[..., np.newaxis]
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise DataError(
            f"{image_name} holds an array of shape {images.shape}; expected images "
            "[N, H, W] (grayscale) or [N, H, W, 1 or 3]"
        )
    if images.dtype != np.uint8:
        raise DataError(f"{image_name} holds {images.dtype} values; expected unsigned bytes")
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(
            f"{label_name} holds {labels.dtype} values of shape {labels.shape}; "
            "expected one integer label per image"
        )
    if len(images) != len(labels):
        raise DataError(
            f"{split} split of {str(directory)!r}: {len(images)} images but {len(labels)} labels"
        )
    return images, labels.astype(np.int64)


def read_idx_set(
    directory: str | os.PathLike[str],
) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray], int]:
    """The train and test splits of an IDX set, and its number of classes.

    Raises:
        DataError: A file is missing or invalid, the splits disagree in image
            shape, or the labels are not 0..K-1 with every class in train.
    """
    directory = Path(directory)
    train = read_split(directory, "train")
    test = read_split(directory, "test")
    if train[0].shape[1:] != test[0].shape[1:]:
        raise DataError(
            f"IDX set {str(directory)!r}: train images are {train[0].shape[1:]}, test images "
            f"{test[0].shape[1:]}; expected one shape"
        )
    labels = train[1]
    if len(labels) == 0 or labels.min() < 0:
        raise DataError(f"IDX set {str(directory)!r}: train labels must be integers >= 0")
    num_classes = int(labels.max()) + 1
    missing = sorted(set(range(num_classes)) - set(np.unique(labels).tolist()))
    if num_classes < 2 or missing:
        raise DataError(
            f"IDX set {str(directory)!r}: train labels span 0..{num_classes - 1} but classes "
            f"{missing or [0]} have no example; expected labels 0..K-1 with K >= 2, each present"
        )
    if len(test[1]) and (test[1].min() < 0 or test[1].max() >= num_classes):
        raise DataError(
            f"IDX set {str(directory)!r}: test labels {int(test[1].min())}..{int(test[1].max())} "
            f"fall outside the train labels' 0..{num_classes - 1}"
        )
    return train, test, num_classes


__all__ = [
    "FASHION_MNIST_CLASSES",
    "FASHION_MNIST_DIR",
    "IDX_TYPES",
    "SPLIT_FILES",
    "read_idx",
    "read_idx_set",
]
