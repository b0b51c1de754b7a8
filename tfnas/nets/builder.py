"""Builds a plain Functional Keras model from a `NetSpec`.

The model uses only standard layers (Conv2D, DepthwiseConv2D,
BatchNormalization, ReLU(6), Add, GlobalAveragePooling2D, Dropout, Dense; and
for MobileNetV3's h-swish and squeeze-excite, Rescaling and Multiply), so
TFLite conversion and quantization-aware training see nothing custom. Layer
names are stable (`block03_dw_conv`), derived from block positions, so weights
can be copied by name between two builds of the same spec, for example from a
Keras 3 model into the tf_keras model that tensorflow-model-optimization needs:
pass `keras_module=tf_keras` to build the identical graph with Keras 2 layers.

Convolutions use 'same' padding, which TFLite runs natively; for stride 2 it
pads one pixel less on the top and left than PyTorch's symmetric padding.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from types import ModuleType
from typing import Any

import keras

from tfnas.nets.initializers import conv_initializer, dense_initializer
from tfnas.nets.ops import Part, SqueezeExcitePart
from tfnas.nets.spec import BatchNormSpec, BlockSpec, NetSpec, SearchSpace, block_name

INPUT_NAME = "images"


class Gated:
    """x times gate(x), the gate a list of standard layers: h-swish and squeeze-excite.

    A Python callable around Keras layers, so the Functional graph holds only
    the layers (a Multiply joins the two branches).
    """

    def __init__(self, gate: list[Any], multiply: Any) -> None:
        self.gate, self.multiply = gate, multiply

    def __call__(self, x: Any) -> Any:
        """X times its gate."""
        return self.multiply([x, apply(self.gate, x)])


def hard_swish(layers: ModuleType, name: str) -> Gated:
    """h-swish, x * ReLU6(x + 3) / 6, from standard layers (the same in Keras 2 and 3).

    Keras 2's `hard_sigmoid` is another function (0.2 x + 0.5, clipped), so
    the gate is built as clip(x / 6 + 1/2, 0, 1): a Rescaling and a ReLU
    capped at 1.
    """
    return Gated(hard_sigmoid_layers(layers, name), layers.Multiply(name=name))


def squeeze_excite(layers: ModuleType, part: SqueezeExcitePart, name: str, init: str) -> Gated:
    """MobileNetV3's squeeze-excite (`tfnas.nets.ops.SqueezeExcitePart`) from standard layers."""
    squeeze = [
        layers.GlobalAveragePooling2D(keepdims=True, name=f"{name}_pool"),
        layers.Conv2D(
            part.reduced, 1, kernel_initializer=conv_initializer(init), name=f"{name}_reduce"
        ),
        layers.ReLU(name=f"{name}_relu"),
        layers.Conv2D(
            part.channels, 1, kernel_initializer=conv_initializer(init), name=f"{name}_expand"
        ),
        *hard_sigmoid_layers(layers, name),
    ]
    return Gated(squeeze, layers.Multiply(name=name))


def hard_sigmoid_layers(layers: ModuleType, name: str) -> list[Any]:
    """ReLU6(x + 3) / 6 as clip(x / 6 + 1/2, 0, 1)."""
    return [
        layers.Rescaling(1 / 6, offset=0.5, name=f"{name}_scale"),
        layers.ReLU(1.0, name=f"{name}_gate"),
    ]


def activation_layers(layers: ModuleType, activation: str | None, name: str) -> list[Any]:
    """The layers of one of `tfnas.nets.ops.ACTIVATIONS` (none for None: linear)."""
    if activation is None:
        return []
    if activation == "relu6":
        return [layers.ReLU(6.0, name=f"{name}_relu")]
    if activation == "relu":
        return [layers.ReLU(name=f"{name}_relu")]
    if activation == "hswish":
        return [hard_swish(layers, f"{name}_hswish")]
    raise ValueError(f"unknown activation {activation!r}")


