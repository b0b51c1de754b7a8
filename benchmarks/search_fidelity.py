"""What the reference's rules do to a search: variants of the demo search over several seeds.

    python -m benchmarks.search_fidelity [--seeds=0,1,2] [--variants=reference,...]
        [--output_dir=benchmarks/results] [--runs_dir=runs/search_fidelity]

Each variant is the demo search (`python -m tfnas.search --experiment=demo`,
its own process, as a user runs it) with a few flags changed from the
defaults, which follow the authors' reference code:

- `reference`: the defaults (`two` mode's latency term over the sampled pair,
  a block that samples Zero skips its update; the demo keeps Keras' Glorot
  initialization, with which its recipe's stability was measured);
- `zero_update`: `--zero_sampled=update` (the estimator's update for a Zero
  sample too, as NNI and tfnas before 2026-12-03);
- `he_init`: `--init=he_fout` (the reference's initialization);
- `reinforce`: `--mode=reinforce` with the reference's RL setup (10 sampled
  networks per update, the reference's baseline, reward acc·(T/LAT)^0.1).

A finished run is reused, so an interrupted benchmark continues. Prints and
writes `search_fidelity.json` and `search_fidelity.md`: per variant the mean
and spread (sample standard deviation) over the seeds of the derived
network's latency, its error against the target, and its accuracies, then
every run. The README quotes the Markdown.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
from pathlib import Path
from typing import Any

from benchmarks.search_targets import run_search
from tfnas.io.atomic import write_text_atomic
from tfnas.search.config import resolve

VARIANTS: dict[str, list[str]] = {
    "reference": [],
    "zero_update": ["--zero_sampled=update"],
    "he_init": ["--init=he_fout"],
    "reinforce": ["--mode=reinforce"],
}
FIELDS = ("latency", "expected_latency", "valid_accuracy", "test_accuracy", "minutes")


def run_or_reuse(variant: str, seed: int, runs_dir: Path) -> dict[str, Any]:
    """The summary of one variant's search at `seed`, running it unless it finished before."""
    out = runs_dir / f"{variant}-seed{seed}"
    summary_file = out / "search_summary.json"
    if summary_file.exists():
        summary = json.loads(summary_file.read_text())
        summary.setdefault("minutes", float("nan"))
        return summary
    if out.exists():
        sys.exit(f"error: {out} holds an unfinished run; remove it to run it again")
    print(f"searching: {variant}, seed {seed}", flush=True)
    target = resolve("demo").latency
    return run_search(
        target.target, target.target_latency, out, [f"--seed={seed}", *VARIANTS[variant]]
    )


def aggregate(runs: list[dict[str, Any]], target: float) -> dict[str, Any]:
    """Mean and sample standard deviation of each field over one variant's runs."""
    result: dict[str, Any] = {"seeds": len(runs)}
    for name in (*FIELDS, "error"):
        values = [r["latency"] / target - 1 if name == "error" else r[name] for r in runs]
        result[name] = {
            "mean": statistics.fmean(values),
            "std": statistics.stdev(values) if len(values) > 1 else 0.0,
        }
    return result


def markdown(results: dict[str, Any]) -> str:
    """The tables the README quotes: per variant mean ± std, then every run."""
    unit, target = results["unit"], results["target_latency"]
    lines = [
        f"Demo experiment, `--target={results['target']}` at {target:g} {unit}, seeds "
        f"{', '.join(str(s) for s in results['seeds'])}; mean ± sample std over the seeds; "
        f"{results['machine']}.",
        "",
        "| variant | flags | derived latency | error | E[LAT] | valid acc | test acc | min |",
        "|---|---|---|---|---|---|---|---|",
    ]

    def cell(stats: dict[str, float], digits: int = 3, percent: bool = False) -> str:
        scale = 100 if percent else 1
        sign = "+" if percent else ""
        suffix = "%" if percent else ""
        return (
            f"{scale * stats['mean']:{sign}.{1 if percent else digits}f}{suffix} ± "
            f"{scale * stats['std']:.{1 if percent else digits}f}{suffix}"
        )

    for name, summary in results["variants"].items():
        flags = " ".join(f"`{f}`" for f in VARIANTS.get(name, [])) or "(defaults)"
        lines.append(
            f"| {name} | {flags} | {cell(summary['latency'])} {unit} | "
            f"{cell(summary['error'], percent=True)} | {cell(summary['expected_latency'])} | "
            f"{cell(summary['valid_accuracy'])} | {cell(summary['test_accuracy'])} | "
            f"{summary['minutes']['mean']:.1f} |"
        )
    lines += ["", "| variant | seed | derived latency | test acc | ops |", "|---|---|---|---|---|"]
    for row in results["runs"]:
        lines.append(
            f"| {row['variant']} | {row['seed']} | {row['latency']:.3f} {unit} | "
            f"{row['test_accuracy']:.3f} | {' '.join(row['ops'])} |"
        )
    return "\n".join(lines) + "\n"


def main(argv: list[str]) -> None:
    """Entry point: runs (or reuses) the searches, prints and writes the results."""
    from absl import flags

    del argv
    values = flags.FLAGS
    unknown = [v for v in values.variants if v not in VARIANTS]
    if unknown:
        sys.exit(f"error: unknown variants {unknown}; expected some of {', '.join(VARIANTS)}")
    seeds = [int(s) for s in values.seeds]
    runs_dir = Path(values.runs_dir)
    latency = resolve("demo").latency
    runs, variants = [], {}
    for variant in values.variants:
        mine = []
        for seed in seeds:
            summary = run_or_reuse(variant, seed, runs_dir)
            row = {"variant": variant, "seed": seed, "ops": summary["ops"]}
            row |= {name: summary[name] for name in (*FIELDS, "unit")}
            mine.append(row)
        runs += mine
        variants[variant] = aggregate(mine, latency.target_latency)
    results = {
        "target": latency.target,
        "target_latency": latency.target_latency,
        "unit": runs[0]["unit"],
        "seeds": seeds,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "variants": variants,
        "runs": runs,
    }
    text = markdown(results)
    print(text)
    out = Path(values.output_dir)
    write_text_atomic(out / "search_fidelity.json", json.dumps(results, indent=2) + "\n")
    write_text_atomic(out / "search_fidelity.md", text)


if __name__ == "__main__":
    from absl import app, flags

    flags.DEFINE_list("seeds", ["0", "1", "2"], "Seeds of every variant.")
    flags.DEFINE_list("variants", list(VARIANTS), f"Variants: {', '.join(VARIANTS)}.")
    flags.DEFINE_string("output_dir", "benchmarks/results", "Where the results files go.")
    flags.DEFINE_string("runs_dir", "runs/search_fidelity", "Where the searches write.")
    app.run(main)
