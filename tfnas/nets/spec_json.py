"""The project's versioned JSON format for networks and search spaces.

One format serves both: `"format": "tfnas.net"` for a `NetSpec`,
`"format": "tfnas.space"` for a `SearchSpace`, and a `schema_version` that a
reader checks before anything else. Ops are written in their string form
(`"5x5_MBConv3"`), so a file reads like the paper's architecture figures::

    {"format": "tfnas.net", "schema_version": 1, "name": "proxyless_mobile",
     "resolution": 224, "in_channels": 3,
     "stem": {"out_channels": 32, "kernel_size": 3, "stride": 2},
     "blocks": [{"op": "3x3_MBConv1", "in_channels": 32, "out_channels": 16,
                 "stride": 1, "residual": false}, ...],
     "feature_mix_channels": 1280,
     "classifier": {"num_classes": 1000, "dropout": 0.0},
     "batch_norm": {"momentum": 0.9, "epsilon": 0.001}}

A search space's choice blocks have `"candidates": ["3x3_MBConv3", ..., "Zero"]`
in place of `"op"`. MobileNetV3's head adds `"activation"` to the stem,
`"feature_mix_activation"` and `"last_point_channels"`; they are written only
when they differ from MobileNetV2's (ReLU6, no last point), so files of
MobileNetV2-style networks stay as they were.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tfnas.errors import SpecError
from tfnas.io.atomic import write_text_atomic
from tfnas.io.fields import Fields, within
from tfnas.io.json_files import parse_json, read_text
from tfnas.nets.ops import parse_op
from tfnas.nets.spec import (
    BatchNormSpec,
    BlockSpec,
    ChoiceBlock,
    ClassifierSpec,
    ConvSpec,
    NetSpec,
    SearchSpace,
)

SCHEMA_VERSION = 1
DEFAULT_ACTIVATION = "relu6"
NET_FORMAT = "tfnas.net"
SPACE_FORMAT = "tfnas.space"

Spec = NetSpec | SearchSpace


def spec_to_dict(spec: Spec) -> dict[str, Any]:
    """The JSON-ready dict of a network or search space."""
    if not isinstance(spec, NetSpec | SearchSpace):
        raise TypeError(f"expected a NetSpec or SearchSpace, got {type(spec).__name__}")
    stem: dict[str, Any] = {
        "out_channels": spec.stem.out_channels,
        "kernel_size": spec.stem.kernel_size,
        "stride": spec.stem.stride,
    }
    if spec.stem.activation != DEFAULT_ACTIVATION:
        stem["activation"] = spec.stem.activation
    head: dict[str, Any] = {}
    if spec.feature_mix_activation != DEFAULT_ACTIVATION:
        head["feature_mix_activation"] = spec.feature_mix_activation
    if spec.last_point_channels is not None:
        head["last_point_channels"] = spec.last_point_channels
    return {
        "format": NET_FORMAT if isinstance(spec, NetSpec) else SPACE_FORMAT,
        "schema_version": SCHEMA_VERSION,
        "name": spec.name,
        "resolution": spec.resolution,
        "in_channels": spec.in_channels,
        "stem": stem,
        "blocks": [_block_to_dict(block) for block in spec.blocks],
        "feature_mix_channels": spec.feature_mix_channels,
        **head,
        "classifier": {
            "num_classes": spec.classifier.num_classes,
            "dropout": spec.classifier.dropout,
        },
        "batch_norm": {
            "momentum": spec.batch_norm.momentum,
            "epsilon": spec.batch_norm.epsilon,
        },
    }


def spec_from_dict(data: Any) -> Spec:
    """Reads a network or search space from its dict form.

    Raises:
        SpecError: Naming the first bad field (`blocks[2].stride: ...`).
    """
    fields = Fields(data, error=SpecError)
    kind = fields.get("format", str)
    if kind not in (NET_FORMAT, SPACE_FORMAT):
        raise SpecError(
            f"format: expected {NET_FORMAT!r} or {SPACE_FORMAT!r}, got {kind!r} "
            "(a ProxylessNAS net.config is read by tfnas.nets.netconfig.from_net_config)"
        )
    version = fields.get("schema_version", int)
    if version != SCHEMA_VERSION:
        raise SpecError(
            f"schema_version: this file has version {version}, this tfnas reads version "
            f"{SCHEMA_VERSION}; use the tfnas release that wrote it, or re-export the spec"
        )
    is_space = kind == SPACE_FORMAT
    stem = fields.sub("stem")
    classifier = fields.sub("classifier")
    batch_norm = fields.sub("batch_norm")
    with within("stem"):
        stem_spec = ConvSpec(
            out_channels=stem.get("out_channels", int),
            kernel_size=stem.get("kernel_size", int),
            stride=stem.get("stride", int),
            activation=stem.get("activation", str, default=DEFAULT_ACTIVATION),
        )
    with within("classifier"):
        classifier_spec = ClassifierSpec(
            num_classes=classifier.get("num_classes", int),
            dropout=classifier.get("dropout", float),
        )
    with within("batch_norm"):
        batch_norm_spec = BatchNormSpec(
            momentum=batch_norm.get("momentum", float),
            epsilon=batch_norm.get("epsilon", float),
        )
    for part in (stem, classifier, batch_norm):
        part.done()
    blocks = tuple(
        _block_from_dict(value, path, is_space) for path, value in fields.items("blocks")
    )
    cls = SearchSpace if is_space else NetSpec
    spec = cls(
        name=fields.get("name", str),
        resolution=fields.get("resolution", int),
        in_channels=fields.get("in_channels", int),
        stem=stem_spec,
        blocks=blocks,
        feature_mix_channels=fields.get("feature_mix_channels", int, nullable=True),
        classifier=classifier_spec,
        batch_norm=batch_norm_spec,
        feature_mix_activation=fields.get(
            "feature_mix_activation", str, default=DEFAULT_ACTIVATION
        ),
        last_point_channels=fields.get("last_point_channels", int, default=None, nullable=True),
    )
    fields.done()
    return spec


def dumps(spec: Spec) -> str:
    """The JSON text of a spec (stable key order, one block per line)."""
    data = spec_to_dict(spec)
    blocks = data.pop("blocks")
    head = json.dumps(data, indent=2)
    # One block per line keeps diffs of architectures readable.
    block_lines = ",\n".join(f"    {json.dumps(block)}" for block in blocks)
    return head[:-2] + f',\n  "blocks": [\n{block_lines}\n  ]\n}}\n'


def loads(text: str, source: str = "<string>") -> Spec:
    """Reads a spec from JSON text; errors are prefixed with `source`."""
    data = parse_json(text, source, SpecError)
    try:
        return spec_from_dict(data)
    except SpecError as error:
        raise SpecError(f"{source}: {error}") from None


def load_spec(path: str | os.PathLike[str]) -> Spec:
    """Reads a network or search space from a project JSON file.

    Raises:
        SpecError: One line naming the file and the bad field, or the read failure.
    """
    return loads(read_text(path, SpecError), source=str(path))


def save_spec(spec: Spec, path: str | os.PathLike[str]) -> Path:
    """Writes a spec as project JSON, atomically. Returns the path written."""
    return write_text_atomic(path, dumps(spec))


def _block_to_dict(block: BlockSpec | ChoiceBlock) -> dict[str, Any]:
    if isinstance(block, ChoiceBlock):
        head: dict[str, Any] = {"candidates": [op.name for op in block.candidates]}
    else:
        head = {"op": block.op.name}
    return head | {
        "in_channels": block.in_channels,
        "out_channels": block.out_channels,
        "stride": block.stride,
        "residual": block.residual,
    }


def _block_from_dict(data: Any, where: str, allow_choice: bool) -> BlockSpec | ChoiceBlock:
    fields = Fields(data, where, SpecError)
    position = {
        "in_channels": fields.get("in_channels", int),
        "out_channels": fields.get("out_channels", int),
        "stride": fields.get("stride", int),
        "residual": fields.get("residual", bool),
    }
    if fields.has("candidates"):
        if not allow_choice:
            raise SpecError(
                'a network has one "op" per block; choice blocks ("candidates") belong in a '
                f"{SPACE_FORMAT!r} file",
                where,
            )
        candidates = []
        for path, name in fields.items("candidates"):
            with within(path):
                candidates.append(parse_op(name))
        with within(where):
            block: BlockSpec | ChoiceBlock = ChoiceBlock(candidates=tuple(candidates), **position)
    else:
        op_name = fields.get("op", str)
        with within(f"{where}.op"):
            op = parse_op(op_name)
        with within(where):
            block = BlockSpec(op=op, **position)
    fields.done()
    return block
