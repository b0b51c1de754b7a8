"""The config groups every job shares: the data, the weights' recipe, the run.

`SearchConfig` and `TrainConfig` are each made of these three plus their own
values; a group's defaults are the `imagenet` experiments' where they agree,
and each command sets the rest in its own default (see `tfnas.config.tree` for
how the tree is addressed, resolved and written).
"""

from __future__ import annotations

import dataclasses
from typing import Any

from tfnas.config.tree import require
from tfnas.datasets.pipeline import AUGMENTATIONS
from tfnas.nets.initializers import INITS

# The tf.distribute strategies a run can name (`tfnas.engine.runtime.make_strategy` builds them).
STRATEGIES = ("default", "mirrored", "multi_worker")


def value(default: Any, help: str) -> Any:
    """A config field with its default and the help its flag shows."""
    if isinstance(default, dict):
        return dataclasses.field(default_factory=lambda: dict(default), metadata={"help": help})
    return dataclasses.field(default=default, metadata={"help": help})


@dataclasses.dataclass(frozen=True)
class DataConfig:
    """Where the images come from and how they are batched."""

    dataset: str = value("imagenet2012", "demo, a tensorflow-datasets name, or folder:ROOT.")
    data_dir: str | None = value(None, "tensorflow-datasets data directory.")
    manual_dir: str | None = value(None, "Manually downloaded files (imagenet2012).")
    download: bool = value(False, "Let tensorflow-datasets download and prepare the data.")
    augment: str = value("inception", f"Training augmentation: {', '.join(AUGMENTATIONS)}.")
    jitter_brightness: float = value(
        32 / 255,
        "Colour jitter: brightness factor range 1 +- this (the reference: 32/255; 0: off).",
    )
    jitter_saturation: float = value(
        0.5, "Colour jitter: saturation factor range 1 +- this (the reference: 0.5; 0: off)."
    )
    valid_size: int = value(0, "Training examples held out (0: none).")
    resolution: int = value(224, "Input resolution.")
    batch_size: int = value(256, "Global training batch.")
    eval_batch_size: int = value(256, "Batch of the held-out and test splits.")
    steps_per_epoch: int = value(0, "Steps per epoch (0: one pass over the training split).")

    def check(self, min_valid_size: int = 0) -> None:
        """Raises `ConfigError` naming the first bad value."""
        require(self.augment in AUGMENTATIONS, "augment", self.augment, f"one of {AUGMENTATIONS}")
        for name in ("resolution", "batch_size", "eval_batch_size"):
            require(getattr(self, name) >= 1, name, getattr(self, name), "an integer >= 1")
        require(
            self.steps_per_epoch >= 0, "steps_per_epoch", self.steps_per_epoch, "an integer >= 0"
        )
        for name in ("jitter_brightness", "jitter_saturation"):
            require(0 <= getattr(self, name) < 1, name, getattr(self, name), "a number in [0, 1)")
        require(
            self.valid_size >= min_valid_size,
            "valid_size",
            self.valid_size,
            f"an integer >= {min_valid_size}",
        )


