"""The epoch loop the search and training share.

    for each epoch still to do (a resumed run skips the batches it did):
        each step:   the recipe's learning rate, the job's step, the divergence
                     guard, running means, progress, TensorBoard scalars every
                     `log_every` steps, a checkpoint every `checkpoint_every`
        the end:     the job's end of epoch (evaluation, history, log line),
                     then a checkpoint

The job brings what differs: the batches of an epoch, what one step does
(`StepFn`), and what the end of an epoch records. Checkpoints hold the job's
history with its variables, and are written only while the run is healthy
(`tfnas.engine.divergence.save_if_healthy`), so the last one is always good.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import tensorflow as tf

from tfnas.engine.checkpoints import CheckpointKeeper
from tfnas.engine.divergence import LossGuard, save_if_healthy
from tfnas.engine.progress import EpochProgress, ScalarLog, is_terminal
from tfnas.engine.recipe import Recipe
from tfnas.records import entry_from_json


def epochs_from(step: int, steps_per_epoch: int, epochs: int) -> Iterator[tuple[int, int]]:
    """(epoch, batches of it already done) for every epoch a run at `step` still has to do."""
    first = step // steps_per_epoch
    for epoch in range(first, epochs):
        yield epoch, step - epoch * steps_per_epoch if epoch == first else 0


class RunningMeans:
    """Means of a few scalars over an epoch, each over the steps that reported it."""

    def __init__(self) -> None:
        self.sums: dict[str, float] = {}
        self.counts: dict[str, int] = {}

    def add(self, **values: float) -> None:
        """Adds one step's values."""
        for name, value in values.items():
            self.sums[name] = self.sums.get(name, 0.0) + float(value)
            self.counts[name] = self.counts.get(name, 0) + 1

    def result(self) -> dict[str, float]:
        """The means so far."""
        return {name: self.sums[name] / self.counts[name] for name in self.sums}


@dataclasses.dataclass
class StepResult:
    """What one step of a job reports.

    Attributes:
        values: Averaged over the epoch (`loss` and `acc` at least; `loss` is
            what the divergence guard watches).
        shown: Shown by the progress line as they are (not averaged).
        scalars: Extra TensorBoard scalars (written every `log_every` steps).
        then: What the job does after the guard has seen the step's loss and
            the step counter moved (the search's arch step), reporting its own
            values, or None.
    """

    values: dict[str, float]
    shown: dict[str, float] = dataclasses.field(default_factory=dict)
    scalars: dict[str, float] = dataclasses.field(default_factory=dict)
    then: Callable[[], StepResult] | None = None


# (step, images, labels) -> what it did; the learning rate is set before.
StepFn = Callable[[int, Any, Any], StepResult]


