"""Registered search spaces: the ProxylessNAS ImageNet space and a small demo space."""

from __future__ import annotations

from collections.abc import Sequence

from tfnas.nets.channels import make_divisible
from tfnas.nets.ops import MBConvOp, Op, ZeroOp
from tfnas.nets.registry import SPACES
from tfnas.nets.spec import (
    BlockSpec,
    ChoiceBlock,
    ClassifierSpec,
    ConvSpec,
    SearchSpace,
    Stage,
    first_block,
)

# k{3,5,7} x expand{3,6}, in the order of the reference implementation.
PROXYLESS_CANDIDATES: tuple[Op, ...] = tuple(
    MBConvOp(kernel, expand) for kernel in (3, 5, 7) for expand in (3, 6)
)


def mobile_search_space(
    name: str,
    stem_channels: int,
    first_block_channels: int,
    stages: Sequence[Stage],
    feature_mix_channels: int | None,
    resolution: int,
    num_classes: int,
    dropout: float = 0.0,
    candidates: tuple[Op, ...] = PROXYLESS_CANDIDATES,
    stem_stride: int = 2,
) -> SearchSpace:
    """A ProxylessNAS-style space: stem, fixed 3x3 MBConv1 block, searchable stages.

    Every stage block is a choice among `candidates`, plus Zero where the block
    is residual (stride 1, in == out), so the search can also choose depth.

    Args:
        name: Name of the space.
        stem_channels: Output channels of the 3x3 stem convolution.
        first_block_channels: Output channels of the fixed first block.
        stages: Each stage's width, stride and depth.
        feature_mix_channels: Channels of the 1x1 conv before pooling, or None.
        resolution: Input resolution.
        num_classes: Classifier outputs.
        dropout: Classifier dropout rate.
        candidates: The non-Zero candidate ops of every choice block.
        stem_stride: Stride of the stem convolution.

    Returns:
        The search space.
    """
    blocks: list[BlockSpec | ChoiceBlock] = [first_block(stem_channels, first_block_channels)]
    channels = first_block_channels
    for stage in stages:
        for pos in stage.positions(channels):
            ops = (*candidates, ZeroOp()) if pos.residual else candidates
            blocks.append(
                ChoiceBlock(ops, pos.in_channels, pos.out_channels, pos.stride, pos.residual)
            )
        channels = stage.out_channels
    return SearchSpace(
        name=name,
        resolution=resolution,
        in_channels=3,
        stem=ConvSpec(stem_channels, kernel_size=3, stride=stem_stride),
        blocks=tuple(blocks),
        feature_mix_channels=feature_mix_channels,
        classifier=ClassifierSpec(num_classes, dropout),
    )


@SPACES.register("proxyless_imagenet")
def proxyless_imagenet(
    width_mult: float = 1.0, resolution: int = 224, num_classes: int = 1000, dropout: float = 0.0
) -> SearchSpace:
    """The ProxylessNAS ImageNet space: 21 choice blocks, about 2.2e17 architectures.

    Widths 24/40/80/96/192/320, depths 4/4/4/4/4/1, strides 2/2/2/1/2/1 after
    a 32-channel stem and a fixed 16-channel MBConv1 block; the 1x1 feature mix
    has 1280 channels and is widened only for width multipliers above 1.
    """
    stages = [
        Stage(make_divisible(width * width_mult), stride, depth=4)
        for width, stride in ((24, 2), (40, 2), (80, 2), (96, 1), (192, 2))
    ]
    stages.append(Stage(make_divisible(320 * width_mult), stride=1, depth=1))
    return mobile_search_space(
        name="proxyless_imagenet",
        stem_channels=make_divisible(32 * width_mult),
        first_block_channels=make_divisible(16 * width_mult),
        stages=stages,
        feature_mix_channels=make_divisible(1280 * width_mult) if width_mult > 1.0 else 1280,
        resolution=resolution,
        num_classes=num_classes,
        dropout=dropout,
    )


def width_scaled_space(
    name: str,
    width_mult: float,
    stem: int,
    first: int,
    stages: Sequence[Stage],
    feature_mix: int,
    resolution: int,
    num_classes: int,
    dropout: float,
) -> SearchSpace:
    """A `mobile_search_space` with every width scaled by `width_mult` (multiples of 8)."""
    return mobile_search_space(
        name=name,
        stem_channels=make_divisible(stem * width_mult),
        first_block_channels=make_divisible(first * width_mult),
        stages=[
            stage._replace(out_channels=make_divisible(stage.out_channels * width_mult))
            for stage in stages
        ],
        feature_mix_channels=make_divisible(feature_mix * width_mult),
        resolution=resolution,
        num_classes=num_classes,
        dropout=dropout,
    )


@SPACES.register("demo")
def demo(
    width_mult: float = 1.0, resolution: int = 32, num_classes: int = 10, dropout: float = 0.0
) -> SearchSpace:
    """A small space for tests and `make demo`: same candidates, 6 choice blocks, 32 px.

    Small enough that a supernet trains for a few epochs on 2 CPU cores in minutes.
    """
    stages = (Stage(16, stride=2, depth=2), Stage(24, stride=2, depth=2), Stage(32, 1, depth=2))
    return width_scaled_space(
        "demo", width_mult, 16, 8, stages, 128, resolution, num_classes, dropout
    )


@SPACES.register("fashion_mnist")
def fashion_mnist(
    width_mult: float = 1.0, resolution: int = 28, num_classes: int = 10, dropout: float = 0.0
) -> SearchSpace:
    """Fashion-MNIST's 28 px: 9 choice blocks, 6 of them with Zero, about 2.5e7 networks.

    A stride-2 stem (14 px), then stages of depth 3 at 16, 24 and 32 channels
    (strides 1, 2, 2: 14, 7, 4 px) and a 128-channel feature mix. Zero in
    the six residual positions lets a network keep 1 to 3 blocks per stage,
    so the space holds networks from 46K to 130K parameters (0.7 to 2.7 ms
    on the `mobile` model); one training epoch of its median network takes
    about a minute on 2 CPU cores.
    """
    stages = (Stage(16, stride=1, depth=3), Stage(24, stride=2, depth=3), Stage(32, 2, depth=3))
    return width_scaled_space(
        "fashion_mnist", width_mult, 8, 8, stages, 128, resolution, num_classes, dropout
    )
