"""Candidate operations of a choice block: the one place each op type is defined.

An op says *what* a block computes, independent of where the block sits: the
block (see `tfnas.nets.spec`) adds channels, stride and residual. Ops are frozen
values keyed by type; their string form (`3x3_MBConv6`, `Zero`) is what the
ProxylessNAS papers, logs and latency-table keys use, and `parse_op` /
`Op.name` are the only code that reads or writes it.

Everything else that differs between op types is a member of the op's class,
so a new op type (MBConv with squeeze-excite, say) is written here and
nowhere else: `convs` (its convolutions: the Keras builder builds them, the
cost counter counts them), `outputs_zero`, `searchable` (whether a search
space may offer it), `latency_fields` (its latency-table
key), `net_config_layer` / `from_net_config` (the authors' format) and
`drawing`. `tests/test_op_types.py` checks every registered type end to end.

`MBConvV3Op` is MobileNetV3's block (Howard et al., 2019): explicit middle
channels, optional squeeze-excite and h-swish. It is in no search space: it
lets the hand-designed baselines a user would deploy instead be built,
trained, exported and measured like every other network.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any, ClassVar

from tfnas.errors import SpecError, check_positive_int
from tfnas.io.fields import Fields
from tfnas.nets.channels import make_divisible

# The activations a convolution may end with: MobileNetV2's and ProxylessNAS'
# ReLU6, and MobileNetV3's ReLU and h-swish (x * ReLU6(x + 3) / 6).
ACTIVATIONS = ("relu6", "relu", "hswish")
# MobileNetV3's squeeze-excite: its reduced channels are this share of the
# middle ones (rounded as channel counts are, to multiples of 8).
SE_RATIO = 0.25


def check_activation(field: str, value: object) -> None:
    """Raises a `SpecError` on `field` unless `value` is one of `ACTIVATIONS`."""
    if value not in ACTIVATIONS:
        raise SpecError(f"expected one of {list(ACTIVATIONS)}, got {value!r}", field)


@dataclasses.dataclass(frozen=True)
class ConvPart:
    """One convolution of an op (batch norm follows it, then its `activation`, if any).

    Attributes:
        role: Its layer-name suffix in the block (`expand`, `dw`, `project`).
        in_channels: Input channels.
        out_channels: Output channels.
        kernel_size: Square kernel size.
        stride: Spatial stride.
        depthwise: A depthwise convolution (out_channels == in_channels).
        activation: One of `ACTIVATIONS`, or None for a linear convolution.
    """

    role: str
    in_channels: int
    out_channels: int
    kernel_size: int
    stride: int
    depthwise: bool = False
    activation: str | None = "relu6"


@dataclasses.dataclass(frozen=True)
class SqueezeExcitePart:
    """Squeeze-excite on an op's middle channels (MobileNetV3).

    Global average pooling, a 1x1 convolution with bias down to `reduced`
    channels and a ReLU, one back up to `channels` with bias, a hard sigmoid
    (ReLU6(x + 3) / 6), and the input scaled by the result. No batch norm.

    Attributes:
        role: Its layer-name suffix in the block (`se`).
        channels: The channels it scales.
        reduced: The channels in between.
    """

    role: str
    channels: int
    reduced: int


Part = ConvPart | SqueezeExcitePart


@dataclasses.dataclass(frozen=True)
class Drawing:
    """How `tfnas.plots.draw_net` draws a block of the op.

    Attributes:
        height: Relative height of its box.
        kernel_size: Picks the colour; None for an op without a kernel.
        label: Text in its box.
        solid: A solid line in the alpha-history plot (dotted for ops that compute nothing).
    """

    height: float
    kernel_size: int | None
    label: str
    solid: bool = True


def _net_config_conv(
    name: str, in_channels: int, out_channels: int, kernel_size: int, stride: int
) -> dict[str, Any]:
    """The fields every `net.config` block conv starts with, in the authors' order."""
    return {
        "name": name,
        "in_channels": in_channels,
        "out_channels": out_channels,
        "kernel_size": kernel_size,
        "stride": stride,
    }


def _op_from_net_config(conv: Fields, make: Callable[[], Op]) -> Op:
    """`make()`, its error placed at the `net.config` layer it was read from."""
    try:
        return make()
    except SpecError as error:
        raise error.within(conv.where) from None


