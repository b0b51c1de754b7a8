"""Tiny search spaces, a synthetic task whose best op is known, and synthetic latency tables."""

import numpy as np

from tfnas.latency.features import features
from tfnas.latency.keys import spec_parts
from tfnas.latency.table import LatencyTable, Measurement, TableMetadata
from tfnas.nets.ops import MBConvOp, ZeroOp
from tfnas.nets.spaces import proxyless_imagenet
from tfnas.nets.spec import BlockSpec, ChoiceBlock, ClassifierSpec, ConvSpec, SearchSpace

KERNEL_TASK_CANDIDATES = (MBConvOp(3, 3), MBConvOp(5, 3), ZeroOp())
KERNEL_TASK_BEST = 1  # the 5x5 op
KERNEL_TASK_DISTANCE = 4  # dots this far apart: only a 5x5 window holds both


def tiny_space(num_classes: int = 3, resolution: int = 8) -> SearchSpace:
    """Two choice blocks (one strided, one with Zero) around a fixed block."""
    return SearchSpace(
        name="tiny",
        resolution=resolution,
        in_channels=3,
        stem=ConvSpec(8, kernel_size=3, stride=1),
        blocks=(
            BlockSpec(MBConvOp(3, 1), 8, 8, 1, residual=False),
            ChoiceBlock((MBConvOp(3, 3), MBConvOp(5, 6), MBConvOp(7, 3)), 8, 12, 2, False),
            ChoiceBlock((MBConvOp(3, 3), MBConvOp(5, 3), ZeroOp()), 12, 12, 1, True),
        ),
        feature_mix_channels=16,
        classifier=ClassifierSpec(num_classes),
    )


def kernel_task_space(channels: int = 8) -> SearchSpace:
    """1x1 stem, one choice block (3x3, 5x5 or Zero), no feature mix.

    The choice block's depthwise convolution is the only layer that looks at
    more than one pixel, so its kernel size bounds what the network can see.
    """
    return SearchSpace(
        name="kernel_task",
        resolution=12,
        in_channels=1,
        stem=ConvSpec(channels, kernel_size=1, stride=1),
        blocks=(ChoiceBlock(KERNEL_TASK_CANDIDATES, channels, channels, 1, True),),
        feature_mix_channels=None,
        classifier=ClassifierSpec(2),
    )


def kernel_task_data(count: int, seed: int, size: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """Images with two dots on a row: 4 pixels apart (class 0) or 7 apart (class 1).

    Seen through windows of 3x3 pixels, both classes are two isolated dots;
    a 5x5 window holds both dots of class 0 and never both of class 1.
    """
    rng = np.random.default_rng(seed)
    # Faint noise keeps every channel's batch statistics well conditioned.
    images = rng.normal(0.0, 0.1, (count, size, size, 1)).astype(np.float32)
    labels = rng.integers(0, 2, count).astype(np.int32)
    for i, label in enumerate(labels):
        distance = KERNEL_TASK_DISTANCE if label == 0 else 7
        # Two pairs, on rows 3+ apart so that no 3x3 window sees dots of both;
        # every dot a pixel away from the border, where padding would differ.
        first = rng.integers(1, size - 4)
        for row in (first, rng.integers(first + 3, size - 1)):
            col = rng.integers(1, size - 1 - distance)
            images[i, row, col] = 1.0
            images[i, row, col + distance] = 1.0
    return images, labels


def synthetic_table(
    coefficients: np.ndarray, widths=(1.0,), resolutions=(224, 160)
) -> LatencyTable:
    """A latency table of the ImageNet space whose latencies are exactly linear in the features."""
    entries = {}
    for width in widths:
        for resolution in resolutions:
            space = proxyless_imagenet(width_mult=width, resolution=resolution)
            for part in spec_parts(space):
                for key in part.keys:
                    if key is not None:
                        entries[key] = Measurement(float(np.dot(features(key), coefficients)), 0, 1)
    return LatencyTable(TableMetadata(device="synthetic"), entries)
