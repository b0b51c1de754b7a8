"""`python -m tfnas.search`: search a network for a dataset and a latency target.

    python -m tfnas.search --experiment=demo
    python -m tfnas.search --experiment=imagenet --data_dir=DIR --target_latency=80
    python -m tfnas.search --experiment=demo --output_dir=runs/x --resume

`--experiment` (imagenet, cifar10, demo, fashion_mnist) sets every value; any other flag
overrides one. The resolved config goes to OUTPUT_DIR/config.json, and
`--resume` continues the run in OUTPUT_DIR from its last checkpoint with that
config (flags given with --resume must agree with it). Outputs: arch.json,
net.config, search_summary.json, arch_log.txt, alpha_history.png, arch.png,
tensorboard/, checkpoints/.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from absl import app, flags

from tfnas.config import tree as config_tree
from tfnas.config.flags import define_config_flags, flag_overrides
from tfnas.datasets.pipeline import pipeline_for
from tfnas.engine.runtime import configure_run, make_strategy, run_command
from tfnas.latency.targets import load_target
from tfnas.search.config import (
    ALIASES,
    EXPERIMENTS,
    FLAG_HELP,
    ConfigError,
    SearchConfig,
    load_config,
    resolve,
    save_config,
)
from tfnas.search.runner import ObjectiveError, SearchRun

CONFIG_FILE = config_tree.CONFIG_FILE

flags.DEFINE_enum("experiment", "demo", list(EXPERIMENTS), "Named preset of every value.")
flags.DEFINE_string("output_dir", None, "Output folder (default: runs/search-TIMESTAMP).")
flags.DEFINE_bool("resume", False, "Continue the run in --output_dir from its last checkpoint.")
flags.DEFINE_integer(
    "cpu_devices", 1, "Split the CPU into this many logical devices (mirrored tests)."
)
flags.DEFINE_integer(
    "verbose",
    1,
    "1: a progress bar per epoch on a terminal, a line every --log_every steps off one "
    "(a log file); 0: one line per epoch.",
)
# Config values: None means "the experiment's value".
define_config_flags(SearchConfig, FLAG_HELP, ALIASES)

FLAGS = flags.FLAGS
# What a diverged search says to change before `--resume` (tfnas.engine.divergence).
RESUME_ADJUSTABLE = ("learning_rate", "arch_learning_rate")


def given_overrides() -> dict[str, Any]:
    """Config values set on the command line, parsed."""
    return flag_overrides(SearchConfig, ALIASES)


def resolve_run(resume: bool, output_dir: str | None) -> tuple[Any, Path]:
    """The config and output folder of this invocation (new run or resume)."""
    return config_tree.resolve_run(
        "search",
        resume,
        output_dir,
        FLAGS.experiment,
        FLAGS["experiment"].present,
        given_overrides(),
        resolve,
        load_config,
        adjustable=RESUME_ADJUSTABLE,
    )


def main(argv: list[str]) -> int:
    """Runs the search; returns the exit status."""

    def body() -> int:
        config, output_dir = resolve_run(FLAGS.resume, FLAGS.output_dir)
        if FLAGS.cpu_devices < 1:
            raise ConfigError(f"--cpu_devices={FLAGS.cpu_devices}: expected an integer >= 1")
        return _search(config, output_dir)

    return run_command(argv, body)


def _search(config: SearchConfig, output_dir: Path) -> int:

    load_target(config.latency.target)  # a bad target fails before the data loads
    run = config.run
    configure_run(run, FLAGS.cpu_devices)
    started = time.monotonic()
    pipeline = pipeline_for(config.data, run.seed)
    source = pipeline.source

    strategy = make_strategy(run.strategy)
    try:
        search = SearchRun(config, pipeline, output_dir, strategy=strategy, verbose=FLAGS.verbose)
    except ObjectiveError as error:
        raise ConfigError(str(error)) from None
    if FLAGS.resume:
        try:
            search.restore()
        except ValueError as error:
            raise ConfigError(str(error)) from None
        config_tree.report_adjusted(load_config(output_dir / CONFIG_FILE), config)
    save_config(config, output_dir / CONFIG_FILE)
    print(
        f"searching {search.space.name} ({len(search.space.choice_blocks)} choice blocks) on "
        f"{source.name} ({len(pipeline.train_indices)} train / {len(pipeline.valid_indices)} "
        f"valid images) for {config.latency.target} at {config.latency.target_latency} "
        f"{search.latency.unit}, "
        f"{config.total_epochs} epochs x {search.steps_per_epoch} steps, "
        f"{strategy.num_replicas_in_sync} replica(s); output {output_dir}"
    )
    summary = search.run()
    minutes = (time.monotonic() - started) / 60
    test = summary.test_accuracy
    test = "none (the data has no test split)" if test is None else f"{test:.3f}"
    print(
        f"derived: {' '.join(summary.ops)}\n"
        f"latency {summary.latency:.3f} {summary.unit} (target "
        f"{summary.target_latency}), {summary.macs / 1e6:.1f}M MACs, "
        f"{summary.params / 1e6:.2f}M params, test accuracy {test}\n"
        f"outputs in {output_dir}/ ({minutes:.1f} min)"
    )
    return 0


if __name__ == "__main__":
    app.run(lambda argv: sys.exit(main(argv)))
