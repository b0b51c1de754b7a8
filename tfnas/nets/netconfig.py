"""Import and export of the ProxylessNAS / Once-for-All `net.config` JSON format.

That format describes a PyTorch `ProxylessNASNets`: `first_conv` (a
`ConvLayer`), `blocks` (each a `MobileInvertedResidualBlock` holding an
`MBInvertedConvLayer` or a `ZeroLayer` and an optional `IdentityLayer`
shortcut), `feature_mix_layer`, `classifier` (a `LinearLayer`) and `bn`
(PyTorch momentum and eps). The file has no input resolution; it is an
argument here.

Only what a `NetSpec` can express is accepted: every other value (another
activation, a biased convolution, a shuffle) is an error naming the field,
never silently dropped. For the files the authors released, export after
import gives back the same JSON.
"""

from __future__ import annotations

import json
import os
from typing import Any

from tfnas.errors import SpecError
from tfnas.io.fields import Fields, within
from tfnas.io.json_files import parse_json, read_text
from tfnas.nets.ops import NET_CONFIG_LAYERS
from tfnas.nets.spec import BatchNormSpec, BlockSpec, ClassifierSpec, ConvSpec, NetSpec

NETWORK_NAME = "ProxylessNASNets"
_OPS_ORDER = "weight_bn_act"
# PyTorch's BN momentum weighs the new batch, Keras' the old average; round
# away the float noise of 1 - m so that 0.1 -> 0.9 -> 0.1 is exact.
_MOMENTUM_DIGITS = 10


def from_net_config(data: Any, name: str = "net_config", resolution: int = 224) -> NetSpec:
    """Reads a network from a `net.config` dict.

    Args:
        data: The parsed `net.config` JSON.
        name: Name for the network (the file has none of its own).
        resolution: Input resolution (the file does not record it).

    Returns:
        The network spec.

    Raises:
        SpecError: Naming the first field tfnas cannot read or does not support.
    """
    fields = Fields(data, error=SpecError)
    fields.expect("name", NETWORK_NAME)
    bn = fields.sub("bn")
    torch_momentum, epsilon = bn.get("momentum", float), bn.get("eps", float)
    bn.done()
    with within("bn"):
        batch_norm = BatchNormSpec(round(1.0 - torch_momentum, _MOMENTUM_DIGITS), epsilon)

    first_conv = fields.sub("first_conv")
    in_channels, stem_channels, kernel_size, stride = _read_conv(first_conv)
    with within("first_conv"):
        stem = ConvSpec(stem_channels, kernel_size, stride)

    blocks = tuple(
        _read_block(Fields(value, path, SpecError)) for path, value in fields.items("blocks")
    )
    channels = blocks[-1].out_channels if blocks else stem_channels

    feature_mix_channels = None
    feature_mix = fields.sub("feature_mix_layer", nullable=True)
    if feature_mix is not None:
        mix_in, feature_mix_channels, mix_kernel, mix_stride = _read_conv(feature_mix)
        _check_equal("feature_mix_layer.in_channels", mix_in, "the last block's", channels)
        if (mix_kernel, mix_stride) != (1, 1):
            raise SpecError(
                f"expected a 1x1 stride-1 conv, got {mix_kernel}x{mix_kernel} stride {mix_stride}",
                "feature_mix_layer",
            )
        channels = feature_mix_channels

    classifier = fields.sub("classifier")
    classifier.expect("name", "LinearLayer")
    _check_equal(
        "classifier.in_features", classifier.get("in_features", int), "the previous", channels
    )
    for key, value in (("bias", True), ("use_bn", False), ("act_func", None)):
        classifier.expect(key, value)
    classifier.expect("ops_order", _OPS_ORDER)
    num_classes = classifier.get("out_features", int)
    dropout = classifier.get("dropout_rate", float)
    classifier.done()
    with within("classifier"):
        head = ClassifierSpec(num_classes, dropout)
    fields.done()
    return NetSpec(
        name=name,
        resolution=resolution,
        in_channels=in_channels,
        stem=stem,
        blocks=blocks,
        feature_mix_channels=feature_mix_channels,
        classifier=head,
        batch_norm=batch_norm,
    )


def to_net_config(spec: NetSpec) -> dict[str, Any]:
    """The `net.config` dict of a network (the inverse of `from_net_config`)."""
    if not isinstance(spec, NetSpec):
        raise TypeError(f"expected a NetSpec, got {type(spec).__name__}")
    head = {
        "stem.activation": spec.stem.activation,
        "feature_mix_activation": spec.feature_mix_activation,
    }
    for field, activation in head.items():
        if activation != "relu6":
            raise SpecError(
                f"a ProxylessNAS net.config has ReLU6 here, got {activation!r}; "
                "save the network as a tfnas spec (.json) instead",
                field,
            )
    if spec.last_point_channels is not None:
        raise SpecError(
            "a ProxylessNAS net.config has no conv after pooling; "
            "save the network as a tfnas spec (.json) instead",
            "last_point_channels",
        )
    channels = spec.blocks[-1].out_channels if spec.blocks else spec.stem.out_channels
    feature_mix = None
    if spec.feature_mix_channels is not None:
        feature_mix = _conv_config(channels, spec.feature_mix_channels, 1, 1)
        channels = spec.feature_mix_channels
    return {
        "name": NETWORK_NAME,
        "bn": {
            "momentum": round(1.0 - spec.batch_norm.momentum, _MOMENTUM_DIGITS),
            "eps": spec.batch_norm.epsilon,
        },
        "first_conv": _conv_config(
            spec.in_channels, spec.stem.out_channels, spec.stem.kernel_size, spec.stem.stride
        ),
        "blocks": [_block_config(block) for block in spec.blocks],
        "feature_mix_layer": feature_mix,
        "classifier": {
            "name": "LinearLayer",
            "in_features": channels,
            "out_features": spec.classifier.num_classes,
            "bias": True,
            "use_bn": False,
            "act_func": None,
            "dropout_rate": _plain_number(spec.classifier.dropout),
            "ops_order": _OPS_ORDER,
        },
    }