def _check_shortcut(
    residual: tuple[int, int] | None, channels: tuple[int, int], block_where: str
) -> None:
    """A block's identity shortcut must join the channels its conv has."""
    if residual is not None and residual != channels:
        raise SpecError(
            f"channels {residual} differ from the conv's {channels}", f"{block_where}.shortcut"
        )


_MBCONV_NAME = re.compile(r"^(\d+)x(\d+)_MBConv(\d+)$")


@dataclasses.dataclass(frozen=True)
class MBConvOp:
    """Mobile inverted bottleneck: 1x1 expand, kxk depthwise, 1x1 linear project.

    With `expand_ratio == 1` there is no expand convolution (MobileNetV2's
    first block).

    Attributes:
        kernel_size: Depthwise kernel size, odd.
        expand_ratio: Middle channels = round(in_channels * expand_ratio).
    """

    kernel_size: int
    expand_ratio: int

    type: ClassVar[str] = "mbconv"
    searchable: ClassVar[bool] = True

    def __post_init__(self) -> None:
        check_positive_int("kernel_size", self.kernel_size)
        if self.kernel_size % 2 != 1:
            raise SpecError(f"expected an odd kernel size, got {self.kernel_size}", "kernel_size")
        check_positive_int("expand_ratio", self.expand_ratio)

    @property
    def name(self) -> str:
        """The ProxylessNAS string form, e.g. `5x5_MBConv3`."""
        return f"{self.kernel_size}x{self.kernel_size}_MBConv{self.expand_ratio}"

    outputs_zero: ClassVar[bool] = False
    NET_CONFIG_NAME: ClassVar[str] = "MBInvertedConvLayer"

    def mid_channels(self, in_channels: int) -> int:
        """Channels after the expand convolution for a block with `in_channels` inputs."""
        return round(in_channels * self.expand_ratio)

    def convs(self, in_channels: int, out_channels: int, stride: int) -> tuple[ConvPart, ...]:
        """1x1 expand (unless the ratio is 1), kxk depthwise with the stride, 1x1 linear."""
        mid = self.mid_channels(in_channels)
        expand = (ConvPart("expand", in_channels, mid, 1, 1),) if self.expand_ratio != 1 else ()
        return (
            *expand,
            ConvPart("dw", mid, mid, self.kernel_size, stride, depthwise=True),
            ConvPart("project", mid, out_channels, 1, 1, activation=None),
        )

    def latency_fields(self) -> dict[str, Any]:
        """What the latency key of a block of this op adds to its shapes and stride."""
        return {"kind": "expanded_conv", "expand": self.expand_ratio, "kernel": self.kernel_size}

    def net_config_layer(self, in_channels: int, out_channels: int, stride: int) -> dict:
        """The block's `mobile_inverted_conv` in the authors' `net.config`."""
        return _net_config_conv(
            self.NET_CONFIG_NAME, in_channels, out_channels, self.kernel_size, stride
        ) | {"expand_ratio": self.expand_ratio}

    @classmethod
    def from_net_config(
        cls, conv: Fields, residual: tuple[int, int] | None, block_where: str
    ) -> tuple[MBConvOp, int, int, int]:
        """(op, in channels, out channels, stride) of an `MBInvertedConvLayer`."""
        kernel_size, expand_ratio = conv.get("kernel_size", int), conv.get("expand_ratio", int)
        in_channels, out_channels = conv.get("in_channels", int), conv.get("out_channels", int)
        stride = conv.get("stride", int)
        conv.done()
        op = _op_from_net_config(conv, lambda: cls(kernel_size, expand_ratio))
        _check_shortcut(residual, (in_channels, out_channels), block_where)
        return op, in_channels, out_channels, stride

    def drawing(self) -> Drawing:
        """A taller box for a wider expansion, coloured by kernel."""
        k = self.kernel_size
        return Drawing(0.6 + 0.25 * self.expand_ratio, k, f"MB{self.expand_ratio} {k}x{k}")


_MBCONV_V3_NAME = re.compile(r"^(\d+)x(\d+)_MBConvE(\d+)(_SE)?(_HS)?$")