@dataclasses.dataclass(frozen=True)
class RecipeConfig:
    """How the weights are trained: SGD with momentum, a schedule, regularization.

    The shape of the learning-rate schedule belongs to the job, not to the
    config (`tfnas.engine.recipe.SCHEDULES`): training ramps up linearly over
    `warmup_epochs` of its `epochs`; the search runs a cosine over its
    `warmup_epochs` and another over its `epochs` of search after them.
    """

    epochs: int = value(300, "Epochs, learning-rate warmup included.")
    warmup_epochs: int = value(5, "Epochs of linear learning-rate warmup.")
    learning_rate: float = value(0.05, "Peak learning rate (after the warmup).")
    momentum: float = value(0.9, "SGD momentum.")
    nesterov: bool = value(True, "Nesterov momentum.")
    weight_decay: float = value(4e-5, "Weight decay of kernels (not batch norm, not biases).")
    label_smoothing: float = value(0.1, "Label smoothing.")
    warmup_learning_rate: float | None = value(
        None, "Search only: peak of the weight warmup's cosine (none: --learning_rate)."
    )
    init: str = value(
        "he_fout",
        "Weight initialization: he_fout (the reference: convolutions N(0, 2/fan-out), the "
        "classifier U(+-1/sqrt(in))) or glorot (Keras' default).",
    )

    def check(self) -> None:
        """Raises `ConfigError` naming the first bad value (the job checks the epochs)."""
        require(self.learning_rate > 0, "learning_rate", self.learning_rate, "a number > 0")
        for name in ("momentum", "label_smoothing"):
            require(0 <= getattr(self, name) < 1, name, getattr(self, name), "a number in [0, 1)")
        require(self.weight_decay >= 0, "weight_decay", self.weight_decay, "a number >= 0")
        require(self.warmup_epochs >= 0, "warmup_epochs", self.warmup_epochs, "an integer >= 0")
        require(self.init in INITS, "init", self.init, f"one of {INITS}")
        if self.warmup_learning_rate is not None:
            require(
                self.warmup_learning_rate > 0,
                "warmup_learning_rate",
                self.warmup_learning_rate,
                "a number > 0, or none for --learning_rate",
            )


@dataclasses.dataclass(frozen=True)
class RunConfig:
    """How a run is carried out: seed, devices, determinism, logs and checkpoints."""

    seed: int = value(0, "Seed of the split, the data order, the augmentation and the weights.")
    checkpoint_every: int = value(1000, "Steps between checkpoints (and every epoch end).")
    log_every: int = value(50, "Steps between TensorBoard scalars and log lines.")
    strategy: str = value("default", f"tf.distribute strategy: {', '.join(STRATEGIES)}.")
    deterministic: bool = value(True, "Deterministic ops (exact resume; a little slower).")
    grappler: bool = value(
        True,
        "Grappler graph optimizations (fused kernels: steps about 30% faster on a CPU; "
        "off: faster tracing of a very large supernet).",
    )

    def check(self) -> None:
        """Raises `ConfigError` naming the first bad value."""
        require(self.strategy in STRATEGIES, "strategy", self.strategy, f"one of {STRATEGIES}")
        for name in ("checkpoint_every", "log_every"):
            require(getattr(self, name) >= 1, name, getattr(self, name), "an integer >= 1")


NO_JITTER = {"jitter_brightness": 0.0, "jitter_saturation": 0.0}
# The data of the experiments that search and training share by name; each
# command's experiment adds its own sizes (held-out split, batches).
EXPERIMENT_DATA: dict[str, dict[str, Any]] = {
    "cifar10": {"dataset": "cifar10", "augment": "pad_crop_flip", "resolution": 32, **NO_JITTER},
    "demo": {"dataset": "demo", "augment": "pad_crop", "resolution": 32, **NO_JITTER},
    # Grayscale 28 px, no colour to jitter. No augmentation: in the experiments'
    # 3 epochs a network underfits (with pad-crop-flip its train accuracy
    # stayed under its test accuracy), and augmenting cost 2.2 points of test
    # accuracy (0.889 against 0.911, one network, seed 0) and 20 s per epoch.
    "fashion_mnist": {
        "dataset": "fashion_mnist",
        "augment": "none",
        "resolution": 28,
        **NO_JITTER,
    },
}

# The small experiments keep Keras' Glorot initialization: their recipes'
# stability (5 seeds x oneDNN on and off, `benchmarks.recipe_stability`) was
# measured with it. `imagenet` uses the reference's He fan-out.
EXPERIMENT_INIT: dict[str, dict[str, Any]] = {
    "cifar10": {"init": "glorot"},
    "demo": {"init": "glorot"},
}

__all__ = ["EXPERIMENT_DATA", "EXPERIMENT_INIT", "DataConfig", "RecipeConfig", "RunConfig", "value"]
