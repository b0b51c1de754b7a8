"""`python -m tfnas.latency`: fit cost models, predict network latency, import tables.

    python -m tfnas.latency fit --table=PATH [--table=PATH ...] [--eval_table=PATH ...]
        [--json] [--out=MODEL.json] [--device=NAME]
    python -m tfnas.latency predict --target=TARGET --arch=NAME_OR_FILE [--resolution=R]
        [--json] [--layers]
    python -m tfnas.latency import --table=AUTHORS.yaml --out=TABLE.json [--device=NAME]

Tables are project JSON or the authors' YAML. TARGET is mobile, cpu, flops,
or the path of a table or cost model. `fit` prints the leave-one-out error
(median and max absolute percentage error) and, with --eval_table, the error
on tables it was not fitted on; with --json one object
{"loo": {"median_ape", "max_ape", ...}, "eval": {...} or null, ...}, errors as fractions.
"""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tfnas.errors import ConfigError, FieldError
from tfnas.latency import cost_model
from tfnas.latency.model import MissingLatencyError, NetLatency, net_latency
from tfnas.latency.table import LatencyTable, TableMetadata, load_table, save_table
from tfnas.latency.targets import load_target
from tfnas.nets.load import load_net

USAGE = __doc__


def fit_report(
    table_paths: Sequence[str],
    eval_paths: Sequence[str] = (),
    out: str | None = None,
    device: str | None = None,
) -> dict[str, Any]:
    """Fits a cost model to the tables and reports its errors.

    Args:
        table_paths: Tables of one device to fit to.
        eval_paths: Tables to report the fitted model's error on.
        out: Where to write the fitted model, if anywhere.
        device: The device's name, for tables that do not record it (the authors' YAML).
    """
    if not table_paths:
        raise ConfigError("give at least one --table=PATH to fit to")
    tables = [load_table(path) for path in table_paths]
    model = cost_model.fit(tables, sources=table_paths)
    if device:
        model = dataclasses.replace(model, device=device)
    evaluation = None
    if eval_paths:
        merged = _merge([load_table(path) for path in eval_paths])
        evaluation = cost_model.evaluate(model, merged).as_dict()
        evaluation["tables"] = [Path(p).name for p in eval_paths]
        model = dataclasses.replace(model, report={**model.report, "eval": evaluation})
    if out:
        cost_model.save_cost_model(model, out)
    return {
        "loo": model.report["loo"],
        "eval": evaluation,
        "entries": model.report["entries"],
        "tables": [Path(p).name for p in table_paths],
        "coefficients": model.coefficients,
    }


def _merge(tables: Sequence[LatencyTable]) -> LatencyTable:
    entries = {}
    for table in tables:
        entries.update(table.entries)
    return LatencyTable(tables[0].metadata, entries)


def _percent(summary: dict[str, Any]) -> str:
    return (
        f"median APE {100 * summary['median_ape']:.1f}%, max {100 * summary['max_ape']:.1f}% "
        f"over {summary['count']} entries (worst: {summary['worst']})"
    )


def fit_text(report: dict[str, Any]) -> str:
    """The human-readable form of `fit_report`."""
    lines = [
        f"fitted on {report['entries']} entries of {', '.join(report['tables'])}",
        f"leave-one-out: {_percent(report['loo'])}",
    ]
    if report["eval"] is not None:
        lines.append(f"eval on {', '.join(report['eval']['tables'])}: {_percent(report['eval'])}")
    lines.append("coefficients (ms per million, ms per op):")
    lines += [f"  {name:22s} {value:.5f}" for name, value in report["coefficients"].items()]
    return "\n".join(lines)


def predict_report(target: str, arch: str, resolution: int | None = None) -> tuple[NetLatency, int]:
    """The latency of network `arch` on `target`, part by part, and the resolution used."""
    spec = load_net(arch, resolution)
    return net_latency(load_target(target), spec), spec.resolution


