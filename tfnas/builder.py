"""Builds a plain Functional Keras model from a `NetSpec`.

The model uses only standard layers (Conv2D, DepthwiseConv2D,
BatchNormalization, ReLU(6), Add, GlobalAveragePooling2D, Dropout, Dense), so
TFLite conversion and quantization-aware training see nothing custom. Layer
names are stable (`block03_dw_conv`), derived from block positions, so weights
can be copied by name between two builds of the same spec, for example from a
Keras 3 model into the tf_keras model that tensorflow-model-optimization needs:
pass `keras_module=tf_keras` to build the identical graph with Keras 2 layers.

Convolutions use 'same' padding, which TFLite runs natively; for stride 2 it
pads one pixel less on the top and left than PyTorch's symmetric padding.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import keras

from tfnas.ops import MBConvOp, ZeroOp
from tfnas.spec import BatchNormSpec, BlockSpec, NetSpec, block_name

INPUT_NAME = "images"


def conv_bn_relu6(
    layers: ModuleType,
    filters: int,
    kernel_size: int,
    stride: int,
    name: str,
    batch_norm: BatchNormSpec,
    depthwise: bool = False,
    activation: bool = True,
) -> list[Any]:
    """The layers of a bias-free convolution, batch norm and (optionally) ReLU6.

    Args:
        layers: The layers module to build from (`keras.layers` or `tf_keras.layers`).
        filters: Output channels (ignored for a depthwise convolution).
        kernel_size: Square kernel size.
        stride: Spatial stride.
        name: Prefix of the layer names (`{name}_conv`, `{name}_bn`, `{name}_relu`).
        batch_norm: Batch-normalization settings.
        depthwise: Build a DepthwiseConv2D instead of a Conv2D.
        activation: Append a ReLU6 (False for the linear projection).

    Returns:
        The layers, in the order they are applied.
    """
    if depthwise:
        conv = layers.DepthwiseConv2D(
            kernel_size, strides=stride, padding="same", use_bias=False, name=f"{name}_conv"
        )
    else:
        conv = layers.Conv2D(
            filters,
            kernel_size,
            strides=stride,
            padding="same",
            use_bias=False,
            name=f"{name}_conv",
        )
    result = [
        conv,
        layers.BatchNormalization(
            momentum=batch_norm.momentum, epsilon=batch_norm.epsilon, name=f"{name}_bn"
        ),
    ]
    if activation:
        result.append(layers.ReLU(6.0, name=f"{name}_relu"))
    return result


def block_layers(
    block: BlockSpec,
    prefix: str,
    batch_norm: BatchNormSpec,
    layers: ModuleType = keras.layers,
) -> list[Any]:
    """The layers of a block's op, in order, without the residual addition.

    A Zero op has no layers. Used by `build_net` and by anything else that
    needs the block's computation as layers (a supernet's mixed op).

    Args:
        block: The block.
        prefix: Layer-name prefix, unique within the model.
        batch_norm: Batch-normalization settings.
        layers: The layers module to build from.

    Returns:
        The layers, in the order they are applied.
    """
    op = block.op
    if isinstance(op, ZeroOp):
        return []
    if not isinstance(op, MBConvOp):
        raise TypeError(f"{prefix}: no Keras builder for op {op!r}")
    result = []
    mid = op.mid_channels(block.in_channels)
    if op.expand_ratio != 1:
        result += conv_bn_relu6(layers, mid, 1, 1, f"{prefix}_expand", batch_norm)
    result += conv_bn_relu6(
        layers, mid, op.kernel_size, block.stride, f"{prefix}_dw", batch_norm, depthwise=True
    )
    result += conv_bn_relu6(
        layers, block.out_channels, 1, 1, f"{prefix}_project", batch_norm, activation=False
    )
    return result


def apply(layer_list: list[Any], x: Any) -> Any:
    """Applies layers in sequence."""
    for layer in layer_list:
        x = layer(x)
    return x


def build_net(spec: NetSpec, keras_module: ModuleType = keras) -> Any:
    """Builds the Functional model of a network; its output is the logits.

    Args:
        spec: The network.
        keras_module: `keras` (Keras 3, the default) or `tf_keras` (Keras 2,
            for tensorflow-model-optimization). Both give the same layers,
            names and weight shapes.

    Returns:
        A `keras_module.Model` taking float images of shape
        (batch, resolution, resolution, in_channels) named `images`.
    """
    if not isinstance(spec, NetSpec):
        raise TypeError(
            f"build_net expects a NetSpec, got {type(spec).__name__}; "
            "for a SearchSpace, select or derive one network first"
        )
    layers = keras_module.layers
    bn = spec.batch_norm
    inputs = keras_module.Input(
        shape=(spec.resolution, spec.resolution, spec.in_channels), name=INPUT_NAME
    )
    x = apply(
        conv_bn_relu6(
            layers, spec.stem.out_channels, spec.stem.kernel_size, spec.stem.stride, "stem", bn
        ),
        inputs,
    )
    for index, block in enumerate(spec.blocks):
        prefix = block_name(index)
        y = apply(block_layers(block, prefix, bn, layers), x)
        if block.is_identity:
            continue  # Zero plus the residual: the block passes x through.
        x = layers.Add(name=f"{prefix}_add")([x, y]) if block.residual else y
    if spec.feature_mix_channels is not None:
        x = apply(conv_bn_relu6(layers, spec.feature_mix_channels, 1, 1, "feature_mix", bn), x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    if spec.classifier.dropout > 0:
        x = layers.Dropout(spec.classifier.dropout, name="dropout")(x)
    logits = layers.Dense(spec.classifier.num_classes, name="classifier")(x)
    return keras_module.Model(inputs, logits, name=spec.name)