class EpochLoop:
    """Runs a job's epochs from its step counter, with its recipe, guard and checkpoints.

    Args:
        recipe: The weights' recipe (steps per epoch, epochs, learning rate).
        step: The job's weight-step counter (checkpointed with its variables).
        optimizer: The weight optimizer whose learning rate the loop sets.
        keeper: Writes and restores the job's checkpoints.
        guard: Watches the training loss.
        watched: The variables a checkpoint must find finite.
        scalars: TensorBoard scalars.
        log: Where one-line messages go.
        checkpoint_every: Steps between checkpoints within an epoch.
        log_every: Steps between log lines (off a terminal) and scalars.
        verbose: 1 shows a progress bar per epoch on a terminal (a line every
            `log_every` steps elsewhere), 0 only the job's epoch lines.
        phase: The name of an epoch's phase (`warmup`, `search`) or None.
        stateful: Names of `StepResult.shown` values the progress line shows as is.
        entry: The job's record of an epoch (`tfnas.records.TrainEpoch`,
            `SearchEpoch`): what `history` holds and checkpoints keep as JSON.
    """

    def __init__(
        self,
        recipe: Recipe,
        step: tf.Variable,
        optimizer: Any,
        keeper: CheckpointKeeper,
        guard: LossGuard,
        watched: Callable[[], Sequence[tf.Variable]],
        scalars: ScalarLog,
        log: Callable[[str], None],
        checkpoint_every: int,
        log_every: int,
        verbose: int = 1,
        *,
        entry: type,
        phase: Callable[[int], str | None] = lambda epoch: None,
        stateful: Sequence[str] = (),
    ) -> None:
        self.recipe = recipe
        self.step = step
        self.optimizer = optimizer
        self.keeper = keeper
        self.guard = guard
        self.watched = watched
        self.scalars = scalars
        self.log = log
        self.checkpoint_every = checkpoint_every
        self.log_every = log_every
        self.verbose = verbose
        self.phase = phase
        self.stateful = tuple(stateful)
        self.entry = entry
        self.history: list[Any] = []

    @property
    def steps_per_epoch(self) -> int:
        """Weight steps per epoch."""
        return self.recipe.steps_per_epoch

    def title(self, epoch: int) -> str:
        """`epoch E/N` and the phase, as the log lines name an epoch."""
        phase = self.phase(epoch)
        suffix = f" ({phase})" if phase else ""
        return f"epoch {epoch + 1}/{self.recipe.total_epochs}{suffix}"

    # -- checkpoints -----------------------------------------------------------

    def save(self) -> Path | None:
        """Writes a checkpoint with the history, unless the run is diverging (then None)."""
        step = int(self.step.numpy())
        history = [dataclasses.asdict(record) for record in self.history]
        return save_if_healthy(self.guard, self.keeper, step, self.watched(), history, self.log)

    def restore(self) -> bool:
        """Restores the last checkpoint (variables, history, guard); False when there is none."""
        state = self.keeper.restore()
        if state is None:
            return False
        self.history = [entry_from_json(self.entry, r, "history") for r in state["history"]]
        self.guard.restore(state.get("guard"))
        self.guard.saved(f"step {state['step']}, {self.keeper.directory}")
        self.log(
            f"resumed from {self.keeper.directory / state['checkpoint']} (step {state['step']})"
        )
        return True

    # -- the loop --------------------------------------------------------------

    def run(
        self,
        train_epoch: Callable[[int, int], tf.data.Dataset],
        epoch_steps: Callable[[int], StepFn],
        end_of_epoch: Callable[[int, dict[str, float], float], None],
        distribute: Callable[[tf.data.Dataset], Any] = lambda batches: batches,
    ) -> None:
        """Runs every epoch left.

        Args:
            train_epoch: `(epoch, batches to skip)` -> the epoch's training batches.
            epoch_steps: `epoch` -> the step function of that epoch.
            end_of_epoch: `(epoch, means, seconds)`: evaluates and records the
                epoch (the loop then writes a checkpoint).
            distribute: Spreads an epoch's batches over the job's replicas
                (`strategy.experimental_distribute_dataset`).
        """
        start = int(self.step.numpy())
        for epoch, skip in epochs_from(start, self.steps_per_epoch, self.recipe.total_epochs):
            if self.verbose and is_terminal():  # a title for the bar; log lines name the epoch
                self.log(self.title(epoch))
            began = time.monotonic()
            batches = distribute(train_epoch(epoch, skip).take(self.steps_per_epoch - skip))
            means = self._epoch(epoch, skip, batches, epoch_steps(epoch))
            end_of_epoch(epoch, means, time.monotonic() - began)
            self.save()
        self.scalars.flush()

    def _epoch(self, epoch: int, skip: int, batches: Any, step_fn: StepFn) -> dict[str, float]:
        phase = self.phase(epoch)
        where = f"epoch {epoch + 1}" + (f", {phase}" if phase else "")
        progress = EpochProgress(
            self.steps_per_epoch,
            self.log_every,
            self.title(epoch),
            self.verbose,
            done=skip,
            stateful=self.stateful,
            log=self.log,
        )
        means = RunningMeans()
        for images, labels in batches:
            step = int(self.step.numpy())
            lr = self.recipe.learning_rate(step)
            self.optimizer.learning_rate.assign(lr)
            result = step_fn(step, images, labels)
            self.guard.observe(step, result.values["loss"], where)
            self.step.assign_add(1)
            means.add(**result.values)
            if result.then is not None:
                after = result.then()
                means.add(**after.values)
                result.shown.update(after.shown)
                result.scalars.update(after.scalars)
            progress.update(
                step + 1 - epoch * self.steps_per_epoch,
                step + 1,
                {**means.result(), **result.shown},
                {**result.values, **result.shown},
            )
            if (step + 1) % self.log_every == 0:
                scalars = {
                    "train/loss": result.values["loss"],
                    "train/accuracy": result.values["acc"],
                    "lr": lr,
                    **result.scalars,
                }
                self.scalars.write(scalars, step + 1)
            if (step + 1) % self.checkpoint_every == 0 and (step + 1) % self.steps_per_epoch:
                self.save()
        return means.result()


__all__ = ["EpochLoop", "StepFn", "StepResult"]
