"""The `tf.data` pipelines of a search or a training: split, shuffle, augment, batch.

Everything random is a pure function of (seed, epoch, example index): the
shuffle of an epoch uses a seed made from the run's seed and the epoch, and
each example's augmentation uses stateless random ops seeded with its index.
So an epoch's batches are the same on every run, and a run resumed in the
middle of an epoch skips the batches it already trained on and continues
with exactly the ones an uninterrupted run would have seen.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np
import tensorflow as tf

from tfnas.datasets.sources import DataSource, load_source
from tfnas.errors import ConfigError

AUGMENTATIONS = ("inception", "pad_crop_flip", "pad_crop", "flip", "none")
# ImageNet channel statistics, in 0..255 units; a grayscale image gets their means.
MEAN_RGB = (0.485 * 255, 0.456 * 255, 0.406 * 255)
STDDEV_RGB = (0.229 * 255, 0.224 * 255, 0.225 * 255)
MEAN_GRAY = (sum(MEAN_RGB) / 3,)
STDDEV_GRAY = (sum(STDDEV_RGB) / 3,)
# Evaluation resizes to resolution / CROP_FRACTION, then takes the central crop.
CROP_FRACTION = 0.875
PAD_PIXELS = 4
AUTOTUNE = tf.data.AUTOTUNE


def without_autotune(dataset: tf.data.Dataset) -> tf.data.Dataset:
    """`dataset` with tf.data's autotuning off; its AUTOTUNE values keep their start values.

    Why: with autotuning on, each iterator runs a model thread that sleeps
    between optimizations for a period that doubles up to 60 s, and
    destroying the iterator waits for that sleep to end (TensorFlow 2.21:
    `RootDataset::Iterator::~Iterator` joins the thread). Every epoch makes a
    new iterator, so every epoch ended with a wait of up to a minute on an
    idle CPU: 8 to 27 s measured (`benchmarks.search_profile`'s stack
    samples; a native stack showed the main thread in that destructor).
    Off, a parallel map runs min(16, cores) calls, which autotuning started
    from anyway, and the batches are the same (every map is deterministic).
    """
    options = tf.data.Options()
    options.autotune.enabled = False
    return dataset.with_options(options)


def balanced_split(labels: np.ndarray, valid_size: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Holds out `valid_size` examples, the same number from every class.

    Args:
        labels: The training split's labels.
        valid_size: Number of examples to hold out (0: none); a multiple of
            the number of classes gives exactly balanced classes, a remainder
            goes one each to the first classes.
        seed: Which examples of each class are held out.

    Returns:
        (train indices, valid indices), each sorted.

    Raises:
        ValueError: When a class has too few examples to give its share and
            keep one for training.
    """
    if valid_size == 0:
        return np.arange(len(labels)), np.zeros(0, np.int64)
    classes = np.unique(labels)
    if valid_size < len(classes):
        raise ValueError(
            f"valid_size {valid_size} is smaller than the {len(classes)} classes; hold out "
            "at least one example per class"
        )
    rng = np.random.default_rng(seed)
    share, extra = divmod(valid_size, len(classes))
    valid = []
    for c, label in enumerate(classes):
        members = np.flatnonzero(labels == label)
        wanted = share + (c < extra)
        if wanted >= len(members):
            raise ValueError(
                f"class {label} has {len(members)} examples; cannot hold out {wanted} of them "
                f"for validation (valid_size {valid_size}); lower --valid_size"
            )
        valid.append(rng.choice(members, wanted, replace=False))
    valid_indices = np.sort(np.concatenate(valid))
    train_mask = np.ones(len(labels), bool)
    train_mask[valid_indices] = False
    return np.flatnonzero(train_mask), valid_indices