@dataclasses.dataclass(frozen=True)
class MBConvV3Op:
    """MobileNetV3's inverted bottleneck: explicit middle channels, squeeze-excite, h-swish.

    1x1 expand (absent when the middle channels equal the block's input, as
    in MobileNetV3's first block), kxk depthwise, squeeze-excite on the
    middle channels when `se`, 1x1 linear project. The expand and depthwise
    convolutions end with h-swish when `hswish`, else ReLU. Its name is
    `KxK_MBConvE<middle>` with `_SE` and `_HS` as they apply
    (`5x5_MBConvE96_SE_HS`).

    Attributes:
        kernel_size: Depthwise kernel size, odd.
        mid_channels: Channels between the expand and project convolutions.
        se: Squeeze-excite on the middle channels.
        hswish: h-swish instead of ReLU.
    """

    kernel_size: int
    mid_channels: int
    se: bool = False
    hswish: bool = False

    type: ClassVar[str] = "mbconv_v3"
    outputs_zero: ClassVar[bool] = False
    # Squeeze-excite and h-swish are built as Python callables around Keras
    # layers, which a supernet's paths (lists of layers) cannot hold.
    searchable: ClassVar[bool] = False
    # Once-for-All's name for its MobileNetV3 block in `net.config` files.
    NET_CONFIG_NAME: ClassVar[str] = "MBConvLayer"

    def __post_init__(self) -> None:
        check_positive_int("kernel_size", self.kernel_size)
        if self.kernel_size % 2 != 1:
            raise SpecError(f"expected an odd kernel size, got {self.kernel_size}", "kernel_size")
        check_positive_int("mid_channels", self.mid_channels)
        for field in ("se", "hswish"):
            if not isinstance(getattr(self, field), bool):
                raise SpecError(f"expected true or false, got {getattr(self, field)!r}", field)

    @property
    def name(self) -> str:
        """`KxK_MBConvE<middle>[_SE][_HS]`, e.g. `5x5_MBConvE96_SE_HS`."""
        k = self.kernel_size
        return f"{k}x{k}_MBConvE{self.mid_channels}" + "_SE" * self.se + "_HS" * self.hswish

    @property
    def se_channels(self) -> int:
        """The squeeze-excite's reduced channels (MobileNetV3's rounding)."""
        return make_divisible(self.mid_channels * SE_RATIO)

    def convs(self, in_channels: int, out_channels: int, stride: int) -> tuple[Part, ...]:
        """1x1 expand (unless the middle is the input), kxk depthwise, squeeze-excite, 1x1."""
        mid, act = self.mid_channels, "hswish" if self.hswish else "relu"
        expand = (ConvPart("expand", in_channels, mid, 1, 1, activation=act),)
        squeeze = (SqueezeExcitePart("se", mid, self.se_channels),) if self.se else ()
        return (
            *(expand if mid != in_channels else ()),
            ConvPart("dw", mid, mid, self.kernel_size, stride, depthwise=True, activation=act),
            *squeeze,
            ConvPart("project", mid, out_channels, 1, 1, activation=None),
        )

    def latency_fields(self) -> dict[str, Any]:
        """A Once-for-All `expanded_conv` key: middle channels, squeeze-excite, h-swish."""
        return {
            "kind": "expanded_conv",
            "expand": self.mid_channels,
            "kernel": self.kernel_size,
            "se": self.se,
            "hs": self.hswish,
        }

    def net_config_layer(self, in_channels: int, out_channels: int, stride: int) -> dict:
        """Once-for-All's `MBConvLayer` of the block."""
        return _net_config_conv(
            self.NET_CONFIG_NAME, in_channels, out_channels, self.kernel_size, stride
        ) | {
            "expand_ratio": self.mid_channels / in_channels,
            "mid_channels": self.mid_channels,
            "act_func": "h_swish" if self.hswish else "relu",
            "use_se": self.se,
        }

    @classmethod
    def from_net_config(
        cls, conv: Fields, residual: tuple[int, int] | None, block_where: str
    ) -> tuple[MBConvV3Op, int, int, int]:
        """(op, in channels, out channels, stride) of a Once-for-All `MBConvLayer`."""
        in_channels, out_channels = conv.get("in_channels", int), conv.get("out_channels", int)
        kernel_size, stride = conv.get("kernel_size", int), conv.get("stride", int)
        mid_channels, se = conv.get("mid_channels", int), conv.get("use_se", bool)
        conv.get("expand_ratio", float)  # mid_channels says it exactly
        act = conv.get("act_func", str)
        conv.done()
        if act not in ("relu", "h_swish"):
            raise SpecError(f"expected 'relu' or 'h_swish', got {act!r}", f"{conv.where}.act_func")
        op = _op_from_net_config(conv, lambda: cls(kernel_size, mid_channels, se, act == "h_swish"))
        _check_shortcut(residual, (in_channels, out_channels), block_where)
        return op, in_channels, out_channels, stride

    def drawing(self) -> Drawing:
        """A taller box for more middle channels, coloured by kernel."""
        k = self.kernel_size
        label = f"E{self.mid_channels} {k}x{k}" + " SE" * self.se + " HS" * self.hswish
        return Drawing(0.6 + min(self.mid_channels, 960) / 240, k, label)


