"""Parameters and multiply-accumulates of a network, computed from its spec alone.

No model is built, so costing a network takes microseconds. `params` counts
trainable weights (convolutions, BN scale and offset, the dense layer), which
is the figure papers report; BN moving statistics are counted apart as
`bn_stats`. MACs count convolutions and the dense layers; BN, activations,
additions, pooling and squeeze-excite's scaling are not counted (the
ProxylessNAS and MobileNetV2 convention; squeeze-excite's two 1x1
convolutions are).
"""

from __future__ import annotations

import dataclasses

from tfnas.nets.ops import SqueezeExcitePart
from tfnas.nets.spec import (
    BlockSpec,
    ChoiceBlock,
    NetSpec,
    SearchSpace,
    block_name,
    conv_output_size,
)


@dataclasses.dataclass(frozen=True)
class LayerCost:
    """The cost of one part of a network (stem, one block, feature mix, classifier).

    Attributes:
        name: The part's layer-name prefix (`stem`, `block03`, `classifier`).
        description: What the part is (`5x5_MBConv3`, `3x3 conv`, ...).
        output_shape: (height, width, channels) of its output; (classes,) for the classifier.
        params: Trainable parameters.
        bn_stats: BN moving mean and variance entries (not trainable).
        macs: Multiply-accumulates for one image.
    """

    name: str
    description: str
    output_shape: tuple[int, ...]
    params: int
    bn_stats: int
    macs: int


@dataclasses.dataclass(frozen=True)
class NetCost:
    """Costs of a network, per part and in total."""

    layers: tuple[LayerCost, ...]

    @property
    def params(self) -> int:
        """Trainable parameters."""
        return sum(layer.params for layer in self.layers)

    @property
    def bn_stats(self) -> int:
        """BN moving-statistics entries (the non-trainable weights)."""
        return sum(layer.bn_stats for layer in self.layers)

    @property
    def macs(self) -> int:
        """Multiply-accumulates for one image."""
        return sum(layer.macs for layer in self.layers)


@dataclasses.dataclass(frozen=True)
class _Conv:
    """One bias-free conv followed by BN: the unit every part is made of."""

    in_channels: int
    out_channels: int
    kernel_size: int
    depthwise: bool = False

    def params(self) -> int:
        per_output = self.kernel_size**2 * (1 if self.depthwise else self.in_channels)
        return per_output * self.out_channels + 2 * self.out_channels  # + BN gamma, beta

    def macs(self, height: int, width: int) -> int:
        """MACs at an output of height x width."""
        per_output = self.kernel_size**2 * (1 if self.depthwise else self.in_channels)
        return height * width * self.out_channels * per_output


def block_cost(block: BlockSpec, height: int, width: int, name: str) -> LayerCost:
    """The cost of a block whose input is height x width.

    Args:
        block: The block.
        height: Input height.
        width: Input width.
        name: Name to report the block under.
    """
    out_h, out_w = conv_output_size(height, block.stride), conv_output_size(width, block.stride)
    shape = (out_h, out_w, block.out_channels)
    op = block.op
    convs = []  # (conv, output height, output width)
    squeeze_params = squeeze_macs = 0
    h, w = height, width
    for part in op.convs(block.in_channels, block.out_channels, block.stride):
        if isinstance(part, SqueezeExcitePart):
            # Two 1x1 convolutions with bias on the pooled 1x1 map, no batch norm.
            squeeze_macs += 2 * part.channels * part.reduced
            squeeze_params += 2 * part.channels * part.reduced + part.reduced + part.channels
            continue
        h, w = conv_output_size(h, part.stride), conv_output_size(w, part.stride)
        conv = _Conv(part.in_channels, part.out_channels, part.kernel_size, part.depthwise)
        convs.append((conv, h, w))
    return LayerCost(
        name=name,
        description=op.name,
        output_shape=shape,
        params=sum(conv.params() for conv, _, _ in convs) + squeeze_params,
        bn_stats=sum(2 * conv.out_channels for conv, _, _ in convs),
        macs=sum(conv.macs(h, w) for conv, h, w in convs) + squeeze_macs,
    )


def net_cost(spec: NetSpec) -> NetCost:
    """Per-part and total parameters and MACs of a network at its resolution."""
    stem = _Conv(spec.in_channels, spec.stem.out_channels, spec.stem.kernel_size)
    size = conv_output_size(spec.resolution, spec.stem.stride)
    channels = spec.stem.out_channels
    layers = [
        LayerCost(
            "stem",
            f"{spec.stem.kernel_size}x{spec.stem.kernel_size} conv",
            (size, size, channels),
            stem.params(),
            2 * channels,
            stem.macs(size, size),
        )
    ]
    for index, block in enumerate(spec.blocks):
        cost = block_cost(block, size, size, block_name(index))
        layers.append(cost)
        size, channels = cost.output_shape[0], block.out_channels
    if spec.feature_mix_channels is not None:
        mix = _Conv(channels, spec.feature_mix_channels, 1)
        channels = spec.feature_mix_channels
        layers.append(
            LayerCost(
                "feature_mix",
                "1x1 conv",
                (size, size, channels),
                mix.params(),
                2 * channels,
                mix.macs(size, size),
            )
        )
    pool = "pool, "
    if spec.last_point_channels is not None:
        last = spec.last_point_channels
        layers.append(
            LayerCost(
                "last_point", "pool, dense", (last,), channels * last + last, 0, channels * last
            )
        )
        channels, pool = last, ""
    classes = spec.classifier.num_classes
    layers.append(
        LayerCost(
            "classifier",
            f"{pool}dense",
            (classes,),
            channels * classes + classes,
            0,
            channels * classes,
        )
    )
    return NetCost(tuple(layers))


def space_cost_bounds(space: SearchSpace) -> tuple[NetCost, NetCost]:
    """Costs of the networks with the fewest and the most MACs in a search space.

    Block output shapes do not depend on which candidate runs, so choosing the
    cheapest (dearest) candidate of every choice block independently gives
    the cheapest (dearest) network.
    """
    cheapest, dearest = [], []
    size = conv_output_size(space.resolution, space.stem.stride)
    for block in space.blocks:
        if isinstance(block, ChoiceBlock):
            macs = [
                block_cost(block.select(i), size, size, "").macs
                for i in range(len(block.candidates))
            ]
            cheapest.append(macs.index(min(macs)))
            dearest.append(macs.index(max(macs)))
        size = conv_output_size(size, block.stride)
    return net_cost(space.select(cheapest)), net_cost(space.select(dearest))
