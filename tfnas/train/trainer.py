"""Training a network from scratch: the loop, its checkpoints and its outputs.

    each step:   SGD Nesterov on a training batch, learning rate from the step
                 (linear warmup, then cosine), label smoothing, dropout
    each epoch:  evaluate (held-out split if any, else the test split),
                 TensorBoard, checkpoint (also every `checkpoint_every` steps)
    the end:     test accuracy, final weights, train_summary.json

The data order is a function of (seed, epoch) (`tfnas.datasets.pipeline`),
and a checkpoint holds the weights, the optimizer and the step, so a run
killed mid-epoch resumes where it stopped. What it writes, atomically:

- `config.json`, `arch.json` (the network trained, project format);
- `model.weights.h5`: the final weights, for `build_net(arch.json)`;
- `train_summary.json`: test accuracy and loss, params, MACs, history;
- `checkpoints/`, `tensorboard/`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import tensorflow as tf

from tfnas import records
from tfnas.datasets.pipeline import Pipeline
from tfnas.engine.checkpoints import random_states
from tfnas.engine.divergence import LossGuard
from tfnas.engine.epoch_loop import StepFn, StepResult
from tfnas.engine.job import JobRunner
from tfnas.engine.losses import accuracy, cross_entropy
from tfnas.io.atomic import save_weights_atomic
from tfnas.nets import spec_json
from tfnas.nets.builder import build_net
from tfnas.nets.costs import net_cost
from tfnas.nets.spec import ClassifierSpec, NetSpec
from tfnas.records import TrainEpoch, TrainSummary
from tfnas.train.config import TrainConfig

STATE_FORMAT = "tfnas.train_state"
ARCH_FILE = "arch.json"
WEIGHTS_FILE = "model.weights.h5"
SUMMARY_FILE = "train_summary.json"


def prepare_spec(
    spec: NetSpec, num_classes: int, dropout: float, resolution: int, in_channels: int = 3
) -> NetSpec:
    """The network to train: the data's classes and channels, the recipe's dropout, resolution.

    A grayscale dataset gets a network with one input channel, never RGB copies.
    """
    return dataclasses.replace(
        spec.with_resolution(resolution),
        in_channels=in_channels,
        classifier=ClassifierSpec(num_classes, dropout),
    )


class Trainer(JobRunner):
    """Trains `spec` with `config`'s recipe on `pipeline`'s data into `output_dir`.

    Args:
        config: The resolved config.
        spec: The network (already given the dataset's classes, see `prepare_spec`).
        pipeline: Batches of the train, valid and test splits.
        output_dir: Where checkpoints, logs and outputs go.
        **options: `JobRunner`'s `strategy`, `log` and `verbose`.

    Raises:
        DivergenceError: From `run`, when the loss diverges (`tfnas.engine.divergence`);
            no outputs are written, and the last checkpoint is one from before.
    """

    def __init__(
        self,
        config: TrainConfig,
        spec: NetSpec,
        pipeline: Pipeline,
        output_dir: str | Path,
        **options: Any,
    ) -> None:
        super().__init__(config, pipeline, output_dir, "linear_warmup_cosine", **options)
        self.spec = spec
        with self.strategy.scope():
            self.model = build_net(spec, init=config.recipe.init)
            self.optimizer = self.recipe.sgd(self.model.trainable_variables)
            self.step = tf.Variable(0, dtype=tf.int64, trainable=False, name="step")
        checkpoint = tf.train.Checkpoint(
            model=self.model,
            optimizer=self.optimizer,
            step=self.step,
            random_states=random_states(self.model),
        )
        recipe = config.recipe
        self.guard = LossGuard(
            f"training {spec.name}",
            f"lower --learning_rate (now {recipe.learning_rate:g}) or lengthen "
            f"--warmup_epochs (now {recipe.warmup_epochs})",
            spec.classifier.num_classes,
        )
        self.loop = self.epoch_loop(
            self.step,
            self.optimizer,
            checkpoint,
            STATE_FORMAT,
            self.guard,
            lambda: self.model.weights,
            entry=TrainEpoch,
        )
        self.train_step = tf.function(self._train_step)
        self.eval_step = tf.function(self._eval_step)

    # -- compiled steps --------------------------------------------------------

    def _train_step(self, images: Any, labels: Any) -> tuple[tf.Tensor, tf.Tensor]:
        replicas = self.strategy.num_replicas_in_sync

        def replica_step(images: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
            variables = self.model.trainable_variables
            with tf.GradientTape() as tape:
                logits = self.model(images, training=True)
                ce = self.recipe.loss(labels, logits)
                loss = ce / replicas  # gradients are summed over replicas
            self.optimizer.apply(tape.gradient(loss, variables), variables)
            return ce, accuracy(labels, logits)

        ce, acc = self.strategy.run(replica_step, (images, labels))
        mean = tf.distribute.ReduceOp.MEAN
        return (
            self.strategy.reduce(mean, ce, axis=None),
            self.strategy.reduce(mean, acc, axis=None),
        )

    def _eval_step(self, images: tf.Tensor, labels: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor]:
        logits = self.model(images, training=False)
        correct = tf.reduce_sum(
            tf.cast(
                tf.equal(tf.argmax(logits, -1, output_type=tf.int32), tf.cast(labels, tf.int32)),
                tf.float32,
            )
        )
        return tf.reduce_sum(cross_entropy(labels, logits)), correct

    # -- phases ----------------------------------------------------------------

    def evaluate(self, batches: tf.data.Dataset | None) -> dict[str, float] | None:
        """Loss and top-1 accuracy over `batches` (no dropout, moving BN statistics)."""
        if batches is None:
            return None
        loss = correct = count = 0.0
        for images, labels in batches:
            batch_loss, batch_correct = self.eval_step(images, labels)
            loss += float(batch_loss)
            correct += float(batch_correct)
            count += int(labels.shape[0])
        return {"loss": loss / count, "accuracy": correct / count, "count": int(count)}

    def _steps(self, epoch: int) -> StepFn:
        def step(step: int, images: Any, labels: Any) -> StepResult:
            ce, acc = self.train_step(images, labels)
            return StepResult({"loss": float(ce), "acc": float(acc)})

        return step

    def _end_of_epoch(self, epoch: int, means: dict[str, float], seconds: float) -> None:
        held_out = self.pipeline.valid_batches()
        which = "valid" if held_out is not None else "test"
        metrics = self.evaluate(held_out if held_out is not None else self.pipeline.test_batches())
        accuracy = metrics["accuracy"] if metrics else None
        record = TrainEpoch(
            epoch=epoch + 1,
            step=int(self.step.numpy()),
            train_loss=means["loss"],
            train_accuracy=means["acc"],
            seconds=seconds,
            **{f"{which}_accuracy": accuracy},
        )
        self.history.append(record)
        if metrics:
            self.loop.scalars.write({f"{which}/accuracy": metrics["accuracy"]}, record.step)
        self.log(
            f"{self.loop.title(epoch)}: train loss {means['loss']:.3f} acc {means['acc']:.3f}"
            + (f", {which} acc {metrics['accuracy']:.3f}" if metrics else "")
            + f", {seconds:.0f} s"
        )

    def run(self, test: bool = True) -> TrainSummary:
        """Trains (or finishes training) and writes the outputs; returns the summary.

        Args:
            test: Evaluate on the test split at the end (tuning trials do not:
                they are scored on the held-out split only).
        """
        self.loop.run(
            self.pipeline.train_epoch,
            self._steps,
            self._end_of_epoch,
            self.strategy.experimental_distribute_dataset,
        )
        return self.finish(test)

    def finish(self, test_split: bool = True) -> TrainSummary:
        """Evaluates on the test split and writes arch.json, the weights and the summary."""
        self.guard.check_end(int(self.step.numpy()))
        test = self.evaluate(self.pipeline.test_batches()) if test_split else None
        cost = net_cost(self.spec)
        summary = TrainSummary(
            arch=self.config.arch,
            network=self.spec.name,
            dataset=self.pipeline.source.name,
            resolution=self.spec.resolution,
            params=cost.params,
            macs=cost.macs,
            epochs=self.config.recipe.epochs,
            steps=int(self.step.numpy()),
            test_accuracy=test["accuracy"] if test else None,
            test_loss=test["loss"] if test else None,
            test_examples=test["count"] if test else 0,
            loss_peak_ratio=self.guard.peak_ratio,
            history=self.history,
        )
        spec_json.save_spec(self.spec, self.output_dir / ARCH_FILE)
        save_weights_atomic(self.model, self.output_dir / WEIGHTS_FILE)
        records.save(summary, self.output_dir / SUMMARY_FILE)
        return summary