def predict_dict(result: NetLatency, arch: str, resolution: int) -> dict[str, Any]:
    """The JSON form of a prediction; `latency_ms` is null for targets not in ms."""
    return {
        "arch": arch,
        "resolution": resolution,
        "target": result.target,
        "unit": result.unit,
        "latency": result.total,
        "latency_ms": result.total if result.unit == "ms" else None,
        "measured": result.count("measured"),
        "predicted": result.count("predicted"),
        "exact": result.count("exact"),
        "parts": [
            {
                "name": p.name,
                "key": None if p.key is None else str(p.key),
                "latency": p.value,
                "source": p.source,
            }
            for p in result.parts
        ],
    }


def predict_text(result: NetLatency, arch: str, resolution: int, layers: bool) -> str:
    """The human-readable form of a prediction."""
    sources = [f"{result.count(s)} {s}" for s in ("measured", "predicted", "exact")]
    skipped = sum(p.key is None for p in result.parts)
    lines = [
        f"{arch} at {resolution} px on target {result.target}: {result.total:.2f} {result.unit}",
        f"parts: {', '.join(s for s in sources if not s.startswith('0 '))}"
        + (f", {skipped} Zero (cost 0)" if skipped else ""),
    ]
    if layers:
        for part in result.parts:
            source = part.source or "zero"
            lines.append(f"  {part.name:12s} {part.value:9.3f} {source:9s} {part.key or ''}")
    return "\n".join(lines)


def import_table(source: str, out: str, device: str | None) -> LatencyTable:
    """Converts an authors' YAML table into a project JSON table at `out`."""
    metadata = TableMetadata(tool="imported", source=f"{Path(source).name} (authors' YAML)")
    if device:
        metadata = dataclasses.replace(metadata, device=device)
    table = load_table(source, metadata)
    save_table(table, out)
    return table


def main(argv: Sequence[str]) -> int:
    """Runs one subcommand; returns the exit status."""
    from absl import flags

    flag_values = flags.FLAGS
    command, *args = list(argv[1:]) or ["help"]
    try:
        if command == "fit" and not args:
            report = fit_report(
                flag_values.table, flag_values.eval_table, flag_values.out, flag_values.device
            )
            print(json.dumps(report) if flag_values.json else fit_text(report))
        elif command == "predict" and not args and flag_values.target and flag_values.arch:
            result, resolution = predict_report(
                flag_values.target, flag_values.arch, flag_values.resolution
            )
            if flag_values.json:
                print(json.dumps(predict_dict(result, flag_values.arch, resolution)))
            else:
                print(predict_text(result, flag_values.arch, resolution, flag_values.layers))
        elif command == "import" and not args and flag_values.table and flag_values.out:
            (source,) = flag_values.table
            table = import_table(source, flag_values.out, flag_values.device)
            print(f"wrote {len(table)} entries to {flag_values.out}")
        else:
            print(USAGE, file=sys.stderr)
            return 2
    except (FieldError, MissingLatencyError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


def _define_flags() -> None:
    from absl import flags

    flags.DEFINE_multi_string("table", [], "fit: tables to fit to; import: the YAML table.")
    flags.DEFINE_multi_string("eval_table", [], "fit: tables to report the error on.")
    flags.DEFINE_bool("json", False, "Print one JSON object instead of text.")
    flags.DEFINE_string("out", None, "fit: write the cost model here; import: the table.")
    flags.DEFINE_string("target", None, "predict: mobile, cpu, flops, or a table/model path.")
    flags.DEFINE_string("arch", None, "predict: registered network, tfnas spec or net.config.")
    flags.DEFINE_integer("resolution", None, "predict: input resolution instead of the spec's.")
    flags.DEFINE_bool("layers", False, "predict: print every part's latency and source.")
    flags.DEFINE_string("device", None, "fit, import: the device the tables were measured on.")


if __name__ == "__main__":
    from absl import app

    _define_flags()
    app.run(lambda argv: sys.exit(main(argv)))
