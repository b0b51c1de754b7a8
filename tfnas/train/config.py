"""The typed configuration of a training run and its named experiments.

The recipe: SGD with Nesterov momentum, a linear learning-rate warmup then a
cosine decay, label smoothing, dropout before the classifier, and weight
decay on convolution and dense kernels (not on batch-norm parameters or
biases).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from tfnas.config import tree as config_tree
from tfnas.config.groups import (
    EXPERIMENT_DATA,
    EXPERIMENT_INIT,
    DataConfig,
    RecipeConfig,
    RunConfig,
    value,
)
from tfnas.config.tree import ConfigError, require, with_values

CONFIG_FORMAT = "tfnas.train_config"


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on. Defaults are the `imagenet` experiment."""

    experiment: str = "imagenet"
    arch: str = value("", "Registered network, arch.json or net.config.")
    dropout: float = value(0.1, "Dropout before the classifier.")
    data: DataConfig = dataclasses.field(default_factory=DataConfig)
    recipe: RecipeConfig = dataclasses.field(default_factory=RecipeConfig)
    run: RunConfig = dataclasses.field(default_factory=RunConfig)

    @property
    def total_epochs(self) -> int:
        """All epochs (the learning-rate warmup is part of them)."""
        return self.recipe.epochs


FIELDS = config_tree.field_names(TrainConfig)
IMAGENET = TrainConfig()

# The learning rates of the 10-class experiments stay at or under 0.04. With 10
# classes the cross-entropy's curvature in the classifier, which reads the
# 1280 pooled features of the reference networks, is far higher than with
# ImageNet's 1000 (softmax p(1 - p) of 0.09 instead of 0.001 per class at the
# start), and SGD with momentum 0.9 starts to spike, then diverge, above a
# peak learning rate of 0.086 to 0.155 (mobilenet_v2 at 32 px on the demo data,
# 3 seeds, oneDNN on and off; `python -m benchmarks.recipe_stability
# --parts=edge`), and from 0.080 for the released network with the widest head.
# The demo's earlier 0.1 sat inside that range, so whether it trained depended
# on the CPU's rounding; 0.04 keeps a factor of 2 below the lowest measured
# onset. The demo space's own networks (128 features) did not spike up to 0.4.
# See README, "Stable recipes".
EXPERIMENTS: dict[str, TrainConfig] = {
    "imagenet": IMAGENET,
    "cifar10": with_values(
        IMAGENET,
        {
            "experiment": "cifar10",
            **EXPERIMENT_DATA["cifar10"],
            **EXPERIMENT_INIT["cifar10"],
            "epochs": 100,
            "warmup_epochs": 2,
            "batch_size": 128,
            "eval_batch_size": 256,
            "learning_rate": 0.04,
            "weight_decay": 5e-4,
        },
    ),
    # A few minutes on 2 CPU cores: the searched demo network on the demo data.
    "demo": with_values(
        IMAGENET,
        {
            "experiment": "demo",
            **EXPERIMENT_DATA["demo"],
            **EXPERIMENT_INIT["demo"],
            "epochs": 6,
            "warmup_epochs": 1,
            "batch_size": 64,
            "eval_batch_size": 200,
            "learning_rate": 0.04,
            "checkpoint_every": 100,
            "log_every": 10,
        },
    ),
    # Fashion-MNIST: 3 epochs, a few minutes per network on 2 CPU cores.
    "fashion_mnist": with_values(
        IMAGENET,
        {
            "experiment": "fashion_mnist",
            **EXPERIMENT_DATA["fashion_mnist"],
            "epochs": 3,
            "warmup_epochs": 1,
            "batch_size": 128,
            "eval_batch_size": 500,
            "learning_rate": 0.1,
            "weight_decay": 5e-5,
            "checkpoint_every": 200,
            "log_every": 50,
        },
    ),
}


def check(config: TrainConfig) -> None:
    """Checks every value; raises `ConfigError` naming the first bad one."""
    c = config
    require(bool(c.arch), "arch", c.arch, "a registered network, an arch.json or a net.config")
    c.data.check()
    c.recipe.check()
    c.run.check()
    require(c.recipe.epochs >= 1, "epochs", c.recipe.epochs, "an integer >= 1")
    require(
        c.recipe.warmup_epochs < c.recipe.epochs,
        "warmup_epochs",
        c.recipe.warmup_epochs,
        "fewer than --epochs",
    )
    require(0 <= c.dropout < 1, "dropout", c.dropout, "a number in [0, 1)")
    require(
        c.recipe.warmup_learning_rate is None,
        "warmup_learning_rate",
        c.recipe.warmup_learning_rate,
        "none: training's warmup ramps linearly to --learning_rate (the value is the search's)",
    )


def resolve(experiment: str, **overrides: Any) -> TrainConfig:
    """The experiment's config with `overrides` applied, checked."""
    return config_tree.resolve_preset(EXPERIMENTS, experiment, overrides, check)


def load_config(path: str) -> TrainConfig:
    """Reads a training run's `config.json`."""
    data = config_tree.read_config_json(path)
    return config_tree.from_dict(TrainConfig, data, CONFIG_FORMAT, check, str(path))


__all__ = ["CONFIG_FORMAT", "EXPERIMENTS", "ConfigError", "TrainConfig", "check", "resolve"]
