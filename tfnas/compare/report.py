"""The comparison's outputs: a Markdown table, a JSON record and the Pareto plot.

    comparison.md     the table (one row per method), the winners' ops, the outcome
    comparison.json   every figure, per method, plus the budget and the settings
    pareto.png        test accuracy against predicted and measured latency

All three are written atomically; `python -m tfnas.compare` can write them to
a second folder (`--report_dir`) for a README to quote.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tfnas.compare.evaluate import pareto_optimal
from tfnas.io.atomic import write_text_atomic
from tfnas.plots import plot_pareto
from tfnas.records import MethodResult, RetrainResult

MARKDOWN_FILE = "comparison.md"
JSON_FILE = "comparison.json"
PLOT_FILE = "pareto.png"
REPORT_FORMAT = "tfnas.comparison"


@dataclasses.dataclass(frozen=True)
class ComparisonRow:
    """One method of the comparison: what it found, its retraining, its latencies.

    Attributes:
        result: The method's winner and what finding it cost.
        retrain: The winner retrained from scratch.
        predicted_cpu_latency: The winner on the `cpu` latency model (ms).
        measured_ms: The winner's float32 TFLite file, timed on the device.
        pareto_predicted: On the front of test accuracy vs predicted latency.
        pareto_measured: On the front of test accuracy vs measured latency.
    """

    result: MethodResult
    retrain: RetrainResult
    predicted_cpu_latency: float
    measured_ms: float
    pareto_predicted: bool = False
    pareto_measured: bool = False

    @property
    def method(self) -> str:
        """The method's name."""
        return self.result.method

    @property
    def test_accuracy(self) -> float:
        """Mean test accuracy of the retrainings."""
        return self.retrain.test_accuracy

    @property
    def predicted_latency(self) -> float:
        """The winner on the comparison's target (its unit)."""
        return self.result.predicted_latency

    def to_json(self) -> dict[str, Any]:
        """The row of `comparison.json`: every figure at one level (the trials go apart)."""
        method = {k: v for k, v in dataclasses.asdict(self.result).items() if k != "trial_rows"}
        return {
            **method,
            **dataclasses.asdict(self.retrain),
            "predicted_cpu_latency": self.predicted_cpu_latency,
            "measured_ms": self.measured_ms,
            "pareto_predicted": self.pareto_predicted,
            "pareto_measured": self.pareto_measured,
        }


def _minutes(seconds: float) -> str:
    return f"{seconds / 60:.1f} min"


def outcome(rows: Sequence[ComparisonRow], limit: float) -> list[str]:
    """Plain sentences on who won what, computed from the rows."""
    best = max(rows, key=lambda r: r.test_accuracy)
    within = [r for r in rows if r.predicted_latency <= limit]
    lines = [
        f"Most accurate after retraining: {best.method} ({best.test_accuracy:.4f}); "
        "differences below the spread over seeds are noise."
    ]
    spread = max(r.test_accuracy for r in rows) - min(r.test_accuracy for r in rows)
    lines.append(f"Spread of test accuracy across methods: {spread * 100:.2f} points.")
    if within:
        fastest = min(within, key=lambda r: r.predicted_latency)
        lines.append(
            f"Fastest within the limit (predicted): {fastest.method} "
            f"({fastest.predicted_latency:.3f})."
        )
    over = [r.method for r in rows if r.predicted_latency > limit]
    if over:
        lines.append(f"Over the limit (predicted): {', '.join(over)}.")
    front = [r.method for r in rows if r.pareto_predicted]
    lines.append(f"Pareto-optimal (accuracy vs predicted latency): {', '.join(front)}.")
    return lines


def markdown(report: dict[str, Any]) -> str:
    """The Markdown table of `report` (see `build_report`)."""
    rows: list[ComparisonRow] = report["rows"]
    unit, target = report["unit"], report["target"]
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
        found = r.result
        trials = "–" if found.trials is None else f"{found.trials} ({found.trained_trials})"
        accuracy = f"{r.test_accuracy:.4f}"
        if len(r.retrain.test_accuracies) > 1:
            accuracy += " (" + ", ".join(f"{a:.4f}" for a in r.retrain.test_accuracies) + ")"
        lines.append(
            f"| {r.method} | {found.images:,} | {_minutes(found.seconds)} | {trials} | "
            f"{r.predicted_latency:.3f} | {r.predicted_cpu_latency:.4f} | "
            f"{r.measured_ms:.4f} | {accuracy} | {'yes' if r.pareto_predicted else ''} |"
        )
    lines += ["", "Winners:", ""]
    lines += [f"- {r.method}: {' '.join(r.result.ops)}" for r in rows]
    lines += ["", *outcome(rows, report["target_latency"])]
    lines.append(f"The whole comparison took {_minutes(report['seconds'])}.")
    return "\n".join(lines) + "\n"


def build_report(
    rows: Sequence[ComparisonRow], settings: dict[str, Any], seconds: float
) -> dict[str, Any]:
    """The record of the comparison: the rows with their Pareto flags, and the settings."""
    predicted = pareto_optimal([(r.predicted_latency, r.test_accuracy) for r in rows])
    measured = pareto_optimal([(r.measured_ms, r.test_accuracy) for r in rows])
    flagged = [
        dataclasses.replace(row, pareto_predicted=p, pareto_measured=m)
        for row, p, m in zip(rows, predicted, measured, strict=True)
    ]
    return {"format": REPORT_FORMAT, **settings, "seconds": seconds, "rows": flagged}


def write_report(report: dict[str, Any], directory: Path) -> dict[str, Path]:
    """Writes comparison.md, comparison.json and pareto.png into `directory`."""
    rows: list[ComparisonRow] = report["rows"]
    names = [r.method for r in rows]
    accuracies = [r.test_accuracy for r in rows]
    plot = plot_pareto(
        [
            (
                f"predicted latency on {report['target']} ({report['unit']})",
                [r.predicted_latency for r in rows],
            ),
            (f"measured on {report['device']} (ms)", [r.measured_ms for r in rows]),
        ],
        accuracies,
        names,
        [[r.pareto_predicted for r in rows], [r.pareto_measured for r in rows]],
        directory / PLOT_FILE,
        title=f"{report['experiment']}: equal budget of {report['budget_images']:,} images"
        + (f", bars: {report['retrain_seeds']} seeds" if report["retrain_seeds"] > 1 else ""),
        limit=(0, report["target_latency"]),
        ranges=[(min(r.retrain.test_accuracies), max(r.retrain.test_accuracies)) for r in rows],
    )
    slim = {
        **report,
        "rows": [r.to_json() for r in rows],
        "trials": {
            r.method: [dataclasses.asdict(trial) for trial in r.result.trial_rows]
            for r in rows
            if r.result.trial_rows
        },
    }
    return {
        "markdown": write_text_atomic(directory / MARKDOWN_FILE, markdown(report)),
        "json": write_text_atomic(directory / JSON_FILE, json.dumps(slim, indent=2) + "\n"),
        "plot": plot,
    }
