import pytest

from tfnas.errors import SpecError
from tfnas.nets.ops import (
    OP_TYPES,
    ConvPart,
    MBConvOp,
    MBConvV3Op,
    SqueezeExcitePart,
    ZeroOp,
    parse_op,
)


@pytest.mark.parametrize(
    "op",
    [
        MBConvOp(3, 1),
        MBConvOp(5, 3),
        MBConvOp(7, 6),
        MBConvOp(11, 4),
        ZeroOp(),
        MBConvV3Op(3, 72),
        MBConvV3Op(5, 96, se=True),
        MBConvV3Op(3, 240, hswish=True),
        MBConvV3Op(5, 576, se=True, hswish=True),
    ],
)
def test_name_round_trips(op):
    assert parse_op(op.name) == op


def test_names_are_the_papers():
    assert MBConvOp(5, 3).name == "5x5_MBConv3"
    assert ZeroOp().name == "Zero"
    assert MBConvV3Op(5, 96, se=True, hswish=True).name == "5x5_MBConvE96_SE_HS"
    assert MBConvV3Op(3, 72).name == "3x3_MBConvE72"


def test_registry_is_keyed_by_type():
    assert OP_TYPES == {"mbconv": MBConvOp, "mbconv_v3": MBConvV3Op, "zero": ZeroOp}


def test_a_mobilenet_v3_block_is_expand_depthwise_squeeze_excite_project():
    act = "hswish"
    assert MBConvV3Op(5, 96, se=True, hswish=True).convs(24, 40, 2) == (
        ConvPart("expand", 24, 96, 1, 1, activation=act),
        ConvPart("dw", 96, 96, 5, 2, depthwise=True, activation=act),
        SqueezeExcitePart("se", 96, 24),  # a quarter of 96, a multiple of 8
        ConvPart("project", 96, 40, 1, 1, activation=None),
    )
    # Middle channels equal to the input: no expand convolution (MobileNetV3's first block).
    first = MBConvV3Op(3, 16, se=True).convs(16, 16, 2)
    assert [p.role for p in first] == ["dw", "se", "project"]
    assert first[0].activation == "relu" and first[1] == SqueezeExcitePart("se", 16, 8)
    assert MBConvV3Op(5, 96, se=True, hswish=True).latency_fields() == {
        "kind": "expanded_conv",
        "expand": 96,
        "kernel": 5,
        "se": True,
        "hs": True,
    }


def test_mid_channels_rounds_like_the_reference():
    assert MBConvOp(3, 6).mid_channels(24) == 144
    assert MBConvOp(3, 1).mid_channels(32) == 32


@pytest.mark.parametrize(
    ("name", "fragment"),
    [
        ("3x5_MBConv3", "square"),
        ("3x3_MBConv", "unknown op"),
        ("zero", "unknown op"),
        ("4x4_MBConv3", "odd"),
        ("3x3_MBConv0", "positive"),
        ("3x3_MBConvE0_SE", "positive"),
        ("5x3_MBConvE96_HS", "square"),
        ("3x3_MBConvE96_HS_SE", "unknown op"),
        (3, "op name string"),
    ],
)
def test_bad_names_are_named_in_the_error(name, fragment):
    with pytest.raises(SpecError, match=fragment):
        parse_op(name)


@pytest.mark.parametrize(("kernel", "expand"), [(0, 3), (2, 3), (3, 0), (3, 1.5), (True, 3)])
def test_bad_mbconv_values(kernel, expand):
    with pytest.raises(SpecError):
        MBConvOp(kernel, expand)


@pytest.mark.parametrize(
    ("kernel", "mid", "se", "hswish"),
    [(4, 96, False, False), (3, 0, False, False), (3, 96, 1, False)],
)
def test_bad_mobilenet_v3_values(kernel, mid, se, hswish):
    with pytest.raises(SpecError):
        MBConvV3Op(kernel, mid, se, hswish)
