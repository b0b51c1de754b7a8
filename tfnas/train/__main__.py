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

import dataclasses
import sys
from pathlib import Path

from absl import app, flags

from tfnas.config.flags import define_config_flags, define_job_flags
from tfnas.config.tree import ConfigError
from tfnas.datasets.pipeline import Pipeline
from tfnas.engine.job import job_main
from tfnas.train.config import EXPERIMENTS, TrainConfig
from tfnas.train.job import TRAIN
from tfnas.train.tune import TUNE_VALID_FRACTION, tune_recipe

define_job_flags("train", EXPERIMENTS)
# Config values: None means "the experiment's value".
define_config_flags(TrainConfig)
flags.DEFINE_bool("tune", False, "Tune learning rate, weight decay and dropout first.")
flags.DEFINE_enum("tuner", "bayesian", ["bayesian", "random", "hyperband"], "keras-tuner method.")
flags.DEFINE_integer("tune_trials", 8, "Trials of --tune.")
flags.DEFINE_integer("tune_epochs", 0, "Epochs of a --tune trial (0: --epochs).")

FLAGS = flags.FLAGS


def _tuned(config: TrainConfig, pipeline: Pipeline, output_dir: Path) -> TrainConfig:
    """The config with the recipe values `--tune` found best (trials on a held-out split).

    Without `--tune`, and on `--resume` (which keeps the values config.json holds), the config.
    """
    if not FLAGS.tune or FLAGS.resume:
        return config
    held_out = config.data.valid_size or round(TUNE_VALID_FRACTION * pipeline.source.train_size)
    try:
        tune_pipeline = dataclasses.replace(pipeline, valid_size=held_out)
        best, summary = tune_recipe(
            config,
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


main = job_main(TRAIN, TrainConfig, adjust=_tuned)

if __name__ == "__main__":
    app.run(lambda argv: sys.exit(main(argv)))
