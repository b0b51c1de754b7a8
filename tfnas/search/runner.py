"""One search run: a short loop of named phases over the compiled `SearchSteps`.

    warmup epochs:  weight steps on uniformly sampled paths
    search epochs:  weight steps on paths sampled from p, and one arch step
                    (held-out valid batch) every `arch_update_every` weight
                    steps, none in the first `arch_start_epoch` search epochs
    each epoch:     evaluate the most likely network, log alpha, checkpoint
    the end:        derive the network and write the outputs

Every random choice is a pure function of (seed, step): path samples use
stateless seeds [seed, 2*step] (weight step) and [seed, 2*step + 1] (arch
step), and the data pipeline is a function of (seed, epoch). A checkpoint
holds the weights, alpha, both optimizers, the REINFORCE baseline and the
step counters, so a run resumed from it continues exactly where it stopped.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import keras
import numpy as np
import tensorflow as tf

from tfnas.datasets.pipeline import Pipeline
from tfnas.engine.bn_calibration import accuracy_of, recalibrate_batch_norm
from tfnas.engine.checkpoints import random_states
from tfnas.engine.divergence import LossGuard
from tfnas.engine.epoch_loop import StepFn, StepResult
from tfnas.engine.job import JobRunner
from tfnas.errors import UserError
from tfnas.io.atomic import save_weights_atomic
from tfnas.latency.model import SpaceLatency, space_latency
from tfnas.latency.objectives import expected_latency, make_arch_objective, make_reward
from tfnas.latency.targets import load_target
from tfnas.nets import sampling
from tfnas.nets.builder import build_net
from tfnas.nets.registry import SPACES
from tfnas.nets.spec import SearchSpace, choice_name
from tfnas.records import SearchEpoch, SearchSummary
from tfnas.search import outputs
from tfnas.search.arch_adam import ReferenceAdam
from tfnas.search.config import ArchSearchConfig, SearchConfig
from tfnas.search.path_optimizer import SampledPathSGD
from tfnas.search.steps import SearchSteps, accuracy_reward, cross_entropy_only
from tfnas.search.supernet import (
    ArchParameters,
    Supernet,
    copy_inherited_weights,
    derive,
    derive_choices,
)

STATE_FORMAT = "tfnas.search_state"


def build_space(config: SearchConfig, num_classes: int, in_channels: int = 3) -> SearchSpace:
    """The search space the config names, for a dataset's classes and image channels."""
    space = SPACES.get(
        config.space,
        width_mult=config.width_mult,
        resolution=config.data.resolution,
        num_classes=num_classes,
    )
    return dataclasses.replace(space, in_channels=in_channels)


def arch_step_follows(step: int, steps_per_epoch: int, arch: ArchSearchConfig) -> bool:
    """Whether an arch step follows weight step `step` (0-based, of the run) in a search epoch.

    Gradient modes (and `rl_updates_per_epoch=0`): after every
    `arch_update_every`-th step. REINFORCE: `rl_updates_per_epoch` updates
    spread evenly over each epoch, at most one per step, as the reference's
    schedule (an epoch shorter than that gets one after every step).
    """
    if arch.mode != "reinforce" or arch.rl_updates_per_epoch == 0:
        return (step + 1) % arch.arch_update_every == 0
    updates = min(arch.rl_updates_per_epoch, steps_per_epoch)
    # Step i of the epoch ends an update's segment when floor((i+1)·N/S) steps up.
    i = step % steps_per_epoch
    return (i + 1) * updates // steps_per_epoch > i * updates // steps_per_epoch


class ObjectiveError(UserError, ValueError):
    """A latency target or loss that the arch objective cannot use."""


def make_objectives(config: SearchConfig, latency: SpaceLatency) -> tuple[Any, Any]:
    """(arch objective, REINFORCE reward) of the config: a latency term when it has a target.

    Raises:
        ObjectiveError: A loss that cannot use the target (mul_log below 1, ...).
    """
    lat = config.latency
    if lat.target_latency is None:
        return cross_entropy_only, accuracy_reward
    params = dict(lat.loss_params)
    try:
        if config.arch_search.mode == "reinforce":
            reward = make_reward(lat.reward, latency, lat.target_latency, **params)
            return cross_entropy_only, reward
        objective = make_arch_objective(
            lat.loss, latency, lat.target_latency, lat.latency_estimate, **params
        )
        return objective, accuracy_reward
    except ValueError as error:
        raise ObjectiveError(f"--target_latency / --loss: {error}") from None


