"""keras-tuner over the ProxylessNAS search space: the black-box baseline users compare with.

Each hyperparameter is one choice block's op (`block05` = the index of the
candidate, as in `SearchSpace.select`). A trial builds the network the choices
select (`tfnas.builder`), looks its latency up in the target's latency model,
and then

- `constraint="reject"`: a candidate over the latency limit scores 0 without
  training (a hard constraint costs no compute); one within it is trained
  and scored by its validation accuracy;
- `constraint="mnas"` or `"tunas_abs"`: every candidate is trained and scored
  with the same reward as the search's REINFORCE mode
  (`tfnas.latency.objectives.latency_reward`).

Training is a fixed budget of steps on the training split (times Hyperband's
epochs), scoring is on the held-out valid split. The tuner maximizes the
`score` that `fit` returns. A trial that fails is an error (`run_tuner`), not
a missing row: keras-tuner on the TF backend fails every trial when
tensorboard is absent, and its `search()` does not raise until three fail in
a row.

Not built yet (issue 8): `python -m tfnas.compare` and `python -m tfnas.train --tune`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import keras_tuner as kt
import tensorflow as tf

from tfnas.builder import build_net
from tfnas.latency.model import SpaceLatency
from tfnas.latency.objectives import REWARDS, latency_reward
from tfnas.spec import NetSpec, SearchSpace

CONSTRAINTS = ("reject", *REWARDS)
TUNERS = ("random", "bayesian", "hyperband")
OBJECTIVE = "score"


class TrialFailedError(RuntimeError):
    """A keras-tuner trial failed; the message carries the trial's own error."""


def require_tensorboard() -> None:
    """Fails at once, with the fix, where keras-tuner would fail every trial quietly."""
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        raise TrialFailedError(
            "keras-tuner on the TensorFlow backend needs tensorboard; install it "
            "(pip install tensorboard, pinned in requirements.txt)"
        ) from None


class SpaceHyperModel(kt.HyperModel):
    """A HyperModel whose hyperparameters are the ops of a search space's choice blocks.

    Args:
        space: The search space.
        latency: Latency of every candidate on the target (`space_latency`).
        target_latency: The latency limit (reject) or target (rewards), in `latency.unit`.
        train_batches: A function returning an endless-enough dataset of
            (images, labels) training batches.
        valid_batches: A function returning one pass over the valid split.
        steps: Training steps per trial (per Hyperband epoch).
        constraint: `reject`, or a reward of `tfnas.latency.objectives.REWARDS`.
        learning_rate: SGD (Nesterov, momentum 0.9) learning rate of a trial.
    """

    def __init__(
        self,
        space: SearchSpace,
        latency: SpaceLatency,
        target_latency: float,
        train_batches: Callable[[], tf.data.Dataset],
        valid_batches: Callable[[], tf.data.Dataset],
        steps: int,
        constraint: str = "reject",
        learning_rate: float = 0.05,
    ) -> None:
        super().__init__(name=f"{space.name}_ops")
        if constraint not in CONSTRAINTS:
            raise ValueError(f"constraint {constraint!r}: expected one of {', '.join(CONSTRAINTS)}")
        if not target_latency > 0:
            raise ValueError(f"target latency {target_latency!r}: expected a number > 0")
        if steps < 1:
            raise ValueError(f"steps {steps!r}: expected an integer >= 1")
        self.space = space
        self.latency = latency
        self.target_latency = target_latency
        self.train_batches = train_batches
        self.valid_batches = valid_batches
        self.steps = steps
        self.constraint = constraint
        self.learning_rate = learning_rate

    def choices(self, hp: kt.HyperParameters) -> tuple[int, ...]:
        """The candidate index of each choice block (declaring the hyperparameters)."""
        return tuple(
            hp.Choice(f"block{index:02d}", list(range(len(block.candidates))), ordered=False)
            for index, block in enumerate(self.space.choice_blocks)
        )

    def spec(self, hp: kt.HyperParameters) -> NetSpec:
        """The network the hyperparameters select."""
        return self.space.select(self.choices(hp))

    def latency_of(self, hp: kt.HyperParameters) -> float:
        """The selected network's latency on the target."""
        return self.latency.latency_of(self.choices(hp))

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        """The selected network, compiled for a trial."""
        model = build_net(self.spec(hp))
        model.compile(
            optimizer=keras.optimizers.SGD(self.learning_rate, momentum=0.9, nesterov=True),
            loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
            metrics=["accuracy"],
        )
        return model

    def fit(self, hp: kt.HyperParameters, model: keras.Model, *args: Any, **kwargs: Any) -> dict:
        """Trains within the budget and returns the trial's score and figures."""
        latency = self.latency_of(hp)
        if self.constraint == "reject" and latency > self.target_latency:
            return {OBJECTIVE: 0.0, "val_accuracy": 0.0, "latency": latency, "trained_steps": 0}
        steps = self.steps * int(kwargs.get("epochs", 1))  # Hyperband grows the budget
        model.fit(self.train_batches().take(steps), epochs=1, steps_per_epoch=steps, verbose=0)
        _, accuracy = model.evaluate(self.valid_batches(), verbose=0)
        if self.constraint == "reject":
            score = float(accuracy)
        else:
            score = float(latency_reward(self.constraint, accuracy, latency, self.target_latency))
        return {
            OBJECTIVE: score,
            "val_accuracy": float(accuracy),
            "latency": latency,
            "trained_steps": steps,
        }


