"""Latency-table keys: what was measured, as a typed value, and the one place its string is decoded.

The string form is the one of the ProxylessNAS and Once-for-All tables:

    Conv-input:224x224x3-output:112x112x32
    expanded_conv-input:112x112x16-output:56x56x24-expand:3-kernel:5-stride:2-idskip:0
    Conv_1-input:7x7x320-output:7x7x1280
    Logits-input:7x7x1280-output:1000

Once-for-All keys add `-se:0|1-hs:0|1` (squeeze-excite, h-swish) to
`expanded_conv` keys and give `expand` as the number of middle channels
instead of a ratio; their tables also hold `AvgPool2D` and `Conv_2` (the 1x1
conv after pooling) entries. `parse_key` and `LayerKey.__str__` are the only
code that reads or writes this form.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator

from tfnas.errors import FieldError
from tfnas.nets.spec import (
    BlockSpec,
    ChoiceBlock,
    NetSpec,
    SearchSpace,
    block_name,
    conv_output_size,
)

EXPANDED_CONV = "expanded_conv"
# Layers whose key holds only shapes, in the order a network runs them:
# stem conv, 1x1 feature mix, global pooling, 1x1 conv after pooling (OFA), classifier.
SHAPE_ONLY_KINDS = ("Conv", "Conv_1", "AvgPool2D", "Conv_2", "Logits")
KINDS = (EXPANDED_CONV, *SHAPE_ONLY_KINDS)

_SHAPE = r"(\d+)x(\d+)x(\d+)"
_SHAPE_KEY = re.compile(
    rf"^({'|'.join(SHAPE_ONLY_KINDS)})-input:{_SHAPE}-output:(\d+(?:x\d+x\d+)?)$"
)
_BLOCK_KEY = re.compile(
    rf"^{EXPANDED_CONV}-input:{_SHAPE}-output:{_SHAPE}-expand:(\d+)-kernel:(\d+)"
    r"-stride:(\d+)-idskip:([01])(?:-se:([01])-hs:([01]))?$"
)


@dataclasses.dataclass(frozen=True)
class LayerKey:
    """One measured layer or block, identified by what determines its latency.

    Attributes:
        kind: One of `KINDS` (`expanded_conv` for an MBConv block).
        input_shape: (height, width, channels) of the input.
        output_shape: (height, width, channels) of the output; (classes,) for `Logits`.
        expand: `expanded_conv` only. The expand ratio in the ProxylessNAS
            dialect, the number of middle channels in the Once-for-All one
            (when `se` and `hs` are set).
        kernel: `expanded_conv` only: the depthwise kernel size.
        stride: `expanded_conv` only: the depthwise stride.
        residual: `expanded_conv` only: whether the input is added to the output (`idskip`).
        se: Once-for-All `expanded_conv` only: squeeze-excite; None in the
            ProxylessNAS dialect (which has none).
        hs: Once-for-All `expanded_conv` only: h-swish instead of ReLU; None
            in the ProxylessNAS dialect (ReLU6).
    """

    kind: str
    input_shape: tuple[int, int, int]
    output_shape: tuple[int, ...]
    expand: int | None = None
    kernel: int | None = None
    stride: int | None = None
    residual: bool | None = None
    se: bool | None = None
    hs: bool | None = None

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise FieldError(f"unknown layer kind {self.kind!r}; expected one of {list(KINDS)}")
        block_fields = (self.expand, self.kernel, self.stride, self.residual)
        if self.kind == EXPANDED_CONV:
            if None in block_fields:
                raise FieldError(
                    f"an {EXPANDED_CONV} key needs expand, kernel, stride and residual, "
                    f"got {block_fields}"
                )
            if (self.se is None) != (self.hs is None):
                raise FieldError("se and hs come together (Once-for-All keys) or not at all")
        elif any(f is not None for f in (*block_fields, self.se, self.hs)):
            raise FieldError(f"a {self.kind} key holds only shapes, got block fields too")
        expected_rank = 1 if self.kind == "Logits" else 3
        if len(self.output_shape) != expected_rank:
            raise FieldError(
                f"a {self.kind} key's output has {expected_rank} dimension(s), "
                f"got {self.output_shape}"
            )

    @property
    def is_once_for_all(self) -> bool:
        """Whether the key is in the Once-for-All dialect (`expand` = middle channels)."""
        return self.se is not None

    @property
    def mid_channels(self) -> int:
        """Channels after the expand conv of an `expanded_conv` block, in either dialect."""
        if self.kind != EXPANDED_CONV:
            raise FieldError(f"a {self.kind} key has no middle channels")
        if self.is_once_for_all:
            return self.expand
        return round(self.input_shape[2] * self.expand)

    def __str__(self) -> str:
        text = f"{self.kind}-input:{_shape(self.input_shape)}-output:{_shape(self.output_shape)}"
        if self.kind != EXPANDED_CONV:
            return text
        text += (
            f"-expand:{self.expand}-kernel:{self.kernel}-stride:{self.stride}"
            f"-idskip:{int(self.residual)}"
        )
        if self.is_once_for_all:
            text += f"-se:{int(self.se)}-hs:{int(self.hs)}"
        return text


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(str(d) for d in shape)


def parse_key(text: str) -> LayerKey:
    """Decodes a table key string (either dialect) into a `LayerKey`.

    Raises:
        FieldError: Naming the key when it is not in a known format.
    """
    if not isinstance(text, str):
        raise FieldError(f"expected a key string, got {text!r}")
    match = _BLOCK_KEY.match(text)
    if match:
        g = [None if v is None else int(v) for v in match.groups()]
        return LayerKey(
            kind=EXPANDED_CONV,
            input_shape=(g[0], g[1], g[2]),
            output_shape=(g[3], g[4], g[5]),
            expand=g[6],
            kernel=g[7],
            stride=g[8],
            residual=bool(g[9]),
            se=None if g[10] is None else bool(g[10]),
            hs=None if g[11] is None else bool(g[11]),
        )
    match = _SHAPE_KEY.match(text)
    if match:
        kind, h, w, c, output = match.groups()
        return LayerKey(kind, (int(h), int(w), int(c)), tuple(int(d) for d in output.split("x")))
    raise FieldError(
        f"unknown key format {text!r}: expected "
        "'expanded_conv-input:HxWxC-output:HxWxC-expand:E-kernel:K-stride:S-idskip:0|1' "
        "(optionally followed by '-se:0|1-hs:0|1'), or "
        f"'KIND-input:HxWxC-output:HxWxC' with KIND one of {list(SHAPE_ONLY_KINDS)} "
        "('Logits-input:HxWxC-output:N' for the classifier)"
    )


def block_key(block: BlockSpec, height: int, width: int) -> LayerKey | None:
    """The key of an MBConv block whose input is height x width; None for a Zero block.

    A Zero block (an identity through its residual) costs nothing and has no key.
    """
    fields = block.op.latency_fields()
    if fields is None:
        return None
    out_h, out_w = conv_output_size(height, block.stride), conv_output_size(width, block.stride)
    return LayerKey(
        input_shape=(height, width, block.in_channels),
        output_shape=(out_h, out_w, block.out_channels),
        stride=block.stride,
        residual=block.residual,
        **fields,
    )


@dataclasses.dataclass(frozen=True)
class KeyedPart:
    """A part of a network or space with the latency key of each of its options.

    Attributes:
        name: The part's name in reports (`stem`, `block03`, `feature_mix`, `classifier`).
        keys: One key per option: one for a fixed part, one per candidate for a
            choice block; None for a Zero option, which costs nothing.
        is_choice: Whether the part is a choice block.
    """

    name: str
    keys: tuple[LayerKey | None, ...]
    is_choice: bool = False


def spec_parts(spec: NetSpec | SearchSpace) -> Iterator[KeyedPart]:
    """A network's or space's keyed parts: stem, blocks, feature mix, last point, classifier.

    A network's latency is the sum of its parts', as in the ProxylessNAS tables.
    """
    resolution, size = spec.resolution, conv_output_size(spec.resolution, spec.stem.stride)
    channels = spec.stem.out_channels
    stem = LayerKey("Conv", (resolution, resolution, spec.in_channels), (size, size, channels))
    yield KeyedPart("stem", (stem,))
    for index, block in enumerate(spec.blocks):
        if isinstance(block, ChoiceBlock):
            options = [block.select(i) for i in range(len(block.candidates))]
            keys = tuple(block_key(option, size, size) for option in options)
            yield KeyedPart(block_name(index), keys, is_choice=True)
        else:
            yield KeyedPart(block_name(index), (block_key(block, size, size),))
        size, channels = conv_output_size(size, block.stride), block.out_channels
    if spec.feature_mix_channels is not None:
        mix = spec.feature_mix_channels
        yield KeyedPart(
            "feature_mix", (LayerKey("Conv_1", (size, size, channels), (size, size, mix)),)
        )
        channels = mix
    if spec.last_point_channels is not None:
        last = spec.last_point_channels
        # After pooling: Once-for-All's `Conv_2` key, on the pooled 1x1 map.
        yield KeyedPart("last_point", (LayerKey("Conv_2", (1, 1, channels), (1, 1, last)),))
        size, channels = 1, last
    classes = spec.classifier.num_classes
    yield KeyedPart("classifier", (LayerKey("Logits", (size, size, channels), (classes,)),))
