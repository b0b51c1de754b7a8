"""Telling a diverged run from a training one, so that divergence is an error, not a result.

A training loop feeds every step's loss to a `LossGuard`. It raises
`DivergenceError` when

- the loss is not finite (NaN or infinite), at once; or
- the mean loss of the last `window` steps stays above `factor` times the
  larger of the run's starting loss and the chance-level loss `ln(classes)`.

Why these numbers (measured on the demo recipe, `README.md`, "Stable
recipes"): a healthy run's 20-step mean never rose above 1.10x its first
steps' loss; the runs that ended near chance (test accuracy 0.14 to 0.44)
reached 1.62x to 1.83x, and a run that spiked and recovered (0.99) 1.27x.
The chance-level floor keeps the guard quiet when a run starts from a
trained network (QAT fine-tuning starts near 0.5, far below chance): only a
loss worse than guessing by half again counts there. The starting loss is
the first step's, computed before any update: with an absurd learning rate
the second step can already be off the scale.

Checkpoints are written only while the recent losses average under the
threshold and the weights are finite, so the checkpoint a diverged run
leaves behind is one to resume from (with a lower learning rate), never the
broken state; and a run whose last steps are over the threshold writes no
model (`check_end`).
"""

from __future__ import annotations

import collections
import math
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from tfnas.errors import UserError

# Steps whose mean loss is compared with the threshold: long enough that one
# hard batch (or one badly sampled supernet path) does not trip it.
WINDOW = 20
# How far above max(starting loss, chance) the window's mean may stay.
FACTOR = 1.5


class DivergenceError(UserError, RuntimeError):
    """A run diverged; the message says at which step, how, and which flag to change."""


class LossGuard:
    """Watches a run's per-step loss and raises `DivergenceError` when it diverges.

    Args:
        what: What is trained, for the message ("training", "the search's weights").
        advice: What to change, for the message ("lower --learning_rate (now 0.1)").
        num_classes: Classes of the task; `ln(num_classes)` is the chance-level loss.
        window: Steps whose mean is compared with the threshold.
        factor: How far above max(start, chance) that mean may go.
        resumable: Whether the run writes checkpoints to resume from (the
            message then says which one is kept).

    Attributes:
        start: The run's starting loss, once its first steps are seen.
        peak_ratio: The highest window mean so far over max(start, chance):
            how near the run came to divergence (`factor`).
    """

    def __init__(
        self,
        what: str,
        advice: str,
        num_classes: int,
        window: int = WINDOW,
        factor: float = FACTOR,
        resumable: bool = True,
    ) -> None:
        if window < 1 or factor <= 1 or num_classes < 2:
            raise ValueError(
                f"LossGuard(window={window}, factor={factor}, num_classes={num_classes}): "
                "expected window >= 1, factor > 1 and num_classes >= 2"
            )
        self.what = what
        self.advice = advice
        self.chance = math.log(num_classes)
        self.window = window
        self.factor = factor
        self.start: float | None = None
        self._recent: collections.deque[float] = collections.deque(maxlen=window)
        self.resumable = resumable
        self.peak_ratio = 0.0
        self.last_checkpoint: str | None = None

    @property
    def threshold(self) -> float | None:
        """The window mean above which the run has diverged (None until the first step)."""
        if self.start is None:
            return None
        return self.factor * max(self.start, self.chance)

    def state(self) -> dict[str, Any]:
        """What a checkpoint keeps, so that a resumed run goes on watching as if never stopped."""
        return {"start": self.start, "peak_ratio": self.peak_ratio, "recent": list(self._recent)}

    def restore(self, state: dict[str, Any] | None) -> None:
        """Takes back what `state()` returned (a checkpoint of an older run may have none)."""
        state = state or {}
        self.start = state.get("start")
        self.peak_ratio = state.get("peak_ratio", 0.0)
        self._recent.clear()
        self._recent.extend(state.get("recent", []))

    def observe(self, step: int, loss: float, where: str = "") -> None:
        """Takes the loss of `step` (0-based); raises `DivergenceError` when the run diverged.

        Args:
            step: The step whose loss this is.
            loss: Its training loss.
            where: Where the step is, for the message ("epoch 3").
        """
        at = f"step {step + 1}" + (f" ({where})" if where else "")
        if not math.isfinite(loss):
            self._fail(f"the loss is {loss} at {at}")
        if self.start is None:
            self.start = loss
        self._recent.append(loss)
        threshold = self.threshold
        if threshold is None or len(self._recent) < self.window:
            return
        mean = sum(self._recent) / len(self._recent)
        # How near the run came to the threshold: 1.0 is its start (or chance),
        # `factor` is divergence. The benchmarks report it as the run's margin.
        self.peak_ratio = max(self.peak_ratio, mean / (threshold / self.factor))
        if mean > threshold:
            self._fail(
                f"the loss averaged {mean:.3g} over the {self.window} steps to {at}, "
                f"over {self.factor:g}x max(its start {self.start:.3g}, chance "
                f"{self.chance:.3g})"
            )

    def recent_mean(self) -> float | None:
        """The mean of the losses in the window so far (None before the first)."""
        return sum(self._recent) / len(self._recent) if self._recent else None

    def healthy(self) -> bool:
        """Whether the recent losses, however few, average under the threshold.

        A checkpoint is written only then: with fewer steps than a window
        since the start or a resume, a run can already be off the scale
        without having tripped the guard, and its state is not one to resume.
        """
        mean, threshold = self.recent_mean(), self.threshold
        return mean is None or threshold is None or mean <= threshold

    def check_end(self, step: int) -> None:
        """Raises `DivergenceError` unless the run ends healthy: no model from a diverged run."""
        if not self.healthy():
            self._fail(
                f"the loss averaged {self.recent_mean():.3g} over its last "
                f"{len(self._recent)} steps to the end (step {step}), over {self.factor:g}x "
                f"max(its start {self.start:.3g}, chance {self.chance:.3g})"
            )

    def require_finite(self, value: float, name: str, step: int, advice: str) -> None:
        """Raises `DivergenceError` unless `value` (another loss of the run) is finite.

        For losses with no scale to compare with (the search's arch steps):
        only NaN and infinity count, and `advice` names their own flag.
        """
        if not math.isfinite(value):
            self._fail(f"{name} is {value} at step {step + 1}", advice)

    def check_weights(self, variables: Iterable[Any], step: int) -> None:
        """Raises `DivergenceError` if any variable holds a NaN or an infinity.

        Called before a checkpoint is written: a loss is computed before its
        step's update, so the weights can break one step before the loss shows it.
        """
        import tensorflow as tf

        for variable in variables:
            if not bool(tf.reduce_all(tf.math.is_finite(variable))):
                name = getattr(variable, "path", None) or getattr(variable, "name", "?")
                self._fail(f"the weights of {name} are not finite after step {step}")

    def saved(self, where: str) -> None:
        """Notes that a checkpoint passed the checks and was written (named in the error)."""
        self.last_checkpoint = where

    def _fail(self, what_happened: str, advice: str | None = None) -> None:
        if not self.resumable:
            resume = ""
        elif self.last_checkpoint:
            resume = (
                f"; the last good checkpoint ({self.last_checkpoint}) is kept: rerun with "
                "--resume and the changed flag"
            )
        else:
            resume = "; no checkpoint was written before it: start the run again with it"
        raise DivergenceError(
            f"{self.what} diverged: {what_happened}; {advice or self.advice}{resume}"
        )


