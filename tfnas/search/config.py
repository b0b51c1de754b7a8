"""The typed configuration of a search, its named experiments, and its checks.

An experiment (`imagenet`, `cifar10`, `demo`) is a full set of values; flags
override single fields. The resolved config is written next to the outputs
(`config.json`) and is what `--resume` continues with.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from tfnas.atomic import write_text_atomic
from tfnas.datasets.pipeline import AUGMENTATIONS
from tfnas.latency.objectives import ESTIMATES, LOSS_DEFAULTS, LOSSES, REWARD_DEFAULTS, REWARDS
from tfnas.search_steps import ARCH_MODES

STRATEGIES = ("default", "mirrored", "multi_worker")
CONFIG_FORMAT = "tfnas.search_config"
SCHEMA_VERSION = 1


class ConfigError(ValueError):
    """A config value that cannot be used; the message names the field and the fix."""


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
        return {
            "format": CONFIG_FORMAT,
            "schema_version": SCHEMA_VERSION,
            **dataclasses.asdict(self),
        }

    @property
    def total_epochs(self) -> int:
        """Warmup plus search epochs."""
        return self.warmup_epochs + self.epochs


FIELDS = {f.name: f for f in dataclasses.fields(SearchConfig)}

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
        "target_latency": 1.0,
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
    if experiment not in EXPERIMENTS:
        raise ConfigError(
            f"unknown experiment {experiment!r}; choose one of {', '.join(EXPERIMENTS)}"
        )
    unknown = sorted(set(overrides) - set(FIELDS))
    if unknown:
        raise ConfigError(f"unknown config fields {unknown}; known: {', '.join(FIELDS)}")
    values = {**EXPERIMENTS[experiment], **overrides, "experiment": experiment}
    config = SearchConfig(**values)
    check(config)
    return config


def _require(condition: bool, field: str, value: Any, expected: str) -> None:
    if not condition:
        raise ConfigError(f"--{field}={value!r}: expected {expected}")


def check(config: SearchConfig) -> None:
    """Checks every field of `config`; raises `ConfigError` naming the first bad one."""
    c = config
    _require(c.augment in AUGMENTATIONS, "augment", c.augment, f"one of {AUGMENTATIONS}")
    _require(c.mode in ARCH_MODES, "mode", c.mode, f"one of {ARCH_MODES}")
    _require(c.loss in LOSSES, "loss", c.loss, f"one of {LOSSES}")
    _require(
        c.latency_estimate in ESTIMATES,
        "latency_estimate",
        c.latency_estimate,
        f"one of {ESTIMATES}",
    )
    _require(c.reward in REWARDS, "reward", c.reward, f"one of {REWARDS}")
    _require(c.strategy in STRATEGIES, "strategy", c.strategy, f"one of {STRATEGIES}")
    for name in ("valid_size", "resolution", "batch_size", "valid_batch_size"):
        _require(getattr(c, name) >= 1, name, getattr(c, name), "an integer >= 1")
    for name in ("warmup_epochs", "epochs", "steps_per_epoch", "arch_start_epoch"):
        _require(getattr(c, name) >= 0, name, getattr(c, name), "an integer >= 0")
    for name in ("arch_update_every", "checkpoint_every", "log_every"):
        _require(getattr(c, name) >= 1, name, getattr(c, name), "an integer >= 1")
    _require(c.total_epochs >= 1, "epochs", c.epochs, "at least one epoch in all (with warmup)")
    for name in ("learning_rate", "arch_learning_rate", "width_mult"):
        _require(getattr(c, name) > 0, name, getattr(c, name), "a number > 0")
    for name in ("momentum", "arch_beta1", "arch_beta2", "label_smoothing"):
        _require(0 <= getattr(c, name) < 1, name, getattr(c, name), "a number in [0, 1)")
    for name in ("weight_decay", "arch_init_stddev"):
        _require(getattr(c, name) >= 0, name, getattr(c, name), "a number >= 0")
    if c.target_latency is not None:
        _require(
            c.target_latency > 0,
            "target_latency",
            c.target_latency,
            "a latency > 0 in the target's unit (ms; MMACs for flops), or none to search "
            "without a latency term",
        )
    defaults = REWARD_DEFAULTS[c.reward] if c.mode == "reinforce" else LOSS_DEFAULTS[c.loss]
    what = f"reward {c.reward!r}" if c.mode == "reinforce" else f"loss {c.loss!r}"
    for name in c.loss_params:
        _require(
            name in defaults,
            "loss_params",
            dict(c.loss_params),
            f"parameters of {what}: {', '.join(defaults)}",
        )


def config_from_dict(data: Any, source: str = "config") -> SearchConfig:
    """Reads a config written by `to_dict`; raises `ConfigError` naming a bad field."""
    if not isinstance(data, dict) or data.get("format") != CONFIG_FORMAT:
        raise ConfigError(f"{source}: not a tfnas search config (format {CONFIG_FORMAT!r})")
    if data.get("schema_version") != SCHEMA_VERSION:
        raise ConfigError(
            f"{source}: schema_version {data.get('schema_version')!r}, this tfnas reads "
            f"{SCHEMA_VERSION}; start a new run"
        )
    values = {k: v for k, v in data.items() if k not in ("format", "schema_version")}
    unknown = sorted(set(values) - set(FIELDS))
    if unknown:
        raise ConfigError(f"{source}: unknown fields {unknown}")
    config = SearchConfig(**values)
    check(config)
    return config


def save_config(config: SearchConfig, path: str | os.PathLike[str]) -> Path:
    """Writes `config.json` atomically."""
    return write_text_atomic(path, json.dumps(config.to_dict(), indent=2) + "\n")


def load_config(path: str | os.PathLike[str]) -> SearchConfig:
    """Reads a `config.json` written by `save_config`."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, json.JSONDecodeError) as error:
        raise ConfigError(f"{path}: cannot read the run's config: {error}") from None
    return config_from_dict(data, str(path))


def differences(saved: SearchConfig, given: dict[str, Any]) -> list[str]:
    """Fields of `given` whose values differ from `saved`, as `name: saved -> given`."""
    return [
        f"{name}: {getattr(saved, name)!r} -> {value!r}"
        for name, value in sorted(given.items())
        if getattr(saved, name) != value
    ]