def make_tuner(
    kind: str, hypermodel: kt.HyperModel, max_trials: int, directory: str | Path, seed: int = 0
) -> kt.Tuner:
    """A RandomSearch, BayesianOptimization or Hyperband tuner maximizing `score`."""
    objective = kt.Objective(OBJECTIVE, direction="max")
    common = {
        "hypermodel": hypermodel,
        "objective": objective,
        "seed": seed,
        "directory": str(directory),
        "project_name": kind,
        "overwrite": True,
    }
    if kind == "random":
        return kt.RandomSearch(max_trials=max_trials, **common)
    if kind == "bayesian":
        return kt.BayesianOptimization(max_trials=max_trials, **common)
    if kind == "hyperband":
        return kt.Hyperband(max_epochs=3, factor=3, hyperband_iterations=1, **common)
    raise ValueError(f"tuner {kind!r}: expected one of {', '.join(TUNERS)}")


def run_tuner(tuner: kt.Tuner) -> list[dict[str, Any]]:
    """Runs the search; returns every completed trial (choices and figures), best first.

    Raises:
        TrialFailedError: Any trial failed, naming its error; or none completed.
    """
    require_tensorboard()
    try:
        tuner.search()
    except Exception as error:  # a build that fails up front, or too many failed trials
        raise TrialFailedError(
            f"keras-tuner stopped: {type(error).__name__}: {str(error).strip()[-2000:]}"
        ) from None
    trials = list(tuner.oracle.trials.values())
    # keras-tuner marks a trial INVALID when its build or fit raised, FAILED on FailedTrialError.
    failed = [trial for trial in trials if trial.status in ("FAILED", "INVALID")]
    if failed:
        raise TrialFailedError(
            f"{len(failed)} of {len(trials)} trials failed; trial {failed[0].trial_id}: "
            f"{(failed[0].message or 'no message').strip()[-2000:]}"
        )
    completed = [trial for trial in trials if trial.status == "COMPLETED"]
    if not completed:
        raise TrialFailedError(f"no trial completed ({len(trials)} run)")
    rows = [
        {
            "trial": trial.trial_id,
            "choices": [
                trial.hyperparameters.values[name]
                for name in sorted(n for n in trial.hyperparameters.values if n.startswith("block"))
            ],
            **{name: trial.metrics.get_last_value(name) for name in trial.metrics.metrics},
        }
        for trial in completed
    ]
    return sorted(rows, key=lambda row: row[OBJECTIVE], reverse=True)