def save_if_healthy(
    guard: LossGuard,
    keeper: Any,
    step: int,
    variables: Iterable[Any],
    history: list[dict[str, Any]],
    log: Callable[[str], None],
) -> Path | None:
    """Writes a run's checkpoint (`CheckpointKeeper`) only while `guard` finds the run healthy.

    Returns:
        The checkpoint's prefix, or None when the recent losses are above the
        threshold (the last good checkpoint stays).

    Raises:
        DivergenceError: The weights are not finite.
    """
    guard.check_weights(variables, step)
    if not guard.healthy():
        log(f"step {step}: loss above the divergence threshold, checkpoint not written")
        return None
    prefix = keeper.save(step, {"history": history, "guard": guard.state()})
    guard.saved(f"step {step}, {keeper.directory}")
    return prefix


def keras_callback(guard: LossGuard, keras_module: Any = None) -> Any:
    """A Keras callback that feeds `fit`'s batch losses to `guard`.

    Args:
        guard: The guard; its `DivergenceError` propagates out of `fit`.
        keras_module: `keras` (Keras 3, default) or `tf_keras` (QAT's models).
    """
    if keras_module is None:
        import keras as keras_module

    class GuardLoss(keras_module.callbacks.Callback):
        """Raises `DivergenceError` from `fit` when the batch losses diverge."""

        def __init__(self) -> None:
            super().__init__()
            self.step = 0
            self.epoch = 0
            self._mean = 0.0

        def on_epoch_begin(self, epoch: int, logs: dict[str, Any] | None = None) -> None:
            self.epoch, self._mean = epoch, 0.0

        def on_train_batch_end(self, batch: int, logs: dict[str, Any] | None = None) -> None:
            if logs and "loss" in logs:
                # `fit` reports the running mean of the epoch's batch losses;
                # the batch's own loss is what the mean moved by (equal batches).
                mean = float(logs["loss"])
                loss = (batch + 1) * mean - batch * self._mean
                self._mean = mean
                guard.observe(self.step, loss, f"epoch {self.epoch + 1}")
            self.step += 1

    return GuardLoss()
