"""Data a notebook has in hand: NumPy arrays or a `tf.data.Dataset`, as a `DataSource`.

The Python API (`tfnas.search`, `tfnas.train`) takes these besides the
dataset names and paths of the commands. Images are what a Keras user has:

- uint8 in 0..255, or float in [0, 1] (scaled by 255, so that the
  normalization is the one every other source gets);
- (N, H, W, C) with C = 1 or 3, or (N, H, W) for grayscale;
- labels: integers 0..K-1, shape (N,) or (N, 1).

A dataset is read once into memory (of (image, label) elements or batches):
for data that does not fit, give the commands' names or folders instead.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import tensorflow as tf

from tfnas.datasets.sources import IN_MEMORY, DataSource
from tfnas.errors import DataError


def is_in_memory(data: Any) -> bool:
    """Whether `data` is arrays or a dataset (not a dataset's name or path)."""
    return not isinstance(data, str)


def as_arrays(data: Any, what: str) -> tuple[np.ndarray, np.ndarray, float]:
    """(images as float32 in 0..255, (N, H, W, C); labels as int64, (N,); scale) of `data`.

    The scale is what the given images were multiplied by: 255 for floats, 1 for uint8.

    Args:
        data: An `(x, y)` pair of arrays, or a `tf.data.Dataset` of
            (image, label) elements or batches.
        what: How messages name the argument (`data`, `validation_data`).

    Raises:
        DataError: Anything but the shapes, types and ranges above, named.
    """
    if isinstance(data, tf.data.Dataset):
        images, labels = _read_dataset(data, what)
    elif isinstance(data, tuple | list) and len(data) == 2:
        images, labels = np.asarray(data[0]), np.asarray(data[1])
    else:
        raise DataError(
            f"{what}: got {type(data).__name__}; expected an (x, y) pair of NumPy arrays, "
            "a tf.data.Dataset of (image, label), or a dataset's name or path"
        )
    images, scale = _images(images, what)
    return images, _labels(labels, len(images), what), scale


def _read_dataset(dataset: tf.data.Dataset, what: str) -> tuple[np.ndarray, np.ndarray]:
    spec = dataset.element_spec
    if not (isinstance(spec, tuple) and len(spec) == 2):
        raise DataError(f"{what}: a dataset of {spec}; expected (image, label) elements or batches")
    batched = spec[0].shape.rank == 4 or (spec[0].shape.rank == 3 and spec[1].shape.rank == 1)
    pairs = list((dataset.unbatch() if batched else dataset).as_numpy_iterator())
    if not pairs:
        raise DataError(f"{what}: the dataset is empty")
    return np.stack([image for image, _ in pairs]), np.stack([label for _, label in pairs])


def _images(images: np.ndarray, what: str) -> tuple[np.ndarray, float]:
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise DataError(
            f"{what}: images of shape {images.shape}; expected (N, H, W, C) with C = 1 or 3, "
            "or (N, H, W) for grayscale"
        )
    if images.dtype == np.uint8:
        return images.astype(np.float32), 1.0
    if not np.issubdtype(images.dtype, np.floating):
        raise DataError(
            f"{what}: images of dtype {images.dtype}; expected uint8 in 0..255 or float in [0, 1]"
        )
    low, high = float(images.min()), float(images.max())
    if not (np.isfinite(low) and np.isfinite(high) and low >= 0.0 and high <= 1.0):
        raise DataError(
            f"{what}: float images range over [{low:g}, {high:g}]; expected [0, 1] (they are "
            "scaled by 255): divide by 255, or pass uint8 images in 0..255"
        )
    return (images * 255.0).astype(np.float32), 255.0


def _labels(labels: np.ndarray, count: int, what: str) -> np.ndarray:
    labels = labels.reshape(-1) if labels.ndim == 2 and labels.shape[1] == 1 else labels
    if labels.ndim != 1 or len(labels) != count or not np.issubdtype(labels.dtype, np.integer):
        raise DataError(
            f"{what}: labels of shape {labels.shape} and dtype {labels.dtype} for {count} "
            "images; expected one integer class per image, shape (N,) (one-hot labels: "
            "take argmax(y, axis=-1))"
        )
    if len(labels) and labels.min() < 0:
        raise DataError(f"{what}: a label of {labels.min()}; expected classes 0..K-1")
    return labels.astype(np.int64)


@dataclasses.dataclass(frozen=True)
class InMemoryData:
    """Data given in memory, as a source.

    Attributes:
        source: Training (then validation) examples, and the test split.
        valid_count: How many of the source's last training examples are the
            validation data given (0: none given).
        input_scale: What the given images were multiplied by to get 0..255:
            255 for float images in [0, 1], 1 for uint8.
    """

    source: DataSource
    valid_count: int
    input_scale: float


def in_memory_source(
    train: Any, test: Any | None = None, validation: Any | None = None
) -> InMemoryData:
    """The source of data given in memory.

    Validation data, when given, are appended to the training split and held
    out by position (`Pipeline.valid_at_end`), so the search's arch steps and
    the training's monitoring read them as they read a held-out split.

    Args:
        train: The training data (see `as_arrays`).
        test: Test data, reported at the end; None for none.
        validation: Validation data; None to hold out `valid_size` of `train`.

    Raises:
        DataError: Data of the wrong shape, type or range, or splits that disagree.
    """
    parts = {"data": as_arrays(train, "data")}
    if validation is not None:
        parts["validation_data"] = as_arrays(validation, "validation_data")
    if test is not None:
        parts["test_data"] = as_arrays(test, "test_data")
    images, labels, scale = parts["data"]
    shape = images.shape[1:]
    for name, (part_images, _, part_scale) in parts.items():
        if part_images.shape[1:] != shape or part_scale != scale:
            raise DataError(
                f"{name}: images of shape {part_images.shape[1:]} scaled by {part_scale:g}, "
                f"but data's are {shape} scaled by {scale:g}; give every split the same "
                "height, width, channels and dtype"
            )
    num_classes = int(max(part[1].max() for part in parts.values())) + 1
    if num_classes < 2:
        raise DataError(f"data: labels of {num_classes} class; expected at least 2")
    valid_count = 0
    if validation is not None:
        valid_images, valid_labels, _ = parts["validation_data"]
        images = np.concatenate([images, valid_images])
        labels = np.concatenate([labels, valid_labels])
        valid_count = len(valid_labels)
    test_split, test_size = None, 0
    if test is not None:
        test_images, test_labels, _ = parts["test_data"]
        test_split = tf.data.Dataset.from_tensor_slices((test_images, test_labels))
        test_size = len(test_labels)
    source = DataSource(
        name=IN_MEMORY,
        num_classes=num_classes,
        train=tf.data.Dataset.from_tensor_slices((images, labels)),
        train_labels=labels,
        test=test_split,
        test_size=test_size,
        fixed_resolution=shape[0] if shape[0] == shape[1] else None,
        channels=shape[-1],
    )
    return InMemoryData(source, valid_count, scale)
