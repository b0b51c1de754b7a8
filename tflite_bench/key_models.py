"""The TFLite models that tflite_bench times: one per latency-table key, and whole networks.

A key model holds its layer alone at the key's input shape (batch 1): a
block, the stem (`Conv`), the feature mix (`Conv_1`) or the classifier
(`Logits`). Models are converted the way deployment converts them
(`TFLiteConverter.from_keras_model`, batch norm folded): float32, or int8
with full-integer kernels so that an int8 deployment can have its own table.
Weights are random: latency does not depend on their values.
"""

from __future__ import annotations

import contextlib
import io

import keras
import numpy as np
import tensorflow as tf

from tfnas.config.tree import ConfigError
from tfnas.errors import FieldError
from tfnas.latency.keys import EXPANDED_CONV, LayerKey, spec_parts
from tfnas.nets.builder import apply, block_layers, build_net, conv_bn_act
from tfnas.nets.ops import MBConvOp
from tfnas.nets.spec import BatchNormSpec, BlockSpec, NetSpec, SearchSpace

KINDS = ("float32", "int8")
# Random images are enough to calibrate int8 ranges for timing.
CALIBRATION_BATCHES = 4


def key_model(key: LayerKey) -> keras.Model:
    """A Keras model computing the layer of `key` alone, at its input shape (batch 1).

    Raises:
        ValueError: For keys this builder cannot reproduce (Once-for-All
            blocks with squeeze-excite or h-swish, `AvgPool2D`, `Conv_2`).
    """
    batch_norm = BatchNormSpec()
    inputs = keras.Input(shape=key.input_shape, batch_size=1, name="input")
    if key.kind == EXPANDED_CONV:
        if key.is_once_for_all:
            raise FieldError(f"{key}: Once-for-All blocks (se/hs) are not built here")
        block = BlockSpec(
            MBConvOp(key.kernel, key.expand),
            key.input_shape[2],
            key.output_shape[2],
            key.stride,
            key.residual,
        )
        x = apply(block_layers(block, "block", batch_norm), inputs)
        outputs = keras.layers.Add()([inputs, x]) if key.residual else x
    elif key.kind in ("Conv", "Conv_1"):
        stride = key.input_shape[0] // key.output_shape[0]
        kernel = 3 if key.kind == "Conv" else 1
        layers = conv_bn_act(
            keras.layers, key.output_shape[2], kernel, stride, key.kind.lower(), batch_norm
        )
        outputs = apply(layers, inputs)
    elif key.kind == "Logits":
        x = keras.layers.GlobalAveragePooling2D()(inputs)
        outputs = keras.layers.Dense(key.output_shape[0])(x)
    else:
        raise FieldError(f"{key}: no model builder for {key.kind!r} keys")
    return keras.Model(inputs, outputs, name="layer")


def net_model(spec: NetSpec) -> keras.Model:
    """The whole network at batch 1, as deployment builds it (`tfnas.nets.builder`)."""
    model = build_net(spec)
    inputs = keras.Input(model.input_shape[1:], batch_size=1, name="input")
    return keras.Model(inputs, model(inputs), name=spec.name)


def flatbuffer_for_timing(model: keras.Model, kind: str = "float32") -> bytes:
    """The flatbuffer of `model` for timing: `float32`, or `int8` (full-integer kernels).

    The int8 model is calibrated on random inputs: its kernels and their speed
    are those of a real int8 model, its accuracy is not (`deploy.convert.to_tflite`
    converts for deployment, calibrated on training images).

    Raises:
        ConfigError: An unknown kind.
    """
    if kind not in KINDS:
        raise ConfigError(f"unknown model kind {kind!r}; expected one of {', '.join(KINDS)}")
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if kind == "int8":
        shape = (1, *model.input_shape[1:])
        rng = np.random.default_rng(0)

        def representative():
            for _ in range(CALIBRATION_BATCHES):
                yield [rng.standard_normal(shape).astype(np.float32)]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    # The converter prints the SavedModel signature it exports on the way.
    with contextlib.redirect_stdout(io.StringIO()):
        return converter.convert()


def key_flatbuffer(key: LayerKey, kind: str = "float32") -> bytes:
    """The TFLite model that measures `key`."""
    return flatbuffer_for_timing(key_model(key), kind)


def space_keys(space: SearchSpace) -> list[LayerKey]:
    """Every distinct key a search space can need: stem, each candidate of each block, head."""
    keys = [key for part in spec_parts(space) for key in part.keys if key is not None]
    return list(dict.fromkeys(keys))


def kernel_input_types(flatbuffer: bytes) -> set[str]:
    """The dtypes of the data and weights that a flatbuffer's convolutions and dense ops read.

    `{"int8"}` for a full-integer model; `{"float32"}` for a float one.
    """
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_content=flatbuffer)
    tensors = {t["index"]: t for t in interpreter.get_tensor_details()}
    kernels = ("CONV_2D", "DEPTHWISE_CONV_2D", "FULLY_CONNECTED")
    return {
        np.dtype(tensors[index]["dtype"]).name
        for op in interpreter._get_ops_details()  # the only API that lists the ops
        if op["op_name"] in kernels
        for index in op["inputs"][:2]
    }