@dataclasses.dataclass(frozen=True)
class ZeroOp:
    """The op that outputs zeros: with the block's residual, the block is an identity.

    It lets the search skip a block (choose a shallower network).
    """

    type: ClassVar[str] = "zero"
    outputs_zero: ClassVar[bool] = True
    searchable: ClassVar[bool] = True
    NET_CONFIG_NAME: ClassVar[str] = "ZeroLayer"

    @property
    def name(self) -> str:
        """The ProxylessNAS string form, `Zero`."""
        return "Zero"

    def convs(self, in_channels: int, out_channels: int, stride: int) -> tuple[Part, ...]:
        """None: Zero computes nothing."""
        return ()

    def latency_fields(self) -> None:
        """None: a Zero block (an identity through its residual) costs nothing and has no key."""
        return None

    def net_config_layer(self, in_channels: int, out_channels: int, stride: int) -> dict:
        """The authors' `ZeroLayer` (its channels are the shortcut's)."""
        return {"name": self.NET_CONFIG_NAME, "stride": stride}

    @classmethod
    def from_net_config(
        cls, conv: Fields, residual: tuple[int, int] | None, block_where: str
    ) -> tuple[ZeroOp, int, int, int]:
        """(op, in channels, out channels, stride) of a `ZeroLayer`: channels from the shortcut."""
        stride = conv.get("stride", int)
        conv.done()
        if residual is None:
            raise SpecError(
                "a ZeroLayer block needs an IdentityLayer shortcut "
                "(without one the block outputs zeros)",
                f"{block_where}.shortcut",
            )
        return cls(), *residual, stride

    def drawing(self) -> Drawing:
        """A plain white box (derived networks hold no Zero blocks; spaces' plots do)."""
        return Drawing(0.6, None, self.name, solid=False)


Op = MBConvOp | MBConvV3Op | ZeroOp

# Every op type by its `type` key. Code that needs per-type behaviour calls the
# op's members (see the module), never branches on its class or its name.
OP_TYPES: dict[str, type[Op]] = {cls.type: cls for cls in (MBConvOp, MBConvV3Op, ZeroOp)}
# The op types by the name of their layer in the authors' `net.config`.
NET_CONFIG_LAYERS: dict[str, type[Op]] = {cls.NET_CONFIG_NAME: cls for cls in OP_TYPES.values()}


def parse_op(name: str) -> Op:
    """Decodes an op's string form (`3x3_MBConv6`, `Zero`) into an op.

    Args:
        name: The string form, as written by `Op.name`.

    Returns:
        The op it names.

    Raises:
        SpecError: When `name` is not a known op string.
    """
    if not isinstance(name, str):
        raise SpecError(f"expected an op name string such as '3x3_MBConv6', got {name!r}")
    if name == "Zero":
        return ZeroOp()
    match = _MBCONV_NAME.match(name)
    if match:
        height, width, expand = (int(g) for g in match.groups())
        if height != width:
            raise SpecError(f"op {name!r}: only square kernels are supported")
        return MBConvOp(kernel_size=height, expand_ratio=expand)
    match = _MBCONV_V3_NAME.match(name)
    if match:
        height, width, mid = (int(g) for g in match.groups()[:3])
        if height != width:
            raise SpecError(f"op {name!r}: only square kernels are supported")
        return MBConvV3Op(height, mid, se=bool(match.group(4)), hswish=bool(match.group(5)))
    raise SpecError(
        f"unknown op {name!r}: expected 'KxK_MBConv<expand ratio>' (for example '5x5_MBConv3'), "
        "'KxK_MBConvE<middle channels>[_SE][_HS]' (MobileNetV3's, for example "
        "'5x5_MBConvE96_SE_HS') or 'Zero'"
    )
