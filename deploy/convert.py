"""Pure conversions of a trained network: serving model, SavedModel, TFLite flatbuffers.

Model in, model or bytes out; nothing here reads flags or writes reports.

The serving model takes what a client has, images with values in 0..255
(`images`, float32, shape (N, R, R, C): C = 3 for RGB, 1 for a network
trained on grayscale data), normalizes them exactly as training did
(`tfnas.datasets.pipeline.channel_statistics`) and returns `logits` and
`probabilities`.

Conversion to TFLite goes through `TFLiteConverter.from_keras_model` only:
converting a `tf.saved_model.save` output or concrete functions of a Keras 3
model gives a flatbuffer without weights that outputs NaN, with no error.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import keras
import numpy as np
import tensorflow as tf

from tfnas.datasets.pipeline import normalization_layer

INPUT_NAME = "images"
TFLITE_KINDS = ("float32", "float16", "dynamic", "int8")


def serving_model(model: keras.Model) -> keras.Model:
    """`model` behind the ImageNet normalization, with `logits` and `probabilities` outputs.

    Args:
        model: The trained network (input normalized images, output logits).

    Returns:
        A Functional model: input `images` (float32 RGB, or grayscale for a
        one-channel network, in 0..255), outputs {"logits", "probabilities"};
        its layers share `model`'s weights.
    """
    shape = model.input_shape[1:]
    images = keras.Input(shape, dtype="float32", name=INPUT_NAME)
    normalized = normalization_layer(shape[-1])(images)
    logits = keras.layers.Identity(name="logits")(model(normalized))
    probabilities = keras.layers.Softmax(name="probabilities")(logits)
    return keras.Model(images, {"logits": logits, "probabilities": probabilities}, name="serving")


def export_saved_model(serving: keras.Model, path: str | os.PathLike[str]) -> Path:
    """Writes a SavedModel whose `serving_default` signature is `serving` (no training mode).

    The signature's input is `images`, float32, (None, R, R, C); its outputs
    are `logits` and `probabilities`, float32, (None, classes).
    """
    shape = serving.input_shape[1:]
    archive = keras.export.ExportArchive()
    archive.track(serving)
    archive.add_endpoint(
        name="serving_default",
        fn=lambda images: serving(images, training=False),
        input_signature=[tf.TensorSpec((None, *shape), tf.float32, name=INPUT_NAME)],
    )
    archive.write_out(str(path), verbose=False)
    return Path(path)


def to_tflite(
    serving: keras.Model,
    kind: str = "float32",
    representative: Callable[[], Iterable[np.ndarray]] | None = None,
) -> bytes:
    """A TFLite flatbuffer of `serving`, converted with `from_keras_model`.

    Args:
        serving: The serving model (`serving_model`, or `deploy.qat`'s tf_keras one).
        kind: `float32`; `float16` (weights stored as float16); `dynamic`
            (int8 weights, float activations); `int8` (full-integer kernels,
            float input and output, activations calibrated on `representative`).
        representative: For `int8`: a function yielding batches of images
            (float32, 0..255, the model's input shape) from the training data.

    Raises:
        ValueError: Unknown kind, or `int8` without representative data, or
            representative batches of the wrong shape.
        TypeError: Anything but a Keras model.
    """
    if kind not in TFLITE_KINDS:
        raise ValueError(f"unknown TFLite kind {kind!r}; choose from {', '.join(TFLITE_KINDS)}")
    if not _is_keras_model(serving):
        # Other routes (a tf.saved_model.save folder, concrete functions) lose the weights.
        raise TypeError(
            f"to_tflite converts Keras models only, got {type(serving).__name__}; build the "
            "network with tfnas.nets.builder and wrap it with serving_model"
        )
    converter = tf.lite.TFLiteConverter.from_keras_model(serving)
    if kind != "float32":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if kind == "float16":
        converter.target_spec.supported_types = [tf.float16]
    if kind == "int8":
        if representative is None:
            raise ValueError("int8 conversion needs representative data from the training set")
        expected = tuple(serving.input_shape[1:])
        converter.representative_dataset = _checked(representative, expected)
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    # Keras prints the signature of the SavedModel it exports on the way; keep stdout clean.
    with contextlib.redirect_stdout(io.StringIO()):
        return converter.convert()


def _is_keras_model(model: object) -> bool:
    """A Keras 3 model, or a tf_keras one (QAT's), without importing tf_keras here."""
    if isinstance(model, keras.Model):
        return True
    tf_keras = sys.modules.get("tf_keras")
    return tf_keras is not None and isinstance(model, tf_keras.Model)


def _checked(
    representative: Callable[[], Iterable[np.ndarray]], expected: tuple[int, ...]
) -> Callable[[], Iterable[list[np.ndarray]]]:
    def batches() -> Iterable[list[np.ndarray]]:
        for batch in representative():
            batch = np.asarray(batch, np.float32)
            if batch.ndim != 4 or tuple(batch.shape[1:]) != expected:
                raise ValueError(
                    f"representative data has shape {batch.shape}, the model takes "
                    f"(N, {', '.join(map(str, expected))}); give images at the model's resolution"
                )
            for image in batch:
                yield [image[np.newaxis]]

    return batches


def run_tflite(flatbuffer: bytes, images: np.ndarray) -> dict[str, np.ndarray]:
    """Runs a serving flatbuffer on `images` one at a time; returns outputs by name."""
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_content=flatbuffer).get_signature_runner()
    outputs: dict[str, list[np.ndarray]] = {}
    for image in np.asarray(images, np.float32):
        for name, value in runner(**{INPUT_NAME: image[np.newaxis]}).items():
            outputs.setdefault(name, []).append(value)
    return {name: np.concatenate(values) for name, values in outputs.items()}