def channel_statistics(channels: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(mean, stddev) per channel in 0..255 units: ImageNet's for RGB, their means for gray."""
    if channels == 1:
        return MEAN_GRAY, STDDEV_GRAY
    if channels == 3:
        return MEAN_RGB, STDDEV_RGB
    raise ValueError(f"images with {channels} channels: expected 1 (grayscale) or 3 (RGB)")


def normalization_layer(channels: int) -> Any:
    """A Keras layer that normalizes 0..255 images as `normalize` does (serving, notebooks)."""
    import keras

    mean, stddev = channel_statistics(channels)
    return keras.layers.Normalization(
        mean=list(mean), variance=[s * s for s in stddev], name="normalize"
    )


def normalize(image: tf.Tensor) -> tf.Tensor:
    """uint8 (or float in 0..255) RGB or grayscale to float32 with ImageNet mean and stddev."""
    mean, stddev = channel_statistics(image.shape[-1])
    return (tf.cast(image, tf.float32) - tf.constant(mean)) / tf.constant(stddev)


def center_crop(image: tf.Tensor, resolution: int) -> tf.Tensor:
    """The central crop resized to `resolution`, values still 0..255 (what a client sends)."""
    if image.shape[0] == resolution and image.shape[1] == resolution:
        return tf.cast(image, tf.float32)
    shape = tf.shape(image)
    height, width = shape[0], shape[1]
    side = tf.cast(tf.cast(tf.minimum(height, width), tf.float32) * CROP_FRACTION, tf.int32)
    top, left = (height - side) // 2, (width - side) // 2
    crop = image[top : top + side, left : left + side]
    return tf.image.resize(crop, (resolution, resolution), antialias=True)


def eval_transform(image: tf.Tensor, resolution: int) -> tf.Tensor:
    """Deterministic preprocessing: the central crop, resized to `resolution`, normalized."""
    return normalize(center_crop(image, resolution))


def color_jitter(
    image: tf.Tensor, seed: tf.Tensor, brightness: float, saturation: float
) -> tf.Tensor:
    """Random brightness and saturation of an RGB image in 0..255, as torchvision's ColorJitter.

    Brightness multiplies by a factor from U[1 - brightness, 1 + brightness];
    saturation blends with the image's grayscale by a factor from
    U[1 - saturation, 1 + saturation]; the result is clipped to 0..255.
    (torchvision applies the two in a random order; here brightness comes
    first. They commute up to the clipping.)
    """
    if brightness == 0 and saturation == 0:
        return image
    seeds = tf.random.experimental.stateless_split(seed, 2)
    factor = tf.random.stateless_uniform([], seeds[0], 1.0 - brightness, 1.0 + brightness)
    image = image * factor
    if saturation > 0 and image.shape[-1] == 3:
        blend = tf.random.stateless_uniform([], seeds[1], 1.0 - saturation, 1.0 + saturation)
        gray = tf.image.rgb_to_grayscale(image)
        image = gray + blend * (image - gray)
    return tf.clip_by_value(image, 0.0, 255.0)


def train_transform(
    image: tf.Tensor,
    seed: tf.Tensor,
    resolution: int,
    augment: str,
    brightness: float = 0.0,
    saturation: float = 0.0,
) -> tf.Tensor:
    """Random augmentation of one training image, a pure function of `seed` ([2] ints).

    Args:
        image: The decoded image, values 0..255.
        seed: Stateless seed of this image's augmentation.
        resolution: Output height and width.
        augment: One of `AUGMENTATIONS` (`none`: the evaluation transform, no jitter).
        brightness: Colour jitter's brightness range (0: none; the reference's 32/255).
        saturation: Colour jitter's saturation range (0: none; the reference's 0.5).
    """
    if augment == "none":
        return eval_transform(image, resolution)
    seeds = tf.random.experimental.stateless_split(seed, 2)
    # Its own stream, so the crops and flips do not change when jitter is switched on.
    jitter_seed = tf.random.experimental.stateless_fold_in(seed, 1)
    if augment == "inception":
        begin, size, _ = tf.image.stateless_sample_distorted_bounding_box(
            tf.shape(image),
            bounding_boxes=tf.constant([[[0.0, 0.0, 1.0, 1.0]]]),
            seed=seeds[0],
            min_object_covered=0.1,
            aspect_ratio_range=(3 / 4, 4 / 3),
            area_range=(0.08, 1.0),
            max_attempts=10,
            use_image_if_no_bounding_boxes=True,
        )
        crop = tf.slice(image, begin, size)
        image = tf.image.resize(crop, (resolution, resolution), antialias=True)
        image = tf.image.stateless_random_flip_left_right(image, seeds[1])
        return normalize(color_jitter(image, jitter_seed, brightness, saturation))
    if image.shape[0] != resolution or image.shape[1] != resolution:
        image = tf.image.resize(image, (resolution, resolution), antialias=True)
    if augment.startswith("pad_crop"):
        padded = tf.pad(image, [[PAD_PIXELS] * 2, [PAD_PIXELS] * 2, [0, 0]], mode="REFLECT")
        channels = image.shape[-1]
        image = tf.image.stateless_random_crop(padded, (resolution, resolution, channels), seeds[0])
    if augment.endswith("flip"):
        image = tf.image.stateless_random_flip_left_right(image, seeds[1])
    return normalize(color_jitter(tf.cast(image, tf.float32), jitter_seed, brightness, saturation))


def _member_mask(indices: np.ndarray, size: int) -> tf.Tensor:
    mask = np.zeros(size, bool)
    mask[indices] = True
    return tf.constant(mask)


@dataclasses.dataclass
class Pipeline:
    """Batches of the train, valid and test splits of one source.

    Args:
        source: The data.
        resolution: Height and width of the network's input.
        batch_size: Global batch of the weight steps.
        valid_batch_size: Global batch of evaluation (the arch steps name theirs).
        valid_size: Examples held out of the training split (the search's arch
            steps, a training's monitoring); 0 holds out none.
        augment: One of `AUGMENTATIONS`, for the weight steps only.
        seed: Seed of the split, the shuffles and the augmentation.
        jitter_brightness: Colour jitter of the training images (`color_jitter`).
        jitter_saturation: Likewise.
        shuffle_buffer: Shuffle buffer of the training split (whole split when
            it is smaller).
        valid_at_end: The source's last `valid_size` examples are the held-out
            split (validation data given apart, `tfnas.datasets.in_memory`),
            not a class-balanced draw.
    """

    source: DataSource
    resolution: int
    batch_size: int
    valid_batch_size: int
    valid_size: int
    augment: str
    seed: int
    shuffle_buffer: int = 50_000
    jitter_brightness: float = 0.0
    jitter_saturation: float = 0.0
    valid_at_end: bool = False

    def __post_init__(self) -> None:
        if self.augment not in AUGMENTATIONS:
            raise ValueError(f"augment must be one of {AUGMENTATIONS}, got {self.augment!r}")
        if self.valid_at_end:
            first_valid = self.source.train_size - self.valid_size
            self.train_indices = np.arange(first_valid)
            self.valid_indices = np.arange(first_valid, self.source.train_size)
        else:
            self.train_indices, self.valid_indices = balanced_split(
                self.source.train_labels, self.valid_size, self.seed
            )
        if len(self.train_indices) < self.batch_size:
            raise ValueError(
                f"{len(self.train_indices)} training examples make no batch of "
                f"{self.batch_size}; lower --batch_size"
            )
        if 0 < self.valid_size < self.valid_batch_size:
            raise ValueError(
                f"valid_size {self.valid_size} makes no valid batch of "
                f"{self.valid_batch_size}; lower --valid_batch_size"
            )
        self._valid_cache: tf.data.Dataset | None = None

    @property
    def steps_per_epoch(self) -> int:
        """Weight steps per epoch (the last partial batch is dropped)."""
        return len(self.train_indices) // self.batch_size

    def steps_for(self, requested: int) -> int:
        """The steps of an epoch when a recipe asks for `requested` (0: one whole pass).

        Never more than one pass: each epoch reshuffles the training split, so a
        longer epoch would repeat examples within it.
        """
        return min(self.steps_per_epoch, requested or self.steps_per_epoch)

    def _members(self, indices: np.ndarray) -> tf.data.Dataset:
        """(index, image, label) of the given examples, in source order."""
        mask = _member_mask(indices, self.source.train_size)
        return (
            self.source.train.enumerate()
            .filter(lambda i, example: tf.gather(mask, i))
            .map(lambda i, example: (i, *example))
        )

    def train_epoch(self, epoch: int, skip_batches: int = 0) -> tf.data.Dataset:
        """The batches of one epoch, from batch `skip_batches` on.

        Shuffling happens before decoding, so large datasets shuffle bytes.
        """
        epoch_seed = self.seed * 100_003 + epoch
        decode, resolution, augment = self.source.decode, self.resolution, self.augment
        jitter = (self.jitter_brightness, self.jitter_saturation)

        def transform(index: tf.Tensor, image: tf.Tensor, label: tf.Tensor):
            seed = tf.stack([tf.constant(epoch_seed, tf.int64), index])
            return train_transform(decode(image), seed, resolution, augment, *jitter), label

        buffer = min(self.shuffle_buffer, len(self.train_indices))
        return (
            self._members(self.train_indices)
            .shuffle(buffer, seed=epoch_seed, reshuffle_each_iteration=False)
            .take(self.steps_per_epoch * self.batch_size)
            .skip(skip_batches * self.batch_size)
            .map(transform, num_parallel_calls=AUTOTUNE, deterministic=True)
            .batch(self.batch_size, drop_remainder=True)
            .prefetch(AUTOTUNE)
            .apply(without_autotune)
        )

    def _valid_examples(self) -> tf.data.Dataset:
        """The held-out examples, preprocessed once and kept in memory."""
        if self._valid_cache is None:
            decode, resolution = self.source.decode, self.resolution
            self._valid_cache = (
                self._members(self.valid_indices)
                .map(
                    lambda i, image, label: (eval_transform(decode(image), resolution), label),
                    num_parallel_calls=AUTOTUNE,
                    deterministic=True,
                )
                .cache()
            )
        return self._valid_cache

    def valid_stream(self, skip_batches: int = 0, batch_size: int | None = None) -> tf.data.Dataset:
        """Endless valid batches for the arch steps, reshuffled each pass, from `skip_batches`.

        Args:
            skip_batches: Batches already used (a resumed run).
            batch_size: Images per batch (default `valid_batch_size`); at most
                `valid_size`, since a batch never spans two passes.
        """
        batch_size = batch_size or self.valid_batch_size
        if batch_size > self.valid_size:
            raise ValueError(
                f"valid_size {self.valid_size} makes no valid batch of {batch_size}; "
                "lower the batch or raise --valid_size"
            )
        return (
            self._valid_examples()
            .shuffle(self.valid_size, seed=self.seed * 100_003 - 1, reshuffle_each_iteration=True)
            .batch(batch_size, drop_remainder=True)
            .repeat()
            .skip(skip_batches)
            .prefetch(AUTOTUNE)
            .apply(without_autotune)
        )

    def calibration_batches(self, images: int) -> tf.data.Dataset:
        """Training images for re-estimating batch-norm statistics (`tfnas.engine.bn_calibration`).

        A fixed random subset of the training split (a function of the seed),
        shuffled so that every batch mixes the classes whatever the source's
        order, without augmentation (the statistics are those of the images the
        network is evaluated on), in equal batches of at most `valid_batch_size`.
        """
        count = min(images, len(self.train_indices))
        seed = self.seed * 100_003 + 17
        chosen = np.sort(
            np.random.default_rng(seed).choice(self.train_indices, count, replace=False)
        )
        decode, resolution = self.source.decode, self.resolution
        return (
            self._members(chosen)
            .shuffle(count, seed=seed, reshuffle_each_iteration=False)
            .map(
                lambda i, image, label: (eval_transform(decode(image), resolution), label),
                num_parallel_calls=AUTOTUNE,
                deterministic=True,
            )
            .batch(min(self.valid_batch_size, count), drop_remainder=True)
            .prefetch(AUTOTUNE)
            .apply(without_autotune)
        )

    def valid_batches(self) -> tf.data.Dataset | None:
        """One pass over the held-out examples, for reporting; None when none are held out."""
        if self.valid_size == 0:
            return None
        return (
            self._valid_examples()
            .batch(self.valid_batch_size)
            .prefetch(AUTOTUNE)
            .apply(without_autotune)
        )

    def test_batches(self) -> tf.data.Dataset | None:
        """One pass over the test split, for reporting only; None when the data has none."""
        if self.source.test is None:
            return None
        decode, resolution = self.source.decode, self.resolution
        return (
            self.source.test.map(
                lambda image, label: (eval_transform(decode(image), resolution), label),
                num_parallel_calls=AUTOTUNE,
                deterministic=True,
            )
            .batch(self.valid_batch_size)
            .prefetch(AUTOTUNE)
            .apply(without_autotune)
        )


def pipeline_for(
    data: Any,
    seed: int,
    valid_size: int | None = None,
    source: DataSource | None = None,
    valid_at_end: bool = False,
) -> Pipeline:
    """The pipeline of a run's data config: its source, sizes and batches.

    Args:
        data: The run's `tfnas.config.groups.DataConfig`.
        seed: The run's seed (split, order and augmentation).
        valid_size: Examples held out of train; default the config's.
        source: The data, when given in memory (`tfnas.datasets.in_memory`);
            default the one `data.dataset` names.
        valid_at_end: The source's last `valid_size` examples are the held-out split.

    Raises:
        DataError: The data cannot be loaded.
        ConfigError: The sizes do not fit the data (named, with the flag to change).
    """
    if source is None:
        source = load_source(data.dataset, data.data_dir, data.manual_dir, data.download)
    try:
        return Pipeline(
            source,
            resolution=data.resolution,
            batch_size=data.batch_size,
            valid_batch_size=data.eval_batch_size,
            valid_size=data.valid_size if valid_size is None else valid_size,
            augment=data.augment,
            seed=seed,
            jitter_brightness=data.jitter_brightness,
            jitter_saturation=data.jitter_saturation,
            valid_at_end=valid_at_end,
        )
    except ValueError as error:
        raise ConfigError(str(error)) from None
