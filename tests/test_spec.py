import dataclasses

import pytest

from tfnas.errors import SpecError
from tfnas.nets.channels import make_divisible
from tfnas.nets.ops import MBConvOp, ZeroOp
from tfnas.nets.spaces import demo
from tfnas.nets.spec import (
    BatchNormSpec,
    BlockSpec,
    ChoiceBlock,
    ClassifierSpec,
    ConvSpec,
    NetSpec,
    block_name,
    conv_output_size,
    stage_positions,
)


def tiny_net(**changes) -> NetSpec:
    fields = dict(
        name="tiny",
        resolution=16,
        in_channels=3,
        stem=ConvSpec(8),
        blocks=(
            BlockSpec(MBConvOp(3, 1), 8, 8, 1, residual=True),
            BlockSpec(MBConvOp(5, 3), 8, 16, 2, residual=False),
            BlockSpec(ZeroOp(), 16, 16, 1, residual=True),
        ),
        feature_mix_channels=32,
        classifier=ClassifierSpec(4, dropout=0.1),
    )
    return NetSpec(**(fields | changes))


@pytest.mark.parametrize(
    ("value", "expected"),
    # MobileNetV2 / ProxylessNAS widths at width multipliers 1.0, 1.4 and 0.35.
    [(32, 32), (44.8, 48), (22.4, 24), (33.6, 32), (134.4, 136), (11.2, 16), (5.6, 8), (3, 8)],
)
def test_make_divisible(value, expected):
    assert make_divisible(value) == expected


def test_make_divisible_never_loses_more_than_ten_percent():
    for tenths in range(80, 4000):
        value = tenths / 10
        assert make_divisible(value) >= 0.9 * value
        assert make_divisible(value) % 8 == 0


def test_conv_output_size_is_same_padding():
    assert [conv_output_size(n, 2) for n in (224, 7, 1)] == [112, 4, 1]
    assert conv_output_size(13, 1) == 13


def test_block_name_is_stable():
    assert block_name(3) == "block03"


def test_stage_positions_follow_the_residual_rule():
    positions = stage_positions(16, 24, 2, 3)
    assert [(p.in_channels, p.out_channels, p.stride, p.residual) for p in positions] == [
        (16, 24, 2, False),
        (24, 24, 1, True),
        (24, 24, 1, True),
    ]
    # A stride-1 stage that keeps the width is residual from its first block.
    assert stage_positions(32, 32, 1, 1)[0].residual


def test_specs_are_frozen_and_hashable():
    net = tiny_net()
    with pytest.raises(dataclasses.FrozenInstanceError):
        net.resolution = 32
    assert hash(net) == hash(tiny_net())


