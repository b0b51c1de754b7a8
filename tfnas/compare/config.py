"""The typed configuration of a comparison, and how it derives the search and training configs.

A comparison runs the search experiment of the same name (`tfnas.search.config`)
and retrains every winner with the training experiment of that name
(`tfnas.train.config`); the fields here override what the two share or what
the comparison adds (tuners, trial length, retraining seeds, where latency is
measured).
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from tfnas.baselines.hypermodel import CONSTRAINTS, TUNERS
from tfnas.config import tree as config_tree
from tfnas.config.groups import value
from tfnas.config.tree import ConfigError, require
from tfnas.search import config as search_config
from tfnas.train import config as train_config

CONFIG_FORMAT = "tfnas.compare_config"
METHOD_SEARCH = "proxylessnas"


@dataclasses.dataclass(frozen=True)
class CompareConfig:
    """Everything a comparison depends on; None means "the experiment's value".

    Attributes:
        experiment: Search and training experiment (`demo`, `cifar10`, `imagenet`).
        target: Latency target of the search and the tuners.
        target_latency: The search's target and the tuners' limit (required:
            the experiment's when None).
        tuners: Comma-separated keras-tuner methods (random, bayesian, hyperband).
        constraint: How tuners treat latency: `reject` over the limit, or a reward.
        trial_epochs: Training epochs of a random or Bayesian trial.
        hyperband_epochs: Hyperband's longest trial, in epochs.
        max_trials: Most trials of one tuner (the image budget usually ends it first).
        warmup_epochs, search_epochs: The search's schedule.
        arch_learning_rate: The search's learning rate of alpha.
        train_epochs: Epochs of every retraining.
        steps_per_epoch: Steps per epoch of the search, the trials and the
            retraining (0: one pass over the split).
        retrain_seeds: Retrain each winner with this many seeds (mean reported).
        device: Where the winners' TFLite files are timed (`host`, `adb[:SERIAL]`).
        seed: Seed of the search, the tuners and the first retraining.
    """

    experiment: str = "demo"
    target: str | None = value(None, "mobile, cpu, flops, or a latency table / cost model file.")
    target_latency: float | None = value(None, "The search's target and the tuners' limit.")
    tuners: str = value(",".join(TUNERS), f"keras-tuner methods: {','.join(TUNERS)}.")
    constraint: str = value(
        "reject", "Tuners: reject over the limit, or a reward: proxyless / mnas / tunas_abs."
    )
    trial_epochs: int = value(2, "Training epochs of a random or Bayesian trial.")
    hyperband_epochs: int = value(3, "Hyperband's longest trial, in epochs.")
    max_trials: int = value(200, "Most trials of a tuner (the budget usually stops it).")
    warmup_epochs: int | None = value(None, "The search's warmup epochs.")
    search_epochs: int | None = value(None, "The search's epochs after the warmup.")
    arch_learning_rate: float | None = value(None, "The search's Adam learning rate of alpha.")
    train_epochs: int | None = value(None, "Epochs of each retraining.")
    steps_per_epoch: int = value(0, "Steps per epoch everywhere (0: the whole split).")
    retrain_seeds: int = value(1, "Retrainings per winner (mean test accuracy).")
    device: str = value("host", "Where latency is measured: host, adb or adb:SERIAL.")
    seed: int = value(0, "Seed of the search, the tuners and the first retraining.")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, with a format header."""
        return config_tree.to_dict(self, CONFIG_FORMAT)

    @property
    def tuner_list(self) -> list[str]:
        """The tuners, in order."""
        return [name.strip() for name in self.tuners.split(",") if name.strip()]

    @property
    def methods(self) -> list[str]:
        """Every method compared: the search first, then the tuners."""
        return [METHOD_SEARCH, *self.tuner_list]

    def search(self) -> search_config.SearchConfig:
        """The search config: the experiment with this comparison's overrides."""
        overrides: dict[str, Any] = {"seed": self.seed, "steps_per_epoch": self.steps_per_epoch}
        for field, given in (
            ("target", self.target),
            ("target_latency", self.target_latency),
            ("warmup_epochs", self.warmup_epochs),
            ("epochs", self.search_epochs),
            ("arch_learning_rate", self.arch_learning_rate),
        ):
            if given is not None:
                overrides[field] = given
        return search_config.resolve(self.experiment, **overrides)

    def train(self, arch: str, seed_index: int = 0) -> train_config.TrainConfig:
        """The retraining config of one winner (`arch`) for its `seed_index`-th seed."""
        overrides: dict[str, Any] = {
            "arch": arch,
            "seed": self.seed + seed_index,
            "steps_per_epoch": self.steps_per_epoch,
        }
        if self.train_epochs is not None:
            # Shorter training keeps the experiment's warmup, less than the epochs.
            preset = train_config.resolve(self.experiment, arch=arch)
            overrides["epochs"] = self.train_epochs
            overrides["warmup_epochs"] = min(preset.recipe.warmup_epochs, self.train_epochs - 1)
        return train_config.resolve(self.experiment, **overrides)


FIELDS = config_tree.field_names(CompareConfig)


def check(config: CompareConfig) -> None:
    """Checks every field (and the configs it derives); raises `ConfigError` naming a bad one."""
    c = config
    require(
        c.experiment in search_config.EXPERIMENTS,
        "experiment",
        c.experiment,
        f"one of {', '.join(search_config.EXPERIMENTS)}",
    )
    tuners = c.tuner_list
    require(
        bool(tuners) and all(name in TUNERS for name in tuners) and len(set(tuners)) == len(tuners),
        "tuners",
        c.tuners,
        f"distinct names among {', '.join(TUNERS)}, comma-separated",
    )
    require(c.constraint in CONSTRAINTS, "constraint", c.constraint, f"one of {CONSTRAINTS}")
    for name in ("trial_epochs", "max_trials", "retrain_seeds"):
        require(getattr(c, name) >= 1, name, getattr(c, name), "an integer >= 1")
    require(c.hyperband_epochs >= 2, "hyperband_epochs", c.hyperband_epochs, "an integer >= 2")
    require(c.steps_per_epoch >= 0, "steps_per_epoch", c.steps_per_epoch, "an integer >= 0")
    if c.train_epochs is not None:
        require(c.train_epochs >= 2, "train_epochs", c.train_epochs, "an integer >= 2")
    search = c.search()
    require(
        search.latency.target_latency is not None,
        "target_latency",
        c.target_latency,
        "a latency limit: the search aims at it and the tuners must respect it",
    )
    c.train(arch="placeholder")  # the training experiment takes the overrides (any arch)


def resolve(experiment: str, **overrides: Any) -> CompareConfig:
    """The comparison of `experiment` with `overrides`, checked."""
    presets = {name: CompareConfig(experiment=name) for name in search_config.EXPERIMENTS}
    return config_tree.resolve_preset(presets, experiment, overrides, check)


def save_config(config: CompareConfig, path: str | os.PathLike[str]) -> Path:
    """Writes the comparison's `config.json` atomically."""
    return config_tree.save_config(config, CONFIG_FORMAT, path)


def load_config(path: str | os.PathLike[str]) -> CompareConfig:
    """Reads a comparison's `config.json`."""
    data = config_tree.read_config_json(path)
    return config_tree.from_dict(CompareConfig, data, CONFIG_FORMAT, check, str(path))


__all__ = ["CONFIG_FORMAT", "METHOD_SEARCH", "CompareConfig", "ConfigError", "check", "resolve"]
