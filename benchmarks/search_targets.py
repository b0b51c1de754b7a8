"""Does a search land on its latency target? One demo search per target, derived vs target.

    python -m benchmarks.search_targets [--targets=0.45,0.55,0.65] [--target=mobile]
        [--output_dir=benchmarks/results] [--runs_dir=runs/search_targets]

Runs `python -m tfnas.search --experiment=demo` once per target latency (each
in its own process, as a user would) and reads its `search_summary.json`.
Prints and writes `search_targets.json` and `search_targets.md`: the derived
network's predicted latency on the target model against the target, with
E[LAT], MACs, accuracies and wall time. The README quotes the Markdown.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from tfnas.config import tree as config_tree
from tfnas.io.atomic import write_text_atomic
from tfnas.search.config import resolve

REPO_ROOT = Path(__file__).resolve().parent.parent


def run_search(target: str, latency: float, output_dir: Path, extra: list[str]) -> dict[str, Any]:
    """One search in a subprocess; returns its summary with the wall time added."""
    began = time.monotonic()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "tfnas.search",
            "--experiment=demo",
            f"--target={target}",
            f"--target_latency={latency}",
            f"--output_dir={output_dir}",
            "--verbose=0",
            *extra,
        ],
        cwd=REPO_ROOT,
        check=True,
    )
    summary = json.loads((output_dir / "search_summary.json").read_text())
    summary["minutes"] = (time.monotonic() - began) / 60
    return summary


def markdown(results: dict[str, Any]) -> str:
    """The table the README quotes."""
    config = results["config"]
    lines = [
        f"Demo experiment, `--target={results['target']}`, `--loss={config['loss']}` "
        f"({', '.join(f'{k}={v}' for k, v in results['loss_params'].items())}), "
        f"`--latency_estimate={config['latency_estimate']}`, `--mode={config['mode']}`, "
        f"arch learning rate {config['arch_learning_rate']}, "
        f"{config['warmup_epochs']} warmup + {config['epochs']} search epochs, seed "
        f"{config['seed']}; {results['machine']}.",
        "",
        "| target | derived network | error | E[LAT] | MACs | valid acc | test acc | ops | min |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in results["runs"]:
        error = row["latency"] / row["target_latency"] - 1
        lines.append(
            f"| {row['target_latency']:g} {row['unit']} | {row['latency']:.3f} {row['unit']} | "
            f"{100 * error:+.1f}% | {row['expected_latency']:.3f} | {row['macs'] / 1e6:.2f}M | "
            f"{row['valid_accuracy']:.3f} | {row['test_accuracy']:.3f} | "
            f"{' '.join(row['ops'])} | {row['minutes']:.1f} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> None:
    """Entry point: runs the searches, prints and writes the results."""
    from absl import flags

    del argv
    flag_values = flags.FLAGS
    runs_dir = Path(flag_values.runs_dir)
    runs = []
    for latency in flag_values.targets:
        out = runs_dir / f"{flag_values.target}-{latency}"
        if out.exists():
            sys.exit(f"error: {out} exists; remove it or pass another --runs_dir")
        print(f"searching for {flag_values.target} at {latency}", flush=True)
        runs.append(run_search(flag_values.target, float(latency), out, []))
    config = resolve("demo")
    from tfnas.latency.objectives import LOSS_DEFAULTS

    results = {
        "target": flag_values.target,
        "config": {
            k: config_tree.flatten(config)[k]
            for k in (
                "loss",
                "latency_estimate",
                "mode",
                "arch_learning_rate",
                "warmup_epochs",
                "epochs",
                "seed",
            )
        },
        "loss_params": LOSS_DEFAULTS[config.latency.loss] | dict(config.latency.loss_params),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "runs": [
            {
                k: r[k]
                for k in (
                    "target_latency",
                    "unit",
                    "latency",
                    "expected_latency",
                    "macs",
                    "params",
                    "valid_accuracy",
                    "test_accuracy",
                    "ops",
                    "minutes",
                )
            }
            for r in runs
        ],
    }
    text = markdown(results)
    print(text)
    out = Path(flag_values.output_dir)
    write_text_atomic(out / "search_targets.json", json.dumps(results, indent=2) + "\n")
    write_text_atomic(out / "search_targets.md", text)


if __name__ == "__main__":
    from absl import app, flags

    flags.DEFINE_list(
        "targets", ["0.45", "0.55", "0.65"], "Target latencies, in the target's unit."
    )
    flags.DEFINE_string("target", "mobile", "Latency target model.")
    flags.DEFINE_string("output_dir", "benchmarks/results", "Where the results files go.")
    flags.DEFINE_string("runs_dir", "runs/search_targets", "Where the searches write.")
    app.run(main)
