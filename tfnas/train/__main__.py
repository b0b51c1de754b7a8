"""`python -m tfnas.train`: train a network from scratch and evaluate it on the test split.

    python -m tfnas.train --arch=runs/search-X/arch.json --experiment=demo
    python -m tfnas.train --arch=proxyless_mobile --experiment=imagenet --data_dir=DIR
    python -m tfnas.train --resume --output_dir=runs/train-X
    python -m tfnas.train --arch=ARCH --experiment=demo --tune --tune_trials=8

`--arch` is a registered network, a tfnas JSON (a search's `arch.json`) or a
`net.config`. `--experiment` (imagenet, cifar10, demo, fashion_mnist) sets every value; any
other flag overrides one. Outputs in OUTPUT_DIR (default runs/train-TIMESTAMP):
config.json, arch.json, model.weights.h5, train_summary.json, tensorboard/,
checkpoints/.

`--tune` first tunes learning rate, weight decay and dropout with keras-tuner
(`tfnas.train.tune`: `--tuner=bayesian|random`, `--tune_trials`,
`--tune_epochs`), scoring each trial on a held-out split (`--valid_size`, or
a tenth of the training split), then trains with the best values; the trials
go to OUTPUT_DIR/tune/ and tune_summary.json. A `--resume` continues the
training with the values config.json holds and does not tune again.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from absl import app, flags

from tfnas.config import tree as config_tree
from tfnas.config.flags import define_config_flags, flag_overrides
from tfnas.config.tree import ConfigError, save_config
from tfnas.datasets.pipeline import pipeline_for
from tfnas.engine.runtime import configure_run, make_strategy, run_command
from tfnas.nets.load import load_net
from tfnas.train.config import CONFIG_FORMAT, EXPERIMENTS, TrainConfig, load_config, resolve
from tfnas.train.trainer import Trainer, prepare_spec
from tfnas.train.tune import TUNE_VALID_FRACTION, tune_recipe

CONFIG_FILE = config_tree.CONFIG_FILE

flags.DEFINE_enum("experiment", "demo", list(EXPERIMENTS), "Named preset of every value.")
flags.DEFINE_string("output_dir", None, "Output folder (default: runs/train-TIMESTAMP).")
flags.DEFINE_bool("resume", False, "Continue the run in --output_dir from its last checkpoint.")
flags.DEFINE_integer("cpu_devices", 1, "Split the CPU into this many logical devices.")
flags.DEFINE_integer(
    "verbose",
    1,
    "1: a progress bar per epoch on a terminal, a line every --log_every steps off one "
    "(a log file); 0: one line per epoch.",
)
# Config values: None means "the experiment's value".
define_config_flags(TrainConfig)
flags.DEFINE_bool("tune", False, "Tune learning rate, weight decay and dropout first.")
flags.DEFINE_enum("tuner", "bayesian", ["bayesian", "random", "hyperband"], "keras-tuner method.")
flags.DEFINE_integer("tune_trials", 8, "Trials of --tune.")
flags.DEFINE_integer("tune_epochs", 0, "Epochs of a --tune trial (0: --epochs).")

FLAGS = flags.FLAGS
# What a diverged training says to change before `--resume` (tfnas.engine.divergence).
RESUME_ADJUSTABLE = ("learning_rate", "warmup_epochs")


def resolve_run(resume: bool, output_dir: str | None) -> tuple[Any, Path]:
    """The config and output folder of this invocation (new run or resume)."""
    return config_tree.resolve_run(
        "train",
        resume,
        output_dir,
        FLAGS.experiment,
        FLAGS["experiment"].present,
        flag_overrides(TrainConfig),
        resolve,
        load_config,
        adjustable=RESUME_ADJUSTABLE,
    )


def main(argv: list[str]) -> int:
    """Runs the training; returns the exit status."""

    def body() -> int:
        if FLAGS.cpu_devices < 1:
            raise ConfigError(f"--cpu_devices={FLAGS.cpu_devices}: expected an integer >= 1")
        config, output_dir = resolve_run(FLAGS.resume, FLAGS.output_dir)
        return _train(config, output_dir)

    return run_command(argv, body)


def _train(config: TrainConfig, output_dir: Path) -> int:

    spec = load_net(config.arch)  # a bad arch fails before the data loads
    configure_run(config.run, FLAGS.cpu_devices)
    started = time.monotonic()
    pipeline = pipeline_for(config.data, config.run.seed)
    source = pipeline.source
    if FLAGS.tune and not FLAGS.resume:
        config = _tuned(config, spec, pipeline, output_dir)
    spec = prepare_spec(
        spec, source.num_classes, config.dropout, config.data.resolution, source.channels
    )
    strategy = make_strategy(config.run.strategy)
    trainer = Trainer(config, spec, pipeline, output_dir, strategy=strategy, verbose=FLAGS.verbose)
    if FLAGS.resume:
        try:
            trainer.restore()
        except ValueError as error:
            raise ConfigError(str(error)) from None
        config_tree.report_adjusted(load_config(str(output_dir / CONFIG_FILE)), config)
    save_config(config, CONFIG_FORMAT, output_dir / CONFIG_FILE)
    print(
        f"training {spec.name} ({len(spec.blocks)} blocks, {config.data.resolution} px) on "
        f"{source.name} ({len(pipeline.train_indices)} train images), "
        f"{config.recipe.epochs} epochs x "
        f"{trainer.steps_per_epoch} steps, {strategy.num_replicas_in_sync} replica(s); "
        f"output {output_dir}",
        flush=True,
    )
    summary = trainer.run()
    minutes = (time.monotonic() - started) / 60
    test = summary.test_accuracy
    test = "none (the data has no test split)" if test is None else f"{test:.3f}"
    print(
        f"test accuracy {test} on {summary.test_examples} images, "
        f"{summary.params / 1e6:.2f}M params, {summary.macs / 1e6:.1f}M MACs\n"
        f"outputs in {output_dir}/ ({minutes:.1f} min)"
    )
    return 0


def _tuned(config: TrainConfig, spec: Any, pipeline: Any, output_dir: Path) -> TrainConfig:
    """The config with the recipe values `--tune` found best (trials on a held-out split)."""
    import dataclasses

    held_out = config.data.valid_size or round(TUNE_VALID_FRACTION * pipeline.source.train_size)
    try:
        tune_pipeline = dataclasses.replace(pipeline, valid_size=held_out)
        best, summary = tune_recipe(
            config,
            spec,
            tune_pipeline,
            output_dir,
            tuner=FLAGS.tuner,
            trials=FLAGS.tune_trials,
            epochs=FLAGS.tune_epochs or None,
        )
    except ValueError as error:
        raise ConfigError(str(error)) from None
    before, after = summary.before, summary.best
    print(
        f"tuned on {held_out} held-out images in {summary.seconds / 60:.1f} min: "
        + ", ".join(f"{k} {before[k]:.4g} -> {after[k]:.4g}" for k in after)
        + f" (valid accuracy {summary.best_valid_accuracy:.4f}); training with these",
        flush=True,
    )
    return best


if __name__ == "__main__":
    app.run(lambda argv: sys.exit(main(argv)))
