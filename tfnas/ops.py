"""Candidate operations of a choice block, and the one place their names are decoded.

An op says *what* a block computes, independent of where the block sits: the
block (see `tfnas.spec`) adds channels, stride and residual. Ops are frozen
values keyed by type; their string form (`3x3_MBConv6`, `Zero`) is what the
ProxylessNAS papers, logs and latency-table keys use, and `parse_op` /
`Op.name` are the only code that reads or writes it.
"""

from __future__ import annotations

import dataclasses
import re
from typing import ClassVar

from tfnas.errors import SpecError, check_positive_int

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

    def mid_channels(self, in_channels: int) -> int:
        """Channels after the expand convolution for a block with `in_channels` inputs."""
        return round(in_channels * self.expand_ratio)


@dataclasses.dataclass(frozen=True)
class ZeroOp:
    """The op that outputs zeros: with the block's residual, the block is an identity.

    It lets the search skip a block (choose a shallower network).
    """

    type: ClassVar[str] = "zero"

    @property
    def name(self) -> str:
        """The ProxylessNAS string form, `Zero`."""
        return "Zero"


Op = MBConvOp | ZeroOp

# Every op type by its `type` key. Code that needs per-type behaviour (builders,
# cost counters, latency keys) dispatches on the class, never on name strings.
OP_TYPES: dict[str, type[Op]] = {cls.type: cls for cls in (MBConvOp, ZeroOp)}


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
