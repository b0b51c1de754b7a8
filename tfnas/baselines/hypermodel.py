"""keras-tuner over the ProxylessNAS search space: the black-box baseline users compare with.

Each hyperparameter is one choice block's op (`block05` = the index of the
candidate, as in `SearchSpace.select`). A trial builds the network the choices
select (`tfnas.nets.builder`), looks its latency up in the target's latency model,
and then

- `constraint="reject"`: a candidate over the latency limit scores 0 without
  training (a hard constraint costs no compute); one within it is trained
  and scored by its validation accuracy;
- `constraint` a reward (`"proxyless"`, `"mnas"`, `"tunas_abs"`): every
  candidate is trained and scored with the same reward as the search's REINFORCE mode
  (`tfnas.latency.objectives.latency_reward`).

Training is `steps` steps on the training split per tuner epoch (random and
Bayesian trials get the `epochs` passed to `search`; Hyperband picks each
trial's epochs and continues promoted trials from their saved weights);
scoring is on the held-out valid split. The tuner maximizes the `score` that
`fit` returns.

An `ImageBudget` caps the training images of a whole search, so a tuner can
be compared with ProxylessNAS at equal compute: a trial trains at most what
is left of the budget, and the tuners of `make_tuner` start no trial once it
is spent. Rejected candidates cost nothing.

A trial whose loss diverges (`tfnas.engine.divergence`) stops at that step and
scores 0, with a line that says so: the tuner goes on with other candidates
(a network that does not train with the recipe is a result of the search,
like one over the latency limit).

A trial that fails is an error (`run_tuner`), not a missing row: keras-tuner
on the TF backend fails every trial when tensorboard is absent, and its
`search()` does not raise until three fail in a row.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import keras
import keras_tuner as kt
import tensorflow as tf

from tfnas.config.groups import RecipeConfig
from tfnas.engine.divergence import DivergenceError, LossGuard, keras_callback
from tfnas.engine.recipe import Recipe
from tfnas.errors import UserError
from tfnas.latency.model import SpaceLatency
from tfnas.latency.objectives import REWARDS, latency_reward
from tfnas.nets.builder import build_net
from tfnas.nets.spec import NetSpec, SearchSpace, choice_name
from tfnas.records import SpaceTrial

CONSTRAINTS = ("reject", *REWARDS)
TUNERS = ("random", "bayesian", "hyperband")
OBJECTIVE = "score"


class TrialFailedError(UserError, RuntimeError):
    """A keras-tuner trial failed; the message carries the trial's own error."""


