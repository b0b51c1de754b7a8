"""Registered reference networks: MobileNetV2, MobileNetV3 and the released ProxylessNAS nets.

Each network is written as stages of op strings, the notation of the
ProxylessNAS paper's architecture figures. The ProxylessNAS block lists are
the ones the authors released (their `net.config` files); a test checks that
importing those files gives exactly these specs.
"""

from __future__ import annotations

from collections.abc import Sequence

from tfnas.errors import SpecError
from tfnas.nets.channels import make_divisible
from tfnas.nets.ops import MBConvV3Op, parse_op
from tfnas.nets.registry import NETS
from tfnas.nets.spec import (
    BlockSpec,
    ClassifierSpec,
    ConvSpec,
    NetSpec,
    Stage,
    first_block,
)


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
        stages: Each stage's width, stride and op strings (`Stage.of_ops`).
        feature_mix_channels: Channels of the 1x1 conv before pooling, or None.
        resolution: Input resolution.
        num_classes: Classifier outputs.
        dropout: Classifier dropout rate.

    Returns:
        The network spec.
    """
    blocks = [first_block(stem_channels, first_block_channels)]
    channels = first_block_channels
    for stage in stages:
        if len(stage.ops) != stage.depth:
            raise SpecError(
                f"{len(stage.ops)} op strings for {stage.depth} blocks; give one per block",
                f"{name}.stages",
            )
        for pos, op_name in zip(stage.positions(channels), stage.ops, strict=True):
            blocks.append(
                BlockSpec(
                    parse_op(op_name), pos.in_channels, pos.out_channels, pos.stride, pos.residual
                )
            )
        channels = stage.out_channels
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
    stages = [
        Stage.of_ops(make_divisible(c * width_mult), s, ["3x3_MBConv6"] * n) for c, n, s in table
    ]
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
    stages: Sequence[tuple[int, int, list[str]]],
    feature_mix: int,
) -> None:
    """Registers a released ProxylessNAS network (ImageNet, 224 px by default).

    `stages` are the `Stage.of_ops` arguments of each stage: width, stride, op strings.
    """
    stages = [Stage.of_ops(*stage) for stage in stages]

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


# MobileNetV3 (Howard et al., 2019), Tables 1 and 2, as keras.applications
# builds them: (kernel, middle channels, out channels, squeeze-excite,
# h-swish, stride) per block, after a 16-channel stem.
V3Row = tuple[int, int, int, bool, bool, int]
_V3_SMALL: tuple[V3Row, ...] = (
    (3, 16, 16, True, False, 2),
    (3, 72, 24, False, False, 2),
    (3, 88, 24, False, False, 1),
    (5, 96, 40, True, True, 2),
    (5, 240, 40, True, True, 1),
    (5, 240, 40, True, True, 1),
    (5, 120, 48, True, True, 1),
    (5, 144, 48, True, True, 1),
    (5, 288, 96, True, True, 2),
    (5, 576, 96, True, True, 1),
    (5, 576, 96, True, True, 1),
)
_V3_LARGE: tuple[V3Row, ...] = (
    (3, 16, 16, False, False, 1),
    (3, 64, 24, False, False, 2),
    (3, 72, 24, False, False, 1),
    (5, 72, 40, True, False, 2),
    (5, 120, 40, True, False, 1),
    (5, 120, 40, True, False, 1),
    (3, 240, 80, False, True, 2),
    (3, 200, 80, False, True, 1),
    (3, 184, 80, False, True, 1),
    (3, 184, 80, False, True, 1),
    (3, 480, 112, True, True, 1),
    (3, 672, 112, True, True, 1),
    (5, 672, 160, True, True, 2),
    (5, 960, 160, True, True, 1),
    (5, 960, 160, True, True, 1),
)
_V3_STEM = 16


def mobilenet_v3(
    size: str,
    width_mult: float = 1.0,
    minimalistic: bool = False,
    resolution: int = 224,
    num_classes: int = 1000,
    dropout: float = 0.0,
) -> NetSpec:
    """MobileNetV3-Small or -Large, with `keras.applications.MobileNetV3*`'s channel rounding.

    `width_mult` is keras' `alpha`: it scales every block's output channels
    and, through each block's expansion (middle over input channels of the
    paper's table), its middle channels; the stem stays at 16 channels, the
    1x1 conv before pooling has 6x the last block's channels, and the one
    after pooling (1024 or 1280) widens only for `width_mult` > 1.
    `minimalistic` is keras' too: 3x3 kernels, ReLU and no squeeze-excite
    everywhere.

    Args:
        size: `small` or `large`.
        width_mult: Width multiplier (keras' `alpha`).
        minimalistic: The variant without squeeze-excite, h-swish or 5x5 kernels.
        resolution: Input resolution.
        num_classes: Classifier outputs.
        dropout: Classifier dropout rate (keras' default is 0.2; the
            training recipe sets its own).
    """
    if size not in ("small", "large"):
        raise ValueError(f"size={size!r}: expected 'small' or 'large'")
    rows, last_point = (_V3_SMALL, 1024) if size == "small" else (_V3_LARGE, 1280)
    blocks = []
    channels, base = _V3_STEM, _V3_STEM  # this network's input channels, and the table's
    for kernel, mid, out, se, hswish, stride in rows:
        out_channels = make_divisible(out * width_mult)
        op = MBConvV3Op(
            3 if minimalistic else kernel,
            make_divisible(channels * mid / base),
            se and not minimalistic,
            hswish and not minimalistic,
        )
        residual = stride == 1 and channels == out_channels
        blocks.append(BlockSpec(op, channels, out_channels, stride, residual))
        channels, base = out_channels, out
    activation = "relu" if minimalistic else "hswish"
    name = f"mobilenet_v3_{size}" + (f"_{width_mult:g}" if width_mult != 1.0 else "")
    return NetSpec(
        name=name + ("_minimalistic" if minimalistic else ""),
        resolution=resolution,
        in_channels=3,
        stem=ConvSpec(_V3_STEM, kernel_size=3, stride=2, activation=activation),
        blocks=tuple(blocks),
        feature_mix_channels=make_divisible(channels * 6),
        classifier=ClassifierSpec(num_classes, dropout),
        feature_mix_activation=activation,
        last_point_channels=make_divisible(last_point * width_mult)
        if width_mult > 1.0
        else last_point,
    )


def _register_v3(size: str) -> None:
    """Registers `mobilenet_v3_<size>` with keras.applications' options."""

    def factory(
        width_mult: float = 1.0,
        minimalistic: bool = False,
        resolution: int = 224,
        num_classes: int = 1000,
        dropout: float = 0.0,
    ) -> NetSpec:
        return mobilenet_v3(size, width_mult, minimalistic, resolution, num_classes, dropout)

    factory.__doc__ = (
        f"MobileNetV3-{size.title()} (Howard et al., 2019), as keras.applications builds it."
    )
    NETS.register(f"mobilenet_v3_{size}")(factory)


_register_v3("small")
_register_v3("large")
