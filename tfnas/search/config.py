"""The typed configuration of a search, its named experiments, and its checks.

An experiment (`imagenet`, `cifar10`, `demo`) is a full set of values; flags
override single fields. The resolved config is written next to the outputs
(`config.json`) and is what `--resume` continues with.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any

from tfnas import run_config
from tfnas.datasets.pipeline import AUGMENTATIONS
from tfnas.latency.objectives import ESTIMATES, LOSS_DEFAULTS, LOSSES, REWARD_DEFAULTS, REWARDS
from tfnas.run_config import (
    ConfigError,
    config_to_dict,
    differences,
    require,
    resolve_preset,
)
from tfnas.runtime import STRATEGIES
from tfnas.search_steps import ARCH_MODES

CONFIG_FORMAT = "tfnas.search_config"


@dataclasses.dataclass(frozen=True)
class SearchConfig:
    """Everything a search run depends on. Defaults are the paper's ImageNet recipe.

    Attributes are grouped as the flags are: data, space, schedule, weight
    optimizer, architecture optimizer, latency, run.
    """

    experiment: str = "imagenet"
    # Data.
    dataset: str = "imagenet2012"
    data_dir: str | None = None
    manual_dir: str | None = None
    download: bool = False
    augment: str = "inception"
    valid_size: int = 10_000
    # Space.
    space: str = "proxyless_imagenet"
    width_mult: float = 1.0
    resolution: int = 224
    # Schedule.
    warmup_epochs: int = 40
    epochs: int = 120
    steps_per_epoch: int = 0  # 0: one pass over the training split
    batch_size: int = 256
    valid_batch_size: int = 256
    # Weights: SGD Nesterov, cosine learning rate (restarted after the warmup).
    learning_rate: float = 0.025
    momentum: float = 0.9
    nesterov: bool = True
    weight_decay: float = 4e-5
    label_smoothing: float = 0.1
    # Architecture: Adam with beta_1 = 0, one arch step every `arch_update_every`
    # weight steps, none in the first `arch_start_epoch` search epochs.
    mode: str = "two"
    arch_learning_rate: float = 1e-3
    arch_beta1: float = 0.0
    arch_beta2: float = 0.999
    arch_init_stddev: float = 1e-3
    arch_update_every: int = 5
    arch_start_epoch: int = 1
    # Latency.
    target: str = "mobile"
    target_latency: float | None = 80.0  # None: no latency term (cross-entropy only)
    loss: str = "mul_log"
    latency_estimate: str = "expected"  # or "derived": the argmax network, straight-through
    loss_params: dict[str, float] = dataclasses.field(default_factory=dict)
    reward: str = "tunas_abs"
    # Run.
    seed: int = 0
    checkpoint_every: int = 500  # weight steps; also at the end of every epoch
    log_every: int = 20
    strategy: str = "default"
    deterministic: bool = True

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, with a format header."""
        return config_to_dict(self, CONFIG_FORMAT)

    @property
    def total_epochs(self) -> int:
        """Warmup plus search epochs."""
        return self.warmup_epochs + self.epochs


FIELDS = [f.name for f in dataclasses.fields(SearchConfig)]

EXPERIMENTS: dict[str, dict[str, Any]] = {
    # The paper: ProxylessNAS space on ImageNet at 224 px, Pixel 1 at 80 ms.
    "imagenet": {},
    # The ImageNet space on CIFAR-10's 32 px images (a quick public benchmark).
    "cifar10": {
        "dataset": "cifar10",
        "augment": "pad_crop_flip",
        "valid_size": 5000,
        "resolution": 32,
        "warmup_epochs": 10,
        "epochs": 40,
        "batch_size": 128,
        "valid_batch_size": 128,
        "target": "flops",
        "target_latency": 6.0,
        "loss": "hinge",
    },
    # The embedded demo data on the small demo space: minutes on 2 CPU cores.
    "demo": {
        "dataset": "demo",
        "augment": "pad_crop",
        "valid_size": 1000,
        "space": "demo",
        "resolution": 32,
        "warmup_epochs": 4,
        "epochs": 10,
        "batch_size": 64,
        "valid_batch_size": 100,
        "learning_rate": 0.05,
        "label_smoothing": 0.0,
        "arch_learning_rate": 0.1,
        "arch_update_every": 2,
        "target": "mobile",
        # About the 20th percentile of the demo space on the `mobile` model
        # (0.29 to 0.99 ms, median of random networks 0.63), so the latency term binds.
        "target_latency": 0.55,
        "loss": "abs",
        "latency_estimate": "derived",
        "checkpoint_every": 100,
        "log_every": 10,
    },
}


