"""keras-tuner over the training recipe of a fixed network: learning rate, weight decay, dropout.

`python -m tfnas.train --tune` runs this before the training run. Each trial
trains the network from scratch with the recipe (`Trainer`: SGD Nesterov,
warmup then cosine, label smoothing) and the trial's three values, for
`tune_epochs` epochs, on the training split minus a held-out split, and is
scored by its accuracy on the held-out split at the end. The test split is
never looked at while tuning. The best values then train the final run.

The ranges are log-uniform from a fifth to five times the experiment's
learning rate, log-uniform weight decay in [1e-6, 1e-3], and dropout in
[0, 0.5] by steps of 0.1. Random search and Bayesian optimization are offered;
Hyperband is not: the recipe's learning-rate schedule spans the whole run, and
Hyperband continues a promoted trial from its weights with a new, longer
schedule, which is a different recipe from the one the final run uses.

A trial whose loss diverges (five times the experiment's learning rate may)
stops at once and scores 0, with a line that says so; if every trial
diverges, tuning stops with a `DivergenceError`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras_tuner as kt

from tfnas import records
from tfnas.baselines.hypermodel import OBJECTIVE, run_tuner
from tfnas.config import tree as config_tree
from tfnas.datasets.pipeline import Pipeline
from tfnas.engine.divergence import DivergenceError
from tfnas.engine.job import start_job
from tfnas.records import TuneSummary, TuneTrial
from tfnas.train.config import TrainConfig
from tfnas.train.job import TRAIN

RECIPE_TUNERS = ("random", "bayesian")
TUNE_DIR = "tune"
SUMMARY_FILE = "tune_summary.json"
WEIGHT_DECAY_RANGE = (1e-6, 1e-3)
DROPOUT_RANGE = (0.0, 0.5)
LEARNING_RATE_FACTOR = 5.0
TUNED = ("learning_rate", "weight_decay", "dropout")
# Held out for scoring trials when the config holds out nothing.
TUNE_VALID_FRACTION = 0.1


def recipe_space(config: TrainConfig) -> kt.HyperParameters:
    """The hyperparameters tuned, around the experiment's learning rate."""
    hp = kt.HyperParameters()
    hp.Float(
        "learning_rate",
        config.recipe.learning_rate / LEARNING_RATE_FACTOR,
        config.recipe.learning_rate * LEARNING_RATE_FACTOR,
        sampling="log",
    )
    hp.Float("weight_decay", *WEIGHT_DECAY_RANGE, sampling="log")
    hp.Float("dropout", *DROPOUT_RANGE, step=0.1)
    return hp


def tune_trial(trial: str, values: dict[str, Any], metrics: dict[str, float]) -> TuneTrial:
    """The record of a finished trial (what `run_trial` returned)."""
    return TuneTrial(
        trial=trial,
        learning_rate=float(values["learning_rate"]),
        weight_decay=float(values["weight_decay"]),
        dropout=float(values["dropout"]),
        valid_accuracy=float(metrics["valid_accuracy"]),
        diverged=bool(metrics["diverged"]),
    )


def tuned(config: TrainConfig, values: dict[str, Any]) -> TrainConfig:
    """`config` with the tuned values (rounded, so config.json stays readable)."""
    return config_tree.with_values(
        config,
        {
            "learning_rate": float(f"{values['learning_rate']:.4g}"),
            "weight_decay": float(f"{values['weight_decay']:.4g}"),
            "dropout": round(float(values["dropout"]), 4),
        },
    )


def tuned_values(config: TrainConfig) -> dict[str, float]:
    """The values `--tune` tunes, as `config` has them."""
    values = config_tree.flatten(config)
    return {name: values[name] for name in TUNED}


class _RecipeTrials:
    """A tuner mixin whose trials train the recipe (`Tuner.run_trial`, no HyperModel)."""

    def __init__(self, trial: Callable[[dict[str, Any], str], dict[str, float]], **kwargs: Any):
        self._trial = trial
        super().__init__(hypermodel=None, **kwargs)

    def run_trial(self, trial: Any, *args: Any, **kwargs: Any) -> dict[str, float]:
        return self._trial(dict(trial.hyperparameters.values), trial.trial_id)


class RecipeRandomSearch(_RecipeTrials, kt.RandomSearch):
    """RandomSearch over the training recipe."""


class RecipeBayesianOptimization(_RecipeTrials, kt.BayesianOptimization):
    """BayesianOptimization over the training recipe."""


