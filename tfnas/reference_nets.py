"""Registered reference networks: MobileNetV2 and the four released ProxylessNAS nets.

Each network is written as stages of op strings, the notation of the
ProxylessNAS paper's architecture figures. The ProxylessNAS block lists are
the ones the authors released (their `net.config` files); a test checks that
importing those files gives exactly these specs.
"""

from __future__ import annotations

from collections.abc import Sequence

from tfnas.ops import parse_op
from tfnas.registry import NETS
from tfnas.spec import (
    BlockSpec,
    ClassifierSpec,
    ConvSpec,
    NetSpec,
    first_block,
    make_divisible,
    stage_positions,
)

Stage = tuple[int, int, Sequence[str]]
"""(out_channels, stride of the first block, op string of every block)."""


def mobile_network(
    name: str,
    stem_channels: int,
    first_block_channels: int,
    stages: Sequence[Stage],
    feature_mix_channels: int | None,
    resolution: int = 224,
    num_classes: int = 1000,
    dropout: float = 0.0,
) -> NetSpec:
    """A MobileNetV2-style network from stages of op strings.

    The first block is a fixed 3x3 MBConv1; every stage's first block applies
    the stage's stride and channel change; blocks with stride 1 and equal
    channels are residual.

    Args:
        name: Network name.
        stem_channels: Output channels of the 3x3 stride-2 stem.
        first_block_channels: Output channels of the first (3x3 MBConv1) block.
        stages: (out_channels, stride, op strings) per stage.
        feature_mix_channels: Channels of the 1x1 conv before pooling, or None.
        resolution: Input resolution.
        num_classes: Classifier outputs.
        dropout: Classifier dropout rate.

    Returns:
        The network spec.
    """
    blocks = [first_block(stem_channels, first_block_channels)]
    channels = first_block_channels
    for out_channels, stride, op_names in stages:
        positions = stage_positions(channels, out_channels, stride, len(op_names))
        for pos, op_name in zip(positions, op_names, strict=True):
            blocks.append(
                BlockSpec(
                    parse_op(op_name), pos.in_channels, pos.out_channels, pos.stride, pos.residual
                )
            )
        channels = out_channels
    return NetSpec(
        name=name,
        resolution=resolution,
        in_channels=3,
        stem=ConvSpec(stem_channels, kernel_size=3, stride=2),
        blocks=tuple(blocks),
        feature_mix_channels=feature_mix_channels,
        classifier=ClassifierSpec(num_classes, dropout),
    )


@NETS.register("mobilenet_v2")
def mobilenet_v2(
    width_mult: float = 1.0, resolution: int = 224, num_classes: int = 1000, dropout: float = 0.0
) -> NetSpec:
    """MobileNetV2 (Sandler et al., 2018): every block 3x3, expand 6."""
    # (channels, repeats, stride) of the MobileNetV2 paper's Table 2, after the first block.
    table = ((24, 2, 2), (32, 3, 2), (64, 4, 2), (96, 3, 1), (160, 3, 2), (320, 1, 1))
    stages = [(make_divisible(c * width_mult), s, ["3x3_MBConv6"] * n) for c, n, s in table]
    return mobile_network(
        name="mobilenet_v2" if width_mult == 1.0 else f"mobilenet_v2_{width_mult:g}",
        stem_channels=make_divisible(32 * width_mult),
        first_block_channels=make_divisible(16 * width_mult),
        stages=stages,
        feature_mix_channels=make_divisible(1280 * width_mult) if width_mult > 1.0 else 1280,
        resolution=resolution,
        num_classes=num_classes,
        dropout=dropout,
    )


def _released(
    name: str,
    stem: int,
    first: int,
    stages: Sequence[Stage],
    feature_mix: int,
) -> None:
    """Registers a released ProxylessNAS network (ImageNet, 224 px by default)."""

    def factory(resolution: int = 224, num_classes: int = 1000, dropout: float = 0.0) -> NetSpec:
        return mobile_network(
            name, stem, first, stages, feature_mix, resolution, num_classes, dropout
        )

    factory.__doc__ = f"The released ProxylessNAS network {name!r}."
    NETS.register(name)(factory)


_Z = "Zero"

_released(
    "proxyless_mobile",
    stem=32,
    first=16,
    stages=[
        (32, 2, ["5x5_MBConv3", "3x3_MBConv3", _Z, _Z]),
        (40, 2, ["7x7_MBConv3", "3x3_MBConv3", "5x5_MBConv3", "5x5_MBConv3"]),
        (80, 2, ["7x7_MBConv6", "5x5_MBConv3", "5x5_MBConv3", "5x5_MBConv3"]),
        (96, 1, ["5x5_MBConv6", "5x5_MBConv3", "5x5_MBConv3", "5x5_MBConv3"]),
        (192, 2, ["7x7_MBConv6", "7x7_MBConv6", "7x7_MBConv3", "7x7_MBConv3"]),
        (320, 1, ["7x7_MBConv6"]),
    ],
    feature_mix=1280,
)

_released(
    "proxyless_cpu",
    stem=40,
    first=24,
    stages=[
        (32, 2, ["3x3_MBConv6", "3x3_MBConv3", "3x3_MBConv3", "3x3_MBConv3"]),
        (48, 2, ["3x3_MBConv6", "3x3_MBConv3", "3x3_MBConv3", "5x5_MBConv3"]),
        (88, 2, ["3x3_MBConv6", _Z, _Z, "3x3_MBConv3"]),
        (104, 1, ["5x5_MBConv6", "3x3_MBConv3", "3x3_MBConv3", "3x3_MBConv3"]),
        (216, 2, ["5x5_MBConv6", "5x5_MBConv3", "5x5_MBConv3", "3x3_MBConv3"]),
        (360, 1, ["5x5_MBConv6"]),
    ],
    feature_mix=1432,
)

_released(
    "proxyless_gpu",
    stem=40,
    first=24,
    stages=[
        (32, 2, ["5x5_MBConv3", _Z, _Z, _Z]),
        (56, 2, ["7x7_MBConv3", _Z, _Z, "3x3_MBConv3"]),
        (112, 2, ["7x7_MBConv6", _Z, _Z, "5x5_MBConv3"]),
        (128, 1, ["5x5_MBConv6", _Z, "3x3_MBConv3", "5x5_MBConv3"]),
        (256, 2, ["7x7_MBConv6", "7x7_MBConv6", "7x7_MBConv6", "5x5_MBConv6"]),
        (432, 1, ["7x7_MBConv6"]),
    ],
    feature_mix=1728,
)

_released(
    "proxyless_mobile_14",
    stem=48,
    first=24,
    stages=[
        (40, 2, ["5x5_MBConv3", "3x3_MBConv3", _Z, _Z]),
        (56, 2, ["7x7_MBConv3", "3x3_MBConv3", "5x5_MBConv3", "5x5_MBConv3"]),
        (112, 2, ["7x7_MBConv6", "5x5_MBConv3", "5x5_MBConv3", "5x5_MBConv3"]),
        (136, 1, ["5x5_MBConv6", "5x5_MBConv3", "5x5_MBConv3", "5x5_MBConv3"]),
        (256, 2, ["7x7_MBConv6", "7x7_MBConv6", "7x7_MBConv3", "7x7_MBConv3"]),
        (448, 1, ["7x7_MBConv6"]),
    ],
    feature_mix=1792,
)
