"""The weights' recipe of every job: SGD, its learning-rate schedule and the loss.

One `Recipe` is made from a `RecipeConfig` and the job's steps per epoch;
the search, training, the keras-tuner trials and QAT fine-tuning take their
optimizer, schedule and loss from it, so a recipe value means the same thing
everywhere. The schedule's shape is the job's:

- `linear_warmup_cosine` (training, QAT): `epochs` in all, the first
  `warmup_epochs` a linear ramp from 0 to `learning_rate`, then a cosine to 0;
- `cosine_restart` (the search, as the reference): a cosine from
  `warmup_learning_rate` (default `learning_rate`) over the `warmup_epochs`
  of weight warmup, then one from `learning_rate` over the `epochs` of search;
- `constant` (keras-tuner trials): `learning_rate` throughout, because a
  trial's length is the tuner's choice (Hyperband trains some trials for
  one epoch and continues others), and a schedule tied to one length would
  give trials of different lengths different rates.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from typing import Any

import keras
import tensorflow as tf

from tfnas.config.groups import RecipeConfig
from tfnas.engine.losses import cross_entropy

SCHEDULES = ("linear_warmup_cosine", "cosine_restart", "constant")
# Whether Keras compiles `fit`'s step with XLA. Left to itself, Keras 3
# (`jit_compile="auto"`) turns XLA on when a GPU is visible, so a keras-tuner
# trial would compile differently on a GPU than on a CPU. tfnas's own loops
# (`Trainer`, the search's steps) are `tf.function`s without XLA, and on a
# 2-core AMD EPYC XLA made `fit` 23x slower (issue 33's probe): every `fit`
# here says False, so the baselines run the kernels of the trainings they are
# compared with on any machine.
JIT_COMPILE = False
# Batch-norm scales and offsets and biases get no weight decay.
NO_DECAY = ["gamma", "beta", "bias"]


@dataclasses.dataclass(frozen=True)
class Recipe:
    """Optimizer, schedule and loss of one job.

    Attributes:
        config: The recipe's values.
        steps_per_epoch: Weight steps per epoch of the job.
        schedule: One of `SCHEDULES` (the job's, see the module).
    """

    config: RecipeConfig
    steps_per_epoch: int
    schedule: str = "linear_warmup_cosine"

    def __post_init__(self) -> None:
        if self.schedule not in SCHEDULES:
            raise ValueError(f"schedule {self.schedule!r}: expected one of {', '.join(SCHEDULES)}")
        if self.steps_per_epoch < 1:
            raise ValueError(f"steps per epoch {self.steps_per_epoch!r}: expected >= 1")

    @property
    def total_epochs(self) -> int:
        """Epochs of the whole job (the search's warmup is on top of its `epochs`)."""
        c = self.config
        return c.warmup_epochs + c.epochs if self.schedule == "cosine_restart" else c.epochs

    @property
    def total_steps(self) -> int:
        """Weight steps of the whole job."""
        return self.total_epochs * self.steps_per_epoch

    def learning_rate(self, step: int) -> float:
        """The learning rate of weight step `step` (0-based)."""
        peak = self.config.learning_rate
        warmup = self.config.warmup_epochs * self.steps_per_epoch
        if self.schedule == "constant":
            return peak
        if self.schedule == "cosine_restart":
            if step < warmup:
                position, length = step, warmup
                peak = self.config.warmup_learning_rate or peak
            else:
                position, length = step - warmup, self.config.epochs * self.steps_per_epoch
            return 0.5 * peak * (1.0 + math.cos(math.pi * position / max(length, 1)))
        if step < warmup:
            return peak * (step + 1) / warmup
        progress = (step - warmup) / max(self.total_steps - warmup, 1)
        return 0.5 * peak * (1.0 + math.cos(math.pi * progress))

    def sgd(self, variables: Sequence[Any] | None = None, keras_module: Any = keras) -> Any:
        """SGD with the recipe's momentum and decoupled weight decay (kernels only).

        Args:
            variables: Built for these now (None: at the first step).
            keras_module: `keras` (Keras 3) or `tf_keras` (QAT's quantized models).
        """
        c = self.config
        optimizer = keras_module.optimizers.SGD(
            self.learning_rate(0),
            momentum=c.momentum,
            nesterov=c.nesterov,
            weight_decay=c.weight_decay or None,
        )
        if c.weight_decay:
            optimizer.exclude_from_weight_decay(var_names=NO_DECAY)
        if variables is not None:
            optimizer.build(variables)
        return optimizer

    def compile(self, model: Any, keras_module: Any = keras) -> None:
        """Compiles `model` for `fit` with the recipe's SGD and loss, and `JIT_COMPILE`.

        Args:
            model: A `keras` (Keras 3) or `tf_keras` model, as `keras_module`.
            keras_module: `keras`, or `tf_keras` for QAT's quantized models.
        """
        model.compile(
            self.sgd(keras_module=keras_module),
            loss=self.loss,
            metrics=["accuracy"],
            jit_compile=JIT_COMPILE,
        )

    def sgd_arguments(self) -> dict[str, Any]:
        """The SGD arguments of the recipe (the first step's rate), for an SGD of the job's own.

        The search's `SampledPathSGD` takes these and, as the paper, L2 on the
        weights (`weight_decay` as `l2`) instead of decoupled weight decay.
        """
        c = self.config
        return {
            "learning_rate": self.learning_rate(0),
            "momentum": c.momentum,
            "nesterov": c.nesterov,
        }

    def loss(self, labels: tf.Tensor, logits: tf.Tensor) -> tf.Tensor:
        """Mean cross-entropy of a batch, with the recipe's label smoothing (integer labels)."""
        return tf.reduce_mean(cross_entropy(labels, logits, self.config.label_smoothing))

    def schedule_callback(self, keras_module: Any = keras, first_step: int = 0) -> Any:
        """A Keras callback that sets the optimizer's learning rate before every batch of `fit`."""
        recipe = self

        class Schedule(keras_module.callbacks.Callback):
            """Sets `learning_rate(step)` before each training batch."""

            def __init__(self) -> None:
                super().__init__()
                self.step = first_step

            def on_train_batch_begin(self, batch: int, logs: Any = None) -> None:
                self.model.optimizer.learning_rate = recipe.learning_rate(self.step)
                self.step += 1

        return Schedule()


__all__ = ["NO_DECAY", "SCHEDULES", "Recipe"]