class SearchRun(JobRunner):
    """A search of `config` on `pipeline`'s data, writing into `output_dir`.

    Args:
        config: The resolved config.
        pipeline: Batches of the train, valid and test splits.
        output_dir: Where checkpoints, logs and outputs go.
        **options: `JobRunner`'s `strategy`, `log` and `verbose`.

    Raises:
        DivergenceError: From `run`, when the weights' loss diverges or an arch
            step's loss is not finite (`tfnas.engine.divergence`); no outputs are
            written, and the last checkpoint is one from before.
    """

    def __init__(
        self,
        config: SearchConfig,
        pipeline: Pipeline,
        output_dir: str | Path,
        **options: Any,
    ) -> None:
        super().__init__(config, pipeline, output_dir, "cosine_restart", **options)
        self.space = build_space(config, pipeline.source.num_classes, pipeline.source.channels)
        self.target = load_target(config.latency.target)
        self.latency: SpaceLatency = space_latency(self.target, self.space)
        objective, reward = make_objectives(config, self.latency)
        arch = config.arch_search
        with self.strategy.scope():
            self.supernet = Supernet(self.space, init=config.recipe.init)
            self.arch = ArchParameters(
                self.supernet.num_candidates,
                init_stddev=arch.arch_init_stddev,
                seed=config.run.seed,
            )
            weight_optimizer = SampledPathSGD(
                **self.recipe.sgd_arguments(),
                l2=config.recipe.weight_decay,
                candidate_owners=self.supernet.candidate_weight_owners(),
            )
            arch_optimizer = ReferenceAdam(
                arch.arch_learning_rate,
                beta_1=arch.arch_beta1,
                beta_2=arch.arch_beta2,
                epsilon=arch.arch_epsilon,
            )
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
            self.arch_steps = tf.Variable(0, dtype=tf.int64, trainable=False, name="arch_steps")
        self.steps = SearchSteps(
            self.supernet,
            self.arch,
            weight_optimizer,
            arch_optimizer,
            mode=arch.mode,
            strategy=self.strategy,
            label_smoothing=config.recipe.label_smoothing,
            arch_objective=objective,
            reward_fn=reward,
            samples=arch.rl_samples,
            baseline_rule=arch.rl_baseline,
            baseline_weight=arch.rl_baseline_weight,
            zero_sampled=arch.zero_sampled,
        )
        self.checkpoint = tf.train.Checkpoint(
            supernet=self.supernet,
            arch=self.arch,
            weight_optimizer=weight_optimizer,
            arch_optimizer=arch_optimizer,
            baseline=self.steps.baseline,
            baseline_ready=self.steps.baseline_ready,
            step=self.step,
            arch_steps=self.arch_steps,
            random_states=random_states(self.supernet),
        )
        self.guard = LossGuard(
            "the search's weight training",
            f"lower --learning_rate (now {config.recipe.learning_rate:g})",
            pipeline.source.num_classes,
        )
        self.loop = self.epoch_loop(
            self.step,
            weight_optimizer,
            self.checkpoint,
            STATE_FORMAT,
            self.guard,
            lambda: [*self.supernet.weights, *self.arch.alphas],
            phase=self.phase,
            stateful=("lat",),
            entry=SearchEpoch,
        )
        self._valid: Any = None  # created at the first arch step of this process
        self._derived: tuple[tuple[int, ...], keras.Model] | None = None

    # -- state ---------------------------------------------------------------

    @property
    def total_steps(self) -> int:
        """Weight steps of the whole run."""
        return self.recipe.total_steps

    @property
    def reinforce(self) -> bool:
        """Whether alpha is learned by REINFORCE."""
        return self.config.arch_search.mode == "reinforce"

    @property
    def arch_batch_size(self) -> int:
        """Held-out images per arch step (the training batch unless `arch_batch_size` says)."""
        arch = self.config.arch_search
        if self.reinforce:
            return arch.rl_batch_size
        return arch.arch_batch_size or self.config.data.batch_size

    @property
    def arch_images(self) -> int:
        """Held-out images the arch steps so far ran forward (each REINFORCE sample counts)."""
        samples = self.config.arch_search.rl_samples if self.reinforce else 1
        return int(self.arch_steps.numpy()) * self.arch_batch_size * samples

    def phase(self, epoch: int) -> str:
        """`warmup` (uniformly sampled paths, no arch steps) or `search`."""
        return "warmup" if epoch < self.config.recipe.warmup_epochs else "search"

    def restore(self) -> bool:
        """Restores the last checkpoint of `output_dir`; False when there is none."""
        if not super().restore():
            return False
        # The checkpoint holds Adam's learning rate; a resume may have lowered it.
        self.steps.arch_optimizer.learning_rate.assign(self.config.arch_search.arch_learning_rate)
        return True

    # -- phases --------------------------------------------------------------

    def _seed(self, step: int, arch: bool) -> tf.Tensor:
        return tf.constant([self.config.run.seed, 2 * step + int(arch)], tf.int64)

    def _distribute(self, dataset: tf.data.Dataset) -> Any:
        return self.strategy.experimental_distribute_dataset(dataset)

    def expected_latency(self) -> float:
        """E[LAT] of the current alpha, in the target's unit."""
        return float(expected_latency(self.latency, self.arch.alphas))

    def _steps(self, epoch: int) -> StepFn:
        """The step of `epoch`: a weight step, then an arch step every `arch_update_every`."""
        config = self.config
        warmup = self.phase(epoch) == "warmup"
        start = config.arch_search.arch_start_epoch
        arch_on = not warmup and epoch - config.recipe.warmup_epochs >= start
        uniform = tf.constant(warmup)
        valid = self._valid_stream() if arch_on else None
        shown = {"lat": self.expected_latency()}  # changes only when an arch step moves alpha

        def arch_step(step: int) -> StepResult:
            images, labels = next(valid)
            out = self.steps.arch_step(images, labels, self._seed(step, True))
            loss = float(out["loss"])
            self.guard.require_finite(
                loss,
                "the arch step's loss",
                step,
                f"lower --arch_learning_rate (now {config.arch_search.arch_learning_rate:g})",
            )
            self.arch_steps.assign_add(1)
            shown["lat"] = self.expected_latency()
            return StepResult(
                {"arch_loss": loss, "arch_acc": float(out["accuracy"])},
                shown,
                {"arch/loss": loss, "latency/expected": shown["lat"]},
            )

        def step(step: int, images: Any, labels: Any) -> StepResult:
            out = self.steps.weight_step(images, labels, self._seed(step, False), uniform)
            then = None
            if valid is not None and arch_step_follows(
                step, self.steps_per_epoch, config.arch_search
            ):
                then = lambda: arch_step(step)  # noqa: E731
            return StepResult(
                {"loss": float(out["loss"]), "acc": float(out["accuracy"])},
                dict(shown),
                {"latency/expected": shown["lat"]},
                then,
            )

        return step

    def _valid_stream(self) -> Any:
        """The arch steps' valid batches: one stream per process, from where the run is."""
        if self._valid is None:
            skip = int(self.arch_steps.numpy())
            stream = self.pipeline.valid_stream(skip, self.arch_batch_size)
            self._valid = iter(self._distribute(stream))
        return self._valid

    def derived_model(self, choices: list[int]) -> keras.Model:
        """The plain Keras network `choices` with the supernet's weights, batch norm re-estimated.

        The statistics come from `bn_calibration_images` training images
        (`tfnas.engine.bn_calibration`).
        """
        # The most likely network changes seldom between epochs: keep its model
        # (its initial weights do not matter: every one is copied over next).
        if self._derived is None or self._derived[0] != tuple(choices):
            self._derived = (tuple(choices), build_net(derive_choices(self.space, choices)))
        model = self._derived[1]
        copy_inherited_weights(self.supernet, choices, model)
        images = self.pipeline.calibration_batches(self.config.bn_calibration_images)
        recalibrate_batch_norm(model, images)
        return model

    def evaluate(
        self,
        batches: tf.data.Dataset | None,
        choices: list[int],
        model: keras.Model | None = None,
    ) -> float | None:
        """Accuracy of the network `choices` with the supernet's weights (None: no batches).

        Evaluated as the plain network, in inference mode, with its own
        re-estimated batch-norm statistics (`derived_model`; pass `model` to
        reuse one): so the figure depends on neither the order nor the class
        mix of the batches. The supernet's moving statistics average over every
        path sampled; each batch's own statistics, what the search used until
        2026-12-03, gave 0.14 on a class-sorted Fashion-MNIST folder.
        """
        if batches is None:
            return None
        return accuracy_of(model or self.derived_model(choices), batches)

    def _end_of_epoch(self, epoch: int, means: dict[str, float], seconds: float) -> None:
        choices = sampling.most_likely(self.arch.alphas)
        net = derive(self.space, self.arch.alphas)
        record = SearchEpoch(
            epoch=epoch + 1,
            phase=self.phase(epoch),
            step=int(self.step.numpy()),
            train_loss=means["loss"],
            train_acc=means["acc"],
            train_arch_loss=means.get("arch_loss"),
            train_arch_acc=means.get("arch_acc"),
            valid_accuracy=self.evaluate(self.pipeline.valid_batches(), choices),
            expected_latency=self.expected_latency(),
            derived_latency=outputs.net_latency_of(self.target, net),
            choices=choices,
            probabilities=[p.round(4).tolist() for p in self.arch.probabilities()],
            entropy=[float(e) for e in sampling.entropy(self.arch.alphas)],
            seconds=seconds,
        )
        self.history.append(record)
        self.loop.scalars.write(
            {
                "valid/accuracy": record.valid_accuracy,
                "latency/derived": record.derived_latency,
                **{f"entropy/{choice_name(b)}": e for b, e in enumerate(record.entropy)},
            },
            record.step,
        )
        unit = self.latency.unit
        self.log(
            f"{self.loop.title(epoch)}: "
            f"train loss {record.train_loss:.3f} acc {record.train_acc:.3f}, "
            f"valid acc {record.valid_accuracy:.3f}, E[LAT] {record.expected_latency:.3f} "
            f"{unit}, derived {record.derived_latency:.3f} {unit}, {seconds:.0f} s"
        )
        outputs.write_arch_log(self.output_dir, self.space, self.history)

    def run(self) -> SearchSummary:
        """Runs (or finishes) the search and writes the outputs; returns the summary."""
        self.loop.run(self.pipeline.train_epoch, self._steps, self._end_of_epoch, self._distribute)
        return self.finish()

    def finish(self) -> SearchSummary:
        """Derives the network and writes arch.json, net.config, the summary and the plots."""
        self.guard.check_end(int(self.step.numpy()))
        choices = sampling.most_likely(self.arch.alphas)
        net = derive(self.space, self.arch.alphas, name=f"{self.space.name}_searched")
        model = self.derived_model(choices)
        summary = outputs.summary(
            config=self.config,
            space=self.space,
            net=net,
            target=self.target,
            expected=self.expected_latency(),
            alphas=[np.asarray(a).tolist() for a in self.arch.alphas],
            probabilities=[p.tolist() for p in self.arch.probabilities()],
            choices=choices,
            valid_accuracy=self.evaluate(self.pipeline.valid_batches(), choices, model),
            test_accuracy=self.evaluate(self.pipeline.test_batches(), choices, model),
            steps=int(self.step.numpy()),
            loss_peak_ratio=self.guard.peak_ratio,
        )
        outputs.write_outputs(self.output_dir, self.space, net, summary, self.history)
        save_weights_atomic(model, self.output_dir / outputs.DERIVED_WEIGHTS_FILE)
        return summary