@dataclasses.dataclass
class ImageBudget:
    """Training images a whole search may process (`limit`), and those spent so far."""

    limit: int
    spent: int = 0

    def __post_init__(self) -> None:
        if self.limit < 1:
            raise ValueError(f"image budget {self.limit!r}: expected an integer >= 1")

    def exhausted(self, batch_size: int) -> bool:
        """True once what is left cannot pay for one step of `batch_size` images."""
        return self.limit - self.spent < batch_size

    def grant_steps(self, wanted: int, batch_size: int) -> int:
        """Up to `wanted` steps of `batch_size` images that fit in what is left; spends them."""
        steps = min(wanted, max(self.limit - self.spent, 0) // batch_size)
        self.spent += steps * batch_size
        return steps


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
        train_batches: A function returning a dataset of (images, labels)
            training batches, at least as many as a trial trains.
        valid_batches: A function returning one pass over the valid split.
        steps: Training steps per tuner epoch.
        batch_size: Images per training batch (for the budget).
        constraint: `reject`, or a reward of `tfnas.latency.objectives.REWARDS`.
        recipe: The trials' recipe values: SGD, weight decay and label
            smoothing as the search's weight steps, at a constant learning
            rate (`tfnas.engine.recipe`: a trial's length is the tuner's choice).
        budget: Caps the training images of all trials together (None: no cap).
        log: Called with one line per finished trial (None: quiet).
    """

    def __init__(
        self,
        space: SearchSpace,
        latency: SpaceLatency,
        target_latency: float,
        train_batches: Callable[[], tf.data.Dataset],
        valid_batches: Callable[[], tf.data.Dataset],
        steps: int,
        batch_size: int,
        constraint: str = "reject",
        recipe: RecipeConfig | None = None,
        budget: ImageBudget | None = None,
        log: Callable[[str], None] | None = None,
    ) -> None:
        super().__init__(name=f"{space.name}_ops")
        if constraint not in CONSTRAINTS:
            raise ValueError(f"constraint {constraint!r}: expected one of {', '.join(CONSTRAINTS)}")
        if not target_latency > 0:
            raise ValueError(f"target latency {target_latency!r}: expected a number > 0")
        if steps < 1:
            raise ValueError(f"steps {steps!r}: expected an integer >= 1")
        if batch_size < 1:
            raise ValueError(f"batch size {batch_size!r}: expected an integer >= 1")
        self.space = space
        self.latency = latency
        self.target_latency = target_latency
        self.train_batches = train_batches
        self.valid_batches = valid_batches
        self.steps = steps
        self.batch_size = batch_size
        self.constraint = constraint
        self.recipe = Recipe(recipe or RecipeConfig(), steps, "constant")
        self.budget = budget
        self.log = log

    def choices(self, hp: kt.HyperParameters) -> tuple[int, ...]:
        """The candidate index of each choice block (declaring the hyperparameters)."""
        return tuple(
            hp.Choice(choice_name(index), list(range(len(block.candidates))), ordered=False)
            for index, block in enumerate(self.space.choice_blocks)
        )

    def spec(self, hp: kt.HyperParameters) -> NetSpec:
        """The network the hyperparameters select."""
        return self.space.select(self.choices(hp))

    def latency_of(self, hp: kt.HyperParameters) -> float:
        """The selected network's latency on the target."""
        return self.latency.latency_of(self.choices(hp))

    def rejects(self, hp: kt.HyperParameters) -> bool:
        """Whether the selected network is over the latency limit (with `reject`)."""
        return self.constraint == "reject" and self.latency_of(hp) > self.target_latency

    def out_of_budget(self) -> bool:
        """Whether the image budget cannot pay for another training step."""
        return self.budget is not None and self.budget.exhausted(self.batch_size)

    def build(self, hp: kt.HyperParameters) -> keras.Model:
        """The selected network, compiled for a trial.

        A rejected candidate never trains, so it gets a one-weight stand-in
        instead: building the network would cost seconds per trial for nothing.
        """
        if self.rejects(hp):
            return keras.Sequential([keras.Input((1,)), keras.layers.Dense(1)], name="rejected")
        model = build_net(self.spec(hp), init=self.recipe.config.init)
        self.recipe.compile(model)
        return model

    def fit(self, hp: kt.HyperParameters, model: keras.Model, *args: Any, **kwargs: Any) -> dict:
        """Trains within the budget and returns the trial's score and figures.

        keras-tuner passes `callbacks` (its checkpoint of the trial's weights,
        which Hyperband reloads to continue a promoted trial) and, for
        Hyperband, `epochs` and `initial_epoch`.
        """
        given_callbacks = list(kwargs.get("callbacks") or [])
        callbacks = keras.callbacks.CallbackList(given_callbacks, model=model)
        latency = self.latency_of(hp)
        if self.rejects(hp):
            callbacks.on_epoch_end(0, {})  # saves the weights Hyperband may ask for
            return self._result(hp, 0.0, 0.0, latency, 0)
        wanted = self.steps * (int(kwargs.get("epochs", 1)) - int(kwargs.get("initial_epoch", 0)))
        steps = self.budget.grant_steps(wanted, self.batch_size) if self.budget else wanted
        guard = LossGuard(
            "a trial's training",
            f"lower --learning_rate (now {self.recipe.config.learning_rate:g})",
            self.space.classifier.num_classes,
            resumable=False,
        )
        with warnings.catch_warnings():
            # Keras warns whenever a dataset of unknown length ends: every pass here does.
            warnings.filterwarnings("ignore", message="Your input ran out of data")
            if steps:
                watch = keras_callback(guard)
                try:
                    model.fit(
                        self.train_batches().take(steps),
                        epochs=1,
                        shuffle=False,  # the pipeline shuffles
                        callbacks=[*given_callbacks, watch],
                        verbose=0,
                    )
                except DivergenceError as error:
                    if self.budget:  # the steps it did not train go back to the budget
                        self.budget.spent -= (steps - watch.step - 1) * self.batch_size
                    callbacks.on_epoch_end(0, {})  # saves the weights Hyperband may ask for
                    return self._result(hp, 0.0, 0.0, latency, watch.step + 1, str(error))
            else:
                callbacks.on_epoch_end(0, {})
            _, accuracy = model.evaluate(self.valid_batches(), verbose=0)
        if self.constraint == "reject":
            score = float(accuracy)
        else:
            score = float(latency_reward(self.constraint, accuracy, latency, self.target_latency))
        return self._result(hp, score, float(accuracy), latency, steps)

    def _result(
        self,
        hp: kt.HyperParameters,
        score: float,
        accuracy: float,
        latency: float,
        steps: int,
        diverged: str = "",
    ) -> dict[str, float]:
        result = {
            OBJECTIVE: score,
            "val_accuracy": accuracy,
            "latency": latency,
            "trained_steps": steps,
            "trained_images": steps * self.batch_size,
            "diverged": float(bool(diverged)),
        }
        if self.log:
            spent = (
                f", budget {self.budget.spent}/{self.budget.limit} images" if self.budget else ""
            )
            if self.rejects(hp):
                what = "rejected (over the limit)"
            elif diverged:
                what = diverged
            else:
                what = f"valid acc {accuracy:.3f}" if steps else "not trained (budget spent)"
            self.log(
                f"trial: latency {latency:.3f} {self.latency.unit}, {what}, score "
                f"{score:.3f}, {steps} steps{spent}"
            )
        return result


class _StopsAtBudget:
    """A tuner mixin: no new trial once the hypermodel's `ImageBudget` is spent."""

    def pre_create_trial(self) -> None:
        if self.hypermodel.out_of_budget():
            # The oracle answers STOPPED once it holds max_trials trials.
            self.oracle.max_trials = max(len(self.oracle.trials), 1)
        super().pre_create_trial()


class BudgetedRandomSearch(_StopsAtBudget, kt.RandomSearch):
    """RandomSearch that stops when its hypermodel's image budget is spent."""


class BudgetedBayesianOptimization(_StopsAtBudget, kt.BayesianOptimization):
    """BayesianOptimization that stops when its hypermodel's image budget is spent."""


class BudgetedHyperband(_StopsAtBudget, kt.Hyperband):
    """Hyperband that stops when its hypermodel's image budget is spent."""


def make_tuner(
    kind: str,
    hypermodel: kt.HyperModel,
    max_trials: int,
    directory: str | Path,
    seed: int = 0,
    hyperband_epochs: int = 3,
    bayesian_initial_points: int = 5,
) -> kt.Tuner:
    """A RandomSearch, BayesianOptimization or Hyperband tuner maximizing `score`.

    Each stops at `max_trials` trials or when the hypermodel's `budget` is
    spent. BayesianOptimization samples `bayesian_initial_points` trials at
    random before its Gaussian process proposes (keras-tuner's default, three
    per hyperparameter, would be 18 random trials on the demo space: more
    than an equal budget allows, so it would be random search under another
    name). Hyperband trains trials for 1 to `hyperband_epochs` tuner epochs
    (factor 3) and, with a budget, repeats its brackets until the budget ends.
    """
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
        return BudgetedRandomSearch(max_trials=max_trials, **common)
    if kind == "bayesian":
        return BudgetedBayesianOptimization(
            max_trials=max_trials, num_initial_points=bayesian_initial_points, **common
        )
    if kind == "hyperband":
        if hyperband_epochs < 2:
            raise ValueError(
                f"hyperband epochs {hyperband_epochs!r}: expected an integer >= 2 (Hyperband "
                "needs room to promote trials)"
            )
        budgeted = getattr(hypermodel, "budget", None) is not None
        tuner = BudgetedHyperband(
            max_epochs=hyperband_epochs,
            factor=3,
            hyperband_iterations=1000 if budgeted else 1,
            **common,
        )
        tuner.oracle.max_trials = max_trials
        return tuner
    raise ValueError(f"tuner {kind!r}: expected one of {', '.join(TUNERS)}")


def space_trial(trial: str, values: dict[str, Any], metrics: dict[str, float]) -> SpaceTrial:
    """The record of a finished `SpaceHyperModel` trial (its `fit`'s figures)."""
    return SpaceTrial(
        trial=trial,
        # The ops of the trial, in choice-block order (`choice00`, `choice01`, ...).
        choices=[int(values[name]) for name in sorted(values) if name.startswith("choice")],
        values=values,
        score=float(metrics[OBJECTIVE]),
        val_accuracy=float(metrics["val_accuracy"]),
        latency=float(metrics["latency"]),
        trained_steps=int(metrics["trained_steps"]),
        trained_images=int(metrics["trained_images"]),
        diverged=bool(metrics["diverged"]),
    )


def run_tuner(
    tuner: kt.Tuner,
    epochs: int = 1,
    record: Callable[[str, dict[str, Any], dict[str, float]], Any] = space_trial,
) -> list[Any]:
    """Runs the search; returns every completed trial, best first (highest `OBJECTIVE`).

    Args:
        tuner: From `make_tuner`.
        epochs: Tuner epochs of a random or Bayesian trial (Hyperband picks its own).
        record: `(trial id, hyperparameter values, last metrics)` -> the
            trial's record (default: a `SpaceHyperModel`'s `SpaceTrial`).

    Raises:
        TrialFailedError: Any trial failed, naming its error; or none completed.
    """
    require_tensorboard()
    try:
        tuner.search(epochs=epochs, verbose=0)
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
    found = []
    for trial in completed:
        values = trial.hyperparameters.values
        metrics = {name: trial.metrics.get_last_value(name) for name in trial.metrics.metrics}
        values = {k: v for k, v in values.items() if not k.startswith("tuner/")}
        found.append((metrics[OBJECTIVE], record(trial.trial_id, values, metrics)))
    # Stable: trials of one score stay in keras-tuner's order.
    return [row for _, row in sorted(found, key=lambda pair: pair[0], reverse=True)]
