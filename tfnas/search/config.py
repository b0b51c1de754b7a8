"""The typed configuration of a search, its named experiments, and its checks.

An experiment (`imagenet`, `cifar10`, `demo`, `fashion_mnist`) is a full set of values; flags
override single fields. The resolved config is written next to the outputs
(`config.json`) and is what `--resume` continues with.
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from tfnas.config import tree as config_tree
from tfnas.config.groups import (
    EXPERIMENT_DATA,
    EXPERIMENT_INIT,
    STRATEGIES,
    DataConfig,
    RecipeConfig,
    RunConfig,
    value,
)
from tfnas.config.tree import ConfigError, differences, require, with_values
from tfnas.latency.objectives import ESTIMATES, LOSS_DEFAULTS, LOSSES, REWARD_DEFAULTS, REWARDS
from tfnas.search.steps import ARCH_MODES, BASELINE_RULES, ZERO_RULES

CONFIG_FORMAT = "tfnas.search_config"
# Names of values before the groups: the search's batch of the held-out split
# is the shared `eval_batch_size` (the arch steps have their own, `arch_batch_size`).
ALIASES = {"valid_batch_size": "eval_batch_size"}


@dataclasses.dataclass(frozen=True)
class ArchSearchConfig:
    """How alpha is learned.

    Adam with beta_1 = 0, one arch step every `arch_update_every` weight steps,
    none in the first `arch_start_epoch` search epochs. `reinforce` runs as
    the reference's RL search: `rl_samples` networks per update, scored on one
    held-out batch of `rl_batch_size`, `rl_updates_per_epoch` updates per
    epoch, the baseline `rl_baseline` with weight `rl_baseline_weight`.
    """

    mode: str = value("two", "Arch gradient: two, full_v2, full, or reinforce.")
    arch_learning_rate: float = value(1e-3, "Adam learning rate of alpha.")
    arch_beta1: float = value(0.0, "Adam beta_1 of alpha (the paper: 0).")
    arch_beta2: float = value(0.999, "Adam beta_2 of alpha.")
    arch_epsilon: float = value(1e-8, "Adam epsilon of alpha (the reference: 1e-8).")
    arch_init_stddev: float = value(1e-3, "Stddev of alpha's normal initialization.")
    arch_update_every: int = value(5, "Weight steps per arch step.")
    arch_batch_size: int = value(
        0,
        "Held-out images per gradient arch step (0: the training batch, as the reference's "
        "grad_data_batch=None).",
    )
    arch_start_epoch: int = value(1, "Search epochs without arch steps.")
    zero_sampled: str = value(
        "skip",
        "A block whose sampled path is Zero: skip its alpha update on that arch step "
        "(the reference) or update it like any other block.",
    )
    rl_samples: int = value(10, "REINFORCE: networks sampled per update (the reference: 10).")
    rl_batch_size: int = value(
        1000, "REINFORCE: held-out images per update, shared by its samples (the reference: 1000)."
    )
    rl_updates_per_epoch: int = value(
        300,
        "REINFORCE: updates per search epoch, spread evenly over its weight steps, at most "
        "one per step (the reference: 300); 0: one every arch_update_every steps.",
    )
    rl_baseline: str = value(
        "reference",
        "REINFORCE baseline: reference (updated with this update's mean reward first, then "
        "used) or previous (the baseline of the earlier updates: unbiased).",
    )
    rl_baseline_weight: float = value(
        0.99, "REINFORCE: weight of an update's mean reward in the baseline (the reference: 0.99)."
    )


@dataclasses.dataclass(frozen=True)
class LatencyConfig:
    """The latency term of the arch objective (or the REINFORCE reward)."""

    target: str = value("mobile", "mobile, cpu, flops, or a latency table / cost model file.")
    target_latency: float | None = value(
        80.0, "Target latency in ms (MMACs for flops); none: no latency term."
    )
    loss: str = value("mul_log", f"Latency loss: {', '.join(LOSSES)}.")
    latency_estimate: str = value(
        "expected", "expected (E[LAT]) or derived (the argmax net, straight-through)."
    )
    loss_params: dict[str, float] = value({}, "Loss (or reward) parameters, e.g. lam=0.3,beta=0.5.")
    reward: str = value(
        "proxyless", f"REINFORCE reward: {', '.join(REWARDS)} (proxyless: acc * (T/LAT)^0.1)."
    )


@dataclasses.dataclass(frozen=True)
class SearchConfig:
    """Everything a search run depends on. Defaults are the paper's ImageNet recipe.

    The weights: SGD Nesterov, a cosine learning rate over the warmup epochs
    (uniformly sampled paths, no arch steps), restarted for the search epochs.
    """

    experiment: str = "imagenet"
    space: str = value("proxyless_imagenet", "Registered search space.")
    width_mult: float = value(1.0, "Width multiplier of the space.")
    bn_calibration_images: int = value(
        500,
        "Training images that re-estimate the derived network's batch-norm statistics "
        "before it is evaluated (SPOS, Once-for-All).",
    )
    data: DataConfig = dataclasses.field(default_factory=lambda: DataConfig(valid_size=50_000))
    recipe: RecipeConfig = dataclasses.field(
        default_factory=lambda: RecipeConfig(
            epochs=120, warmup_epochs=40, learning_rate=0.025, warmup_learning_rate=0.05
        )
    )
    arch_search: ArchSearchConfig = dataclasses.field(default_factory=ArchSearchConfig)
    latency: LatencyConfig = dataclasses.field(default_factory=LatencyConfig)
    run: RunConfig = dataclasses.field(
        default_factory=lambda: RunConfig(checkpoint_every=500, log_every=20)
    )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, with a format header."""
        return config_tree.to_dict(self, CONFIG_FORMAT)

    @property
    def total_epochs(self) -> int:
        """Warmup plus search epochs."""
        return self.recipe.warmup_epochs + self.recipe.epochs