def conv_bn_act(
    layers: ModuleType,
    filters: int,
    kernel_size: int,
    stride: int,
    name: str,
    batch_norm: BatchNormSpec,
    depthwise: bool = False,
    activation: str | None = "relu6",
    init: str = "he_fout",
) -> list[Any]:
    """The layers of a bias-free convolution, batch norm and (optionally) an activation.

    Args:
        layers: The layers module to build from (`keras.layers` or `tf_keras.layers`).
        filters: Output channels (ignored for a depthwise convolution).
        kernel_size: Square kernel size.
        stride: Spatial stride.
        name: Prefix of the layer names (`{name}_conv`, `{name}_bn`, `{name}_relu`).
        batch_norm: Batch-normalization settings.
        depthwise: Build a DepthwiseConv2D instead of a Conv2D.
        activation: One of `tfnas.nets.ops.ACTIVATIONS`, or None (the linear projection).
        init: The kernel's initialization (`tfnas.nets.initializers.INITS`).

    Returns:
        The layers, in the order they are applied.
    """
    if depthwise:
        conv = layers.DepthwiseConv2D(
            kernel_size,
            strides=stride,
            padding="same",
            use_bias=False,
            depthwise_initializer=conv_initializer(init, depthwise=True),
            name=f"{name}_conv",
        )
    else:
        conv = layers.Conv2D(
            filters,
            kernel_size,
            strides=stride,
            padding="same",
            use_bias=False,
            kernel_initializer=conv_initializer(init),
            name=f"{name}_conv",
        )
    return [
        conv,
        layers.BatchNormalization(
            momentum=batch_norm.momentum, epsilon=batch_norm.epsilon, name=f"{name}_bn"
        ),
        *activation_layers(layers, activation, name),
    ]


def part_layers(
    layers: ModuleType, part: Part, prefix: str, bn: BatchNormSpec, init: str
) -> list[Any]:
    """The layers of one part of an op: a convolution with its batch norm, or a squeeze-excite."""
    name = f"{prefix}_{part.role}"
    if isinstance(part, SqueezeExcitePart):
        return [squeeze_excite(layers, part, name, init)]
    return conv_bn_act(
        layers,
        part.out_channels,
        part.kernel_size,
        part.stride,
        name,
        bn,
        depthwise=part.depthwise,
        activation=part.activation,
        init=init,
    )


def block_layers(
    block: BlockSpec,
    prefix: str,
    batch_norm: BatchNormSpec,
    layers: ModuleType = keras.layers,
    init: str = "he_fout",
) -> list[Any]:
    """The layers of a block's op, in order, without the residual addition.

    A Zero op has no layers. Used by `build_net` and by anything else that
    needs the block's computation as layers (a supernet's mixed op).

    Args:
        block: The block.
        prefix: Layer-name prefix, unique within the model.
        batch_norm: Batch-normalization settings.
        layers: The layers module to build from.
        init: The kernels' initialization (`tfnas.nets.initializers.INITS`).

    Returns:
        The layers, in the order they are applied.
    """
    parts = block.op.convs(block.in_channels, block.out_channels, block.stride)
    return [layer for p in parts for layer in part_layers(layers, p, prefix, batch_norm, init)]


def apply(layer_list: list[Any], x: Any) -> Any:
    """Applies layers in sequence."""
    for layer in layer_list:
        x = layer(x)
    return x


@dataclasses.dataclass
class Skeleton:
    """The layers of a network, or of a supernet, in the order they run.

    `skeleton` builds it once for both: the stem, one body per block (a plain
    network's layer list, a supernet's mixed op), the residual additions, the
    feature mix and the head. `forward` is the one walk through it; the
    caller says how a list of layers and a block's body run (Functional
    calls for `build_net`, batch-norm modes and sampled paths for the
    supernet).

    Attributes:
        stem: The stem's convolution, batch norm and ReLU6.
        blocks: Each block's body, as `skeleton`'s `body` made it.
        residual_adds: Each block's Add layer, or None for a block without a residual.
        identity: Whether each block passes its input through (Zero with a
            residual): it is skipped.
        feature_mix: The 1x1 convolution before pooling (empty when the net has none).
        pool: Global average pooling.
        last_point: MobileNetV3's 1x1 convolution after pooling (a Dense with
            bias on the pooled vector) and its activation; empty when none.
        dropout: Dropout before the classifier, or None.
        classifier: The Dense layer giving the logits.
    """

    stem: list[Any]
    blocks: list[Any]
    residual_adds: list[Any | None]
    identity: list[bool]
    feature_mix: list[Any]
    pool: Any
    last_point: list[Any]
    dropout: Any | None
    classifier: Any

    def forward(
        self,
        x: Any,
        run: Callable[[list[Any], Any], Any] = apply,
        run_block: Callable[[int, Any, Any], Any] | None = None,
        training: bool | None = None,
    ) -> Any:
        """The logits of `x`.

        Args:
            x: The images (a Keras input, or a tensor).
            run: Applies a list of layers (default: in sequence).
            run_block: `(block index, body, x)` -> the block's output before
                the residual; default `run(body, x)`.
            training: Whether dropout is active (None: Keras' learning phase).
        """
        x = run(self.stem, x)
        for index, body in enumerate(self.blocks):
            if self.identity[index]:
                continue  # Zero plus the residual: the block passes x through.
            y = run_block(index, body, x) if run_block else run(body, x)
            add = self.residual_adds[index]
            x = add([x, y]) if add is not None else y
        x = run(self.feature_mix, x)
        x = self.pool(x)
        x = run(self.last_point, x)
        if self.dropout is not None:
            x = self.dropout(x, training=training)
        return self.classifier(x)


