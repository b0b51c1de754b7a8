"""The embedded demo dataset: deterministic, balanced, and learnable by a small CNN."""

import keras
import numpy as np
import pytest

from tfnas.datasets import demo


def test_the_same_seed_gives_the_same_bytes_and_splits_differ():
    images, labels = demo.generate(50, seed=3)
    again, again_labels = demo.generate(50, seed=3)
    assert np.array_equal(images, again) and np.array_equal(labels, again_labels)
    other, _ = demo.generate(50, seed=4)
    assert not np.array_equal(images, other)
    assert images.dtype == np.uint8 and images.shape == (50, 32, 32, 3)


def test_splits_are_balanced_over_the_classes():
    _, labels = demo.load("test")
    assert len(labels) == demo.SPLIT_SIZES["test"]
    assert np.bincount(labels).tolist() == [len(labels) // demo.NUM_CLASSES] * demo.NUM_CLASSES


def test_bad_requests_name_the_value():
    with pytest.raises(ValueError, match="'valid'"):
        demo.load("valid")
    with pytest.raises(ValueError, match="0..9, got 10"):
        demo.class_pattern(10)


def test_a_small_cnn_learns_it_far_above_chance():
    keras.utils.set_random_seed(0)
    images, labels = demo.generate(3000, seed=1)
    test_images, test_labels = demo.generate(500, seed=2)
    model = keras.Sequential(
        [
            keras.Input((32, 32, 3)),
            keras.layers.Rescaling(1 / 127.5, -1.0),
            keras.layers.Conv2D(16, 5, strides=2, activation="relu"),
            keras.layers.Conv2D(32, 5, strides=2, activation="relu"),
            keras.layers.GlobalAveragePooling2D(),
            keras.layers.Dense(demo.NUM_CLASSES),
        ]
    )
    model.compile(
        keras.optimizers.Adam(3e-3),
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    model.fit(images, labels, batch_size=64, epochs=3, verbose=0)
    _, accuracy = model.evaluate(test_images, test_labels, verbose=0)
    assert accuracy > 0.5  # chance is 0.1
