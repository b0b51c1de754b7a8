"""Networks and search spaces as frozen, validated data.

A `NetSpec` is one concrete network; a `SearchSpace` is the same skeleton in
which some blocks are `ChoiceBlock`s holding a tuple of candidate ops. Keras
models are built from specs (`tfnas.nets.builder`), never the other way round, so a
spec is what gets saved, compared, costed and searched over.

Every spec checks itself on construction; a `SpecError` names the field
(`blocks[4].in_channels: ...`) with the same path its JSON form uses.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import NamedTuple

from tfnas.errors import SpecError, check_positive_int
from tfnas.nets.ops import OP_TYPES, MBConvOp, Op, check_activation


def block_name(index: int) -> str:
    """The name of the network's block at `index` in layer names and reports (`block03`)."""
    return f"block{index:02d}"


def choice_name(index: int) -> str:
    """The name of a space's choice block at `index` (`choice02`), apart from `block_name`.

    A space's choice blocks are numbered apart from the network's blocks (its
    fixed blocks, such as the first MBConv1, are not choices), so in the
    ProxylessNAS spaces `choice02` is `block03`: the two names never stand
    for the same index. Tuner hyperparameters, the search's entropy scalars
    and its reports use this one.
    """
    return f"choice{index:02d}"


def conv_output_size(size: int, stride: int) -> int:
    """Spatial size after a 'same'-padded convolution with `stride`."""
    return math.ceil(size / stride)


@dataclasses.dataclass(frozen=True)
class ConvSpec:
    """A conv-BN-activation layer (the stem).

    Attributes:
        out_channels: Output channels.
        kernel_size: Square kernel size.
        stride: Spatial stride.
        activation: One of `tfnas.nets.ops.ACTIVATIONS` (MobileNetV3's stem: `hswish`).
    """

    out_channels: int
    kernel_size: int = 3
    stride: int = 2
    activation: str = "relu6"

    def __post_init__(self) -> None:
        for field in ("out_channels", "kernel_size", "stride"):
            check_positive_int(field, getattr(self, field))
        check_activation("activation", self.activation)


@dataclasses.dataclass(frozen=True)
class ClassifierSpec:
    """Global average pooling, dropout and a dense layer producing logits.

    Attributes:
        num_classes: Number of output logits.
        dropout: Dropout rate before the dense layer, in [0, 1).
    """

    num_classes: int
    dropout: float = 0.0

    def __post_init__(self) -> None:
        check_positive_int("num_classes", self.num_classes)
        if not isinstance(self.dropout, int | float) or not 0.0 <= self.dropout < 1.0:
            raise SpecError(f"expected a rate in [0, 1), got {self.dropout!r}", "dropout")


@dataclasses.dataclass(frozen=True)
class BatchNormSpec:
    """Batch-normalization settings, in Keras' convention.

    Keras' momentum is the weight of the old moving average, so PyTorch's
    `momentum=0.1` (the ProxylessNAS default) is `0.9` here.

    Attributes:
        momentum: Moving-average momentum, in (0, 1).
        epsilon: Variance epsilon, > 0.
    """

    momentum: float = 0.9
    epsilon: float = 1e-3

    def __post_init__(self) -> None:
        if not isinstance(self.momentum, int | float) or not 0.0 < self.momentum < 1.0:
            raise SpecError(f"expected a value in (0, 1), got {self.momentum!r}", "momentum")
        if not isinstance(self.epsilon, int | float) or not self.epsilon > 0:
            raise SpecError(f"expected a positive value, got {self.epsilon!r}", "epsilon")


@dataclasses.dataclass(frozen=True)
class BlockSpec:
    """One block of a concrete network: an op at a position.

    Attributes:
        op: What the block computes (`MBConvOp` or `ZeroOp`).
        in_channels: Input channels.
        out_channels: Output channels.
        stride: Stride of the depthwise convolution (1 or 2).
        residual: Whether the input is added to the op's output. Needs
            `stride == 1` and `in_channels == out_channels`; a `ZeroOp` block
            must have it (it is then an identity).
    """

    op: Op
    in_channels: int
    out_channels: int
    stride: int
    residual: bool

    def __post_init__(self) -> None:
        _check_op("op", self.op)
        _check_position(self, (self.op,))

    @property
    def is_identity(self) -> bool:
        """True for a Zero block with its residual: it passes its input through."""
        return self.op.outputs_zero