FIELDS = config_tree.field_names(SearchConfig)
# How the search's flags read where they mean more than the shared groups say.
FLAG_HELP = {
    "valid_size": "Training examples held out for the arch steps.",
    "eval_batch_size": "Batch of the evaluations (was --valid_batch_size).",
    "warmup_epochs": "Epochs of weights on uniformly sampled paths.",
    "epochs": "Search epochs after the warmup.",
    "learning_rate": "Initial weight learning rate (cosine, restarted after the warmup).",
    "weight_decay": "L2 on the weights.",
    "label_smoothing": "Label smoothing of the weight steps.",
    "steps_per_epoch": "Weight steps per epoch (0: the whole split).",
    "checkpoint_every": "Weight steps between checkpoints (and every epoch end).",
    "log_every": "Weight steps between TensorBoard scalars and log lines.",
    "seed": "Seed of the split, the data order, the paths and alpha.",
}
IMAGENET = SearchConfig()

EXPERIMENTS: dict[str, SearchConfig] = {
    # The paper: ProxylessNAS space on ImageNet at 224 px, Pixel 1 at 80 ms.
    "imagenet": IMAGENET,
    # The ImageNet space on CIFAR-10's 32 px images (a quick public benchmark).
    "cifar10": with_values(
        IMAGENET,
        {
            "experiment": "cifar10",
            **EXPERIMENT_DATA["cifar10"],
            **EXPERIMENT_INIT["cifar10"],
            "valid_size": 5000,
            "warmup_epochs": 10,
            "epochs": 40,
            "batch_size": 128,
            "eval_batch_size": 128,
            "target": "flops",
            "target_latency": 6.0,
            "loss": "hinge",
        },
    ),
    # The embedded demo data on the small demo space: minutes on 2 CPU cores.
    "demo": with_values(
        IMAGENET,
        {
            "experiment": "demo",
            **EXPERIMENT_DATA["demo"],
            **EXPERIMENT_INIT["demo"],
            "valid_size": 1000,
            "space": "demo",
            "warmup_epochs": 4,
            "epochs": 10,
            "batch_size": 64,
            "eval_batch_size": 100,
            # The demo's documented searches ran their arch steps on the
            # evaluation batch, before arch_batch_size existed.
            "arch_batch_size": 100,
            "learning_rate": 0.05,
            "warmup_learning_rate": None,
            "label_smoothing": 0.0,
            "arch_learning_rate": 0.1,
            "arch_update_every": 2,
            # REINFORCE at the demo's scale: 78 steps an epoch, 1000 held out.
            "rl_batch_size": 100,
            "rl_updates_per_epoch": 20,
            "target": "mobile",
            # About the 20th percentile of the demo space on the `mobile` model
            # (0.29 to 0.99 ms, median of random networks 0.63), so the latency term binds.
            "target_latency": 0.55,
            "loss": "abs",
            "latency_estimate": "derived",
            "checkpoint_every": 100,
            "log_every": 10,
        },
    ),
    # Fashion-MNIST (grayscale 28 px, offline from Debian's IDX files) on the
    # fashion_mnist space: 2 warmup + 3 search epochs, about 8 min on 2 CPU
    # cores, against 3.5 min for training one network for 3 epochs.
    "fashion_mnist": with_values(
        IMAGENET,
        {
            "experiment": "fashion_mnist",
            **EXPERIMENT_DATA["fashion_mnist"],
            "valid_size": 5000,
            "space": "fashion_mnist",
            # With 1 warmup epoch, a peak rate of 0.05 and no arch steps in the
            # first search epoch, the derived path reached 0.60 held out after
            # 2 epochs and alpha had moved in one epoch only: every search
            # epoch updates alpha, at the training's rate.
            "warmup_epochs": 2,
            "epochs": 3,
            "arch_start_epoch": 0,
            "batch_size": 128,
            "eval_batch_size": 250,
            "learning_rate": 0.1,
            "warmup_learning_rate": None,
            # 86 arch steps an epoch: Adam at 1e-3 would move alpha by 0.3 in
            # all, too little to leave the uniform start.
            "arch_learning_rate": 0.05,
            "rl_batch_size": 1000,
            "rl_updates_per_epoch": 40,
            "target": "mobile",
            # About the 25th percentile of the space on the `mobile` model
            # (0.71 to 2.65 ms, median of random networks 1.69).
            "target_latency": 1.5,
            "loss": "abs",
            "latency_estimate": "derived",
            "checkpoint_every": 200,
            "log_every": 50,
        },
    ),
}