def load_net_config(
    path: str | os.PathLike[str], name: str | None = None, resolution: int = 224
) -> NetSpec:
    """Reads a `net.config` file; the network is named after the file unless `name` is given.

    Raises:
        SpecError: One line naming the file and the field at fault.
    """
    data = parse_json(read_text(path, SpecError), str(path), SpecError)
    try:
        return from_net_config(data, name or net_config_stem(path), resolution)
    except SpecError as error:
        raise SpecError(f"{path}: {error}") from None


def dumps_net_config(spec: NetSpec) -> str:
    """The `net.config` JSON text of a network, indented as the authors' files are."""
    return json.dumps(to_net_config(spec), indent=4) + "\n"


def looks_like_net_config(data: Any) -> bool:
    """Whether a parsed JSON document is a `net.config` (rather than a tfnas spec)."""
    return isinstance(data, dict) and "first_conv" in data and "blocks" in data


def net_config_stem(path: str | os.PathLike[str]) -> str:
    """`proxyless_mobile` for `.../proxyless_mobile.net.config.json` (and for `.json`)."""
    base = os.path.basename(os.fspath(path))
    for suffix in (".net.config.json", ".net.config", ".json"):
        if base.endswith(suffix):
            return base[: -len(suffix)]
    return base


def _read_conv(conv: Fields) -> tuple[int, int, int, int]:
    """Reads a `ConvLayer` (conv, BN, ReLU6); returns in, out, kernel, stride."""
    conv.expect("name", "ConvLayer")
    for key, value in (
        ("dilation", 1),
        ("groups", 1),
        ("bias", False),
        ("has_shuffle", False),
        ("use_bn", True),
        ("act_func", "relu6"),
        ("dropout_rate", 0),
        ("ops_order", _OPS_ORDER),
    ):
        conv.expect(key, value)
    values = tuple(conv.get(key, int) for key in ("in_channels", "out_channels"))
    values += tuple(conv.get(key, int) for key in ("kernel_size", "stride"))
    conv.done()
    return values


def _conv_config(in_channels: int, out_channels: int, kernel_size: int, stride: int) -> dict:
    return {
        "name": "ConvLayer",
        "kernel_size": kernel_size,
        "stride": stride,
        "dilation": 1,
        "groups": 1,
        "bias": False,
        "has_shuffle": False,
        "in_channels": in_channels,
        "out_channels": out_channels,
        "use_bn": True,
        "act_func": "relu6",
        "dropout_rate": 0,
        "ops_order": _OPS_ORDER,
    }


def _read_block(block: Fields) -> BlockSpec:
    block.expect("name", "MobileInvertedResidualBlock")
    conv = block.sub("mobile_inverted_conv")
    shortcut = block.sub("shortcut", nullable=True)
    block.done()

    residual_channels = None
    if shortcut is not None:
        shortcut.expect("name", "IdentityLayer")
        for key, value in (("use_bn", False), ("act_func", None), ("dropout_rate", 0)):
            shortcut.expect(key, value)
        shortcut.expect("ops_order", _OPS_ORDER)
        residual_channels = (shortcut.get("in_channels", int), shortcut.get("out_channels", int))
        shortcut.done()

    kind = conv.get("name", str)
    if kind not in NET_CONFIG_LAYERS:
        raise SpecError(
            f"expected {' or '.join(repr(n) for n in NET_CONFIG_LAYERS)}, got {kind!r}",
            f"{conv.where}.name",
        )
    op, in_channels, out_channels, stride = NET_CONFIG_LAYERS[kind].from_net_config(
        conv, residual_channels, block.where
    )
    with within(block.where):
        return BlockSpec(op, in_channels, out_channels, stride, residual_channels is not None)


def _block_config(block: BlockSpec) -> dict[str, Any]:
    conv = block.op.net_config_layer(block.in_channels, block.out_channels, block.stride)
    shortcut = None
    if block.residual:
        shortcut = {
            "name": "IdentityLayer",
            "in_channels": block.in_channels,
            "out_channels": block.out_channels,
            "use_bn": False,
            "act_func": None,
            "dropout_rate": 0,
            "ops_order": _OPS_ORDER,
        }
    return {
        "name": "MobileInvertedResidualBlock",
        "mobile_inverted_conv": conv,
        "shortcut": shortcut,
    }


def _check_equal(field: str, value: int, what: str, expected: int) -> None:
    if value != expected:
        raise SpecError(f"{value} does not match {what} output channels {expected}", field)


def _plain_number(value: float) -> int | float:
    """Writes 0.0 as 0, as the authors' files do, so exported text matches theirs."""
    return int(value) if float(value).is_integer() else value
