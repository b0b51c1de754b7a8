"""The comparison's outputs: a Markdown table, a JSON record and the Pareto plot.

    comparison.md     the table (one row per method), the winners' ops, the outcome
    comparison.json   every figure, per method, plus the budget and the settings
    pareto.png        test accuracy against predicted and measured latency

All three are written atomically; `python -m tfnas.compare` can write them to
a second folder (`--report_dir`) for a README to quote.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tfnas.atomic import write_text_atomic
from tfnas.compare.evaluate import pareto_optimal
from tfnas.plots import plot_pareto

MARKDOWN_FILE = "comparison.md"
JSON_FILE = "comparison.json"
PLOT_FILE = "pareto.png"
REPORT_FORMAT = "tfnas.comparison"


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


def outcome(rows: Sequence[dict[str, Any]], limit: float) -> list[str]:
    """Plain sentences on who won what, computed from the rows."""
    best = max(rows, key=lambda r: r["test_accuracy"])
    within = [r for r in rows if r["predicted_latency"] <= limit]
    lines = [
        f"Most accurate after retraining: {best['method']} ({best['test_accuracy']:.4f}); "
        "differences below the spread over seeds are noise."
    ]
    spread = max(r["test_accuracy"] for r in rows) - min(r["test_accuracy"] for r in rows)
    lines.append(f"Spread of test accuracy across methods: {spread * 100:.2f} points.")
    if within:
        fastest = min(within, key=lambda r: r["predicted_latency"])
        lines.append(
            f"Fastest within the limit (predicted): {fastest['method']} "
            f"({fastest['predicted_latency']:.3f})."
        )
    over = [r["method"] for r in rows if r["predicted_latency"] > limit]
    if over:
        lines.append(f"Over the limit (predicted): {', '.join(over)}.")
    front = [r["method"] for r in rows if r["pareto_predicted"]]
    lines.append(f"Pareto-optimal (accuracy vs predicted latency): {', '.join(front)}.")
    return lines


def markdown(report: dict[str, Any]) -> str:
    """The Markdown table of `report` (see `build_report`)."""
    rows, unit, target = report["rows"], report["unit"], report["target"]
    seeds = report["retrain_seeds"]
    lines = [
        f"ProxylessNAS and keras-tuner on `{report['experiment']}`, target `{target}` at "
        f"{report['target_latency']} {unit}, each with {report['budget_images']:,} training "
        f"images ({report['search_weight_images']:,} in the search's weight steps and "
        f"{report['search_arch_images']:,} in its architecture steps). Winners retrained with "
        f"the `{report['experiment']}` recipe ({report['train_epochs']} epochs, {seeds} "
        f"seed{'s' if seeds > 1 else ''}); measured latency: float32 TFLite on "
        f"{report['device']}, median of {report['passes']} passes.",
        "",
        f"| method | images | search time | trials (trained) | predicted `{target}` ({unit}) "
        f"| predicted `cpu` (ms) | measured (ms) | test accuracy | Pareto |",
        "|---|---:|---:|---:|---:|---:|---:|---:|:---:|",
    ]
    for r in rows:
        trials = "–" if r["trials"] is None else f"{r['trials']} ({r['trained_trials']})"
        accuracy = f"{r['test_accuracy']:.4f}"
        if len(r["test_accuracies"]) > 1:
            accuracy += " (" + ", ".join(f"{a:.4f}" for a in r["test_accuracies"]) + ")"
        lines.append(
            f"| {r['method']} | {r['images']:,} | {_minutes(r['seconds'])} | {trials} | "
            f"{r['predicted_latency']:.3f} | {r['predicted_cpu_latency']:.4f} | "
            f"{r['measured_ms']:.4f} | {accuracy} | {'yes' if r['pareto_predicted'] else ''} |"
        )
    lines += ["", "Winners:", ""]
    lines += [f"- {r['method']}: {' '.join(r['ops'])}" for r in rows]
    lines += ["", *outcome(rows, report["target_latency"])]
    lines.append(f"The whole comparison took {_minutes(report['seconds'])}.")
    return "\n".join(lines) + "\n"


def build_report(
    rows: list[dict[str, Any]], settings: dict[str, Any], seconds: float
) -> dict[str, Any]:
    """The record of the comparison: the rows with their Pareto flags, and the settings."""
    for key, latency in (
        ("pareto_predicted", "predicted_latency"),
        ("pareto_measured", "measured_ms"),
    ):
        points = [(r[latency], r["test_accuracy"]) for r in rows]
        for row, flag in zip(rows, pareto_optimal(points), strict=True):
            row[key] = flag
    return {"format": REPORT_FORMAT, **settings, "seconds": seconds, "rows": rows}


def write_report(report: dict[str, Any], directory: Path) -> dict[str, Path]:
    """Writes comparison.md, comparison.json and pareto.png into `directory`."""
    rows = report["rows"]
    names = [r["method"] for r in rows]
    accuracies = [r["test_accuracy"] for r in rows]
    plot = plot_pareto(
        [
            (
                f"predicted latency on {report['target']} ({report['unit']})",
                [r["predicted_latency"] for r in rows],
            ),
            (f"measured on {report['device']} (ms)", [r["measured_ms"] for r in rows]),
        ],
        accuracies,
        names,
        [[r["pareto_predicted"] for r in rows], [r["pareto_measured"] for r in rows]],
        directory / PLOT_FILE,
        title=f"{report['experiment']}: equal budget of {report['budget_images']:,} images"
        + (f", bars: {report['retrain_seeds']} seeds" if report["retrain_seeds"] > 1 else ""),
        limit=(0, report["target_latency"]),
        ranges=[(min(r["test_accuracies"]), max(r["test_accuracies"])) for r in rows],
    )
    slim = {
        **report,
        "rows": [{k: v for k, v in r.items() if k != "trial_rows"} for r in rows],
        "trials": {r["method"]: r.get("trial_rows") for r in rows if r.get("trial_rows")},
    }
    return {
        "markdown": write_text_atomic(directory / MARKDOWN_FILE, markdown(report)),
        "json": write_text_atomic(directory / JSON_FILE, json.dumps(slim, indent=2) + "\n"),
        "plot": plot,
    }