def resolve(experiment: str, **overrides: Any) -> SearchConfig:
    """The experiment's config with `overrides` applied, checked.

    Raises:
        ConfigError: Unknown experiment or field, or a value out of range.
    """
    return config_tree.resolve_preset(EXPERIMENTS, experiment, overrides, check, ALIASES)


def check(config: SearchConfig) -> None:
    """Checks every value of `config`; raises `ConfigError` naming the first bad one."""
    c, a, lat = config, config.arch_search, config.latency
    c.data.check(min_valid_size=1)
    c.recipe.check()
    c.run.check()
    require(a.mode in ARCH_MODES, "mode", a.mode, f"one of {ARCH_MODES}")
    require(lat.loss in LOSSES, "loss", lat.loss, f"one of {LOSSES}")
    require(a.zero_sampled in ZERO_RULES, "zero_sampled", a.zero_sampled, f"one of {ZERO_RULES}")
    require(
        lat.latency_estimate in ESTIMATES,
        "latency_estimate",
        lat.latency_estimate,
        f"one of {ESTIMATES}",
    )
    require(lat.reward in REWARDS, "reward", lat.reward, f"one of {REWARDS}")
    require(a.rl_samples >= 1, "rl_samples", a.rl_samples, "an integer >= 1")
    require(a.rl_batch_size >= 1, "rl_batch_size", a.rl_batch_size, "an integer >= 1")
    require(
        a.rl_updates_per_epoch >= 0,
        "rl_updates_per_epoch",
        a.rl_updates_per_epoch,
        "an integer >= 0 (0: one update every --arch_update_every weight steps)",
    )
    require(
        a.rl_baseline in BASELINE_RULES, "rl_baseline", a.rl_baseline, f"one of {BASELINE_RULES}"
    )
    require(
        0 < a.rl_baseline_weight <= 1,
        "rl_baseline_weight",
        a.rl_baseline_weight,
        "a number in (0, 1]",
    )
    if a.mode == "reinforce":
        require(
            a.rl_batch_size <= c.data.valid_size,
            "rl_batch_size",
            a.rl_batch_size,
            f"at most --valid_size ({c.data.valid_size}): one update's batch comes from the "
            "held-out split; lower --rl_batch_size or raise --valid_size",
        )
    require(c.recipe.epochs >= 0, "epochs", c.recipe.epochs, "an integer >= 0")
    require(a.arch_start_epoch >= 0, "arch_start_epoch", a.arch_start_epoch, "an integer >= 0")
    require(a.arch_update_every >= 1, "arch_update_every", a.arch_update_every, "an integer >= 1")
    require(
        a.arch_batch_size >= 0,
        "arch_batch_size",
        a.arch_batch_size,
        "an integer >= 0 (0: the training batch)",
    )
    require(
        c.total_epochs >= 1, "epochs", c.recipe.epochs, "at least one epoch in all (with warmup)"
    )
    for name in ("arch_learning_rate", "arch_epsilon"):
        require(getattr(a, name) > 0, name, getattr(a, name), "a number > 0")
    require(c.width_mult > 0, "width_mult", c.width_mult, "a number > 0")
    require(
        c.bn_calibration_images >= 1,
        "bn_calibration_images",
        c.bn_calibration_images,
        "an integer >= 1",
    )
    for name in ("arch_beta1", "arch_beta2"):
        require(0 <= getattr(a, name) < 1, name, getattr(a, name), "a number in [0, 1)")
    require(a.arch_init_stddev >= 0, "arch_init_stddev", a.arch_init_stddev, "a number >= 0")
    if lat.target_latency is not None:
        require(
            lat.target_latency > 0,
            "target_latency",
            lat.target_latency,
            "a latency > 0 in the target's unit (ms; MMACs for flops), or none to search "
            "without a latency term",
        )
    reinforce = a.mode == "reinforce"
    defaults = REWARD_DEFAULTS[lat.reward] if reinforce else LOSS_DEFAULTS[lat.loss]
    what = f"reward {lat.reward!r}" if reinforce else f"loss {lat.loss!r}"
    for name in lat.loss_params:
        require(
            name in defaults,
            "loss_params",
            dict(lat.loss_params),
            f"parameters of {what}: {', '.join(defaults)}",
        )


