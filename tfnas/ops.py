"""Candidate operations of a choice block: the one place each op type is defined.

An op says *what* a block computes, independent of where the block sits: the
block (see `tfnas.spec`) adds channels, stride and residual. Ops are frozen
values keyed by type; their string form (`3x3_MBConv6`, `Zero`) is what the
ProxylessNAS papers, logs and latency-table keys use, and `parse_op` /
`Op.name` are the only code that reads or writes it.

Everything else that differs between op types is a member of the op's class,
so a new op type (MBConv with squeeze-excite, say) is written here and
nowhere else: `convs` (its convolutions: the Keras builder builds them, the
cost counter counts them), `outputs_zero`, `latency_fields` (its latency-table
key), `net_config_layer` / `from_net_config` (the authors' format) and
`drawing`. `tests/test_op_types.py` checks every registered type end to end.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, ClassVar

from tfnas.errors import SpecError, check_positive_int
from tfnas.fields import Fields


@dataclasses.dataclass(frozen=True)
class ConvPart:
    """One convolution of an op (batch norm follows it, then a ReLU6 if `activation`).

    Attributes:
        role: Its layer-name suffix in the block (`expand`, `dw`, `project`).
        in_channels: Input channels.
        out_channels: Output channels.
        kernel_size: Square kernel size.
        stride: Spatial stride.
        depthwise: A depthwise convolution (out_channels == in_channels).
        activation: Followed by a ReLU6 (False: linear).
    """

    role: str
    in_channels: int
    out_channels: int
    kernel_size: int
    stride: int
    depthwise: bool = False
    activation: bool = True


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
            ConvPart("project", mid, out_channels, 1, 1, activation=False),
        )

    def latency_fields(self) -> dict[str, Any]:
        """What the latency key of a block of this op adds to its shapes and stride."""
        return {"kind": "expanded_conv", "expand": self.expand_ratio, "kernel": self.kernel_size}

    def net_config_layer(self, in_channels: int, out_channels: int, stride: int) -> dict:
        """The block's `mobile_inverted_conv` in the authors' `net.config`."""
        return {
            "name": self.NET_CONFIG_NAME,
            "in_channels": in_channels,
            "out_channels": out_channels,
            "kernel_size": self.kernel_size,
            "stride": stride,
            "expand_ratio": self.expand_ratio,
        }

    @classmethod
    def from_net_config(
        cls, conv: Fields, residual: tuple[int, int] | None, block_where: str
    ) -> tuple[MBConvOp, int, int, int]:
        """(op, in channels, out channels, stride) of an `MBInvertedConvLayer`."""
        kernel_size, expand_ratio = conv.get("kernel_size", int), conv.get("expand_ratio", int)
        in_channels, out_channels = conv.get("in_channels", int), conv.get("out_channels", int)
        stride = conv.get("stride", int)
        conv.done()
        try:
            op = cls(kernel_size, expand_ratio)
        except SpecError as error:
            raise error.within(conv.where) from None
        if residual is not None and residual != (in_channels, out_channels):
            raise SpecError(
                f"channels {residual} differ from the conv's {(in_channels, out_channels)}",
                f"{block_where}.shortcut",
            )
        return op, in_channels, out_channels, stride

    def drawing(self) -> Drawing:
        """A taller box for a wider expansion, coloured by kernel."""
        k = self.kernel_size
        return Drawing(0.6 + 0.25 * self.expand_ratio, k, f"MB{self.expand_ratio} {k}x{k}")


@dataclasses.dataclass(frozen=True)
class ZeroOp:
    """The op that outputs zeros: with the block's residual, the block is an identity.

    It lets the search skip a block (choose a shallower network).
    """

    type: ClassVar[str] = "zero"
    outputs_zero: ClassVar[bool] = True
    NET_CONFIG_NAME: ClassVar[str] = "ZeroLayer"

    @property
    def name(self) -> str:
        """The ProxylessNAS string form, `Zero`."""
        return "Zero"

    def convs(self, in_channels: int, out_channels: int, stride: int) -> tuple[ConvPart, ...]:
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


Op = MBConvOp | ZeroOp

# Every op type by its `type` key. Code that needs per-type behaviour calls the
# op's members (see the module), never branches on its class or its name.
OP_TYPES: dict[str, type[Op]] = {cls.type: cls for cls in (MBConvOp, ZeroOp)}
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
    raise SpecError(
        f"unknown op {name!r}: expected 'KxK_MBConvE' (for example '5x5_MBConv3') or 'Zero'"
    )