def test_with_resolution():
    assert tiny_net().with_resolution(64).resolution == 64
    assert demo().with_resolution(48).resolution == 48


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"resolution": 0}, "^resolution: expected a positive integer"),
        ({"name": ""}, "^name: "),
        ({"feature_mix_channels": 0}, "^feature_mix_channels: "),
        ({"stem": 8}, "^stem: expected a ConvSpec"),
        ({"blocks": [BlockSpec(MBConvOp(3, 1), 8, 8, 1, True)]}, "^blocks: expected a tuple"),
        (
            {"blocks": (BlockSpec(MBConvOp(3, 1), 4, 8, 1, False),)},
            r"^blocks\[0\]\.in_channels: 4 does not match stem\.out_channels 8",
        ),
        (
            {
                "blocks": (
                    BlockSpec(MBConvOp(3, 1), 8, 16, 1, False),
                    BlockSpec(MBConvOp(3, 1), 8, 8, 1, True),
                )
            },
            r"^blocks\[1\]\.in_channels: 8 does not match blocks\[0\]\.out_channels 16",
        ),
        ({"blocks": (ChoiceBlock((MBConvOp(3, 1),), 8, 8, 1, True),)}, r"^blocks\[0\]: "),
    ],
)
def test_net_errors_name_the_field(changes, message):
    with pytest.raises(SpecError, match=message):
        tiny_net(**changes)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: BlockSpec(MBConvOp(3, 3), 8, 8, 2, True), "^residual: .*stride 2"),
        (lambda: BlockSpec(MBConvOp(3, 3), 8, 16, 1, True), "^residual: .*8 -> 16"),
        (lambda: BlockSpec(ZeroOp(), 8, 8, 1, False), "^residual: .*Zero"),
        (lambda: BlockSpec("3x3_MBConv3", 8, 8, 1, True), "^op: expected an op"),
        (lambda: BlockSpec(MBConvOp(3, 3), 8, 8, 0, False), "^stride: "),
        (lambda: BlockSpec(MBConvOp(3, 3), 8, 8, 1, 1), "^residual: expected true or false"),
        (lambda: ChoiceBlock((), 8, 8, 1, True), "^candidates: expected a non-empty tuple"),
        (lambda: ChoiceBlock((ZeroOp(), ZeroOp()), 8, 8, 1, True), "^candidates: each op"),
        (lambda: ChoiceBlock((MBConvOp(3, 3), ZeroOp()), 8, 16, 1, False), "^residual: .*Zero"),
        (lambda: ClassifierSpec(10, dropout=1.0), r"^dropout: expected a rate in \[0, 1\)"),
        (lambda: ClassifierSpec(0), "^num_classes: "),
        (lambda: BatchNormSpec(momentum=1.0), "^momentum: "),
        (lambda: BatchNormSpec(epsilon=0.0), "^epsilon: "),
        (lambda: ConvSpec(8, stride=0), "^stride: "),
    ],
)
def test_part_errors_name_the_field(make, message):
    with pytest.raises(SpecError, match=message):
        make()


def test_zero_block_is_identity():
    assert tiny_net().blocks[2].is_identity
    assert not tiny_net().blocks[0].is_identity


def test_select_picks_one_candidate_per_choice_block():
    space = demo()
    choices = [len(block.candidates) - 1 for block in space.choice_blocks]
    net = space.select(choices)
    assert isinstance(net, NetSpec)
    assert len(net.blocks) == len(space.blocks)
    chosen = [
        b for b, s in zip(net.blocks, space.blocks, strict=True) if isinstance(s, ChoiceBlock)
    ]
    assert [b.op for b in chosen] == [s.candidates[-1] for s in space.choice_blocks]
    assert net.blocks[0] == space.blocks[0]  # fixed blocks pass through


def test_select_rejects_wrong_length_and_out_of_range():
    space = demo()
    with pytest.raises(SpecError, match="expected 6 choice indices"):
        space.select([0])
    with pytest.raises(SpecError, match="out of range"):
        space.select([99] * 6)


def test_a_choice_block_has_its_own_name_apart_from_the_networks_blocks():
    from tfnas.nets.spec import choice_name

    assert choice_name(2) == "choice02"
    assert choice_name(2) != block_name(2)  # the spaces' choice02 is their block03


def test_a_stage_is_one_type_for_spaces_and_fixed_networks():
    from tfnas.nets.spec import Stage

    fixed = Stage.of_ops(24, 2, ["3x3_MBConv6", "Zero"])
    assert fixed == Stage(out_channels=24, stride=2, depth=2, ops=("3x3_MBConv6", "Zero"))
    searched = Stage(24, stride=2, depth=2)  # a space's: each block a choice
    assert searched.ops == () and searched.positions(16) == fixed.positions(16)
    assert fixed.positions(16) == stage_positions(16, 24, 2, 2)


def test_a_fixed_stage_needs_one_op_per_block():
    from tfnas.errors import SpecError
    from tfnas.nets.reference_nets import mobile_network
    from tfnas.nets.spec import Stage

    wrong = Stage(24, stride=2, depth=3, ops=("3x3_MBConv6",))
    with pytest.raises(SpecError, match=r"^tiny\.stages: 1 op strings for 3 blocks"):
        mobile_network("tiny", 16, 8, [wrong], None, resolution=32, num_classes=10)