def config_from_dict(data: Any, source: str = "config") -> SearchConfig:
    """Reads a config written by `to_dict`; raises `ConfigError` naming a bad field."""
    return config_tree.from_dict(
        SearchConfig, with_old_settings(data), CONFIG_FORMAT, check, source, ALIASES
    )


def with_old_settings(data: Any) -> Any:
    """`data` with the settings a search saved before their fields existed ran with.

    Read without the fields, the defaults would change a resumed search
    halfway: such a search ran its arch steps on the evaluation batch
    (`arch_batch_size`), without Grappler (`grappler`).
    """
    if not isinstance(data, dict):
        return data
    if data.get("schema_version") == 1:  # flat
        old = data.get("eval_batch_size", data.get("valid_batch_size"))
        filled = {"grappler": False, **({} if old is None else {"arch_batch_size": old})}
        return {**filled, **data}
    groups = {name: data.get(name) for name in ("arch_search", "data", "run")}
    if not all(isinstance(group, dict) for group in groups.values()):
        return data  # from_dict names what is wrong
    arch, run = groups["arch_search"], groups["run"]
    if "eval_batch_size" in groups["data"]:
        arch = {"arch_batch_size": groups["data"]["eval_batch_size"], **arch}
    return {**data, "arch_search": arch, "run": {"grappler": False, **run}}


def load_config(path: str | os.PathLike[str]) -> SearchConfig:
    """Reads a `config.json` (written by `tfnas.search.job.SEARCH.save_config`)."""
    return config_from_dict(config_tree.read_config_json(path), str(path))


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
]
