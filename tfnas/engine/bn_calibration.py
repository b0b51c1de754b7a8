"""A derived network's batch-norm statistics, re-estimated before it is evaluated.

A supernet's moving statistics mix every path that was sampled, so a derived
network evaluated with them is wrong; evaluated with each batch's own
statistics instead, its accuracy depends on the batches (in a class-sorted
split, every batch holds one class and the statistics of one class wipe out
the features). One-shot NAS re-estimates the statistics of the chosen path
on a few hundred training images and then evaluates in inference mode
(SPOS, Guo et al. 2020; Once-for-All's `set_running_statistics`, Cai et al.
2020): the reported accuracy then depends on neither the order, the size
nor the class mix of the evaluation batches.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import keras
import tensorflow as tf


def batch_norm_layers(model: Any) -> list[keras.layers.BatchNormalization]:
    """Every BatchNormalization layer of `model`, nested ones included."""
    found = []
    for layer in getattr(model, "layers", []):
        if isinstance(layer, keras.layers.BatchNormalization):
            found.append(layer)
        else:
            found += batch_norm_layers(layer)
    return found


def recalibrate_batch_norm(model: Any, batches: Iterable[Any]) -> int:
    """Sets each batch norm's moving statistics to the mean of its batch statistics on `batches`.

    Every batch runs the model in training mode (each layer normalizes with
    the batch's statistics, as when the weights were trained), and each
    layer's moving mean and variance become the average over the batches of
    its batch mean and variance, as Once-for-All computes them. Only the
    moving statistics change.

    Args:
        model: A Keras model.
        batches: (images, labels) or images; equal-sized batches weigh equally.

    Returns:
        The number of images used.

    Raises:
        ValueError: `batches` holds no image.
    """
    layers = batch_norm_layers(model)
    momenta = [layer.momentum for layer in layers]
    images_seen = 0
    try:
        for count, batch in enumerate(batches, start=1):
            images = batch[0] if isinstance(batch, tuple | list) else batch
            # moving <- moving * (k-1)/k + batch / k: the running mean of k batches.
            for layer in layers:
                layer.momentum = (count - 1) / count
            model(images, training=True)
            images_seen += int(tf.shape(images)[0])
    finally:
        for layer, momentum in zip(layers, momenta, strict=True):
            layer.momentum = momentum
    if images_seen == 0:
        raise ValueError("no images to re-estimate the batch-norm statistics from")
    return images_seen


COUNTER_ATTRIBUTE = "_tfnas_correct_counter"


def _counter(model: Any) -> Any:
    """The model's compiled counter of correct predictions, made once per model.

    Kept on the model (past Keras' attribute tracking), so that evaluating the
    same model again, every epoch of a search, does not trace it again, and it
    goes away with the model.
    """
    counter = model.__dict__.get(COUNTER_ATTRIBUTE)
    if counter is None:

        @tf.function
        def counter(images: tf.Tensor, labels: tf.Tensor) -> tf.Tensor:
            predictions = tf.argmax(model(images, training=False), axis=-1)
            hits = tf.equal(predictions, tf.cast(labels, tf.int64))
            return tf.reduce_sum(tf.cast(hits, tf.int64))

        object.__setattr__(model, COUNTER_ATTRIBUTE, counter)
    return counter


def accuracy_of(model: Any, batches: Iterable[Any]) -> float:
    """Top-1 accuracy of `model` in inference mode over (images, labels) batches."""
    correct = _counter(model)

    right = total = 0
    for images, labels in batches:
        right += int(correct(images, labels))
        total += int(tf.shape(labels)[0])
    if total == 0:
        raise ValueError("no examples to evaluate on")
    return right / total


__all__ = ["accuracy_of", "batch_norm_layers", "recalibrate_batch_norm"]
