"""`python -m tfnas.train`: train a network from scratch and evaluate it on the test split.

    python -m tfnas.train --arch=runs/search-X/arch.json --experiment=demo
    python -m tfnas.train --arch=proxyless_mobile --experiment=imagenet --data_dir=DIR
    python -m tfnas.train --resume --output_dir=runs/train-X

`--arch` is a registered network, a tfnas JSON (a search's `arch.json`) or a
`net.config`. `--experiment` (imagenet, cifar10, demo) sets every value; any
other flag overrides one. Outputs in OUTPUT_DIR (default runs/train-TIMESTAMP):
config.json, arch.json, model.weights.h5, train_summary.json, tensorboard/,
checkpoints/.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from absl import app, flags

from tfnas import run_config
from tfnas.run_config import ConfigError, save_config
from tfnas.train.config import CONFIG_FORMAT, EXPERIMENTS, FIELDS, TrainConfig, load_config, resolve

CONFIG_FILE = run_config.CONFIG_FILE

flags.DEFINE_enum("experiment", "demo", list(EXPERIMENTS), "Named preset of every value.")
flags.DEFINE_string("output_dir", None, "Output folder (default: runs/train-TIMESTAMP).")
flags.DEFINE_bool("resume", False, "Continue the run in --output_dir from its last checkpoint.")
flags.DEFINE_integer("cpu_devices", 1, "Split the CPU into this many logical devices.")
flags.DEFINE_integer("verbose", 1, "1: a progress bar per epoch; 0: one line per epoch.")
# Config fields: None means "the experiment's value".
flags.DEFINE_string("arch", None, "Registered network, arch.json or net.config.")
flags.DEFINE_string("dataset", None, "demo, a tensorflow-datasets name, or folder:ROOT.")
flags.DEFINE_string("data_dir", None, "tensorflow-datasets data directory.")
flags.DEFINE_string("manual_dir", None, "Manually downloaded files (imagenet2012).")
flags.DEFINE_bool("download", None, "Let tensorflow-datasets download and prepare the data.")
flags.DEFINE_string("augment", None, "inception, pad_crop_flip, pad_crop or none.")
flags.DEFINE_integer("valid_size", None, "Training examples held out for monitoring (0: none).")
flags.DEFINE_integer("resolution", None, "Input resolution.")
flags.DEFINE_integer("epochs", None, "Epochs, learning-rate warmup included.")
flags.DEFINE_integer("warmup_epochs", None, "Epochs of linear learning-rate warmup.")
flags.DEFINE_integer("steps_per_epoch", None, "Steps per epoch (0: the whole split).")
flags.DEFINE_integer("batch_size", None, "Global training batch.")
flags.DEFINE_integer("eval_batch_size", None, "Evaluation batch.")
flags.DEFINE_float("learning_rate", None, "Peak learning rate (after the warmup).")
flags.DEFINE_float("momentum", None, "SGD momentum.")
flags.DEFINE_bool("nesterov", None, "Nesterov momentum.")
flags.DEFINE_float("weight_decay", None, "Weight decay of kernels (not BN, not biases).")
flags.DEFINE_float("label_smoothing", None, "Label smoothing.")
flags.DEFINE_float("dropout", None, "Dropout before the classifier.")
flags.DEFINE_integer("seed", None, "Seed of the data order, augmentation and initialization.")
flags.DEFINE_integer("checkpoint_every", None, "Steps between checkpoints (and every epoch end).")
flags.DEFINE_integer("log_every", None, "Steps between TensorBoard scalars.")
flags.DEFINE_string("strategy", None, "tf.distribute strategy: default, mirrored, multi_worker.")
flags.DEFINE_bool("deterministic", None, "Deterministic ops (exact resume; a little slower).")

FLAGS = flags.FLAGS


def resolve_run(resume: bool, output_dir: str | None) -> tuple[Any, Path]:
    """The config and output folder of this invocation (new run or resume)."""
    return run_config.resolve_run(
        "train",
        resume,
        output_dir,
        FLAGS.experiment,
        FLAGS["experiment"].present,
        run_config.given_overrides(FLAGS, FIELDS),
        resolve,
        load_config,
    )


def main(argv: list[str]) -> int:
    """Runs the training; returns the exit status."""
    from tfnas.runtime import run_command

    def body() -> int:
        if FLAGS.cpu_devices < 1:
            raise ConfigError(f"--cpu_devices={FLAGS.cpu_devices}: expected an integer >= 1")
        config, output_dir = resolve_run(FLAGS.resume, FLAGS.output_dir)
        return _train(config, output_dir)

    return run_command(argv, body)


def _train(config: TrainConfig, output_dir: Path) -> int:
    from tfnas.datasets.pipeline import pipeline_for
    from tfnas.load import load_net
    from tfnas.runtime import configure_tensorflow, make_strategy
    from tfnas.train.trainer import Trainer, prepare_spec

    spec = load_net(config.arch)  # a bad arch fails before the data loads
    configure_tensorflow(config.seed, config.deterministic, FLAGS.cpu_devices)
    started = time.monotonic()
    pipeline = pipeline_for(config, config.eval_batch_size)
    source = pipeline.source
    spec = prepare_spec(spec, source.num_classes, config.dropout, config.resolution)
    strategy = make_strategy(config.strategy)
    trainer = Trainer(config, spec, pipeline, output_dir, strategy=strategy, verbose=FLAGS.verbose)
    if FLAGS.resume:
        try:
            trainer.restore()
        except ValueError as error:
            raise ConfigError(str(error)) from None
    else:
        save_config(config, CONFIG_FORMAT, output_dir / CONFIG_FILE)
    print(
        f"training {spec.name} ({len(spec.blocks)} blocks, {config.resolution} px) on "
        f"{source.name} ({len(pipeline.train_indices)} train images), {config.epochs} epochs x "
        f"{trainer.steps_per_epoch} steps, {strategy.num_replicas_in_sync} replica(s); "
        f"output {output_dir}",
        flush=True,
    )
    summary = trainer.run()
    minutes = (time.monotonic() - started) / 60
    print(
        f"test accuracy {summary['test_accuracy']} on {summary['test_examples']} images, "
        f"{summary['params'] / 1e6:.2f}M params, {summary['macs'] / 1e6:.1f}M MACs\n"
        f"outputs in {output_dir}/ ({minutes:.1f} min)"
    )
    return 0


if __name__ == "__main__":
    app.run(lambda argv: sys.exit(main(argv)))
