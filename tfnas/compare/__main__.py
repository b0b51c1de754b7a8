"""`python -m tfnas.compare`: ProxylessNAS against keras-tuner baselines at equal compute.

    python -m tfnas.compare --experiment=demo --target=mobile --target_latency=0.55
    python -m tfnas.compare --experiment=demo --output_dir=runs/cmp --resume

Runs the ProxylessNAS search of `--experiment`, then each keras-tuner method
(`--tuners`, default random, bayesian and hyperband) over the same space with
the same number of training images, retrains every winner from scratch with
the experiment's training recipe, predicts and measures its latency, and
writes comparison.md, comparison.json and pareto.png into OUTPUT_DIR (default
runs/compare-TIMESTAMP) and, with --report_dir, there too. --resume reuses
every method and retraining that finished and continues the search from its
last checkpoint.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from absl import app, flags

from tfnas.compare import evaluate, methods, report
from tfnas.compare.config import (
    METHOD_SEARCH,
    CompareConfig,
    load_config,
    resolve,
    save_config,
)
from tfnas.config import tree as config_tree
from tfnas.config.flags import define_config_flags, define_job_flags, flag_overrides
from tfnas.datasets.pipeline import pipeline_for
from tfnas.engine.command import run_command
from tfnas.engine.progress import print_line
from tfnas.engine.runtime import configure_run
from tfnas.latency.targets import load_target
from tfnas.records import MethodResult
from tfnas.search.config import EXPERIMENTS

CONFIG_FILE = config_tree.CONFIG_FILE
LATENCY_PASSES = 3

define_job_flags(
    "compare",
    EXPERIMENTS,
    experiment_help="Search and training experiment.",
    resume_help="Continue the comparison in --output_dir.",
    trains=False,
)
flags.DEFINE_string("report_dir", None, "Also write the table, JSON and plot here.")
# Config values: None means "the experiment's value".
define_config_flags(CompareConfig)

FLAGS = flags.FLAGS


def resolve_run(resume: bool, output_dir: str | None) -> tuple[CompareConfig, Path]:
    """The config and folder of this invocation: a new comparison or the one resumed."""
    return config_tree.resolve_run(
        "compare",
        resume,
        output_dir,
        FLAGS.experiment,
        FLAGS["experiment"].present,
        flag_overrides(CompareConfig),
        resolve,
        load_config,
        marker=CONFIG_FILE,  # written when a comparison starts
        noun="comparison",
    )


def main(argv: list[str]) -> int:
    """Runs the comparison; returns the exit status."""

    def body() -> int:
        config, output_dir = resolve_run(FLAGS.resume, FLAGS.output_dir)
        return _compare(config, output_dir, FLAGS.resume)

    return run_command(argv, body)


def _compare(config: CompareConfig, out: Path, resume: bool) -> int:
    began = time.monotonic()
    search = config.search()
    target, target_latency = search.latency.target, search.latency.target_latency
    unit = load_target(target).unit  # a bad target fails before the data loads
    configure_run(search.run)
    pipeline = pipeline_for(search.data, search.run.seed)
    out.mkdir(parents=True, exist_ok=True)
    if not resume:
        save_config(config, out / CONFIG_FILE)
    print_line(
        f"comparing {', '.join(config.methods)} on {search.data.dataset} for {target} at "
        f"{target_latency} {unit}; output {out}"
    )

    def stage(method: str, run: Any) -> MethodResult:
        done = methods.load_result(out / method) if resume else None
        if done is not None:
            print_line(f"{method}: done before, reused")
            return done
        print_line(f"{method}: searching ({_elapsed(began)})")
        result = run()
        print_line(
            f"{method}: {' '.join(result.ops)}, {result.predicted_latency:.3f} {unit}, "
            f"{result.images:,} images, {result.seconds / 60:.1f} min"
        )
        return result

    results = [
        stage(
            METHOD_SEARCH,
            lambda: methods.run_search(search, pipeline, out / METHOD_SEARCH, resume, print_line),
        )
    ]
    budget = results[0].images
    for kind in config.tuner_list:
        results.append(
            stage(
                kind,
                lambda kind=kind: methods.run_baseline(
                    kind, config, search, pipeline, budget, out / kind, print_line
                ),
            )
        )
    found = []
    for result in results:
        print_line(f"{result.method}: retraining ({_elapsed(began)})")
        trained = evaluate.retrain(config, result.arch, out / result.method, resume, print_line)
        print_line(f"{result.method}: test accuracy {trained.test_accuracy:.4f}")
        found.append((result, trained))
    print_line(f"measuring latency on {config.device} ({_elapsed(began)})")
    measure_began = time.monotonic()
    measured, device = evaluate.measure_latencies(
        {result.method: result.arch for result, _ in found}, out, config.device, LATENCY_PASSES
    )
    rows = [
        report.ComparisonRow(
            result,
            trained,
            predicted_cpu_latency=evaluate.predicted_latencies(result.arch, target)[
                "predicted_cpu_latency"
            ],
            measured_ms=measured[result.method],
        )
        for result, trained in found
    ]
    seconds = (
        sum(r.result.seconds + r.retrain.retrain_seconds for r in rows)
        + time.monotonic()
        - measure_began
    )
    settings = {
        "experiment": config.experiment,
        "target": target,
        "unit": unit,
        "target_latency": target_latency,
        "budget_images": budget,
        "search_weight_images": results[0].weight_images,
        "search_arch_images": results[0].arch_images,
        "train_epochs": config.train(results[0].arch).recipe.epochs,
        "retrain_seeds": config.retrain_seeds,
        "device": device,
        "passes": LATENCY_PASSES,
        "config": config.to_dict(),
    }
    record = report.build_report(rows, settings, seconds)
    for directory in {out, Path(FLAGS.report_dir or out)}:
        written = report.write_report(record, directory)
        print_line(f"wrote {written['markdown']}, {written['json']}, {written['plot']}")
    print(report.markdown(record), flush=True)
    return 0


def _elapsed(began: float) -> str:
    return f"{(time.monotonic() - began) / 60:.1f} min in"


if __name__ == "__main__":
    app.run(lambda argv: sys.exit(main(argv)))