def skeleton(
    net: NetSpec | SearchSpace,
    body: Callable[[int, Any, str], Any],
    layers: ModuleType = keras.layers,
    init: str = "he_fout",
) -> Skeleton:
    """The layers of `net` (a network or a search space), its blocks' bodies made by `body`.

    Args:
        net: A `NetSpec` or a `SearchSpace`: the stem, blocks and head are theirs.
        body: `(block index, block, name prefix)` -> the block's body.
        layers: The layers module to build from (`keras.layers` or `tf_keras.layers`).
        init: The stem's, feature mix's and classifier's initialization (the
            bodies' is `body`'s).
    """
    bn = net.batch_norm
    stem = net.stem
    feature_mix = net.feature_mix_channels
    head_activation = net.feature_mix_activation
    dropout = net.classifier.dropout
    last_point = []
    if net.last_point_channels is not None:
        last_point = [
            layers.Dense(
                net.last_point_channels,
                kernel_initializer=dense_initializer(init),
                name="last_point",
            ),
            *activation_layers(layers, head_activation, "last_point"),
        ]
    prefixes = [block_name(index) for index in range(len(net.blocks))]
    return Skeleton(
        stem=conv_bn_act(
            layers,
            stem.out_channels,
            stem.kernel_size,
            stem.stride,
            "stem",
            bn,
            activation=stem.activation,
            init=init,
        ),
        blocks=[body(i, block, prefixes[i]) for i, block in enumerate(net.blocks)],
        residual_adds=[
            layers.Add(name=f"{prefixes[i]}_add") if block.residual else None
            for i, block in enumerate(net.blocks)
        ],
        identity=[isinstance(block, BlockSpec) and block.is_identity for block in net.blocks],
        feature_mix=(
            conv_bn_act(
                layers,
                feature_mix,
                1,
                1,
                "feature_mix",
                bn,
                activation=head_activation,
                init=init,
            )
            if feature_mix is not None
            else []
        ),
        pool=layers.GlobalAveragePooling2D(name="pool"),
        last_point=last_point,
        dropout=layers.Dropout(dropout, name="dropout") if dropout > 0 else None,
        classifier=layers.Dense(
            net.classifier.num_classes,
            kernel_initializer=dense_initializer(init),
            name="classifier",
        ),
    )


def build_net(spec: NetSpec, keras_module: ModuleType = keras, init: str = "he_fout") -> Any:
    """Builds the Functional model of a network; its output is the logits.

    Args:
        spec: The network.
        keras_module: `keras` (Keras 3, the default) or `tf_keras` (Keras 2,
            for tensorflow-model-optimization). Both give the same layers,
            names and weight shapes.
        init: The weights' initialization (`tfnas.nets.initializers.INITS`; the
            reference's `he_fout` by default).

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
    inputs = keras_module.Input(
        shape=(spec.resolution, spec.resolution, spec.in_channels), name=INPUT_NAME
    )
    parts = skeleton(
        spec,
        lambda index, block, prefix: block_layers(block, prefix, spec.batch_norm, layers, init),
        layers,
        init,
    )
    return keras_module.Model(inputs, parts.forward(inputs), name=spec.name)