def tune_recipe(
    config: TrainConfig,
    pipeline: Pipeline,
    output_dir: Path,
    tuner: str = "bayesian",
    trials: int = 8,
    epochs: int | None = None,
    log: Callable[[str], None] = print,
) -> tuple[TrainConfig, TuneSummary]:
    """Tunes learning rate, weight decay and dropout of `config` for its network, `config.arch`.

    Args:
        config: The training config whose recipe is tuned.
        pipeline: Must hold out a valid split: trials are scored on it.
        output_dir: The run's folder; trials go to `output_dir/tune/`.
        tuner: `random` or `bayesian`.
        trials: Number of trials.
        epochs: Epochs of a trial (default the config's).
        log: Where progress lines go.

    Returns:
        The config with the best values, and the summary written to
        `output_dir/tune_summary.json`.

    Raises:
        ValueError: A tuner that is not offered, no held-out split, or bad counts.
        TrialFailedError: A trial failed (with its error).
        DivergenceError: Every trial diverged.
    """
    if tuner not in RECIPE_TUNERS:
        raise ValueError(
            f"--tuner={tuner}: expected one of {', '.join(RECIPE_TUNERS)} (Hyperband would "
            "continue promoted trials with a new learning-rate schedule, another recipe)"
        )
    if pipeline.valid_batches() is None:
        raise ValueError("--tune scores trials on a held-out split; set --valid_size >= 1")
    if trials < 1:
        raise ValueError(f"--tune_trials={trials}: expected an integer >= 1")
    trial_epochs = epochs or config.recipe.epochs
    trial_config = config_tree.with_values(
        config,
        {
            "epochs": trial_epochs,
            "warmup_epochs": min(config.recipe.warmup_epochs, trial_epochs - 1),
        },
    )
    began = time.monotonic()

    def run_trial(values: dict[str, Any], trial_id: str) -> dict[str, float]:
        trial = tuned(trial_config, values)
        # Every trial starts from the same state: start_job seeds from the config.
        trainer, _, _ = start_job(
            TRAIN,
            trial,
            output_dir / TUNE_DIR / f"trial_{trial_id}",
            pipeline=pipeline,
            log=lambda line: None,
            verbose=0,
            setup_tensorflow=False,
        )
        values_text = (
            f"trial {trial_id}: learning rate {trial.recipe.learning_rate:.4g}, weight decay "
            f"{trial.recipe.weight_decay:.3g}, dropout {trial.dropout:.1f}"
        )
        try:
            history = trainer.run(test=False).history
        except DivergenceError as error:
            log(f"{values_text}: {error}; scored 0")
            return {OBJECTIVE: 0.0, "valid_accuracy": 0.0, "diverged": 1.0}
        accuracy = float(history[-1].valid_accuracy)
        log(
            f"{values_text}: valid accuracy {accuracy:.4f} "
            f"({(time.monotonic() - began) / 60:.1f} min in)"
        )
        return {OBJECTIVE: accuracy, "valid_accuracy": accuracy, "diverged": 0.0}

    kind = RecipeBayesianOptimization if tuner == "bayesian" else RecipeRandomSearch
    options = {"num_initial_points": min(3, trials)} if tuner == "bayesian" else {}
    keras_tuner = kind(
        run_trial,
        objective=kt.Objective(OBJECTIVE, direction="max"),
        max_trials=trials,
        hyperparameters=recipe_space(config),
        seed=config.run.seed,
        directory=str(output_dir / TUNE_DIR),
        project_name=tuner,
        overwrite=True,
        **options,
    )
    rows = run_tuner(keras_tuner, record=tune_trial)
    if all(row.diverged for row in rows):
        raise DivergenceError(
            f"all {len(rows)} tuning trials diverged; lower --learning_rate (now "
            f"{config.recipe.learning_rate:g}: trials draw from a fifth to five times it) or "
            f"lengthen --warmup_epochs (now {config.recipe.warmup_epochs})"
        )
    best = tuned(config, dataclasses.asdict(rows[0]))
    summary = TuneSummary(
        tuner=tuner,
        trial_epochs=trial_config.recipe.epochs,
        held_out=len(pipeline.valid_indices),
        seconds=time.monotonic() - began,
        before=tuned_values(config),
        best=tuned_values(best),
        best_valid_accuracy=rows[0].valid_accuracy,
        trials=rows,
    )
    records.save(summary, output_dir / SUMMARY_FILE)
    return best, summary