@dataclasses.dataclass(frozen=True)
class ChoiceBlock:
    """A searchable block: one position, several candidate ops.

    Attributes:
        candidates: The candidate ops, in the order their architecture logits use.
        in_channels: Input channels.
        out_channels: Output channels.
        stride: Stride of the candidates' depthwise convolution.
        residual: Whether every candidate's output gets the block input added.
    """

    candidates: tuple[Op, ...]
    in_channels: int
    out_channels: int
    stride: int
    residual: bool

    def __post_init__(self) -> None:
        if not isinstance(self.candidates, tuple) or not self.candidates:
            raise SpecError(
                f"expected a non-empty tuple of ops, got {self.candidates!r}", "candidates"
            )
        for i, op in enumerate(self.candidates):
            _check_op(f"candidates[{i}]", op)
            if not op.searchable:
                raise SpecError(
                    f"{op.name} is not a candidate the supernet can hold (it builds in "
                    "networks only); use MBConv or Zero candidates",
                    f"candidates[{i}]",
                )
        if len(set(self.candidates)) != len(self.candidates):
            names = [op.name for op in self.candidates]
            raise SpecError(f"each op may appear once, got {names}", "candidates")
        _check_position(self, self.candidates)

    def select(self, index: int) -> BlockSpec:
        """Returns the concrete block that runs candidate `index`."""
        if not 0 <= index < len(self.candidates):
            raise SpecError(
                f"choice index {index} is out of range for a block with "
                f"{len(self.candidates)} candidates"
            )
        return BlockSpec(
            op=self.candidates[index],
            in_channels=self.in_channels,
            out_channels=self.out_channels,
            stride=self.stride,
            residual=self.residual,
        )


@dataclasses.dataclass(frozen=True)
class NetSpec:
    """A concrete MobileNetV2-style network.

    stem conv -> blocks -> optional 1x1 feature-mix conv -> pool -> optional
    1x1 last-point conv (MobileNetV3) -> dropout -> dense.

    Attributes:
        name: A name for the network (used as the Keras model name).
        resolution: Input height and width in pixels.
        in_channels: Input image channels.
        stem: The first convolution.
        blocks: The blocks, in order; each block's input is the previous block's output.
        feature_mix_channels: Output channels of the 1x1 conv before pooling, or
            None for a network without it.
        classifier: Pooling, dropout and dense head.
        batch_norm: Batch-normalization settings for every BN layer.
        feature_mix_activation: The feature mix's activation, and the last
            point's (`tfnas.nets.ops.ACTIVATIONS`).
        last_point_channels: Output channels of MobileNetV3's 1x1 conv after
            pooling (with bias, without batch norm), or None for none.
    """

    name: str
    resolution: int
    in_channels: int
    stem: ConvSpec
    blocks: tuple[BlockSpec, ...]
    feature_mix_channels: int | None
    classifier: ClassifierSpec
    batch_norm: BatchNormSpec = BatchNormSpec()
    feature_mix_activation: str = "relu6"
    last_point_channels: int | None = None

    def __post_init__(self) -> None:
        _check_skeleton(self, BlockSpec)

    def with_resolution(self, resolution: int) -> NetSpec:
        """The same network at another input resolution."""
        return dataclasses.replace(self, resolution=resolution)


@dataclasses.dataclass(frozen=True)
class SearchSpace:
    """A network skeleton whose searchable blocks are `ChoiceBlock`s.

    Attributes:
        name: A name for the space.
        resolution: Input height and width in pixels.
        in_channels: Input image channels.
        stem: The first convolution.
        blocks: Fixed `BlockSpec`s and searchable `ChoiceBlock`s, in order.
        feature_mix_channels: Output channels of the 1x1 conv before pooling, or None.
        classifier: Pooling, dropout and dense head.
        batch_norm: Batch-normalization settings for every BN layer.
        feature_mix_activation: As `NetSpec`'s.
        last_point_channels: As `NetSpec`'s.
    """

    name: str
    resolution: int
    in_channels: int
    stem: ConvSpec
    blocks: tuple[BlockSpec | ChoiceBlock, ...]
    feature_mix_channels: int | None
    classifier: ClassifierSpec
    batch_norm: BatchNormSpec = BatchNormSpec()
    feature_mix_activation: str = "relu6"
    last_point_channels: int | None = None

    def __post_init__(self) -> None:
        _check_skeleton(self, BlockSpec | ChoiceBlock)

    def with_resolution(self, resolution: int) -> SearchSpace:
        """The same space at another input resolution."""
        return dataclasses.replace(self, resolution=resolution)

    @property
    def choice_blocks(self) -> tuple[ChoiceBlock, ...]:
        """The searchable blocks, in network order."""
        return tuple(b for b in self.blocks if isinstance(b, ChoiceBlock))

    @property
    def num_architectures(self) -> int:
        """How many distinct choices of one op per choice block the space holds."""
        return math.prod(len(b.candidates) for b in self.choice_blocks)

    def select(self, choices: Sequence[int]) -> NetSpec:
        """The network that runs candidate `choices[i]` in the i-th choice block.

        Zero blocks stay in the result (they build as identities), so block
        indices of the network match those of the space.

        Args:
            choices: One candidate index per choice block.

        Returns:
            The concrete network.
        """
        num_choice = len(self.choice_blocks)
        if len(choices) != num_choice:
            raise SpecError(
                f"expected {num_choice} choice indices (one per choice block of "
                f"{self.name!r}), got {len(choices)}"
            )
        remaining = iter(choices)
        blocks = tuple(
            b.select(next(remaining)) if isinstance(b, ChoiceBlock) else b for b in self.blocks
        )
        return NetSpec(
            name=self.name,
            resolution=self.resolution,
            in_channels=self.in_channels,
            stem=self.stem,
            blocks=blocks,
            feature_mix_channels=self.feature_mix_channels,
            classifier=self.classifier,
            batch_norm=self.batch_norm,
            feature_mix_activation=self.feature_mix_activation,
            last_point_channels=self.last_point_channels,
        )


