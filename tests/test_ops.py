import pytest

from tfnas.errors import SpecError
from tfnas.ops import OP_TYPES, MBConvOp, ZeroOp, parse_op


@pytest.mark.parametrize(
    "op", [MBConvOp(3, 1), MBConvOp(5, 3), MBConvOp(7, 6), MBConvOp(11, 4), ZeroOp()]
)
def test_name_round_trips(op):
    assert parse_op(op.name) == op


def test_names_are_the_papers():
    assert MBConvOp(5, 3).name == "5x5_MBConv3"
    assert ZeroOp().name == "Zero"


def test_registry_is_keyed_by_type():
    assert OP_TYPES == {"mbconv": MBConvOp, "zero": ZeroOp}


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
