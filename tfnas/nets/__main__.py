"""`python -m tfnas.nets`: inspect, compare and convert network specs.

    python -m tfnas.nets summary NAME_OR_FILE [--resolution=R] [--json]
    python -m tfnas.nets table [NAME ...] [--build] [--json]
    python -m tfnas.nets convert NAME_OR_FILE --out=PATH [--format=tfnas|net_config]
    python -m tfnas.nets draw NAME_OR_FILE [--out=PATH.png] [--resolution=R]

NAME_OR_FILE is a registered network or search space, a tfnas spec file or a
ProxylessNAS `net.config`. `table` with `--build` also builds every network as
a Keras model and checks its weight count against the spec's. `draw` writes a
PNG with one box per block, as the search draws its derived network
(default: NAME.png in the current folder).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from typing import Any

from tfnas.errors import SpecError
from tfnas.io.atomic import write_text_atomic
from tfnas.nets import netconfig, spec_json
from tfnas.nets.costs import LayerCost, NetCost, net_cost, space_cost_bounds
from tfnas.nets.load import load_net, load_net_or_space
from tfnas.nets.registry import NETS
from tfnas.nets.spec import ChoiceBlock, NetSpec, SearchSpace

USAGE = __doc__


def _millions(value: int) -> str:
    return f"{value / 1e6:.1f}M"


def _shape(shape: tuple[int, ...]) -> str:
    return "x".join(str(d) for d in shape)


def summary_dict(spec: NetSpec | SearchSpace) -> dict[str, Any]:
    """The summary of a network (or the bounds of a space) as a JSON-ready dict."""
    if isinstance(spec, SearchSpace):
        cheapest, dearest = space_cost_bounds(spec)
        return {
            "name": spec.name,
            "kind": "search_space",
            "resolution": spec.resolution,
            "choice_blocks": len(spec.choice_blocks),
            "architectures": spec.num_architectures,
            "params": {"min": cheapest.params, "max": dearest.params},
            "macs": {"min": cheapest.macs, "max": dearest.macs},
            "blocks": [
                {
                    "candidates": [op.name for op in block.candidates]
                    if isinstance(block, ChoiceBlock)
                    else [block.op.name],
                    "in_channels": block.in_channels,
                    "out_channels": block.out_channels,
                    "stride": block.stride,
                }
                for block in spec.blocks
            ],
        }
    cost = net_cost(spec)
    return {
        "name": spec.name,
        "kind": "network",
        "resolution": spec.resolution,
        "params": cost.params,
        "bn_stats": cost.bn_stats,
        "macs": cost.macs,
        "layers": [
            {
                "name": layer.name,
                "op": layer.description,
                "output_shape": list(layer.output_shape),
                "params": layer.params,
                "macs": layer.macs,
            }
            for layer in cost.layers
        ],
    }


def summary_text(spec: NetSpec | SearchSpace) -> str:
    """The human-readable summary: totals, then one line per part or block."""
    if isinstance(spec, SearchSpace):
        return _space_summary_text(spec)
    cost = net_cost(spec)
    lines = [
        f"{spec.name}: {spec.resolution}x{spec.resolution}x{spec.in_channels} -> "
        f"{spec.classifier.num_classes} classes",
        f"params {cost.params:,} (+{cost.bn_stats:,} BN statistics), MACs {_millions(cost.macs)}",
        "",
    ]
    # As wide as the longest op name (MobileNetV3's run to 20 characters).
    width = max(14, *(len(layer.description) + 2 for layer in cost.layers))
    lines.append(f"{'part':<12}{'op':<{width}}{'output':>12}{'params':>12}{'MACs':>10}")
    lines += [_layer_line(layer, width) for layer in cost.layers]
    return "\n".join(lines)


def _layer_line(layer: LayerCost, width: int) -> str:
    return (
        f"{layer.name:<12}{layer.description:<{width}}{_shape(layer.output_shape):>12}"
        f"{layer.params:>12,}{_millions(layer.macs):>10}"
    )


def _space_summary_text(space: SearchSpace) -> str:
    cheapest, dearest = space_cost_bounds(space)
    lines = [
        f"{space.name} (search space): {space.resolution}x{space.resolution}x"
        f"{space.in_channels} -> {space.classifier.num_classes} classes",
        f"{len(space.choice_blocks)} choice blocks, {space.num_architectures:.3g} architectures",
        f"params {cheapest.params:,} to {dearest.params:,}, "
        f"MACs {_millions(cheapest.macs)} to {_millions(dearest.macs)}",
        "",
    ]
    for index, block in enumerate(space.blocks):
        ops = block.candidates if isinstance(block, ChoiceBlock) else (block.op,)
        kind = "choice" if isinstance(block, ChoiceBlock) else "fixed"
        lines.append(
            f"block{index:02d} {kind:<7}{block.in_channels:>4} -> {block.out_channels:<4}"
            f"stride {block.stride}  {' '.join(op.name for op in ops)}"
        )
    return "\n".join(lines)


def table_rows(names: Sequence[str], build: bool) -> list[dict[str, Any]]:
    """One row per network: params, MACs and blocks; with `build`, the Keras model's counts.

    Raises:
        SpecError: When a built model's weight count differs from the spec's.
    """
    rows = []
    for name in names:
        spec = load_net(name)
        cost: NetCost = net_cost(spec)
        row: dict[str, Any] = {
            "name": spec.name,
            "resolution": spec.resolution,
            "params": cost.params,
            "macs": cost.macs,
            "blocks": sum(not block.is_identity for block in spec.blocks),
            "skipped_blocks": sum(block.is_identity for block in spec.blocks),
        }
        if build:
            row |= _build_and_count(spec, cost)
        rows.append(row)
    return rows


def _build_and_count(spec: NetSpec, cost: NetCost) -> dict[str, Any]:
    import numpy as np  # Deferred with keras: summary and convert never need them.

    from tfnas.nets.builder import build_net

    start = time.perf_counter()
    model = build_net(spec)
    seconds = time.perf_counter() - start
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    frozen = sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)
    if (trainable, frozen) != (cost.params, cost.bn_stats):
        raise SpecError(
            f"{spec.name}: the Keras model has {trainable:,} trainable and {frozen:,} other "
            f"weights, the spec counts {cost.params:,} and {cost.bn_stats:,}"
        )
    return {"keras_params": trainable, "keras_layers": len(model.layers), "build_s": seconds}


def table_text(rows: list[dict[str, Any]]) -> str:
    """The rows of `table_rows` as a Markdown table."""
    built = rows and "keras_params" in rows[0]
    header = ["network", "resolution", "params", "MACs", "blocks (+skipped)"]
    if built:
        header += ["Keras params", "Keras layers", "build s"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        cells = [
            row["name"],
            str(row["resolution"]),
            f"{row['params'] / 1e6:.2f}M",
            _millions(row["macs"]),
            f"{row['blocks']} (+{row['skipped_blocks']})",
        ]
        if built:
            cells += [f"{row['keras_params']:,}", str(row["keras_layers"]), f"{row['build_s']:.1f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def convert(source: str, out: str, fmt: str) -> str:
    """Writes `source` to `out` in the project format or as a net.config; returns the path."""
    if fmt == "tfnas":
        text = spec_json.dumps(load_net_or_space(source))
    elif fmt == "net_config":
        text = netconfig.dumps_net_config(load_net(source))
    else:
        raise SpecError(f"expected 'tfnas' or 'net_config', got {fmt!r}", "--format")
    return str(write_text_atomic(out, text))


def draw(source: str, out: str | None, resolution: int | None = None) -> str:
    """Draws the network `source` into the PNG `out` (default NAME.png); returns the path."""
    from tfnas.plots import draw_net  # Deferred: matplotlib is slow to import.

    spec = load_net(source, resolution)
    return str(draw_net(spec, out or f"{spec.name}.png"))


def main(argv: Sequence[str]) -> int:
    """Runs one subcommand; returns the exit status."""
    from absl import flags

    flag_values = flags.FLAGS
    command, *args = list(argv[1:]) or ["help"]
    try:
        if command == "summary" and len(args) == 1:
            spec = load_net_or_space(args[0], flag_values.resolution)
            if flag_values.json:
                print(json.dumps(summary_dict(spec)))
            else:
                print(summary_text(spec))
        elif command == "table":
            rows = table_rows(args or NETS.names(), flag_values.build)
            print(json.dumps(rows) if flag_values.json else table_text(rows))
        elif command == "convert" and len(args) == 1 and flag_values.out:
            print(f"wrote {convert(args[0], flag_values.out, flag_values.format)}")
        elif command == "draw" and len(args) == 1:
            print(f"wrote {draw(args[0], flag_values.out, flag_values.resolution)}")
        else:
            print(USAGE, file=sys.stderr)
            return 2
    except SpecError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def _define_flags() -> None:
    from absl import flags

    flags.DEFINE_integer("resolution", None, "Input resolution to use instead of the spec's.")
    flags.DEFINE_bool("json", False, "Print one JSON document instead of text.")
    flags.DEFINE_bool("build", False, "table: also build each network as a Keras model.")
    flags.DEFINE_string("out", None, "convert, draw: the file to write.")
    flags.DEFINE_enum("format", "tfnas", ["tfnas", "net_config"], "convert: the output format.")


if __name__ == "__main__":
    from absl import app

    _define_flags()
    app.run(lambda argv: sys.exit(main(argv)))