def _check_op(field: str, op: object) -> None:
    if not isinstance(op, tuple(OP_TYPES.values())):
        kinds = " or ".join(cls.__name__ for cls in OP_TYPES.values())
        raise SpecError(f"expected an op ({kinds}), got {op!r}", field)


def _check_position(block: BlockSpec | ChoiceBlock, ops: Sequence[Op]) -> None:
    """Checks channels, stride and residual of a block against its ops."""
    for field in ("in_channels", "out_channels", "stride"):
        check_positive_int(field, getattr(block, field))
    if not isinstance(block.residual, bool):
        raise SpecError(f"expected true or false, got {block.residual!r}", "residual")
    if block.residual and (block.stride != 1 or block.in_channels != block.out_channels):
        raise SpecError(
            "a residual block needs stride 1 and in_channels == out_channels, got "
            f"stride {block.stride}, {block.in_channels} -> {block.out_channels} channels",
            "residual",
        )
    if any(op.outputs_zero for op in ops) and not block.residual:
        raise SpecError(
            "a block with the Zero op must be residual (Zero plus the residual is an "
            "identity; without it the block would output zeros)",
            "residual",
        )


def _check_skeleton(spec: NetSpec | SearchSpace, block_type: type) -> None:
    """Checks the fields shared by networks and spaces, and that channels chain up."""
    if not isinstance(spec.name, str) or not spec.name:
        raise SpecError(f"expected a non-empty string, got {spec.name!r}", "name")
    check_positive_int("resolution", spec.resolution)
    check_positive_int("in_channels", spec.in_channels)
    for field, kind in (
        ("stem", ConvSpec),
        ("classifier", ClassifierSpec),
        ("batch_norm", BatchNormSpec),
    ):
        if not isinstance(getattr(spec, field), kind):
            raise SpecError(f"expected a {kind.__name__}, got {getattr(spec, field)!r}", field)
    if spec.feature_mix_channels is not None:
        check_positive_int("feature_mix_channels", spec.feature_mix_channels)
    check_activation("feature_mix_activation", spec.feature_mix_activation)
    if spec.last_point_channels is not None:
        check_positive_int("last_point_channels", spec.last_point_channels)
    if not isinstance(spec.blocks, tuple):
        raise SpecError(f"expected a tuple of blocks, got {type(spec.blocks).__name__}", "blocks")
    channels, source = spec.stem.out_channels, "stem.out_channels"
    for i, block in enumerate(spec.blocks):
        if not isinstance(block, block_type):
            raise SpecError(f"expected a block, got {block!r}", f"blocks[{i}]")
        if block.in_channels != channels:
            raise SpecError(
                f"{block.in_channels} does not match {source} {channels}",
                f"blocks[{i}].in_channels",
            )
        channels, source = block.out_channels, f"blocks[{i}].out_channels"


@dataclasses.dataclass(frozen=True)
class Position:
    """Where a block sits: its channels, stride and whether it is residual."""

    in_channels: int
    out_channels: int
    stride: int
    residual: bool


def first_block(in_channels: int, out_channels: int) -> BlockSpec:
    """The fixed first block of MobileNetV2 and ProxylessNAS: a 3x3 MBConv1, stride 1."""
    return BlockSpec(MBConvOp(3, 1), in_channels, out_channels, 1, residual=False)


class Stage(NamedTuple):
    """A run of blocks at one width: the first applies the stride and the channel change.

    A search space's stage gives its `depth`: each block is a choice among
    the space's candidates. A fixed network's stage also gives `ops`, one op
    string per block (`Stage.of_ops`), and `depth` is their number.
    """

    out_channels: int
    stride: int
    depth: int
    ops: tuple[str, ...] = ()

    @classmethod
    def of_ops(cls, out_channels: int, stride: int, ops: Sequence[str]) -> Stage:
        """A fixed network's stage: one op string (`5x5_MBConv3`, `Zero`) per block."""
        return cls(out_channels, stride, len(ops), tuple(ops))

    def positions(self, in_channels: int) -> list[Position]:
        """The stage's blocks' positions after a block of `in_channels` (`stage_positions`)."""
        return stage_positions(in_channels, self.out_channels, self.stride, self.depth)


def stage_positions(in_channels: int, out_channels: int, stride: int, depth: int) -> list[Position]:
    """The positions of a MobileNetV2 stage of `depth` blocks.

    The first block changes the channels and applies the stride; every block
    with stride 1 and equal channels is residual (the MobileNetV2 and
    ProxylessNAS rule).
    """
    positions = []
    for i in range(depth):
        block_in, block_stride = (in_channels, stride) if i == 0 else (out_channels, 1)
        residual = block_stride == 1 and block_in == out_channels
        positions.append(Position(block_in, out_channels, block_stride, residual))
    return positions
