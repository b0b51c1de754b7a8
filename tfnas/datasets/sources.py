"""Where images come from: the demo data, IDX files, tensorflow-datasets, an image folder.

A `DataSource` is the raw training split in a fixed order (so a seeded
train/valid split and a seeded shuffle give the same batches on every run),
its labels as an array (for the class-balanced split), the test split used
only for reporting, and how to decode an element. Large datasets keep their
images encoded until after shuffling, so that the shuffle buffer holds bytes.

Offline, nothing is ever downloaded unless asked: an unprepared tfds dataset
fails at once with a message that says how to prepare it.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from pathlib import Path

import numpy as np
import tensorflow as tf

from tfnas.datasets import demo, idx
from tfnas.errors import DataError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif")
TEST_FOLDER_NAMES = ("test", "val", "validation")
FOLDER_PREFIX = "folder:"
IDX_PREFIX = "idx:"
# `--dataset` of a run whose data were given in memory (`tfnas.datasets.in_memory`):
# recorded in its config.json; nothing on disk to load it from.
IN_MEMORY = "in_memory"
# Read from the original IDX files when they are found (`--manual_dir`, or
# where Debian's package puts them), else through tensorflow-datasets.
IDX_DATASETS = {"fashion_mnist": idx.FASHION_MNIST_DIR}


def _decode_image(image: tf.Tensor) -> tf.Tensor:
    return tf.io.decode_image(image, channels=3, expand_animations=False)


def _identity(image: tf.Tensor) -> tf.Tensor:
    return image


@dataclasses.dataclass(frozen=True)
class DataSource:
    """A dataset's raw splits.

    Attributes:
        name: The dataset's name (`demo`, a tfds name, or `folder:ROOT`).
        num_classes: Number of classes; labels are 0..num_classes-1.
        train: The training split, (image, label) in a fixed order; images
            possibly still encoded (see `decode`).
        train_labels: Labels of `train`, in the same order.
        test: The test split, (image, label), or None when the data has none.
        test_size: Number of test examples (0 without a test split).
        decode: Turns an element's image into uint8 HxWxC.
        fixed_resolution: The images' height and width when all share them
            (demo, CIFAR), else None (then training crops and resizes).
        channels: C: 3 (RGB) or 1 (grayscale, e.g. Fashion-MNIST); the
            network's input channels follow it.
    """

    name: str
    num_classes: int
    train: tf.data.Dataset
    train_labels: np.ndarray
    test: tf.data.Dataset | None
    test_size: int
    decode: Callable[[tf.Tensor], tf.Tensor] = _identity
    fixed_resolution: int | None = None
    channels: int = 3

    @property
    def train_size(self) -> int:
        """Number of training examples."""
        return len(self.train_labels)


def demo_source(resolution: int = demo.RESOLUTION) -> DataSource:
    """The embedded demo dataset (generated, no files, no network)."""
    images, labels = demo.load("train", resolution)
    test_images, test_labels = demo.load("test", resolution)
    return DataSource(
        name="demo",
        num_classes=demo.NUM_CLASSES,
        train=tf.data.Dataset.from_tensor_slices((images, labels)),
        train_labels=labels,
        test=tf.data.Dataset.from_tensor_slices((test_images, test_labels)),
        test_size=len(test_labels),
        fixed_resolution=resolution,
    )


def _class_files(root: Path) -> dict[str, list[str]]:
    classes = sorted(p for p in root.iterdir() if p.is_dir())
    return {
        c.name: sorted(str(f) for f in c.rglob("*") if f.suffix.lower() in IMAGE_EXTENSIONS)
        for c in classes
    }


def _folder_dataset(
    files: dict[str, list[str]], class_names: list[str]
) -> tuple[tf.data.Dataset, np.ndarray]:
    index = {name: i for i, name in enumerate(class_names)}
    paths = [path for name in files for path in files[name]]
    labels = np.array([index[name] for name in files for _ in files[name]], np.int64)
    dataset = tf.data.Dataset.from_tensor_slices((paths, labels)).map(
        lambda path, label: (tf.io.read_file(path), label)
    )
    return dataset, labels


def folder_source(root: str | os.PathLike[str]) -> DataSource:
    """Images in `root/<class>/*.jpg`, or `root/train/<class>/...` with `root/test|val/...`.

    Raises:
        DataError: When the folder is missing, has no class folders or no images.
    """
    root = Path(root)
    if not root.is_dir():
        raise DataError(
            f"image folder {str(root)!r} does not exist; expected ROOT/<class>/*.jpg "
            "(optionally ROOT/train/<class>/ and ROOT/test/<class>/)"
        )
    test_root = next((root / n for n in TEST_FOLDER_NAMES if (root / n).is_dir()), None)
    train_root = root / "train" if test_root is not None and (root / "train").is_dir() else root
    files = _class_files(train_root)
    files = {name: paths for name, paths in files.items() if paths}
    if len(files) < 2:
        raise DataError(
            f"image folder {str(train_root)!r} has {len(files)} class folders with images "
            f"({', '.join(IMAGE_EXTENSIONS)}); expected at least 2, as ROOT/<class>/*.jpg"
        )
    class_names = sorted(files)
    train, labels = _folder_dataset(files, class_names)
    test, test_size = None, 0
    if test_root is not None and train_root != root:
        test_files = _class_files(test_root)
        unknown = sorted(set(test_files) - set(class_names))
        if unknown:
            raise DataError(
                f"test folder {str(test_root)!r} has classes the training folder lacks: {unknown}"
            )
        test, test_labels = _folder_dataset(test_files, class_names)
        test_size = len(test_labels)
    return DataSource(
        name=f"{FOLDER_PREFIX}{root}",
        num_classes=len(class_names),
        train=train,
        train_labels=labels,
        test=test,
        test_size=test_size,
        decode=_decode_image,
    )


def tfds_source(
    name: str,
    data_dir: str | None = None,
    manual_dir: str | None = None,
    download: bool = False,
) -> DataSource:
    """A tensorflow-datasets dataset with `image` and `label` features.

    Args:
        name: The tfds name (`cifar10`, `imagenet2012`, `imagenette`, ...).
        data_dir: tfds data directory (default: tfds' own, ~/tensorflow_datasets).
        manual_dir: Where manually downloaded files are (`imagenet2012`).
        download: Whether to download and prepare the dataset when it is not
            prepared yet. Off by default: offline, tfds retries for minutes.

    Raises:
        DataError: Unknown dataset, dataset not prepared (and no download
            asked for), or a dataset without image classification features.
    """
    import tensorflow_datasets as tfds  # imported here: it is slow and only tfds sources need it

    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError:
        raise DataError(
            f"unknown dataset {name!r}: expected 'demo', a tensorflow-datasets name (cifar10, "
            "imagenet2012, imagenette, ...; see `tfds.list_builders()`), or folder:ROOT"
        ) from None
    features = builder.info.features
    if "image" not in features or "label" not in features:
        raise DataError(
            f"dataset {name!r} has features {sorted(features)}; expected 'image' and 'label'"
        )
    if not builder.is_prepared():
        if manual_dir is None and not download:
            raise DataError(
                f"dataset {name!r} is not prepared in {builder.data_dir!r} and downloads are "
                f"off; prepare it where there is network (`tfds build {name} "
                f"--data_dir=DIR`) and pass --data_dir=DIR, "
                + (
                    "or pass --manual_dir with the downloaded files"
                    if builder.MANUAL_DOWNLOAD_INSTRUCTIONS
                    else "or pass --download"
                )
            )
        builder.download_and_prepare(
            download_config=tfds.download.DownloadConfig(manual_dir=manual_dir)
        )
    splits = builder.info.splits
    test_split = next((s for s in ("test", "validation") if s in splits), None)
    skip_decoding = {"image": tfds.decode.SkipDecoding()}

    def split(name: str) -> tf.data.Dataset:
        return builder.as_dataset(
            split=name, as_supervised=True, shuffle_files=False, decoders=skip_decoding
        )

    train = split("train")
    # One pass over the records: they hold the labels next to the (undecoded) images.
    label_batches = train.map(lambda image, label: label).batch(65536)
    labels = np.concatenate([y.numpy() for y in label_batches]).astype(np.int64)
    shape = features["image"].shape
    fixed = shape[0] if shape[0] is not None and shape[0] == shape[1] else None
    return DataSource(
        name=name,
        num_classes=features["label"].num_classes,
        train=train,
        train_labels=labels,
        test=split(test_split) if test_split else None,
        test_size=splits[test_split].num_examples if test_split else 0,
        decode=_decode_image,
        fixed_resolution=fixed,
    )


def idx_source(directory: str | os.PathLike[str], name: str | None = None) -> DataSource:
    """An IDX set (MNIST-style: `train-images-idx3-ubyte[.gz]` and its three siblings).

    Raises:
        DataError: A file is missing, truncated or not IDX, or the set is
            inconsistent (`tfnas.datasets.idx.read_idx_set`).
    """
    (images, labels), (test_images, test_labels), num_classes = idx.read_idx_set(directory)
    height, width, channels = images.shape[1:]
    return DataSource(
        name=name or f"{IDX_PREFIX}{directory}",
        num_classes=num_classes,
        train=tf.data.Dataset.from_tensor_slices((images, labels)),
        train_labels=labels,
        test=tf.data.Dataset.from_tensor_slices((test_images, test_labels)),
        test_size=len(test_labels),
        fixed_resolution=height if height == width else None,
        channels=channels,
    )


def load_source(
    dataset: str,
    data_dir: str | None = None,
    manual_dir: str | None = None,
    download: bool = False,
    demo_resolution: int = demo.RESOLUTION,
) -> DataSource:
    """The source named by `--dataset`: `demo`, `folder:ROOT`, `idx:DIR`, or a tfds name.

    `fashion_mnist` is read from its four original IDX files in `manual_dir`,
    or in `/usr/share/datasets/fashion-mnist` (Debian's `dataset-fashion-mnist`)
    when that exists; otherwise tensorflow-datasets prepares it (its checksums
    accept only the files as first published, not Debian's recompressed ones).
    """
    if dataset == "demo":
        return demo_source(demo_resolution)
    if dataset == IN_MEMORY:
        raise DataError(
            f"--dataset={IN_MEMORY}: the run's data were given in memory to tfnas.search or "
            "tfnas.train; continue it from Python with the same data, or name a dataset"
        )
    if dataset.startswith(FOLDER_PREFIX):
        return folder_source(dataset[len(FOLDER_PREFIX) :])
    if dataset.startswith(IDX_PREFIX):
        return idx_source(dataset[len(IDX_PREFIX) :])
    if dataset in IDX_DATASETS:
        directory = manual_dir or IDX_DATASETS[dataset]
        if manual_dir is not None or Path(directory).is_dir():
            return idx_source(directory, dataset)
    return tfds_source(dataset, data_dir, manual_dir, download)