def resolve(experiment: str, **overrides: Any) -> SearchConfig:
    """The experiment's config with `overrides` applied, checked.

    Raises:
        ConfigError: Unknown experiment or field, or a value out of range.
    """
    return resolve_preset(SearchConfig, EXPERIMENTS, experiment, overrides, check)


def check(config: SearchConfig) -> None:
    """Checks every field of `config`; raises `ConfigError` naming the first bad one."""
    c = config
    require(c.augment in AUGMENTATIONS, "augment", c.augment, f"one of {AUGMENTATIONS}")
    require(c.mode in ARCH_MODES, "mode", c.mode, f"one of {ARCH_MODES}")
    require(c.loss in LOSSES, "loss", c.loss, f"one of {LOSSES}")
    require(
        c.latency_estimate in ESTIMATES,
        "latency_estimate",
        c.latency_estimate,
        f"one of {ESTIMATES}",
    )
    require(c.reward in REWARDS, "reward", c.reward, f"one of {REWARDS}")
    require(c.strategy in STRATEGIES, "strategy", c.strategy, f"one of {STRATEGIES}")
    for name in ("valid_size", "resolution", "batch_size", "valid_batch_size"):
        require(getattr(c, name) >= 1, name, getattr(c, name), "an integer >= 1")
    for name in ("warmup_epochs", "epochs", "steps_per_epoch", "arch_start_epoch"):
        require(getattr(c, name) >= 0, name, getattr(c, name), "an integer >= 0")
    for name in ("arch_update_every", "checkpoint_every", "log_every"):
        require(getattr(c, name) >= 1, name, getattr(c, name), "an integer >= 1")
    require(c.total_epochs >= 1, "epochs", c.epochs, "at least one epoch in all (with warmup)")
    for name in ("learning_rate", "arch_learning_rate", "width_mult"):
        require(getattr(c, name) > 0, name, getattr(c, name), "a number > 0")
    for name in ("momentum", "arch_beta1", "arch_beta2", "label_smoothing"):
        require(0 <= getattr(c, name) < 1, name, getattr(c, name), "a number in [0, 1)")
    for name in ("weight_decay", "arch_init_stddev"):
        require(getattr(c, name) >= 0, name, getattr(c, name), "a number >= 0")
    if c.target_latency is not None:
        require(
            c.target_latency > 0,
            "target_latency",
            c.target_latency,
            "a latency > 0 in the target's unit (ms; MMACs for flops), or none to search "
            "without a latency term",
        )
    defaults = REWARD_DEFAULTS[c.reward] if c.mode == "reinforce" else LOSS_DEFAULTS[c.loss]
    what = f"reward {c.reward!r}" if c.mode == "reinforce" else f"loss {c.loss!r}"
    for name in c.loss_params:
        require(
            name in defaults,
            "loss_params",
            dict(c.loss_params),
            f"parameters of {what}: {', '.join(defaults)}",
        )


def config_from_dict(data: Any, source: str = "config") -> SearchConfig:
    """Reads a config written by `to_dict`; raises `ConfigError` naming a bad field."""
    return run_config.config_from_dict(SearchConfig, data, CONFIG_FORMAT, check, source)


def save_config(config: SearchConfig, path: str | os.PathLike[str]) -> Path:
    """Writes `config.json` atomically."""
    return run_config.save_config(config, CONFIG_FORMAT, path)


def load_config(path: str | os.PathLike[str]) -> SearchConfig:
    """Reads a `config.json` written by `save_config`."""
    return config_from_dict(run_config.read_config_json(path), str(path))


__all__ = [
    "CONFIG_FORMAT",
    "EXPERIMENTS",
    "FIELDS",
    "STRATEGIES",
    "ConfigError",
    "SearchConfig",
    "check",
    "differences",
    "load_config",
    "resolve",
    "save_config",
]
